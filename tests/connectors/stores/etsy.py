"""The Etsy stores the tests configure: `STORE` end to end, read by both the sandbox and the connector;
`UNIT` for the unit tests, at the platform's own API host."""

import base64

from tests.connectors.platform_case import unit_store

STORE = {
    "store_id": "etsy-e2e",
    "credentials": {
        "keystring": "e2ekeystring",
        "shared_secret": "e2esharedsecret",
        "access_token": "11223344.e2e-access-token",
        "shop_id": "12345678",
    },
    "webhook_secret": "whsec_ZXRzeS1lMmUtc2lnbmluZy1rZXktMzItYnl0ZXMhISE=",  # base64 of a 32-byte key, as Etsy issues
    "product": {"product_id": "1509876543"},  # the catalog entry: an Etsy listing id ...
    "item": {"product_id": "1509876543", "sku": "MUG-NAME", "title": "Name mug"},  # ... and an order line it matches
}

BASE = "https://api.etsy.com"
SECRET = "whsec_" + base64.b64encode(b"a 32-byte key chosen in the test").decode()
UNIT = unit_store(
    "etsy",
    "etsy",
    BASE,
    {"keystring": "ks1", "shared_secret": "ss1", "access_token": "123.tok", "shop_id": "12345"},
    SECRET,
)
