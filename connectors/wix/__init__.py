"""Wix connector: eCom Orders v1 search by `updatedDate`, and order webhooks delivered as RS256 JWTs."""

from connectors.wix import client, mapping, signature
from connectors.platform import PlatformAdapter

ADAPTER = PlatformAdapter("wix", client, mapping, signature)
