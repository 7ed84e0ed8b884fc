"""How a service's Redis is configured: a URL, or Sentinels and a master name; half a configuration is refused."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio.connection import Connection, SSLConnection
from redis.asyncio.sentinel import SentinelConnectionPool, SentinelManagedConnection

from plumbing.redis_client import SENTINEL_TIMEOUT_S, FollowsPrimary, redis_client
from plumbing.settings import Settings, SettingsError, load_settings


class OwnPacking(Connection):
    """A service's own connection behaviour, as core's `HiredisPacking`."""

    def pack_command(self, *args: Any) -> list[bytes]:
        return super().pack_command(*args)


def test_sentinels_name_the_primary_and_the_url_gives_the_data_nodes_database_and_password(monkeypatch):
    monkeypatch.setenv("PERSONALIZE_REDIS_SENTINELS", "sentinel-a:26379, sentinel-b:26380,[::1]:26381")
    monkeypatch.setenv("PERSONALIZE_REDIS_SENTINEL_MASTER", "personalize")
    monkeypatch.setenv("PERSONALIZE_REDIS_SENTINEL_PASSWORD", "sentinel-secret")
    monkeypatch.setenv("PERSONALIZE_REDIS_URL", "redis://:data-secret@unused/3")
    settings = load_settings(Settings)
    assert settings.sentinel_addresses() == [("sentinel-a", 26379), ("sentinel-b", 26380), ("::1", 26381)]

    client = redis_client(settings, connections=16, wait_s=2)  # nothing connects until a command
    pool = client.connection_pool
    assert isinstance(pool, SentinelConnectionPool) and pool.service_name == "personalize"
    assert (pool.max_connections, getattr(pool, "timeout", None)) == (16, 2)
    assert (pool.connection_kwargs["db"], pool.connection_kwargs["password"]) == (3, "data-secret")
    assert "host" not in pool.connection_kwargs  # the Sentinels say where the primary is
    assert issubclass(pool.connection_class, SentinelManagedConnection)
    assert issubclass(pool.connection_class, FollowsPrimary)
    sentinel = pool.sentinel_manager.sentinels[0].connection_pool.connection_kwargs
    assert (sentinel["password"], sentinel["socket_timeout"]) == ("sentinel-secret", SENTINEL_TIMEOUT_S)
    assert "sentinel-secret" not in repr(settings)  # a SecretStr (the URL's password is redacted from logs)
    shown = repr(pool) + repr(pool.sentinel_manager) + repr(pool.sentinel_manager.sentinels[0].connection_pool)
    assert "sentinel-secret" not in shown and "data-secret" not in shown


def test_a_url_client_follows_the_primary_and_keeps_tls_with_a_services_own_connection_class():
    # Before: `Redis.from_url(url, connection_class=HiredisPacking)` replaced rediss://'s TLS connection with
    # core's plain one. Now the service's class is mixed into what the URL asks for.
    client = redis_client(Settings(redis_url="rediss://cache.example.com:6380/0"), connection_class=OwnPacking)
    kind = client.connection_pool.connection_class
    assert issubclass(kind, SSLConnection) and issubclass(kind, OwnPacking) and issubclass(kind, FollowsPrimary)
    assert client.connection_pool.connection_kwargs["host"] == "cache.example.com"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PERSONALIZE_REDIS_SENTINELS": "s:26379"}, "PERSONALIZE_REDIS_SENTINEL_MASTER go together"),
        ({"PERSONALIZE_REDIS_SENTINEL_MASTER": "m"}, "PERSONALIZE_REDIS_SENTINELS and"),
        ({"PERSONALIZE_REDIS_SENTINEL_PASSWORD": "p"}, "without PERSONALIZE_REDIS_SENTINELS"),
        ({"PERSONALIZE_REDIS_SENTINELS": "s", "PERSONALIZE_REDIS_SENTINEL_MASTER": "m"}, "'s' is not host:port"),
        ({"PERSONALIZE_REDIS_SENTINELS": "s:0", "PERSONALIZE_REDIS_SENTINEL_MASTER": "m"}, "'s:0' is not host:port"),
    ],
)
def test_half_a_sentinel_configuration_is_refused_at_start_naming_what_to_set(monkeypatch, env, message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message) as refused:
        load_settings(Settings)
    assert "Value error" not in str(refused.value)


def test_neither_a_url_nor_sentinels_names_both():
    with pytest.raises(SettingsError, match="PERSONALIZE_REDIS_URL \\(or PERSONALIZE_REDIS_SENTINELS\\)"):
        redis_client(Settings())


def test_a_unix_socket_url_cannot_go_with_sentinels():
    settings = Settings(redis_url="unix:///run/redis.sock", redis_sentinels="s:26379", redis_sentinel_master="m")
    with pytest.raises(SettingsError, match="Unix socket"):
        redis_client(settings)


def test_settings_repr_masks_the_password_of_a_url_setting():
    from plumbing.settings import Settings

    settings = Settings(redis_url="redis://app:hunter2@cache.internal:6379/0")
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings)
    assert "redis://app:***@cache.internal:6379/0" in repr(settings)
    assert settings.redis_url == "redis://app:hunter2@cache.internal:6379/0"  # the value itself is untouched
