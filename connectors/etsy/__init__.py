"""Etsy connector: Open API v3 polling of shop receipts and thin `order.*` webhooks fetched after the answer.

Etsy has no test orders: every order maps with `is_test` False (see `mapping`). A shop is connected in the
browser (`connect`, OAuth 2 with PKCE) and its hour-long token renewed by `connectors/tokens.py` with `tokens`.
"""

from connectors.etsy import client, mapping, signature
from connectors.platform import PlatformAdapter

ADAPTER = PlatformAdapter("etsy", client, mapping, signature)
