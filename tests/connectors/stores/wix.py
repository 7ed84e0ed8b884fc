"""The Wix store the end-to-end tests configure, for both the sandbox and the connector."""

from pathlib import Path

# The sandbox signs with the matching dev-only private key (sandboxes/keys/README.md).
_PUBLIC_KEY = (Path(__file__).parents[3] / "sandboxes" / "keys" / "wix_dev_public.pem").read_text()
_COFFEE = "5376f9ec-b92e-efa9-e4a1-f4f480aa0d3a"  # a Wix Stores product id (catalogItemId) from the docs

STORE = {
    "store_id": "wix-e2e",
    "credentials": {"api_key": "IST.e2e-wix-api-key", "site_id": "0b6f8d2c-3c1e-4a57-9a31-5d2b8e7f4c10"},
    "webhook_secret": _PUBLIC_KEY,
    "product": {"product_id": _COFFEE},  # the catalog entry (config) ...
    "item": {"product_id": _COFFEE, "sku": "MUG-NAME", "title": "Name mug"},  # ... and an order line it matches
}
