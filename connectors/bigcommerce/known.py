"""The products and shipping addresses of order versions already fetched, so an unchanged order costs no calls.

BigCommerce orders only link to both (`/v2/orders/{id}/products`, `/shipping_addresses`): two calls or more
per order read. Every poll re-reads its lookback (10 minutes by default, each minute), so without this an
order was fetched whole about ten times for one change. An order listed again with the `date_modified` of
the version fetched before is completed from here; a new `date_modified` (BigCommerce sets it on any change
to the order, its lines or its addresses) fetches both again.

Kept per API client, in memory, as compact JSON (a two-line order's rows are ~3.3 KB so; as Python objects
they were ~14 KB), for as long as a poll can list the order again unchanged (`keep`: the lookback and two
intervals, refreshed on each use), and never more than CAPACITY versions. A copy that restarts or did not
poll last fetches again, which only costs calls. The seen digest (connectors/seen.py) is not used: it is
written after the publish, and knows the mapped order, not the platform rows needed here.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from weakref import WeakKeyDictionary

from pydantic_core import from_json, to_json

from connectors.client import PlatformClient
from plumbing.config import StoreConfig

CAPACITY = 5_000  # order versions per client: ~16 MiB at most, more than a lookback of even a busy store's orders
Rows = tuple[list[dict], list[dict]]  # products, shipping addresses


def keep(store: StoreConfig) -> float:
    """Seconds a fetched version stays useful: a poll lists orders modified since (cursor - lookback)."""
    return (store.lookback + 2 * store.poll_interval).total_seconds()


class KnownOrders:
    def __init__(self, capacity: int = CAPACITY, clock: Callable[[], float] = time.monotonic) -> None:
        self._capacity, self._clock = capacity, clock
        self._rows: OrderedDict[tuple[str, str], tuple[str, bytes, float]] = OrderedDict()  # oldest use first

    def get(self, store: StoreConfig, order: dict) -> Rows | None:
        now = self._forget_expired()
        key, version = (store.key, str(order.get("id"))), order.get("date_modified")
        found = self._rows.get(key)
        if not version or found is None or found[0] != version:
            return None
        self._rows[key] = (found[0], found[1], now + keep(store))
        self._rows.move_to_end(key)
        products, addresses = from_json(found[1])
        return products, addresses

    def put(self, store: StoreConfig, order: dict, rows: Rows) -> None:
        now = self._forget_expired()
        version = order.get("date_modified")
        if not isinstance(version, str) or not version:
            return
        key = (store.key, str(order.get("id")))
        self._rows[key] = (version, to_json(rows), now + keep(store))
        self._rows.move_to_end(key)
        while len(self._rows) > self._capacity:
            self._rows.popitem(last=False)

    def _forget_expired(self) -> float:
        now = self._clock()
        while self._rows and next(iter(self._rows.values()))[2] <= now:
            self._rows.popitem(last=False)
        return now

    def __len__(self) -> int:
        return len(self._rows)


_BY_CLIENT: WeakKeyDictionary[PlatformClient, KnownOrders] = WeakKeyDictionary()


def known_for(api: PlatformClient) -> KnownOrders:
    if api not in _BY_CLIENT:
        _BY_CLIENT[api] = KnownOrders()
    return _BY_CLIENT[api]
