"""The Wix stores the tests configure: `STORE` end to end, read by both the sandbox and the connector;
`UNIT` for the unit tests, at the platform's own API host."""

from pathlib import Path

from tests.connectors.platform_case import unit_store
from tests.connectors.wix_tokens import INSTANCE, PUBLIC_PEM

# The sandbox signs with the matching dev-only private key (devstack/keys/README.md).
_PUBLIC_KEY = (Path(__file__).parents[3] / "devstack" / "keys" / "wix_dev_public.pem").read_text()
_COFFEE = "5376f9ec-b92e-efa9-e4a1-f4f480aa0d3a"  # a Wix Stores product id (catalogItemId) from the docs

STORE = {
    "store_id": "wix-e2e",
    "credentials": {
        "api_key": "IST.e2e-wix-api-key",
        "site_id": "0b6f8d2c-3c1e-4a57-9a31-5d2b8e7f4c10",
        "instance_id": "3f1c9a7e-52b4-4d0e-8c6a-9e2d7b1f4a03",  # the app's instance on this site: webhooks name it
    },
    "webhook_secret": _PUBLIC_KEY,
    "product": {"product_id": _COFFEE},  # the catalog entry (config) ...
    "item": {"product_id": _COFFEE, "sku": "MUG-NAME", "title": "Name mug"},  # ... and an order line it matches
}

BASE = "https://www.wixapis.com"
UNIT = unit_store(
    "wix", "wix", BASE, {"api_key": "IST.key-1", "site_id": "site-1", "instance_id": INSTANCE}, PUBLIC_PEM
)
