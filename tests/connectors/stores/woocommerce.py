"""The WooCommerce store the end-to-end tests configure, for both the sandbox and the connector."""

STORE = {
    "store_id": "woo-e2e",
    "credentials": {"consumer_key": "ck_e2e", "consumer_secret": "cs_e2e"},
    "webhook_secret": "woo-webhook-secret",
    "product": {"product_id": "93"},  # the catalog entry (config) ...
    "item": {"product_id": "93", "sku": "MUG-NAME", "title": "Name mug"},  # ... and an order line it matches
}
