"""Platform name → its adapter, imported only when that connector runs."""

from __future__ import annotations

import importlib

from connectors.platform import PlatformAdapter
from schemas import PLATFORMS


def adapter_for(platform: str) -> PlatformAdapter:
    if platform not in PLATFORMS:
        raise ValueError(f"unknown platform {platform!r} (one of {', '.join(PLATFORMS)})")
    module = importlib.import_module(f"connectors.{platform}")
    adapter = getattr(module, "ADAPTER", None)
    if adapter is None:
        raise ValueError(f"the {platform} connector is not built yet")
    return adapter
