"""WooCommerce connector: REST API v3 polling and full-order webhooks."""

from connectors.platform import PlatformAdapter
from connectors.woocommerce import client, mapping, signature

ADAPTER = PlatformAdapter("woocommerce", client, mapping, signature)
