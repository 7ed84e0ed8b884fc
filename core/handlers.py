"""Core's batch handler: load the batch's orders, decide, write atomically, hand back what to publish.

An input whose events would not fit a Kafka record (a store's huge template copied into every line, an order of
thousands of personalizable lines) is refused before anything is written: published, its events would be refused
forever; written, a redelivery would publish them again. The order stays as it was (a new order is not stored),
the input goes to `dead-letters` naming the size and the limit, and the rest of the batch goes on. Once the cause
is fixed (the template shortened, the order split on the platform), replaying the dead letter takes it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from core.codec import BatchCodec
from core.decide import Policy, apply
from core.directory import ConfigSource
from core.order import Order, Outgoing
from core.parked import MAX_PER_STORE, Parked, Parking
from core.store import OrderStore, Write
from plumbing.consumer import Outcome, Received
from plumbing.kafka import DEFAULT_MAX_MESSAGE_BYTES, MessageTooLarge, checked
from plumbing.logs import event_fields
from schemas import Event, OrderReceived, OrderUpdated, PersonalizationRequested, store_key

log = logging.getLogger(__name__)

# A request must leave room for the link the notifier issues from it: `PersonalizationLinkIssued` repeats its
# items and adds the URL, and the notifier could never publish one over the limit.
LINK_ROOM = 16 * 1024

# A lost compare-and-set means another core copy wrote the order meanwhile;
# re-reading and re-deciding converges in a round or two.
MAX_ROUNDS = 8


class ConcurrentWriteError(RuntimeError):
    """An order kept changing under us for MAX_ROUNDS rounds."""


class CoreHandler:
    def __init__(
        self,
        store: OrderStore,
        configs: ConfigSource,
        link_delay: timedelta,
        clock: Callable[[], datetime],
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        parking: Parking | None = None,
        known: Callable[[str, str], Awaitable[object | None]] | None = None,
    ) -> None:
        # An order of a store not learned yet is parked, not refused (`core.parked`); `known` asks the
        # directory afresh, after parking, whether the store was learned meanwhile.
        self._parking, self._known = parking, known
        self._store = store
        self._max_message_bytes = max_message_bytes
        self._configs = configs
        self._link_delay = link_delay
        self._clock = clock
        self._policy: Policy | None = None

    async def __call__(self, batch: list[Received]) -> Outcome:
        # Once per batch: a merchant's change through the API applies from the next batch on, without a restart.
        config = await self._configs.config()
        if self._policy is None or self._policy.config is not config:  # the same config: keep its catalogs' indexes
            self._policy = Policy(config, self._link_delay)
        policy = self._policy
        by_order: dict[str, list[Received]] = {}
        for item in batch:
            by_order.setdefault(item.event.order_key, []).append(item)

        outcome = Outcome()
        codec = BatchCodec(batch)
        pending = list(by_order)
        of_unknown_stores: list[tuple[Received, str]] = []
        for _ in range(MAX_ROUNDS):
            loaded = await self._store.load_many(pending)
            writes: list[Write] = []
            results: dict[str, Outcome] = {}
            unknown: dict[str, list[tuple[Received, str]]] = {}
            for key in pending:
                before = loaded[key].order
                order, result, unknown[key] = self._decide(before, by_order[key], policy, codec)
                results[key] = result
                if order is not None:
                    writes.append(
                        Write(
                            order,
                            loaded[key].version,
                            was=before.status if before else None,
                            document=codec.document(order),
                        )
                    )
            lost = await self._store.save_many(writes) if writes else set()
            for key in pending:
                if key not in lost:
                    outcome.outgoing += results[key].outgoing
                    outcome.encoded.update(results[key].encoded)
                    outcome.rejected += results[key].rejected
                    of_unknown_stores += unknown[key]
            pending = [key for key in pending if key in lost]
            if not pending:
                outcome.rejected += await self._park(of_unknown_stores)
                return outcome
        raise ConcurrentWriteError(f"orders kept changing while core wrote them: {pending[:5]}")

    async def _park(self, items: list[tuple[Received, str]]) -> list[tuple[Received, str]]:
        """Orders of stores core does not know: parked while there is room (`core.parked`); the rest refused."""
        refused: list[tuple[Received, str]] = []
        stores: dict[str, tuple[str, str]] = {}
        for item, reason in items:
            event = item.event
            assert isinstance(event, OrderReceived | OrderUpdated)  # the only inputs naming a store to know
            store = store_key(event.platform, event.store_id)
            record = item.record
            if self._parking is not None and await self._parking.park(
                store, Parked(record.topic, record.key, record.value)
            ):
                log.warning(
                    "store %s is not known (yet): its order is parked until it is", store, extra=event_fields(event)
                )
                stores[store] = (event.platform, event.store_id)
                continue
            full = f"; {MAX_PER_STORE} of its orders are parked already" if self._parking is not None else ""
            refused.append((item, reason + full))
        for store, (platform, store_id) in stores.items():
            known = self._known is not None and await self._known(platform, store_id) is not None
            if self._parking is not None and known:
                await self._parking.release(store)  # learned while this batch ran: its learner may have looked first
        return refused

    def _decide(
        self, order: Order | None, items: list[Received], policy: Policy, codec: BatchCodec
    ) -> tuple[Order | None, Outcome, list[tuple[Received, str]]]:
        """Apply one order's events in arrival order; returns the order to write (None: unchanged), what to
        publish or refuse, and the inputs of a store core does not know."""
        now = self._clock()
        changed: Order | None = None
        result = Outcome()
        unknown: list[tuple[Received, str]] = []
        for item in items:
            source = f"{item.record.topic}:{item.record.partition}:{item.record.offset}"
            decision = apply(changed if changed is not None else order, item.event, policy, now, source)
            if decision.replayed and decision.replay_source != source:
                # The same event in another message (a producer retried, a webhook and a poll both sent it):
                # its effects are out already. Only the very message that produced them is re-published,
                # which is what a redelivery after a crash before the commit is.
                _log_ignored(item.event, "already applied from another message")
                continue
            try:
                encoded = self._within_limit(decision.outgoing, codec)
            except MessageTooLarge as error:
                result.rejected.append((item, _too_large(error, decision.outgoing)))
                continue  # nothing of this input is kept: the order stays as the inputs before it left it
            result.outgoing += decision.outgoing
            result.encoded.update(encoded)
            if decision.unknown_store and decision.rejected:
                unknown.append((item, decision.rejected))
            elif decision.rejected:
                result.rejected.append((item, decision.rejected))
            elif decision.ignored:
                _log_ignored(item.event, decision.ignored)
            if decision.order is not None:
                changed = decision.order
        return changed, result, unknown

    def _within_limit(self, outgoing: Sequence[Outgoing], codec: BatchCodec) -> dict[str, bytes]:
        encoded = codec.published(outgoing)
        for event in outgoing:
            room = LINK_ROOM if isinstance(event, PersonalizationRequested) else 0
            checked(event, self._max_message_bytes - room, encoded[event.event_id])
        return encoded


def _too_large(error: MessageTooLarge, outgoing: Sequence[Outgoing]) -> str:
    lines = [len(e.items) for e in outgoing if isinstance(e, PersonalizationRequested)]
    request = (
        f" ({lines[0]} personalizable lines; {LINK_ROOM:,} bytes of the limit are kept for the link issued from it)"
    )
    detail = request if lines and error.event_type == "PersonalizationRequested" else ""
    return f"{error.reason}{detail}; the input is not applied: the order is left as it was"


def _log_ignored(event: Event, why: str) -> None:
    log.info(
        "ignored %s %s for %s: %s", event.event_type, event.event_id, event.order_key, why, extra=event_fields(event)
    )
