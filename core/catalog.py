"""Which lines of an order a store sells as personalizable, and with which template."""

from __future__ import annotations

from plumbing.config import Config, ProductMatch, StoreConfig
from schemas import LineItem, RequestedItem, Template

_KEYS = ("product_id", "variant_id", "sku")


class Catalog:
    """A store's personalizable products, indexed by each key they give: built once per config, used per line.

    A line takes the first product listed that matches any of its keys (`ProductMatch.matches`); trying every
    product on every line was 4 % of core's CPU (profiled).
    """

    def __init__(self, config: Config, store: StoreConfig) -> None:
        self._first: dict[tuple[str, str], tuple[int, ProductMatch]] = {}
        for position, product in enumerate(store.products):
            for key in _KEYS:
                value = getattr(product, key)
                if value is not None:
                    self._first.setdefault((key, value), (position, product))
        # Its own template where it has one by that id, else the shared one (core/directory.py: template ids).
        self._templates = {p.template: config.template(p.template, store.key) for p in store.products}

    def match(self, line: LineItem) -> tuple[ProductMatch, Template] | None:
        found = [hit for key in _KEYS if (hit := self._first.get((key, getattr(line, key)))) is not None]
        if not found:
            return None
        product = min(found, key=lambda hit: hit[0])[1]
        return product, self._templates[product.template]

    def requested_items(self, lines: list[LineItem]) -> list[RequestedItem]:
        items = []
        for line in lines:
            match = self.match(line)
            if match is not None:
                items.append(
                    RequestedItem(
                        line_id=line.line_id,
                        title=line.title,
                        quantity=line.quantity,
                        template=match[1],
                        buyer_personalization=line.buyer_personalization,
                    )
                )
        return items
