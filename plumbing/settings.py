"""Settings every deployable shares, read from `PERSONALIZE_*` environment variables."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from plumbing.durations import Duration
from plumbing.logs import redact_secrets

__all__ = ["Duration", "Settings", "SettingsError", "load_settings"]


class SettingsError(RuntimeError):
    """A setting is missing or wrong; the message names it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PERSONALIZE_", extra="ignore")

    config: Path | None = Field(
        default=None,
        description="The YAML config file; no default: the example's secrets are public (only `personalize dev` "
        "and the tests name it).",
    )
    kafka_bootstrap: str | None = Field(
        default=None, description="host:port[,host:port]; unset means embedded (dev, tests)."
    )
    redis_url: str | None = Field(default=None, description="redis://host:port/db; unset means embedded (dev, tests).")
    redis_sentinels: str | None = Field(
        default=None,
        description="host:port[,host:port] of Redis Sentinels: the primary is asked of them, and followed through a "
        "failover; PERSONALIZE_REDIS_URL then gives only the database, user, password and TLS of the data nodes.",
    )
    redis_sentinel_master: str | None = Field(
        default=None, description="The name the Sentinels monitor the primary by (`sentinel monitor <name> ...`)."
    )
    redis_sentinel_password: SecretStr | None = Field(
        default=None, description="The Sentinels' own password (their `requirepass`), if any; never logged."
    )
    kafka_idempotence: bool | None = Field(
        default=None,
        description="Idempotent producer; unset: on where the brokers grant a producer id at start-up (a real "
        "cluster does, the embedded broker does not), off with a log line elsewhere; true or false forces it.",
    )
    kafka_compression: Literal["gzip", "none"] = Field(
        default="gzip",
        description="Compression of the producers' batches; gzip needs no extra package (lz4, snappy and zstd do, "
        "and are not installed).",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="How clients talk to the brokers; managed Kafka services want SASL_SSL."
    )
    kafka_ssl_cafile: Path | None = Field(
        default=None, description="CA bundle that signed the brokers' certificates; unset: the system's CAs."
    )
    kafka_ssl_certfile: Path | None = Field(
        default=None, description="Client certificate, for brokers that ask (mTLS)."
    )
    kafka_ssl_keyfile: Path | None = Field(default=None, description="The client certificate's private key.")
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        default="PLAIN", description="SASL mechanism, with SASL_PLAINTEXT or SASL_SSL."
    )
    kafka_sasl_username: str | None = Field(default=None, description="SASL user name (an API key on some services).")
    kafka_sasl_password: SecretStr | None = Field(
        default=None, description="SASL password (an API secret on some services); never logged."
    )
    topic_partitions: int = Field(default=8, ge=1, description="Partitions of each topic a service creates.")
    topic_replication: int | None = Field(
        default=None,
        ge=1,
        description="Replication factor of each topic a service creates; unset: 3, or every broker of a smaller "
        "cluster (plumbing/topics.py).",
    )
    kafka_allow_unsafe_topics: bool = Field(
        default=False,
        description="Start even when a topic is unsafe (replication under 3 on three or more brokers, "
        "min.insync.replicas under 2, retention under what it must hold, compaction): each is logged instead of "
        "refused. For small setups; a single-broker cluster needs no override.",
    )
    link_ttl: Duration = Field(
        default=timedelta(days=7),
        description="PERSONALIZE_LINK_TTL: how long a link works (the notifier's); every service sizes the link "
        "topics' retention from it, so set it the same on all.",
    )
    link_delay: Duration = Field(
        default=timedelta(minutes=15),
        description="PERSONALIZE_LINK_DELAY: how long after receipt the link is sent (`15m`, `2s`; core's); the "
        "link topics' retention counts it too.",
    )
    kafka_max_message_bytes: int = Field(
        default=1_000_000,
        ge=65_536,
        description="The largest record the brokers take (their `message.max.bytes`, or the topic's "
        "`max.message.bytes`; stock Kafka's is 1,048,588), counted as the producer counts it: value, key, headers "
        "and the batch's framing. An event over it is dead-lettered, never retried (docs/architecture.md).",
    )
    kafka_session_timeout_ms: int = Field(
        default=10_000, ge=1_000, description="Consumer session timeout; joining a group takes about half of it."
    )
    log_level: str = "INFO"
    log_format: Literal["json", "text"] | None = Field(
        default=None, description="json or text; unset: json unless stderr is a terminal (docs/operations.md)."
    )
    ops_host: str = Field(default="127.0.0.1", description="Where a service's ops endpoint listens.")
    ops_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Port of /metrics and /health/* (never the public port); unset: the service's default.",
    )

    @model_validator(mode="after")
    def _kafka_security_is_whole(self) -> Settings:
        uses_sasl = self.kafka_security_protocol.startswith("SASL_")
        if uses_sasl and not (self.kafka_sasl_username and self.kafka_sasl_password):
            raise ValueError(
                f"kafka_security_protocol {self.kafka_security_protocol} needs "
                "PERSONALIZE_KAFKA_SASL_USERNAME and PERSONALIZE_KAFKA_SASL_PASSWORD"
            )
        if not uses_sasl and (self.kafka_sasl_username or self.kafka_sasl_password):
            raise ValueError(
                "a SASL user name or password is set, but PERSONALIZE_KAFKA_SECURITY_PROTOCOL is "
                f"{self.kafka_security_protocol}: set it to SASL_SSL (or SASL_PLAINTEXT)"
            )
        uses_tls = self.kafka_security_protocol in ("SSL", "SASL_SSL")
        tls_files = (self.kafka_ssl_cafile, self.kafka_ssl_certfile, self.kafka_ssl_keyfile)
        if not uses_tls and any(tls_files):
            raise ValueError(
                "a Kafka TLS file is set, but PERSONALIZE_KAFKA_SECURITY_PROTOCOL is "
                f"{self.kafka_security_protocol}: set it to SSL or SASL_SSL"
            )
        if bool(self.kafka_ssl_certfile) != bool(self.kafka_ssl_keyfile):
            raise ValueError("PERSONALIZE_KAFKA_SSL_CERTFILE and PERSONALIZE_KAFKA_SSL_KEYFILE go together")
        return self

    @model_validator(mode="after")
    def _redis_sentinel_is_whole(self) -> Settings:
        if bool(self.redis_sentinels) != bool(self.redis_sentinel_master):
            raise ValueError("PERSONALIZE_REDIS_SENTINELS and PERSONALIZE_REDIS_SENTINEL_MASTER go together")
        if self.redis_sentinel_password and not self.redis_sentinels:
            raise ValueError("PERSONALIZE_REDIS_SENTINEL_PASSWORD is set without PERSONALIZE_REDIS_SENTINELS")
        self.sentinel_addresses()
        return self

    def sentinel_addresses(self) -> list[tuple[str, int]]:
        """PERSONALIZE_REDIS_SENTINELS as (host, port) pairs; empty when unset."""
        addresses = []
        for item in (self.redis_sentinels or "").split(","):
            host, _, port = item.strip().rpartition(":")
            if not item.strip():
                continue
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"PERSONALIZE_REDIS_SENTINELS: {item.strip()!r} is not host:port")
            addresses.append((host.strip("[]"), int(port)))
        return addresses

    def required_sentinel_master(self) -> str:
        if not self.redis_sentinel_master:
            raise SettingsError("PERSONALIZE_REDIS_SENTINEL_MASTER is not set: name the primary the Sentinels monitor")
        return self.redis_sentinel_master

    def __repr_args__(self) -> Iterator[tuple[str | None, object]]:
        """As pydantic shows them, with a URL's password masked: a `SecretStr` masks itself, a URL does not."""
        for name, value in super().__repr_args__():
            yield name, _masked_password(value) if isinstance(value, str) else value

    def required_config(self) -> Path:
        if self.config is None:
            raise SettingsError(
                "PERSONALIZE_CONFIG is not set: name the YAML file of your stores and templates "
                "(a service has no default: the example's secrets are public; `personalize dev` runs with it)"
            )
        return self.config

    def required_bootstrap(self) -> str:
        if not self.kafka_bootstrap:
            raise SettingsError("PERSONALIZE_KAFKA_BOOTSTRAP is not set (use `personalize dev` for an embedded broker)")
        return self.kafka_bootstrap

    def required_redis_url(self) -> str:
        if not self.redis_url:
            raise SettingsError(
                "PERSONALIZE_REDIS_URL (or PERSONALIZE_REDIS_SENTINELS) is not set "
                "(use `personalize dev` for an embedded Redis)"
            )
        return self.redis_url


S = TypeVar("S", bound=Settings)


def load_settings(cls: type[S]) -> S:
    """Build settings, turning pydantic's error into one that names the variable; their secrets are never logged."""
    try:
        settings = cls()
    except ValidationError as error:
        problems = "; ".join(  # a check across settings has no single variable to name: its message names them
            f"PERSONALIZE_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            if e["loc"]
            else e["msg"].removeprefix("Value error, ")
            for e in error.errors()
        )
        raise SettingsError(problems) from None
    redact_secrets(secret_values(settings))
    return settings


def _masked_password(value: str) -> str:
    if "://" not in value:
        return value
    try:
        parts = urlsplit(value)
        password = parts.password
    except ValueError:
        return value
    if not password:
        return value
    return parts._replace(netloc=parts.netloc.replace(f":{password}@", ":***@", 1)).geturl()


def secret_values(settings: Settings) -> Iterator[str]:
    """Every `SecretStr` setting (a service's own ones too), and the password of every URL setting."""
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            yield value.get_secret_value()
        elif isinstance(value, str) and "://" in value:
            try:
                password = urlsplit(value).password
            except ValueError:  # not a URL after all; its own check reports it
                continue
            if password:
                yield password
