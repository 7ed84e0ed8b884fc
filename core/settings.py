"""Core's settings: the shared ones plus the link delay and batch size."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from plumbing.settings import Duration, Settings


class CoreSettings(Settings):
    link_delay: Duration = Field(
        default=timedelta(minutes=15),
        description="PERSONALIZE_LINK_DELAY: how long after receipt the link is sent (`15m`, `2s`).",
    )
    core_group: str = Field(default="core", description="PERSONALIZE_CORE_GROUP: the consumer group of core copies.")
    core_batch: int = Field(default=500, ge=1, description="PERSONALIZE_CORE_BATCH: records handled per batch.")
