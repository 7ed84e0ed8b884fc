"""The Squarespace stores the tests configure: `STORE` end to end, read by both the sandbox and the connector;
`UNIT` for the unit tests, at the platform's own API host."""

from tests.connectors.platform_case import unit_store

STORE = {
    "store_id": "sq-e2e",
    "credentials": {"api_key": "sq-e2e-api-key"},
    # Squarespace subscription secrets are hex (64 digits in the docs' example).
    "webhook_secret": "7d1c5e2a9b3f48e6a0c4d2b81f6e3a9c5b7d0e2f4a6c8e1b3d5f7a9c0e2b4d6f",
    "product": {"product_id": "565c8f3da7c8a3cf71d5fd0a"},  # the catalog entry (config) ...
    "item": {"product_id": "565c8f3da7c8a3cf71d5fd0a", "title": "Name mug"},  # ... and an order line it matches
}

BASE = "https://api.squarespace.com"
SECRET = "f3f9b981c78e7a6187e42853f6ce2804177e98206164779423b02dec981acd6b"  # hex, like the docs' example
UNIT = unit_store("squarespace", "sq", BASE, {"api_key": "key-1"}, SECRET)
