"""Fakes for the editor's tests without a server: a clock that moves when told, and a broker that takes, refuses
or never answers."""

from __future__ import annotations

import asyncio

from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError

from schemas import DeadLetter, Event, decode

T0 = 1_800_000_000.0  # any moment: the fakes never read the real time


class ManualClock:
    """Epoch seconds that pass only when `advance` says so."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeBroker:
    """What `plumbing.kafka.publish` needs of a producer: `send` answers with the broker's acknowledgement to come.

    `acknowledged` lists what the broker took, in order. `down` refuses every send; `refused` refuses the events of
    these ids (as when the broker is away); `too_large` refuses them as a stock broker refuses a record over 1 MB;
    `silent` takes them but never acknowledges (the broker stopped answering)."""

    def __init__(self) -> None:
        self.acknowledged: list[Event] = []
        self.down = False
        self.refused: set[str] = set()
        self.too_large: set[str] = set()
        self.silent = False

    async def send(self, topic: str, *, value: bytes, key: bytes, headers: list[tuple[str, bytes]]) -> asyncio.Future:
        event = decode(topic, value)
        assert key == event.order_key.encode() and headers == [("event_type", event.event_type.encode())]
        if self.down or event.event_id in self.refused:
            raise KafkaConnectionError("broker unreachable")
        if event.event_id in self.too_large:
            raise MessageSizeTooLargeError("the message is larger than the broker's message.max.bytes")
        answer: asyncio.Future = asyncio.get_running_loop().create_future()
        if not self.silent:
            self.acknowledged.append(event)
            answer.set_result(None)
        return answer

    def ids(self) -> list[str]:
        """The ids of what the broker took, dead letters aside."""
        return [event.event_id for event in self.acknowledged if not isinstance(event, DeadLetter)]

    def dead_letters(self) -> list[DeadLetter]:
        return [event for event in self.acknowledged if isinstance(event, DeadLetter)]
