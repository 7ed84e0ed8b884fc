"""The Squarespace store the end-to-end tests configure, for both the sandbox and the connector."""

STORE = {
    "store_id": "sq-e2e",
    "credentials": {"api_key": "sq-e2e-api-key"},
    # Squarespace subscription secrets are hex (64 digits in the docs' example).
    "webhook_secret": "7d1c5e2a9b3f48e6a0c4d2b81f6e3a9c5b7d0e2f4a6c8e1b3d5f7a9c0e2b4d6f",
    "product": {"product_id": "565c8f3da7c8a3cf71d5fd0a"},  # the catalog entry (config) ...
    "item": {"product_id": "565c8f3da7c8a3cf71d5fd0a", "title": "Name mug"},  # ... and an order line it matches
}
