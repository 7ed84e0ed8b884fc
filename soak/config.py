"""The soak's own config file: five stores, one per platform, each backed by a sandbox on loopback.

Written fresh for every run (ports are free ones, the poll is short), so the
soak does not depend on `examples/config.yaml`. What the soak expects of an
order (which lines are personalizable, manual or automatic approval) is read
back from this same config, so the two cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from plumbing.config import Config, load_config

WIX_PUBLIC_KEY = Path(__file__).resolve().parents[1] / "devstack" / "keys" / "wix_dev_public.pem"

TEMPLATES = {
    "name-mug": {
        "title": "Name mug",
        "fields": [
            {"name": "name", "type": "text", "max_length": 20, "required": True},
            {"name": "photo", "type": "image", "required": False},
            {"name": "motif", "type": "clipart", "choices": ["heart", "star"]},
        ],
    },
    "photo-poster": {
        "title": "Photo poster",
        "fields": [
            {"name": "photo", "type": "image", "required": True},
            {"name": "caption", "type": "text", "max_length": 60},
        ],
    },
}

# platform → (store id, approval, template, personalizable product id, plain product id, credentials, secret)
_STORES = {
    "woocommerce": (
        "soak-woo",
        "manual",
        "name-mug",
        "93",
        "120",
        {"consumer_key": "ck_soak", "consumer_secret": "cs_soak"},
        "soak-woo-webhook-secret",
    ),
    "etsy": (
        "soak-etsy",
        "automatic",
        "photo-poster",
        "1509876543",
        "1509870001",
        {
            "keystring": "soakkeystring",
            "shared_secret": "soaksharedsecret",
            "access_token": "1.soak-token",
            "shop_id": "12345678",
        },
        "whsec_c29hay1ldHN5LXNpZ25pbmcta2V5LTMyLWJ5dGVzISE=",
    ),
    "wix": (
        "soak-wix",
        "manual",
        "name-mug",
        "5376f9ec-b92e-efa9-e4a1-f4f480aa0d3a",
        "0c8d4f52-7a11-4b3e-9c64-2d1e5f8a9b70",
        {
            "api_key": "IST.soak-wix-key",
            "site_id": "0b6f8d2c-3c1e-4a57-9a31-5d2b8e7f4c10",
            "instance_id": "7c3e0a51-2f4d-4d6b-9a8e-1b5f0c9d2e47",
        },
        None,
    ),
    "squarespace": (
        "soak-squarespace",
        "manual",
        "name-mug",
        "565c8f3da7c8a3cf71d5fd0a",
        "565c8f3da7c8a3cf71d5fd0b",
        {"api_key": "soak-squarespace-key"},
        "5a0c7e9b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1a3c5e7b9d1f3a5c",
    ),
    "bigcommerce": (
        "soak-bigcommerce",
        "automatic",
        "name-mug",
        "93",
        "77",
        {"access_token": "soak-bigcommerce-token"},
        "soak-bigcommerce-client-secret",
    ),
}
PLATFORMS = tuple(_STORES)
TEST_FLAG = {"woocommerce", "squarespace", "bigcommerce"}  # platforms whose test orders the connector reads
UNPAID_ORDERS = {"woocommerce", "etsy", "wix", "bigcommerce"}  # Squarespace creates orders only once paid
FULL_WEBHOOKS = {"woocommerce", "wix"}  # the others send thin webhooks: an id, fetched by the connector
SHIP_PLAIN_NOW = {"wix", "bigcommerce"}  # mixed orders: plain lines fulfilled at once, the rest when ready


@dataclass(frozen=True)
class SoakStore:
    platform: str
    store_id: str
    approval: str
    personalizable_product: str
    plain_product: str
    mixed_orders: str
    sandbox_port: int
    connector_port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.sandbox_port}"

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.connector_port}/webhooks/{self.platform}/{self.store_id}"

    def order_key(self, order_id: str) -> str:
        return f"{self.platform}:{self.store_id}:{order_id}"


def write_config(
    path: Path, ports: dict[str, tuple[int, int]], poll_interval: str, reminders: list[str]
) -> tuple[Config, dict[str, SoakStore]]:
    """Write the YAML for these (sandbox, connector) ports; return it parsed and the stores as the soak sees them."""
    stores, soak = [], {}
    for platform, (store_id, approval, template, product, plain, credentials, secret) in _STORES.items():
        sandbox_port, connector_port = ports[platform]
        mixed = "ship_plain_items_now" if platform in SHIP_PLAIN_NOW else "hold_whole_order"
        stores.append(
            {
                "platform": platform,
                "store_id": store_id,
                "merchant_email": f"{store_id}@merchant.example",
                "approval": approval,
                "link_recipient": "merchant",
                "mixed_orders": mixed,
                "reminders": reminders,
                "products": [{"product_id": product, "template": template}],
                "base_url": f"http://127.0.0.1:{sandbox_port}",
                "credentials": credentials,
                "webhook_secret": secret if secret else WIX_PUBLIC_KEY.read_text(),
                "poll_interval": poll_interval,
                "lookback": "10m",
            }
        )
        soak[platform] = SoakStore(platform, store_id, approval, product, plain, mixed, sandbox_port, connector_port)
    path.write_text(yaml.safe_dump({"templates": TEMPLATES, "stores": stores}, sort_keys=False))
    return load_config(path), soak
