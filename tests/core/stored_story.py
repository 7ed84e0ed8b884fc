"""One fixed story through core's handler, with what it leaves: each order's stored document and each message out.

Every byte of it is fixed (the inputs are literal JSON, core's fresh event ids come from a counter), so two
versions of core that store and publish alike tell it identically. `documents_before_codec.json` is this story
as core told it before `core.codec` existed (commit 159e329), made with this file copied into that checkout:

    python -m tests.core.stored_story > tests/core/documents_before_codec.json

It uses only what both versions share: `CoreHandler`, `MemoryOrderStore.rows`, `Received` and `Outcome`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from aiokafka import ConsumerRecord

import schemas.envelope
from core.directory import StaticConfig
from core.handlers import CoreHandler
from core.store import MemoryOrderStore
from plumbing.consumer import Received
from schemas import decode, encode
from tests.builders import T0, load_test_config

NOW = T0 + timedelta(minutes=20)
MANUAL_KEY = "woocommerce:shop-manual:1001"
AUTO_KEY = "bigcommerce:shop-auto:B-7"
MUG = {
    "line_id": "L1",
    "product_id": "93",
    "sku": "MUG-NAME",
    "title": "Tasse « Prénom »",
    "quantity": 1,
    "unit_price": "14.50",
    "buyer_personalization": 'Zoë "Z"',
}
TOTE = {
    "line_id": "L2",
    "product_id": "7",
    "sku": "TOTE",
    "title": "Tote bag\tlarge",
    "quantity": 2,
    "unit_price": "9.00",
}


def _order(key: str, event_id: str, lines: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    platform, store_id, number = key.split(":")
    return {
        "event_id": event_id,
        "event_type": "OrderReceived",
        "schema_version": 1,
        "occurred_at": "2026-11-27T14:00:00+02:00",
        "order_key": key,
        "platform": platform,
        "store_id": store_id,
        "platform_order_id": number,
        "order_number": number,
        "placed_at": "2026-11-27T11:59:00Z",
        "payment_status": "paid",
        "currency": "EUR",
        "total": "32.50",
        "customer": {"name": "Zoë Ünal 🎁", "email": "zoe@example.com"},
        "shipping_address": {"name": "Zoë Ünal", "line1": '1 Rue "Haute"', "city": "Lyon", "country": "FR"},
        "line_items": lines,
        **fields,
    }


def _link_issued(request: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_id": "7b0f6a52-91c4-4a0e-8d43-5f2a9c1e0b17",
        "event_type": "PersonalizationLinkIssued",
        "occurred_at": "2026-11-27T12:15:00Z",
        "order_key": MANUAL_KEY,
        "link_id": "link-1",
        "url": "https://personalize.example.com/p/token",
        "expires_at": "2026-12-04T12:15:00Z",
        "sequence": 1,
        "merchant_email": "manual@example.com",
        "store_id": "shop-manual",
        "platform": "woocommerce",
        "order_number": "1001",
        "items": request["items"],
    }


COMPLETED = {
    "event_id": "3c9d2e41-5b7a-4f18-9e06-1d4b8a7c2f90",
    "event_type": "PersonalizationCompleted",
    "occurred_at": "2026-11-27T13:00:00Z",
    "order_key": MANUAL_KEY,
    "items": [{"line_id": "L1", "fields": {"name": 'Zoë "Z"', "motif": "heart"}}],
}
APPROVED = {
    "event_id": "a1e5f3d7-0c2b-4e69-b8a4-6f7d9e3c1b25",
    "event_type": "ApproveOrder",
    "occurred_at": "2026-11-27T13:05:00Z",
    "order_key": MANUAL_KEY,
    "reason": "looks right",
}


def _message(topic: str, offset: int, value: dict[str, Any], indent: int | None = None) -> Received:
    raw = json.dumps(value, indent=indent, ensure_ascii=False).encode()
    record = ConsumerRecord(topic, 0, offset, 0, 0, value["order_key"].encode(), raw, None, 0, 0, [])
    return Received(record, decode(topic, raw))


def _counted_ids() -> SimpleNamespace:
    """Stands in for `os` in `schemas.envelope`: the bytes of each new event id count up from 1."""
    counter = itertools.count(1)
    return SimpleNamespace(urandom=lambda size: next(counter).to_bytes(size, "big"))


async def tell() -> list[dict[str, Any]]:
    """Each step: its input message, the documents of the orders after it, and the messages it published."""
    real_os, schemas.envelope.os = schemas.envelope.os, _counted_ids()
    try:
        return await _steps()
    finally:
        schemas.envelope.os = real_os


async def _steps() -> list[dict[str, Any]]:
    store = MemoryOrderStore()
    handler = CoreHandler(store, StaticConfig(load_test_config()), timedelta(minutes=15), lambda: NOW)
    steps: list[dict[str, Any]] = []

    async def step(item: Received) -> list[dict[str, Any]]:
        outcome = await handler([item])
        published = [(outcome.encoded.get(e.event_id) or encode(e)).decode() for e in outcome.outgoing]
        steps.append(
            {
                "topic": item.record.topic,
                "offset": item.record.offset,
                "message": item.record.value.decode(),
                "published": published,
                "documents": {key: doc.decode() for key, (_, doc) in sorted(store.rows.items())},
            }
        )
        return [json.loads(raw) for raw in published]

    received = _order(MANUAL_KEY, "6F1C1F0E-6A43-4D1E-9A43-0F8D2F3B7C11", [MUG, TOTE])
    out = await step(_message("orders.received", 1, received, indent=1))
    request = next(event for event in out if event["event_type"] == "PersonalizationRequested")
    await step(_message("personalization.link-issued", 2, _link_issued(request)))
    await step(_message("personalization.completed", 3, COMPLETED))
    approve = _message("orders.commands", 4, APPROVED)
    await step(approve)
    await step(approve)  # redelivered: the same message again
    plain = _order(AUTO_KEY, "0d8e7f6a-5b4c-4d3e-8f2a-1b0c9d8e7f6a", [TOTE], total="18.00")
    await step(_message("orders.received", 5, plain))  # nothing to personalize, automatic approval: fulfilled
    return steps


if __name__ == "__main__":
    json.dump(asyncio.run(tell()), sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")
