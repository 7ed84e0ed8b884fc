"""Events as the tests need them: a personalizable mug line, a plain line, on a manual or an automatic store."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from plumbing.config import Config, load_config
from schemas import (
    CompletedItem,
    Customer,
    LineItem,
    OrderReceived,
    OrderUpdated,
    PersonalizationCompleted,
    order_key,
)
from tests.support import unique_id

CONFIG_PATH = Path(__file__).parent / "config.yaml"
MANUAL = ("woocommerce", "shop-manual")
AUTO = ("bigcommerce", "shop-auto")
T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def load_test_config() -> Config:
    return load_config(CONFIG_PATH)


def mug(line_id: str = "L1", **extra: object) -> LineItem:
    fields = {"product_id": "93", "sku": "MUG-NAME", "title": "Name mug", "quantity": 1, "unit_price": "14.50"}
    return LineItem(line_id=line_id, **{**fields, **extra})


def auto_mug(line_id: str = "L1") -> LineItem:
    return LineItem(
        line_id=line_id, product_id="500", variant_id="v-77", title="Name mug", quantity=1, unit_price="14.50"
    )


def plain(line_id: str = "L2") -> LineItem:
    return LineItem(line_id=line_id, product_id="7", sku="TOTE", title="Tote bag", quantity=1, unit_price="9.00")


def order(
    store: tuple[str, str] = MANUAL,
    lines: list[LineItem] | None = None,
    *,
    number: str | None = None,
    kind: type = OrderReceived,
    at: datetime = T0,
    **fields: object,
) -> OrderReceived | OrderUpdated:
    platform, store_id = store
    number = number or unique_id()
    base = {
        "payment_status": "paid",
        "currency": "EUR",
        "total": "23.50",
        "customer": Customer(name="Ada", email="ada@example.com"),
        "placed_at": at,
    }
    return kind(
        order_key=order_key(platform, store_id, number),
        occurred_at=at,
        platform=platform,
        store_id=store_id,
        platform_order_id=number,
        order_number=number,
        line_items=lines if lines is not None else [mug(), plain()],
        **{**base, **fields},
    )


def updated(original: OrderReceived, at: datetime = T0, **changes: object) -> OrderUpdated:
    data = original.model_dump(exclude={"event_id", "event_type", "occurred_at"})
    data.update(changes)
    return OrderUpdated(**data, occurred_at=at)


def completed(key: str, *line_ids: str, name: str = "Grace") -> PersonalizationCompleted:
    return PersonalizationCompleted(
        order_key=key, items=[CompletedItem(line_id=line, fields={"name": name, "motif": "heart"}) for line in line_ids]
    )
