"""Squarespace connector: Commerce API (Orders 1.0) polling and thin `order.create`/`order.update` webhooks."""

from connectors.squarespace import client, mapping, signature
from connectors.platform import PlatformAdapter

ADAPTER = PlatformAdapter("squarespace", client, mapping, signature)
