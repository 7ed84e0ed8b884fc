"""Settings every deployable shares, read from `PERSONALIZE_*` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, TypeVar

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from personalize.durations import Duration

__all__ = ["Duration", "Settings", "SettingsError", "load_settings"]


class SettingsError(RuntimeError):
    """A setting is missing or wrong; the message names it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PERSONALIZE_", extra="ignore")

    config: Path = Field(default=Path("examples/config.yaml"), description="The YAML config file.")
    kafka_bootstrap: str | None = Field(default=None, description="host:port[,host:port]; unset means embedded (dev, tests).")
    redis_url: str | None = Field(default=None, description="redis://host:port/db; unset means embedded (dev, tests).")
    kafka_idempotence: bool = Field(
        default=False, description="Idempotent producer; a real cluster supports it, the embedded broker does not."
    )
    topic_partitions: int = Field(default=8, ge=1, description="Partitions of each topic a service creates.")
    topic_replication: int = Field(default=1, ge=1, description="Replication factor of each topic a service creates.")
    kafka_session_timeout_ms: int = Field(
        default=10_000, ge=1_000, description="Consumer session timeout; joining a group takes about half of it."
    )
    log_level: str = "INFO"
    log_format: Literal["json", "text"] | None = Field(
        default=None, description="json or text; unset: json unless stderr is a terminal (docs/operations.md)."
    )
    ops_host: str = Field(default="127.0.0.1", description="Where core's and the notifier's ops endpoint listens.")
    ops_port: int | None = Field(
        default=None, ge=0, le=65535,
        description="Port of /metrics and /health/* for services without HTTP of their own; unset: the service's default.",
    )

    def required_bootstrap(self) -> str:
        if not self.kafka_bootstrap:
            raise SettingsError("PERSONALIZE_KAFKA_BOOTSTRAP is not set (use `personalize dev` for an embedded broker)")
        return self.kafka_bootstrap

    def required_redis_url(self) -> str:
        if not self.redis_url:
            raise SettingsError("PERSONALIZE_REDIS_URL is not set (use `personalize dev` for an embedded Redis)")
        return self.redis_url


S = TypeVar("S", bound=Settings)


def load_settings(cls: type[S]) -> S:
    """Build settings, turning pydantic's error into one that names the variable."""
    try:
        return cls()
    except ValidationError as error:
        problems = "; ".join(
            f"PERSONALIZE_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in error.errors()
        )
        raise SettingsError(problems) from None
