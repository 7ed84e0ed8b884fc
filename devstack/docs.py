"""Generated docs of the event contract: a JSON Schema per event and faststream's AsyncAPI document.

The AsyncAPI document is built by faststream from a broker that declares,
for every topic, who publishes it and who subscribes to it (TOPOLOGY), with
the schemas' own models as payloads. Run `personalize docs` after changing
`schemas/`; a test fails while docs/ is stale.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Union

from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

import schemas
from schemas import EVENTS_BY_TOPIC

TITLE = "personalize events"

# topic -> (who publishes it, who consumes it). Kept beside the docs so the
# document says who talks to whom; DESIGN.md has the same table in prose.
TOPOLOGY: dict[str, tuple[str, tuple[str, ...]]] = {
    schemas.ORDERS_RECEIVED: ("connector", ("core",)),
    schemas.ORDERS_STATUS: ("core", ("notifier", "editor")),
    schemas.PERSONALIZATION_REQUESTED: ("core", ("notifier",)),
    schemas.PERSONALIZATION_COMPLETED: ("editor", ("core",)),
    schemas.PERSONALIZATION_LINK_ISSUED: ("notifier", ("editor", "core", "automation webhooks")),
    schemas.PERSONALIZATION_LINK_ACTIVITY: (
        "editor (opened), notifier (expired, reminders)",
        ("core", "automation webhooks"),
    ),
    schemas.ORDERS_COMMANDS: ("merchant API", ("core",)),
    schemas.FULFILLMENT_REQUESTED: ("core", ("fulfillment (yours)",)),
    schemas.DEAD_LETTERS: ("every consumer", ("operators",)),
    schemas.STORES_EMAIL_CHANGES: ("merchant API", ("notifier",)),
    schemas.STORES: (
        "connector, personalize stores",
        ("core (and through it the merchant API)", "every connector copy"),
    ),
}


def event_schemas() -> dict[str, dict[str, Any]]:
    return {
        event.__name__: event.model_json_schema(mode="serialization")
        for events in EVENTS_BY_TOPIC.values()
        for event in events
    }


def asyncapi_document() -> dict[str, Any]:
    broker = KafkaBroker()
    for topic, events in EVENTS_BY_TOPIC.items():
        payload = events[0] if len(events) == 1 else Union[events]  # noqa: UP007 - a union of a run-time tuple has no `|` spelling
        producer, consumers = TOPOLOGY[topic]
        broker.publisher(
            topic,
            title=f"{topic}:{producer}",
            schema=payload,
            description=f"Published by {producer}: {', '.join(e.__name__ for e in events)}.",
        )
        for consumer in consumers:
            broker.subscriber(
                topic, group_id=consumer, title=f"{topic}:{consumer}", description=f"Consumed by {consumer}."
            )(_documenting_handler(payload))
    spec = AsyncAPI(
        broker,
        title=TITLE,
        version=_version(),
        description="Events of the personalize system. Kafka message key = order_key.",
    )
    return json.loads(spec.to_specification().to_json())


def _documenting_handler(payload: Any) -> Callable[[object], Awaitable[None]]:
    """A subscriber faststream only inspects (its annotations are the payload), never runs."""

    async def handler(event: object) -> None:
        raise AssertionError("documentation only")

    handler.__annotations__ = {"event": payload, "return": None}
    return handler


def _version() -> str:
    from importlib.metadata import version

    return version("personalize")


def rendered(docs: Path, extra: dict[str, Any] | None = None) -> dict[Path, str]:
    """`extra`: more documents by file name under docs/ (the command line adds the services' own, e.g. OpenAPI)."""
    files = {docs / "schemas" / f"{name}.json": _dump(schema) for name, schema in event_schemas().items()}
    files[docs / "asyncapi.json"] = _dump(asyncapi_document())
    files.update({docs / name: _dump(document) for name, document in (extra or {}).items()})
    return files


def write_docs(docs: Path, check: bool = False, extra: dict[str, Any] | None = None) -> int:
    files = rendered(docs, extra)
    stale = [path for path, text in files.items() if not path.exists() or path.read_text() != text]
    if check:
        for path in stale:
            print(f"stale: {path} (run `personalize docs`)", file=sys.stderr)
        return 1 if stale else 0
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    print(f"wrote {len(files)} files under {docs}/ ({len(stale)} changed)")
    return 0


def _dump(document: Any) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"
