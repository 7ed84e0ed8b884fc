"""WooCommerce connector: REST API v3 polling and full-order webhooks."""

from connectors.woocommerce import client, mapping, signature
from connectors.platform import PlatformAdapter

ADAPTER = PlatformAdapter("woocommerce", client, mapping, signature)
