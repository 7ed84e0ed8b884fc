"""The BigCommerce store the end-to-end tests configure, for both the sandbox and the connector."""

STORE = {
    "store_id": "bc-e2e",
    "credentials": {"access_token": "bc-e2e-access-token"},
    "webhook_secret": "bc-e2e-client-secret",  # the API account's client secret, as BigCommerce shows it
    "product": {"product_id": "93"},  # the catalog entry (config) ...
    "item": {"product_id": "93", "sku": "MUG-NAME", "title": "Name mug"},  # ... and an order line it matches
}
