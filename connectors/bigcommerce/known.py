"""The products and shipping addresses of order versions already fetched, so an unchanged order costs no calls.

BigCommerce orders only link to both (`/v2/orders/{id}/products`, `/shipping_addresses`): two calls or more
per order read. Every poll re-reads its lookback (10 minutes by default, each minute), so without this an
order was fetched whole about ten times for one change. An order listed again with the `date_modified` of
the version fetched before is completed from here; a new `date_modified` (BigCommerce sets it on any change
to the order, its lines or its addresses) fetches both again.

Kept per API client, in memory, least recently used out first: a copy that restarts or did not poll last
fetches again, which only costs calls. The seen digest (connectors/seen.py) is not used because it is
written after the publish, and knows the mapped order, not the platform rows this needs.
"""

from __future__ import annotations

from collections import OrderedDict
from weakref import WeakKeyDictionary

from connectors.client import PlatformClient

CAPACITY = 10_000  # order versions per client: more than one lookback of orders of even a busy store
Rows = tuple[list[dict], list[dict]]  # products, shipping addresses


class KnownOrders:
    def __init__(self, capacity: int = CAPACITY) -> None:
        self._capacity = capacity
        self._rows: OrderedDict[tuple[str, str], tuple[str, Rows]] = OrderedDict()

    def get(self, store_key: str, order: dict) -> Rows | None:
        key, version = (store_key, str(order.get("id"))), order.get("date_modified")
        found = self._rows.get(key)
        if not version or found is None or found[0] != version:
            return None
        self._rows.move_to_end(key)
        return found[1]

    def put(self, store_key: str, order: dict, rows: Rows) -> None:
        version = order.get("date_modified")
        if not isinstance(version, str) or not version:
            return
        key = (store_key, str(order.get("id")))
        self._rows[key] = (version, rows)
        self._rows.move_to_end(key)
        while len(self._rows) > self._capacity:
            self._rows.popitem(last=False)

    def __len__(self) -> int:
        return len(self._rows)


_BY_CLIENT: WeakKeyDictionary[PlatformClient, KnownOrders] = WeakKeyDictionary()


def known_for(api: PlatformClient) -> KnownOrders:
    if api not in _BY_CLIENT:
        _BY_CLIENT[api] = KnownOrders()
    return _BY_CLIENT[api]
