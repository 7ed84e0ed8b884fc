"""Every service's Redis client, built here: from PERSONALIZE_REDIS_URL, or through Sentinel, following the primary.

- **The primary, through a failover.** redis-py keeps its pooled connections to whatever node they first
  reached: after a failover the demoted primary answers READONLY to every write, forever, while PING stays
  green. Here a READONLY drops the pool (idle connections now, those in use as they come back, this one
  included), so the next command asks again for the primary: the URL's host (a DNS name or address that the
  failover moves), or the Sentinels (PERSONALIZE_REDIS_SENTINELS, PERSONALIZE_REDIS_SENTINEL_MASTER).
- **Outages have names.** Every reply redis-py reads is classed by `plumbing.redis_errors` (NOREPLICAS, BUSY,
  ...): consumers wait them out rather than dead-letter the message.
- **The Sentinels are asked every second** (`follow_primary`): after a failover the old primary goes on
  accepting writes until the Sentinels reconfigure it (10 s measured with SENTINEL FAILOVER), and every write
  it takes then is lost when it becomes a replica. The pool moves as soon as the Sentinels name another.
- **Readiness asks the role**, not PING: a node that is not the primary is not ready (`primary_answers`).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from typing import Any, cast

from redis.asyncio import BlockingConnectionPool, ConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection, Connection, UnixDomainSocketConnection, parse_url
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool, SentinelManagedConnection
from redis.exceptions import ReadOnlyError, ResponseError

from plumbing.redis_errors import PrimaryDemoted, as_outage, is_outage
from plumbing.settings import Settings, SettingsError

log = logging.getLogger(__name__)

RedisFactory = Callable[[Settings], Redis]

# A Sentinel that does not answer within this is skipped for the next one: a host that drops packets must not
# hold every new connection (redis-py asks the Sentinels at each connect).
SENTINEL_TIMEOUT_S = 1.0
FOLLOW_EVERY_S = 1.0
_role_refused = False  # said once, not at every probe


async def drop_connections(pool: ConnectionPool) -> None:
    """Idle connections close now, those in use as they return: each next command asks for the primary again."""
    await pool.update_active_connections_for_reconnect()
    await pool.disconnect(inuse_connections=False)


class FollowsPrimary(Connection):
    """A connection whose error replies carry their outage class, and that leaves a primary once it is demoted."""

    def __init__(self, **kwargs: Any) -> None:
        if "connection_pool" in kwargs:  # a Sentinel connection took its pool already
            self.connection_pool = kwargs.pop("connection_pool")
        super().__init__(**kwargs)

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().read_response(*args, **kwargs)
        except ResponseError as error:
            outage = as_outage(error)
            if isinstance(outage, ReadOnlyError):
                self.mark_for_reconnect()  # closed once its caller gives it back, its pipeline read to the end
                pool = getattr(self, "connection_pool", None)
                if pool is not None:
                    await drop_connections(pool)
                log.warning("Redis %s:%s is no longer the primary (READONLY): reconnecting", self.host, self.port)
                raise PrimaryDemoted(
                    f"{self.host}:{self.port} answered READONLY: no longer the primary", status_code="READONLY"
                ) from error
            if outage is error:
                raise
            raise outage from error


class _Pool(ConnectionPool):
    """A pool its connections know, so that one which meets a demoted primary can drop them all."""

    OMIT_REPR_KEYS = ConnectionPool.OMIT_REPR_KEYS | {"connection_pool"}  # the pool's repr would recurse

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.connection_kwargs["connection_pool"] = weakref.proxy(self)


class _WaitingPool(_Pool, BlockingConnectionPool):
    """Callers wait for a free connection rather than fail (see `redis_client`)."""


class _WaitingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """The Sentinel pool (it hands itself to its connections), waiting for a free connection like `_WaitingPool`."""


class _SentinelPrimary(Redis):
    """The client of the Sentinels' primary: closing it closes the connections to the Sentinels too."""

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        pool = self.connection_pool
        await super().aclose(close_connection_pool)
        if isinstance(pool, SentinelConnectionPool):
            await pool.sentinel_manager.aclose()


