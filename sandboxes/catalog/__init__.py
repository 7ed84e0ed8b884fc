"""Each platform's product-create call and product read, as the sandboxes serve them (one module per platform)."""
