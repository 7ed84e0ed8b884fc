"""Items a background pass could not handle, kept aside with their reason so the pass goes on without them.

Every notifier pass (the due orders: links and reminders; the automation
webhook jobs) handles each item on its own. An item whose failure is the
infrastructure's (Redis, the broker, the network away) is left to its lease:
it comes due again. Any other failure is the item's own (data that does not
parse, an event too large to publish, a bug it alone hits): retrying it
would fail the same way every lease, forever, so it is taken off its timer
and recorded here (`notifier:set-aside`, a hash of `<pass>:<member>` → reason
and time), logged and counted (`notifier_set_aside_total`). Nothing else of
the item is deleted by this, except a webhook job's payload (its event stays
in its topic). To retry one after a fix: put its member back on its timer
(docs/emails.md).
"""

from __future__ import annotations

import json
import logging
import traceback
from datetime import datetime
from typing import Literal, Protocol

from aiokafka.errors import MessageSizeTooLargeError
from prometheus_client import Counter
from redis.asyncio import Redis

from notifier.due import Timers
from plumbing.consumer import INFRASTRUCTURE_ERRORS
from plumbing.dead_letters import brief

log = logging.getLogger(__name__)

Pass = Literal["scheduler", "hooks"]
KEY = "notifier:set-aside"
SET_ASIDE = Counter("notifier_set_aside_total", "Items a notifier pass set aside, by pass", ["pass"])
# Besides the consumers' outage errors: a socket or DNS failure raised as itself.
TRANSIENT = (*INFRASTRUCTURE_ERRORS, OSError)


def is_transient(error: BaseException) -> bool:
    """The infrastructure failed, not the item: its lease brings it back. An event too large is the item's own:
    the broker refuses it every time (aiokafka's `retriable` flag cannot tell: a broker away is not retriable)."""
    return isinstance(error, TRANSIENT) and not isinstance(error, MessageSizeTooLargeError)


def reason_of(error: BaseException) -> str:
    """What went wrong, without the input's values (a validation error names fields, never what they held)."""
    return f"{type(error).__name__}: {brief(error)}"


class SetAside(Protocol):
    async def park(self, pass_: Pass, member: str, reason: str, now: datetime) -> None: ...

    async def parked(self, pass_: Pass) -> dict[str, str]:
        """Each member of `pass_` set aside, with its reason."""
        ...


async def set_aside(
    place: SetAside, timers: Timers, pass_: Pass, member: str, error: BaseException, now: datetime
) -> None:
    """Record `member` with its reason, then take it off its timer: a crash between records it twice, loses nothing."""
    reason = reason_of(error)
    await place.park(pass_, member, reason, now)
    await timers.remove(member)
    SET_ASIDE.labels(pass_).inc()
    log.error(
        "%s: set %s aside (%s, raised at %s); the pass goes on without it", pass_, member, reason, raised_at(error)
    )


def raised_at(error: BaseException) -> str:
    """Where it was raised, in place of a traceback, whose text would repeat the error's (and the input's) words."""
    frames = traceback.extract_tb(error.__traceback__)
    return f"{frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name}" if frames else "?"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisSetAside:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def park(self, pass_: Pass, member: str, reason: str, now: datetime) -> None:
        await self._redis.hset(KEY, f"{pass_}:{member}", json.dumps({"reason": reason, "at": now.isoformat()}))

    async def parked(self, pass_: Pass) -> dict[str, str]:
        rows = await self._redis.hgetall(KEY)
        prefix = f"{pass_}:"
        texts = {_text(name): _text(value) for name, value in rows.items()}
        return {
            name.removeprefix(prefix): json.loads(value)["reason"]
            for name, value in texts.items()
            if name.startswith(prefix)
        }


class MemorySetAside:
    """The twin."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, str]] = {}

    async def park(self, pass_: Pass, member: str, reason: str, now: datetime) -> None:
        self.items.setdefault(pass_, {})[member] = reason

    async def parked(self, pass_: Pass) -> dict[str, str]:
        return dict(self.items.get(pass_, {}))
