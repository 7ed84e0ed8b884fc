"""Which lines of an order a store sells as personalizable, and with which template."""

from __future__ import annotations

from personalize.config import Config, StoreConfig
from schemas import LineItem, RequestedItem


def requested_items(config: Config, store: StoreConfig, lines: list[LineItem]) -> list[RequestedItem]:
    items = []
    for line in lines:
        match = next((p for p in store.products if p.matches(line)), None)
        if match is None:
            continue
        items.append(
            RequestedItem(
                line_id=line.line_id,
                title=line.title,
                quantity=line.quantity,
                template=config.template(match.template),
                buyer_personalization=line.buyer_personalization,
            )
        )
    return items
