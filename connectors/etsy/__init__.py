"""Etsy connector: Open API v3 polling of shop receipts and thin `order.*` webhooks fetched after the answer.

Etsy has no test orders: every order maps with `is_test` False (see `mapping`). Token refresh is out of
scope (see `client`).
"""

from connectors.etsy import client, mapping, signature
from connectors.platform import PlatformAdapter

ADAPTER = PlatformAdapter("etsy", client, mapping, signature)
