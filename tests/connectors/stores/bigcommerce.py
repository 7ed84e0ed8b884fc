"""The BigCommerce stores the tests configure: `STORE` end to end, read by both the sandbox and the connector;
`UNIT` for the unit tests, at the platform's own API host."""

from tests.connectors.platform_case import unit_store

STORE = {
    "store_id": "bc-e2e",
    "credentials": {"access_token": "bc-e2e-access-token"},
    "webhook_secret": "bc-e2e-client-secret",  # the API account's client secret, as BigCommerce shows it
    "product": {"product_id": "93"},  # the catalog entry (config) ...
    "item": {"product_id": "93", "sku": "MUG-NAME", "title": "Name mug"},  # ... and an order line it matches
}

BASE = "https://api.bigcommerce.com/stores/abc123"
SECRET = "bc-client-secret-for-tests"
UNIT = unit_store("bigcommerce", "bc", BASE, {"access_token": "tok_1"}, SECRET)
