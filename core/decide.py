"""Core's decisions: a pure `apply(order, event) -> Decision`, no I/O.

Handlers are routed by event type. Each returns the order to write and the
events to publish; the store applies both atomically.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core import fulfillment, links
from core.catalog import Catalog
from core.commands import describe, refusal
from core.order import CANCELLED, IF, PA, PP, Order, Outgoing
from plumbing.config import Config, StoreConfig
from schemas import (
    ApproveOrder,
    CancelOrder,
    Event,
    LineItem,
    LinkDelivery,
    OrderFields,
    OrderReceived,
    OrderStatus,
    OrderUpdated,
    PersonalizationCompleted,
    PersonalizationLinkExpired,
    PersonalizationLinkIssued,
    PersonalizationLinkOpened,
    PersonalizationReminderSent,
    PersonalizationRequested,
    RequestedItem,
    ResendLink,
)

_ENVELOPE = {"event_id", "event_type", "schema_version", "occurred_at"}


@dataclass(frozen=True)
class Policy:
    """The config as it stands for this batch (merchants change it at run time) and the link delay."""

    config: Config
    link_delay: timedelta
    _catalogs: dict[str, Catalog] = field(default_factory=dict, init=False, repr=False, compare=False)

    def requested_items(self, store: StoreConfig, lines: list[LineItem]) -> list[RequestedItem]:
        catalog = self._catalogs.get(store.key)
        if catalog is None:
            catalog = self._catalogs[store.key] = Catalog(self.config, store)
        return catalog.requested_items(lines)


@dataclass(frozen=True)
class Decision:
    """`order` to write (None: nothing), events to publish, or why the input was refused or ignored."""

    order: Order | None = None
    outgoing: Sequence[Outgoing] = field(default_factory=list)
    rejected: str | None = None
    ignored: str | None = None
    replayed: bool = False
    replay_source: str = ""  # the message the replayed events first came from
    unknown_store: bool = False  # rejected because core does not know the store (yet: `core.parked`)


@dataclass
class _Step:
    """The order as it changes while one event is applied, and what that emits."""

    order: Order
    event: Event
    now: datetime
    source: str = ""
    outgoing: list[Outgoing] = field(default_factory=list)

    def move(self, to: OrderStatus, reason: str) -> None:
        self.order, changed = self.order.moved(to, reason, self.now, self.event.event_id)
        self.outgoing.append(changed)

    def emit(self, event: Outgoing) -> None:
        self.outgoing.append(event)

    def decision(self) -> Decision:
        return Decision(
            order=self.order.remember(self.event.event_id, self.source, self.outgoing), outgoing=self.outgoing
        )


def apply(order: Order | None, event: Event, policy: Policy, now: datetime, source: str = "") -> Decision:
    """`source` names the message (topic:partition:offset), to tell a redelivery from a duplicate."""
    if order is not None and (earlier := order.applied_entry(event.event_id)) is not None:
        return Decision(outgoing=earlier.outgoing, replayed=True, replay_source=earlier.source)
    handler = _HANDLERS.get(type(event))
    if handler is None:
        return Decision(rejected=f"core does not handle {event.event_type}")
    return handler(order, event, policy, now, source)


# --- orders from connectors -------------------------------------------------


def _on_order(order: Order | None, event: OrderFields, policy: Policy, now: datetime, source: str) -> Decision:
    store = policy.config.store(event.platform, event.store_id)
    if store is None:
        return Decision(
            rejected=f"unknown store {event.platform}:{event.store_id} (not in the config)", unknown_store=True
        )
    if order is None:
        step = _Step(
            Order(order_key=event.order_key, snapshot=event, received_at=event.occurred_at), event, now, source
        )
        _advance(step, policy, store)
        return step.decision()
    if _content(order.snapshot) == _content(event):
        return Decision(ignored="the order is unchanged")
    step = _Step(order.model_copy(update={"snapshot": event}), event, now, source)
    _on_change(step, policy, store, before=order.snapshot)
    return step.decision()


def _advance(step: _Step, policy: Policy, store: StoreConfig) -> None:
    """Move a not-yet-started order as far as its payment and catalog allow."""
    snapshot = step.order.snapshot
    if snapshot.cancelled or snapshot.payment_status == "refunded":
        step.move(CANCELLED, "cancelled on the platform" if snapshot.cancelled else "refunded on the platform")
        return
    if snapshot.payment_status != "paid":
        return  # waits, with no public status, for an OrderUpdated that says paid
    items = policy.requested_items(store, snapshot.line_items)
    if items:
        step.order = step.order.model_copy(update={"personalize_lines": [i.line_id for i in items]})
        step.move(PP, f"{len(items)} line(s) to personalize")
        step.emit(_request(step, store, items, policy.link_delay, trigger="order_received"))
        _ship_plain_lines(step, store)
    else:
        _after_personalization(step, store, reason="nothing to personalize")


def _on_change(step: _Step, policy: Policy, store: StoreConfig, before: OrderFields) -> None:
    order, snapshot = step.order, step.order.snapshot
    if order.status is CANCELLED:
        return
    if snapshot.cancelled or snapshot.payment_status == "refunded":
        step.move(CANCELLED, "cancelled on the platform" if snapshot.cancelled else "refunded on the platform")
    elif order.status is None:
        _advance(step, policy, store)
    elif order.status is PP and snapshot.line_items != before.line_items:
        sent = order.sent_lines  # a line already shipped can no longer be personalized
        items = [i for i in policy.requested_items(store, snapshot.line_items) if i.line_id not in sent]
        step.order = order.model_copy(update={"personalize_lines": [i.line_id for i in items]})
        if items:
            step.emit(_request(step, store, items, policy.link_delay, trigger="items_changed"))
            _ship_plain_lines(step, store)
        else:
            _after_personalization(step, store, reason="no personalizable lines left")


def _after_personalization(step: _Step, store: StoreConfig, reason: str) -> None:
    if store.approval == "automatic" and not step.order.snapshot.is_test:
        _fulfill(step, f"{reason}; automatic approval")
    else:
        why = "test order" if step.order.snapshot.is_test else "manual approval"
        step.move(PA, f"{reason}; {why}")


def _fulfill(step: _Step, reason: str) -> None:
    """In fulfillment with every line not sent yet: the whole order, or the personalized part after the plain one."""
    step.move(IF, reason)
    lines = fulfillment.unsent_lines(step.order)
    if lines:  # empty only when every line left went out in an earlier part
        step.order, event = fulfillment.send(step.order, lines, fulfillment.remaining_part(step.order), step.now)
        step.emit(event)


def _ship_plain_lines(step: _Step, store: StoreConfig) -> None:
    """`ship_plain_items_now`: the plain lines go at once; the order stays pending personalization for the rest.

    Never for a test order: nothing fulfills a test order without the merchant's explicit approval.
    """
    if store.mixed_orders != "ship_plain_items_now" or step.order.snapshot.is_test:
        return
    lines = fulfillment.plain_lines(step.order)
    if lines:
        step.order, event = fulfillment.send(step.order, lines, "plain_items", step.now)
        step.emit(event)


def _request(
    step: _Step, store: StoreConfig, items: list[RequestedItem], delay: timedelta, trigger: str
) -> PersonalizationRequested:
    snapshot = step.order.snapshot
    received_at = step.order.received_at
    return PersonalizationRequested(
        order_key=step.order.order_key,
        occurred_at=step.now,
        store_id=snapshot.store_id,
        platform=snapshot.platform,
        order_number=snapshot.order_number,
        merchant_email=store.merchant_email,
        received_at=received_at,
        notify_after=step.now if trigger == "resend_requested" else received_at + delay,
        is_test=snapshot.is_test,
        trigger=trigger,
        delivery=_delivery(store, snapshot),
        items=items,
    )


def _delivery(store: StoreConfig, snapshot: OrderFields) -> LinkDelivery:
    """The store's current choices and the buyer's address; the notifier decides the fallback when it has none."""
    return LinkDelivery(
        recipient=store.link_recipient,
        customer_email=snapshot.customer.email,
        customer_name=snapshot.customer.name,
        locale=store.locale,
        sender_name=store.sender_name,
        reply_to=store.reply_to,
        logo_url=store.logo_url,
        reminders=list(store.reminders),
    )


def _content(order: OrderFields) -> dict:
    return order.model_dump(exclude=_ENVELOPE)


# --- the customer's personalization -----------------------------------------


def _on_completed(
    order: Order | None, event: PersonalizationCompleted, policy: Policy, now: datetime, source: str
) -> Decision:
    if order is None or order.status is not PP:
        return Decision(
            ignored=f"personalization completed for an order that is not pending personalization ({describe(order)})"
        )
    given = {item.line_id for item in event.items}
    missing = set(order.personalize_lines) - given
    extra = given - set(order.personalize_lines)
    if missing or extra:
        return Decision(
            rejected=f"completion does not match the requested lines (missing {sorted(missing)}, unexpected {sorted(extra)})"
        )
    store = policy.config.store(order.snapshot.platform, order.snapshot.store_id)
    if store is None:
        return Decision(
            rejected=f"unknown store {order.snapshot.platform}:{order.snapshot.store_id} (not in the config)"
        )
    personalized = order.model_copy(update={"personalization": list(event.items), "personalized_at": event.occurred_at})
    step = _Step(links.completed(personalized), event, now, source)
    _after_personalization(step, store, reason="personalization completed")
    return step.decision()


# --- the links' life (the notifier's and the editor's events) ----------------


def _on_link(order: Order | None, event: links.LinkEvent, policy: Policy, now: datetime, source: str) -> Decision:
    """Recorded for the merchant API: no status moves, nothing published."""
    if order is None:
        return Decision(ignored=f"{event.event_type} for an order core does not know")
    updated = links.record(order, event)
    if updated is order:
        return Decision(ignored=f"{event.event_type} already recorded")
    return Decision(order=updated)


# --- the merchant's commands ------------------------------------------------


def _on_approve(order: Order | None, event: ApproveOrder, policy: Policy, now: datetime, source: str) -> Decision:
    if why := refusal(order, ApproveOrder):
        return Decision(ignored=why)
    assert order is not None  # refusal() refuses every command on an order core does not know
    step = _Step(order, event, now, source)
    _fulfill(step, _with_reason("approved by the merchant", event.reason))
    return step.decision()


def _on_cancel(order: Order | None, event: CancelOrder, policy: Policy, now: datetime, source: str) -> Decision:
    if why := refusal(order, CancelOrder):
        return Decision(ignored=why)
    assert order is not None  # refusal() refuses every command on an order core does not know
    step = _Step(order, event, now, source)
    step.move(CANCELLED, _with_reason("cancelled by the merchant", event.reason))
    return step.decision()


def _on_resend(order: Order | None, event: ResendLink, policy: Policy, now: datetime, source: str) -> Decision:
    if why := refusal(order, ResendLink):
        return Decision(ignored=why)
    assert order is not None  # refusal() refuses every command on an order core does not know
    store = policy.config.store(order.snapshot.platform, order.snapshot.store_id)
    if store is None:
        return Decision(
            rejected=f"unknown store {order.snapshot.platform}:{order.snapshot.store_id} (not in the config)"
        )
    items = [
        i for i in policy.requested_items(store, order.snapshot.line_items) if i.line_id in order.personalize_lines
    ]
    if not items:
        return Decision(ignored="no line of this order is personalizable under the current config")
    step = _Step(order, event, now, source)
    step.emit(_request(step, store, items, policy.link_delay, trigger="resend_requested"))
    return step.decision()


def _with_reason(what: str, reason: str | None) -> str:
    return f"{what}: {reason}" if reason else what


_HANDLERS: dict[type[Event], Callable[..., Decision]] = {
    OrderReceived: _on_order,
    OrderUpdated: _on_order,
    PersonalizationCompleted: _on_completed,
    ApproveOrder: _on_approve,
    CancelOrder: _on_cancel,
    ResendLink: _on_resend,
    PersonalizationLinkIssued: _on_link,
    PersonalizationLinkOpened: _on_link,
    PersonalizationLinkExpired: _on_link,
    PersonalizationReminderSent: _on_link,
}
