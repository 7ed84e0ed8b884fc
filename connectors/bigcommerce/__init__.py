"""BigCommerce connector: REST v2 Orders polling (products fetched per order), thin Standard-Webhooks-signed hooks."""

from connectors.bigcommerce import client, mapping, signature
from connectors.platform import PlatformAdapter

ADAPTER = PlatformAdapter("bigcommerce", client, mapping, signature)
