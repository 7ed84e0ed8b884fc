"""Which Redis replies are an outage to wait out, by class and by code: the one place that says so.

A primary demoted in a failover answers READONLY; a primary short of replicas NOREPLICAS; a replica cut off
from its primary MASTERDOWN; a server running a long script BUSY; one loading its data LOADING; a cluster
mid-resharding TRYAGAIN or CLUSTERDOWN. Each is the server's state, not the message's fault: the same write
succeeds once the failover is over, so a consumer rewinds its batch and retries it, never dead-letters it.

redis-py gives some of these codes a class of its own and leaves the others a plain `ResponseError` whose
text starts with the code; a script's call that failed (Redis 6.2) carries the code inside an `ERR`, and a
pipeline's error is prefixed by the command that caused it. `redis_client` turns every such reply into one of
the classes below (each also the class redis-py gives it, if any), so an `except` on `RedisUnavailable` sees
them all; `is_outage` also knows them on an error from a client built elsewhere.
"""

from __future__ import annotations

import re

from redis.exceptions import (
    BusyLoadingError,
    ClusterDownError,
    MasterDownError,
    ReadOnlyError,
    RedisError,
    ResponseError,
    TryAgainError,
)


class RedisUnavailable(RedisError):
    """The server answered, but cannot serve this now; waiting (a failover, a script, a load) cures it."""


class ReplicaReadOnly(ReadOnlyError, RedisUnavailable):
    """READONLY: the node is a replica (a demoted primary, or a URL that names a replica)."""


class PrimaryDemoted(ResponseError, RedisUnavailable):
    """A connection's primary answered READONLY: the pool is dropped, the next command asks for the primary.

    A response error, and no `ReadOnlyError` on purpose: a connection error inside a WATCH transaction becomes
    redis-py's `WatchError`, which the callers retry at once, forever while the node is a replica; and redis-py's
    Sentinel connection would turn a `ReadOnlyError` into one. The reply was read whole, so the connection can
    finish its pipeline (EXECABORT) before it closes."""


class NotEnoughReplicas(ResponseError, RedisUnavailable):
    """NOREPLICAS: the primary's `min-replicas-to-write` is not met."""


class PrimaryLinkDown(MasterDownError, RedisUnavailable):
    """MASTERDOWN: a replica lost its primary and does not serve stale data."""


class ScriptBusy(ResponseError, RedisUnavailable):
    """BUSY: a script (or function) runs past `lua-time-limit`; the server answers nothing else."""


class StillLoading(BusyLoadingError, RedisUnavailable):
    """LOADING: the server is reading its AOF or RDB after a start."""


class TryAgain(TryAgainError, RedisUnavailable):
    """TRYAGAIN: keys of a multi-key command are being moved between nodes."""


class ClusterUnavailable(ClusterDownError, RedisUnavailable):
    """CLUSTERDOWN: the cluster cannot serve a slot."""


OUTAGES: dict[str, type[RedisError]] = {
    "READONLY": ReplicaReadOnly,
    "NOREPLICAS": NotEnoughReplicas,
    "MASTERDOWN": PrimaryLinkDown,
    "BUSY": ScriptBusy,
    "LOADING": StillLoading,
    "TRYAGAIN": TryAgain,
    "CLUSTERDOWN": ClusterUnavailable,
}
# redis-py's own classes for some of those codes, for an error from a client built elsewhere; MASTERDOWN's is a
# CLUSTERDOWN's, so it is asked first.
_REDIS_PY_CODES: tuple[tuple[type[RedisError], str], ...] = (
    (ReadOnlyError, "READONLY"),
    (BusyLoadingError, "LOADING"),
    (MasterDownError, "MASTERDOWN"),
    (TryAgainError, "TRYAGAIN"),
    (ClusterDownError, "CLUSTERDOWN"),
)
REDIS_PY_OUTAGES = tuple(kind for kind, _ in _REDIS_PY_CODES)

# The code leads the reply; a failed call inside a script (Redis 6.2) follows ": -"; a pipeline's error follows
# "caused error: ". A code must be whole: BUSYGROUP and BUSYKEY are the command's fault, not the server's.
_CODE = re.compile(rf"(?:^|: -|caused error: \(?['\"]?)({'|'.join(OUTAGES)})(?= |$)")


def outage_code(error: BaseException) -> str | None:
    """The outage code `error` stands for, or None when it is not an outage (or not Redis's at all)."""
    if not isinstance(error, RedisError):
        return None
    status = getattr(error, "status_code", None)  # redis-py strips a code it knows from the text
    if status in OUTAGES:
        return str(status)
    if isinstance(error, PrimaryDemoted):
        return "READONLY"
    for code, ours in OUTAGES.items():
        if isinstance(error, ours):
            return code
    for kind, code in _REDIS_PY_CODES:
        if isinstance(error, kind):
            return code
    if isinstance(error, ResponseError) and (found := _CODE.search(str(error))):
        return found.group(1)
    return None


def is_outage(error: BaseException) -> bool:
    """True when `error` is one of the replica-and-busy replies: the server's state, to be waited out."""
    return outage_code(error) is not None


def as_outage(error: ResponseError) -> RedisError:
    """`error` as its outage class (the text kept), or `error` itself when it is no outage."""
    code = outage_code(error)
    if code is None or isinstance(error, OUTAGES[code]):
        return error
    return OUTAGES[code](str(error), status_code=code)
