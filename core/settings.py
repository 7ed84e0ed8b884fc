"""Core's settings: the shared ones (the link delay among them) plus its group and batch size."""

from __future__ import annotations

from pydantic import Field

from plumbing.settings import Settings


class CoreSettings(Settings):
    core_group: str = Field(default="core", description="PERSONALIZE_CORE_GROUP: the consumer group of core copies.")
    core_batch: int = Field(default=500, ge=1, description="PERSONALIZE_CORE_BATCH: records handled per batch.")
