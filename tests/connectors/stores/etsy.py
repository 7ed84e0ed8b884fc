"""The Etsy store the end-to-end tests configure, for both the sandbox and the connector."""

STORE = {
    "store_id": "etsy-e2e",
    "credentials": {"keystring": "e2ekeystring", "shared_secret": "e2esharedsecret",
                    "access_token": "11223344.e2e-access-token", "shop_id": "12345678"},
    "webhook_secret": "whsec_ZXRzeS1lMmUtc2lnbmluZy1rZXktMzItYnl0ZXMhISE=",  # base64 of a 32-byte key, as Etsy issues
    "product": {"product_id": "1509876543"},  # the catalog entry: an Etsy listing id ...
    "item": {"product_id": "1509876543", "sku": "MUG-NAME", "title": "Name mug"},  # ... and an order line it matches
}