def redis_client(
    settings: Settings,
    *,
    connections: int | None = None,
    wait_s: float = 10.0,
    connection_class: type[Connection] = Connection,
) -> Redis:
    """The service's client: through the Sentinels when they are set, else at PERSONALIZE_REDIS_URL.

    `connections`: a pool of at most that many, whose callers wait up to `wait_s` for a free one. redis-py's
    default pool raises once it is at its size: under 200 concurrent webhooks that answered HTTP 500s
    (measured), where waiting a few ms for a free connection is the right behaviour. None: redis-py's pool,
    as large as the callers ask. `connection_class`: a service's own connection behaviour (core's packing),
    mixed into what the URL asks for (TLS) and what a failover needs.
    """
    options: dict[str, Any] = {}
    if connections is not None:
        options.update(max_connections=connections, timeout=wait_s)
    if settings.redis_sentinels:
        return _through_sentinels(settings, connection_class, options)
    url = parse_url(settings.required_redis_url())
    transport = url.pop("connection_class", Connection)
    pool = (_Pool if connections is None else _WaitingPool)(
        connection_class=_layered(transport, connection_class), **url, **options
    )
    return Redis.from_pool(pool)


def waiting_pool(connections: int, wait_s: float) -> RedisFactory:
    """`redis_client` with a pool of `connections` whose callers wait up to `wait_s` for one rather than fail."""

    def connect(settings: Settings) -> Redis:
        return redis_client(settings, connections=connections, wait_s=wait_s)

    return connect


def _through_sentinels(settings: Settings, connection_class: type[Connection], options: dict[str, Any]) -> Redis:
    # The URL, when set, still gives the data nodes' database, user, password and TLS; its host is the Sentinels'.
    url = parse_url(settings.redis_url) if settings.redis_url else {}
    url.pop("host", None)
    url.pop("port", None)
    transport = url.pop("connection_class", Connection)
    if issubclass(transport, UnixDomainSocketConnection):
        raise SettingsError("PERSONALIZE_REDIS_URL names a Unix socket: with PERSONALIZE_REDIS_SENTINELS it cannot")
    password = settings.redis_sentinel_password
    sentinels = Sentinel(
        settings.sentinel_addresses(),
        sentinel_kwargs={
            "password": password.get_secret_value() if password else None,
            "socket_timeout": SENTINEL_TIMEOUT_S,
            "socket_connect_timeout": SENTINEL_TIMEOUT_S,
        },
    )
    waiting = "max_connections" in options
    return sentinels.master_for(
        settings.required_sentinel_master(),
        redis_class=_SentinelPrimary,
        connection_pool_class=_WaitingSentinelPool if waiting else SentinelConnectionPool,
        connection_class=_layered(transport, connection_class, SentinelManagedConnection),
        **url,
        **options,
    )


def _layered(transport: type[AbstractConnection], own: type[Connection], *outer: type[Connection]) -> type[Connection]:
    """One connection class: `outer` (the Sentinel's), then `FollowsPrimary`, the service's own, the transport."""
    layers = [*outer, FollowsPrimary, *([own] if own is not Connection else []), transport]
    name = "".join(layer.__name__ for layer in layers)
    return cast(type[Connection], type(name, tuple(layers), {}))


async def follow_primary(redis: Redis, stop: asyncio.Event, every_s: float = FOLLOW_EVERY_S) -> None:
    """Until `stop`: ask the Sentinels for the primary, and drop the pool when they name another one.

    Returns at once for a client that is not the Sentinels' (a URL's host moves by DNS or address)."""
    pool = getattr(redis, "connection_pool", None)
    if not isinstance(pool, SentinelConnectionPool):
        return
    while not stop.is_set():
        known = pool.master_address
        try:
            named = await pool.get_master_address()  # drops idle connections itself when it changed
            if known is not None and named != known:
                log.warning("the Sentinels name %s:%s the primary now: reconnecting", *named)
                await drop_connections(pool)
        except Exception as error:  # no Sentinel answers: the connections keep what they have, and it asks again
            log.debug("no Sentinel named the primary (%r)", error)
        try:
            await asyncio.wait_for(stop.wait(), every_s)
        except TimeoutError:
            pass


async def primary_answers(redis: Redis) -> bool:
    """True when the node the client reaches is a primary (ROLE); a replica drops the pool, to ask again next time.

    A server that refuses ROLE (an ACL without it, a managed service that renamed it) is asked PING instead,
    with a warning: readiness then cannot see a demoted primary."""
    try:
        role = await redis.execute_command("ROLE")
    except ResponseError as error:
        if is_outage(error):
            return False
        global _role_refused
        if not _role_refused:
            _role_refused = True
            log.warning("Redis refuses ROLE (%s): readiness falls back to PING and cannot see a replica", error)
        return bool(await redis.ping())
    name = role[0].decode() if isinstance(role[0], bytes) else str(role[0])
    if name == "master":
        return True
    await drop_connections(redis.connection_pool)
    return False
