"""Core's bytes: the documents it stores orders as, and the events it publishes, each encoded once.

The domain (`core.decide`, `core.order`) deals in typed events only. What is here makes their bytes, with three
shortcuts, each counted when it was made:

- An outgoing event is encoded once, for the broker and for the order's memory of it (`Order.applied`, kept to
  re-publish on redelivery): `BatchCodec.published` and `BatchCodec.document` share the bytes.
- An order whose snapshot came in this batch is stored with the very bytes it was decoded from: serializing the
  connector's order again was half the document's cost, for the same JSON (those bytes validated into this very
  snapshot, and validate into it again when the document is read).
- The memory keeps each event as the JSON that was published, a string inside the document: as objects they were
  serialized twice, for the broker and in every write of the order (in a new personalized order's document,
  129 k instructions against 36 k, callgrind). Reading a document leaves them as that JSON until a redelivery
  asks for them (`_Published`): decoding them at every load cost as much again as the rest of the document.

Every core copy reads every other's documents, older versions' included (`tests/core/test_codec.py` holds
documents written before this module): the format changes only with a reader for the old one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Annotated, Any, NotRequired, overload

from pydantic import Field, GetPydanticSchema, TypeAdapter
from pydantic_core import SchemaSerializer, core_schema
from typing_extensions import TypedDict  # pydantic's own dependency: it refuses typing's before Python 3.12

from core.order import Applied, Order, Outgoing
from plumbing.consumer import Received
from schemas import OrderReceived, OrderUpdated, encode

__all__ = ["BatchCodec", "order_document", "read_order"]


class _StoredApplied(TypedDict):
    """An `Applied` as the document holds it."""

    event_id: str
    source: NotRequired[str]
    events: NotRequired[list[str]]  # each event as it was published (JSON)
    outgoing: NotRequired[list[dict[str, Any]]]  # documents written before the events were kept as JSON: objects


_MEMORY: TypeAdapter[list[_StoredApplied]] = TypeAdapter(list[_StoredApplied])
_OUTGOING: TypeAdapter[Outgoing] = TypeAdapter(Outgoing)
# Their serializers straight: `TypeAdapter.dump_json`'s own arguments cost as much as dumping a short list (counted).
_ORDER_JSON = Order.__pydantic_serializer__
_MEMORY_JSON = _MEMORY.serializer
_BUT_MEMORY = {"applied"}
_BUT_MEMORY_AND_SNAPSHOT = {"applied", "snapshot"}


class _Published(Sequence[Outgoing]):
    """The events of a remembered input as its document holds them, decoded the first time they are read."""

    __slots__ = ("_decoded", "raw")
    # Serialized as the list of its events, like the list a fresh `Applied` holds (`Order.model_dump`).
    __pydantic_serializer__ = SchemaSerializer(
        core_schema.any_schema(serialization=core_schema.plain_serializer_function_ser_schema(list))
    )

    def __init__(self, raw: list[str]) -> None:
        self.raw = raw
        self._decoded: list[Outgoing] | None = None

    def _events(self) -> list[Outgoing]:
        if self._decoded is None:
            self._decoded = [_OUTGOING.validate_json(each) for each in self.raw]
        return self._decoded

    def __len__(self) -> int:
        return len(self.raw)

    @overload
    def __getitem__(self, index: int) -> Outgoing: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Outgoing]: ...

    def __getitem__(self, index: int | slice) -> Outgoing | Sequence[Outgoing]:
        return self._events()[index]

    def __iter__(self) -> Iterator[Outgoing]:
        return iter(self._events())

    def __eq__(self, other: object) -> bool:  # as the list of events it stands for: `Order`s compare by value
        return isinstance(other, Sequence) and list(self) == list(other)

    def __repr__(self) -> str:
        return repr(self._events())


def _remembered(entries: list[_StoredApplied]) -> list[Applied]:
    return [Applied(entry["event_id"], entry.get("source", ""), _events_of(entry)) for entry in entries]


def _events_of(entry: _StoredApplied) -> Sequence[Outgoing]:
    if "outgoing" in entry:  # a document from before the events were kept as JSON: rare, decoded at once
        return [_OUTGOING.validate_python(event) for event in entry["outgoing"]]
    return _Published(entry.get("events", []))


_MEMORY_READER = core_schema.no_info_after_validator_function(_remembered, _MEMORY.core_schema)


class _Document(Order):
    """An order as its document reads: the memory's events stay the JSON they were published as (`_Published`)."""

    applied: Annotated[list[Applied], GetPydanticSchema(lambda _type, _handler: _MEMORY_READER)] = Field(
        default_factory=list
    )


def read_order(document: bytes | str) -> Order:
    order = _Document.model_validate_json(document)
    # Field for field an Order already, only its memory read another way: it becomes one (the classes share their
    # layout). Copying it into one (`Order.model_construct`) made a read cost a third more (callgrind).
    object.__setattr__(order, "__class__", Order)
    return order


def order_document(order: Order) -> bytes:
    """`order`'s document, every part of it encoded now: what any core copy reads back as `order`."""
    return _document(order, [_stored(entry, encode) for entry in order.applied])


class BatchCodec:
    """The bytes of one batch: the messages its events came in, and the events it publishes, by event id."""

    def __init__(self, batch: Iterable[Received]) -> None:
        self._received = {
            item.event.event_id: item for item in batch if isinstance(item.event, OrderReceived | OrderUpdated)
        }
        self._encoded: dict[str, bytes] = {}

    def published(self, events: Sequence[Outgoing]) -> dict[str, bytes]:
        """Each event's JSON, by event id: encoded once, or, re-published, the very bytes that went out first."""
        if isinstance(events, _Published):
            return {event.event_id: raw.encode() for event, raw in zip(events, events.raw, strict=True)}
        return {event.event_id: self._encode(event) for event in events}

    def document(self, order: Order) -> bytes:
        """The order's document, with the bytes this batch already has: its snapshot's, its new events'."""
        return _document(
            order, [_stored(entry, self._encode) for entry in order.applied], self._snapshot_as_received(order)
        )

    def _encode(self, event: Outgoing) -> bytes:
        raw = self._encoded.get(event.event_id)
        if raw is None:
            raw = self._encoded[event.event_id] = encode(event)
        return raw

    def _snapshot_as_received(self, order: Order) -> bytes | None:
        """The message the snapshot was decoded from, if it came in this batch.

        Only the bytes that validated into this very object: another message may carry the same event id.
        """
        item = self._received.get(order.snapshot.event_id)
        return item.record.value if item is not None and item.event is order.snapshot else None


def _stored(entry: Applied, encoded: Callable[[Outgoing], bytes]) -> _StoredApplied:
    outgoing = entry.outgoing
    events = outgoing.raw if isinstance(outgoing, _Published) else [encoded(event).decode() for event in outgoing]
    return {"event_id": entry.event_id, "source": entry.source, "events": events}


def _document(order: Order, memory: list[_StoredApplied], snapshot: bytes | None = None) -> bytes:
    """The order's fields, then its memory (`applied`, the last field), then the snapshot when given as bytes."""
    head = _ORDER_JSON.to_json(order, exclude=_BUT_MEMORY if snapshot is None else _BUT_MEMORY_AND_SNAPSHOT)
    parts = [head[:-1], b',"applied":', _MEMORY_JSON.to_json(memory)]
    if snapshot is not None:
        parts += (b',"snapshot":', snapshot)
    parts.append(b"}")
    return b"".join(parts)
