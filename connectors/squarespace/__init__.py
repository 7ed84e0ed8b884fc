"""Squarespace connector: Commerce API (Orders 1.0) polling and thin `order.create`/`order.update` webhooks."""

from connectors.platform import PlatformAdapter
from connectors.squarespace import client, mapping, signature

ADAPTER = PlatformAdapter("squarespace", client, mapping, signature)
