"""The WooCommerce stores the tests configure: `STORE` end to end, read by both the sandbox and the connector;
`UNIT` for the unit tests, at the platform's own API host."""

from tests.connectors.platform_case import unit_store

STORE = {
    "store_id": "woo-e2e",
    "credentials": {"consumer_key": "ck_e2e", "consumer_secret": "cs_e2e"},
    "webhook_secret": "woo-webhook-secret",
    "product": {"product_id": "93"},  # the catalog entry (config) ...
    "item": {"product_id": "93", "sku": "MUG-NAME", "title": "Name mug"},  # ... and an order line it matches
}

BASE = "https://shop.example.com"
SECRET = "wc-secret-for-tests"
UNIT = unit_store("woocommerce", "woo", BASE, {"consumer_key": "ck_1", "consumer_secret": "cs_1"}, SECRET)
