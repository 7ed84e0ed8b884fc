"""Stand-ins for the notifier's outside world in its tests: a producer that keeps, mail that runs a hook."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from email.message import Message

from notifier.mail import MemorySender
from schemas import Event, decode


@dataclass
class HookedSender(MemorySender):
    """Memory mail whose next accepted email runs `after`: what happens right after the SMTP server's 250."""

    after: Callable[[], Awaitable[None]] | None = None

    async def send(self, message: Message) -> None:
        await super().send(message)
        if self.after is not None:
            hook, self.after = self.after, None
            await hook()


class BrokerDown(Exception):
    pass


class KeptProducer:
    """What `plumbing.kafka.publish` needs of a producer: each event kept as the broker would get it."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.down = False

    async def send(self, topic: str, value: bytes, key: bytes, headers: Sequence[tuple[str, bytes]]) -> asyncio.Future:
        if self.down:
            raise BrokerDown(topic)
        self.events.append(decode(topic, value))
        acknowledged = asyncio.get_running_loop().create_future()
        acknowledged.set_result(None)
        return acknowledged

    def of(self, event_type: type[Event]) -> list:
        """Each event once, in publishing order (a re-publish after a failure repeats its id)."""
        return list({e.event_id: e for e in self.events if isinstance(e, event_type)}.values())
