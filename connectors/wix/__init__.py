"""Wix connector: eCom Orders v1 search by `updatedDate`, and order webhooks delivered as RS256 JWTs."""

from connectors.platform import PlatformAdapter
from connectors.wix import client, mapping, signature

ADAPTER = PlatformAdapter("wix", client, mapping, signature)
