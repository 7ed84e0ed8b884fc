"""Core's rules, decided with no I/O: given an order and an event, then the status and the events out."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.decide import Policy, apply
from core.order import Order
from plumbing.config import Config, ProductMatch
from schemas import (
    ApproveOrder,
    CancelOrder,
    Customer,
    FulfillmentRequested,
    LinkDelivery,
    OrderStatus,
    OrderStatusChanged,
    PersonalizationLinkExpired,
    PersonalizationLinkIssued,
    PersonalizationLinkOpened,
    PersonalizationReminderSent,
    PersonalizationRequested,
    RequestedItem,
    ResendLink,
)
from tests.builders import AUTO, MANUAL, T0, auto_mug, completed, load_test_config, mug, order, plain, updated

POLICY = Policy(load_test_config(), link_delay=timedelta(minutes=15))
NOW = T0 + timedelta(seconds=3)


def run(*events, start: Order | None = None):
    """Apply events in turn; return the final order and everything published."""
    state, out = start, []
    for event in events:
        decision = apply(state, event, POLICY, NOW)
        assert decision.rejected is None, decision.rejected
        out += decision.outgoing
        state = decision.order or state
    return state, out


def statuses(out) -> list[str]:
    return [e.to_status.value for e in out if isinstance(e, OrderStatusChanged)]


def of_type(out, kind):
    return [e for e in out if isinstance(e, kind)]


def test_personalizable_order_is_held_whole_with_one_request_for_exactly_its_personalizable_lines():
    received = order(MANUAL, [mug("L1", buyer_personalization="Ada"), plain("L2")])
    state, out = run(received)
    assert state.status is OrderStatus.PENDING_PERSONALIZATION
    assert statuses(out) == ["pending_personalization"]
    assert of_type(out, OrderStatusChanged)[0].from_status is None
    (request,) = of_type(out, PersonalizationRequested)
    assert [i.line_id for i in request.items] == ["L1"]
    assert request.items[0].template.id == "name-mug"
    assert request.items[0].buyer_personalization == "Ada"
    assert request.merchant_email == "manual@example.com"
    assert request.received_at == T0
    assert request.notify_after == T0 + timedelta(minutes=15)
    assert not of_type(out, FulfillmentRequested)


def test_a_line_matches_on_any_key_given_in_the_catalog():
    by_sku = mug("L1", product_id="other")
    state, _ = run(order(MANUAL, [by_sku]))
    assert state.status is OrderStatus.PENDING_PERSONALIZATION
    state, _ = run(order(AUTO, [auto_mug("L1")]))
    assert state.status is OrderStatus.PENDING_PERSONALIZATION


def test_plain_order_on_a_manual_store_waits_for_approval():
    _, out = run(order(MANUAL, [plain()]))
    assert statuses(out) == ["pending_approval"]
    assert not of_type(out, FulfillmentRequested)


def test_plain_order_on_an_automatic_store_goes_to_fulfillment_with_all_its_lines():
    _, out = run(order(AUTO, [plain("A"), plain("B")]))
    assert statuses(out) == ["in_fulfillment"]
    (fulfillment,) = of_type(out, FulfillmentRequested)
    assert [line.line_id for line in fulfillment.line_items] == ["A", "B"]


def test_completion_moves_a_manual_order_to_approval_and_keeps_the_personalization():
    received = order(MANUAL, [mug("L1"), plain("L2")])
    state, out = run(received, completed(received.order_key, "L1"))
    assert statuses(out) == ["pending_personalization", "pending_approval"]
    assert state.personalization[0].fields["name"] == "Grace"


def test_completion_on_an_automatic_store_fulfills_every_line_carrying_the_personalization():
    received = order(AUTO, [auto_mug("L1"), plain("L2")])
    _, out = run(received, completed(received.order_key, "L1"))
    assert statuses(out) == ["pending_personalization", "in_fulfillment"]
    (fulfillment,) = of_type(out, FulfillmentRequested)
    lines = {line.line_id: line for line in fulfillment.line_items}
    assert lines["L1"].personalization.fields == {"name": "Grace", "motif": "heart"}
    assert lines["L2"].personalization is None
    assert fulfillment.shipping_address is None and fulfillment.order_number == received.order_number


def test_completion_for_an_order_not_pending_personalization_changes_nothing():
    received = order(MANUAL, [plain()])
    state, _ = run(received)
    decision = apply(state, completed(received.order_key, "L2"), POLICY, NOW)
    assert decision.order is None and decision.outgoing == [] and "pending_approval" in decision.ignored
    assert apply(None, completed("woocommerce:shop-manual:nope", "L1"), POLICY, NOW).ignored


def test_completion_that_misses_a_requested_line_is_refused():
    received = order(MANUAL, [mug("L1"), mug("L3")])
    state, _ = run(received)
    decision = apply(state, completed(received.order_key, "L1"), POLICY, NOW)
    assert decision.rejected and "L3" in decision.rejected


@pytest.mark.parametrize("lines", [[mug()], [plain()]])
def test_approve_fulfills_an_order_pending_personalization_or_approval(lines):
    received = order(MANUAL, lines)
    _, out = run(received, ApproveOrder(order_key=received.order_key, reason="phoned"))
    assert statuses(out)[-1] == "in_fulfillment"
    assert "phoned" in of_type(out, OrderStatusChanged)[-1].reason
    assert len(of_type(out, FulfillmentRequested)) == 1


def test_cancel_then_nothing_fulfills_it():
    received = order(MANUAL, [mug()])
    state, _ = run(received, CancelOrder(order_key=received.order_key))
    assert state.status is OrderStatus.CANCELLED
    for later in (
        ApproveOrder(order_key=received.order_key),
        completed(received.order_key, "L1"),
        updated(received, payment_status="paid", total="1.00"),
    ):
        decision = apply(state, later, POLICY, NOW)
        assert not of_type(decision.outgoing, FulfillmentRequested)
        assert not of_type(decision.outgoing, OrderStatusChanged)


@pytest.mark.parametrize("change", [{"cancelled": True}, {"payment_status": "refunded"}])
def test_an_update_saying_cancelled_or_refunded_cancels(change):
    received = order(MANUAL, [mug()])
    _, out = run(received, updated(received, **change))
    assert statuses(out) == ["pending_personalization", "cancelled"]


def test_a_test_order_on_an_automatic_store_stops_at_pending_approval():
    plain_test = order(AUTO, [plain()], is_test=True)
    _, out = run(plain_test)
    assert statuses(out) == ["pending_approval"] and not of_type(out, FulfillmentRequested)
    personalized_test = order(AUTO, [auto_mug("L1")], is_test=True)
    _, out = run(personalized_test, completed(personalized_test.order_key, "L1"))
    assert statuses(out) == ["pending_personalization", "pending_approval"]
    assert of_type(out, PersonalizationRequested)[0].is_test


def test_an_unpaid_order_waits_without_status_and_moves_on_when_paid():
    received = order(MANUAL, [mug()], payment_status="unpaid")
    state, out = run(received)
    assert state.status is None and out == []
    state, out = run(updated(received, payment_status="paid"), start=state)
    assert statuses(out) == ["pending_personalization"]
    assert of_type(out, OrderStatusChanged)[0].from_status is None


def test_the_same_event_twice_republishes_what_it_produced_and_changes_nothing():
    received = order(MANUAL, [mug()])
    state, first = run(received)
    again = apply(state, received, POLICY, NOW + timedelta(hours=1))
    assert again.replayed and again.order is None
    assert [e.event_id for e in again.outgoing] == [e.event_id for e in first]


def test_the_order_remembers_the_typed_events_its_input_produced():
    received = order(MANUAL, [mug()])
    decision = apply(None, received, POLICY, NOW, "orders.received:0:7")
    (memory,) = decision.order.applied
    assert (memory.event_id, memory.source) == (received.event_id, "orders.received:0:7")
    assert list(memory.outgoing) == list(decision.outgoing)
    assert [type(e) for e in decision.outgoing] == [OrderStatusChanged, PersonalizationRequested]


def test_the_same_order_under_a_new_event_id_is_ignored():
    received = order(MANUAL, [mug()])
    state, _ = run(received)
    seen_again = received.model_copy(update={"event_id": "00000000-0000-4000-8000-000000000001"})
    decision = apply(state, seen_again, POLICY, NOW)
    assert decision.order is None and decision.outgoing == [] and decision.ignored


def test_unknown_store_is_refused():
    decision = apply(None, order(("wix", "nobody"), [mug()]), POLICY, NOW)
    assert decision.rejected and "wix:nobody" in decision.rejected


def test_resend_link_asks_for_a_fresh_link_now_only_while_pending_personalization():
    received = order(MANUAL, [mug("L1"), plain("L2")])
    state, _ = run(received)
    _, out = run(ResendLink(order_key=received.order_key), start=state)
    (request,) = of_type(out, PersonalizationRequested)
    assert request.trigger == "resend_requested" and request.notify_after == NOW
    assert [i.line_id for i in request.items] == ["L1"]
    done, _ = run(completed(received.order_key, "L1"), start=state)
    assert apply(done, ResendLink(order_key=received.order_key), POLICY, NOW).ignored


def test_items_changed_while_pending_personalization_requests_the_new_lines():
    received = order(MANUAL, [mug("L1")])
    state, _ = run(received)
    state, out = run(updated(received, line_items=[mug("L1"), mug("L9")]), start=state)
    (request,) = of_type(out, PersonalizationRequested)
    assert request.trigger == "items_changed" and [i.line_id for i in request.items] == ["L1", "L9"]
    assert request.notify_after == T0 + timedelta(minutes=15)
    _, out = run(updated(received, line_items=[plain("L2")]), start=state)
    assert statuses(out) == ["pending_approval"]


def test_the_status_history_records_every_move_with_its_cause():
    received = order(MANUAL, [mug()])
    approve = ApproveOrder(order_key=received.order_key)
    state, _ = run(received, approve)
    assert [(h.from_status, h.to_status) for h in state.history] == [
        (None, OrderStatus.PENDING_PERSONALIZATION),
        (OrderStatus.PENDING_PERSONALIZATION, OrderStatus.IN_FULFILLMENT),
    ]
    assert state.history[-1].event_id == approve.event_id


# --- how the link is delivered ------------------------------------------------


def policy_with(store: tuple[str, str], **settings) -> Policy:
    """The test config with one store's run-time settings changed, as the merchant API would."""
    config = load_test_config()
    stores = [s.model_copy(update=settings) if (s.platform, s.store_id) == store else s for s in config.stores]
    return Policy(Config.model_construct(templates=config.templates, stores=stores), link_delay=timedelta(minutes=15))


def run_with(policy: Policy, *events, start: Order | None = None):
    state, out = start, []
    for event in events:
        decision = apply(state, event, policy, NOW)
        assert decision.rejected is None, decision.rejected
        out += decision.outgoing
        state = decision.order or state
    return state, out


def test_a_request_carries_the_stores_delivery_choices_and_the_buyers_address():
    choices = {
        "locale": "de",
        "sender_name": "Mugs & Co",
        "reply_to": "help@mugs.example",
        "logo_url": "https://mugs.example/logo.png",
        "reminders": [timedelta(days=2)],
    }
    policy = policy_with(MANUAL, link_recipient="customer", **choices)
    received = order(MANUAL, [mug("L1")], customer=Customer(name="Grace Hopper", email="grace@example.com"))
    _, out = run_with(policy, received)
    (request,) = of_type(out, PersonalizationRequested)
    assert request.delivery == LinkDelivery(
        recipient="customer", customer_email="grace@example.com", customer_name="Grace Hopper", **choices
    )


def test_by_default_the_merchant_gets_the_link_with_reminders_after_three_and_six_days():
    received = order(MANUAL, [mug("L1")], customer=Customer(name="Etsy buyer", email=None))
    _, out = run(received)
    (request,) = of_type(out, PersonalizationRequested)
    assert request.delivery.recipient == "merchant" and request.delivery.customer_email is None
    assert request.delivery.reminders == [timedelta(days=3), timedelta(days=6)]
    assert request.delivery.locale == "en" and request.delivery.customer_name == "Etsy buyer"


def test_a_resend_uses_the_settings_as_they_are_now():
    received = order(MANUAL, [mug("L1")])
    state, _ = run(received)
    _, out = run_with(
        policy_with(MANUAL, link_recipient="customer"), ResendLink(order_key=received.order_key), start=state
    )
    assert of_type(out, PersonalizationRequested)[0].delivery.recipient == "customer"


# --- mixed orders ---------------------------------------------------------------

SHIP_PLAIN = policy_with(MANUAL, mixed_orders="ship_plain_items_now")


def parts(out) -> list[tuple[str, list[str]]]:
    return [(f.part, [line.line_id for line in f.line_items]) for f in of_type(out, FulfillmentRequested)]


def test_by_default_a_mixed_order_is_held_whole_and_fulfilled_as_one_part():
    received = order(MANUAL, [mug("L1"), plain("L2")])
    state, out = run(received, completed(received.order_key, "L1"), ApproveOrder(order_key=received.order_key))
    assert parts(out) == [("whole_order", ["L1", "L2"])]
    assert [(f.part, f.line_ids) for f in state.fulfillments] == [("whole_order", ["L1", "L2"])]


def test_ship_plain_items_now_sends_the_plain_lines_at_once_and_keeps_the_order_pending_personalization():
    received = order(MANUAL, [mug("L1"), plain("L2"), plain("L3")])
    state, out = run_with(SHIP_PLAIN, received)
    assert statuses(out) == ["pending_personalization"]
    assert parts(out) == [("plain_items", ["L2", "L3"])]
    assert [i.line_id for i in of_type(out, PersonalizationRequested)[0].items] == ["L1"]
    assert state.status is OrderStatus.PENDING_PERSONALIZATION and state.sent_lines == {"L2", "L3"}


def test_after_the_plain_part_approval_sends_only_the_personalized_lines():
    received = order(MANUAL, [mug("L1"), plain("L2")])
    state, out = run_with(
        SHIP_PLAIN, received, completed(received.order_key, "L1"), ApproveOrder(order_key=received.order_key)
    )
    assert statuses(out) == ["pending_personalization", "pending_approval", "in_fulfillment"]
    assert parts(out) == [("plain_items", ["L2"]), ("personalized_items", ["L1"])]
    (personalized,) = [f for f in of_type(out, FulfillmentRequested) if f.part == "personalized_items"]
    assert personalized.line_items[0].personalization.fields["name"] == "Grace"
    assert [f.part for f in state.fulfillments] == ["plain_items", "personalized_items"]


def test_on_an_automatic_store_the_completion_sends_the_personalized_part():
    policy = policy_with(AUTO, mixed_orders="ship_plain_items_now")
    received = order(AUTO, [auto_mug("L1"), plain("L2")])
    _, out = run_with(policy, received, completed(received.order_key, "L1"))
    assert parts(out) == [("plain_items", ["L2"]), ("personalized_items", ["L1"])]


def test_approving_over_a_missing_personalization_sends_the_personalized_part_without_it():
    received = order(MANUAL, [mug("L1"), plain("L2")])
    _, out = run_with(SHIP_PLAIN, received, ApproveOrder(order_key=received.order_key))
    assert parts(out) == [("plain_items", ["L2"]), ("personalized_items", ["L1"])]
    assert of_type(out, FulfillmentRequested)[1].line_items[0].personalization is None


def test_an_order_with_only_personalizable_lines_goes_whole_under_either_policy():
    received = order(MANUAL, [mug("L1")])
    _, out = run_with(
        SHIP_PLAIN, received, completed(received.order_key, "L1"), ApproveOrder(order_key=received.order_key)
    )
    assert parts(out) == [("whole_order", ["L1"])]


def test_a_test_order_ships_nothing_before_the_merchant_approves_it():
    received = order(MANUAL, [mug("L1"), plain("L2")], is_test=True)
    _, out = run_with(SHIP_PLAIN, received)
    assert parts(out) == []
    _, out = run_with(SHIP_PLAIN, received, ApproveOrder(order_key=received.order_key))
    assert parts(out) == [("whole_order", ["L1", "L2"])]


def test_items_changed_ship_only_the_new_plain_lines_and_never_personalize_a_shipped_one():
    received = order(MANUAL, [mug("L1"), plain("L2")])
    state, _ = run_with(SHIP_PLAIN, received)
    changed = updated(received, line_items=[mug("L1"), plain("L2"), plain("L4")])
    state, out = run_with(SHIP_PLAIN, changed, start=state)
    assert parts(out) == [("plain_items", ["L4"])]
    assert state.sent_lines == {"L2", "L4"}
    # The catalog now calls the shipped tote personalizable: it is not asked for, it left already.
    catalog = [*SHIP_PLAIN.config.store(*MANUAL).products, ProductMatch(sku="TOTE", template="name-mug")]
    policy = policy_with(MANUAL, mixed_orders="ship_plain_items_now", products=catalog)
    _, out = run_with(
        policy, updated(received, line_items=[mug("L1", quantity=2), plain("L2"), plain("L4")]), start=state
    )
    assert [i.line_id for i in of_type(out, PersonalizationRequested)[0].items] == ["L1"]


def test_when_every_line_left_was_shipped_the_order_moves_on_without_an_empty_part():
    received = order(AUTO, [auto_mug("L1"), plain("L2")])
    policy = policy_with(AUTO, mixed_orders="ship_plain_items_now")
    state, _ = run_with(policy, received)
    state, out = run_with(policy, updated(received, line_items=[plain("L2")]), start=state)
    assert statuses(out) == ["in_fulfillment"] and parts(out) == []


def test_a_redelivered_order_republishes_its_plain_part_with_the_same_event_id():
    received = order(MANUAL, [mug("L1"), plain("L2")])
    state, first = run_with(SHIP_PLAIN, received)
    again = apply(state, received, SHIP_PLAIN, NOW)
    assert again.replayed and [e.event_id for e in again.outgoing] == [e.event_id for e in first]


# --- the links' life ------------------------------------------------------------

ISSUED_AT = T0 + timedelta(minutes=15)


def issued(key: str, sequence: int = 1, **fields) -> PersonalizationLinkIssued:
    return PersonalizationLinkIssued(
        order_key=key,
        occurred_at=ISSUED_AT,
        link_id=f"link-{sequence}",
        url=f"http://x/p/t{sequence}",
        expires_at=ISSUED_AT + timedelta(days=7),
        sequence=sequence,
        merchant_email="manual@example.com",
        store_id="shop-manual",
        platform="woocommerce",
        order_number="1",
        items=[requested_mug()],
        **fields,
    )


def requested_mug() -> RequestedItem:
    return RequestedItem(line_id="L1", title="Name mug", quantity=1, template=load_test_config().template("name-mug"))


def activity(kind, key: str, sequence: int = 1, at=ISSUED_AT, **fields):
    return kind(
        order_key=key,
        occurred_at=at,
        link_id=f"link-{sequence}",
        sequence=sequence,
        store_id="shop-manual",
        platform="woocommerce",
        **fields,
    )


def test_link_events_record_the_links_times_and_publish_nothing():
    received = order(MANUAL, [mug("L1")])
    key = received.order_key
    events = [
        issued(key, recipient="customer"),
        activity(PersonalizationLinkOpened, key, at=ISSUED_AT + timedelta(hours=1)),
        activity(
            PersonalizationReminderSent,
            key,
            at=ISSUED_AT + timedelta(days=3),
            reminder=1,
            recipient="customer",
            expires_at=ISSUED_AT + timedelta(days=7),
        ),
        activity(
            PersonalizationLinkExpired, key, at=ISSUED_AT + timedelta(days=7), expired_at=ISSUED_AT + timedelta(days=7)
        ),
        issued(key, sequence=2),
    ]
    state, out = run(received, *events)
    assert statuses(out) == ["pending_personalization"] and len(out) == 2
    first, second = state.links
    assert (first.link_id, first.recipient, first.issued_at, first.expires_at) == (
        "link-1",
        "customer",
        ISSUED_AT,
        ISSUED_AT + timedelta(days=7),
    )
    assert first.opened_at == ISSUED_AT + timedelta(hours=1)
    assert [(r.number, r.at) for r in first.reminders] == [(1, ISSUED_AT + timedelta(days=3))]
    assert first.expired_at == ISSUED_AT + timedelta(days=7)
    assert second.sequence == 2 and second.opened_at is None
    assert state.status is OrderStatus.PENDING_PERSONALIZATION
    assert len(state.applied) == 1  # only the order: link events are idempotent by state, not remembered


def test_a_completion_marks_the_newest_link_completed():
    received = order(MANUAL, [mug("L1")])
    done = completed(received.order_key, "L1")
    state, _ = run(received, issued(received.order_key), issued(received.order_key, sequence=2), done)
    assert [link.completed_at for link in state.links] == [None, done.occurred_at]
    assert state.personalized_at == done.occurred_at


def test_a_completion_handled_before_its_links_issue_is_put_on_that_link_when_the_issue_arrives():
    received = order(MANUAL, [mug("L1")])
    done = completed(received.order_key, "L1")
    state, _ = run(received, done, issued(received.order_key))
    assert [link.completed_at for link in state.links] == [done.occurred_at]


def test_a_link_event_seen_again_changes_nothing():
    received = order(MANUAL, [mug("L1")])
    opened = activity(PersonalizationLinkOpened, received.order_key)
    state, _ = run(received, issued(received.order_key), opened)
    for again in (
        issued(received.order_key),
        opened,
        activity(PersonalizationLinkOpened, received.order_key, at=ISSUED_AT + timedelta(days=1)),
    ):
        decision = apply(state, again, POLICY, NOW)
        assert decision.order is None and decision.outgoing == [] and "already recorded" in decision.ignored


def test_activity_that_arrives_before_the_issue_is_kept_and_completed_by_it():
    received = order(MANUAL, [mug("L1")])
    opened = activity(PersonalizationLinkOpened, received.order_key, at=ISSUED_AT + timedelta(minutes=5))
    state, _ = run(received, opened, issued(received.order_key))
    (link,) = state.links
    assert link.opened_at == ISSUED_AT + timedelta(minutes=5) and link.issued_at == ISSUED_AT


def test_a_link_event_for_an_unknown_order_is_ignored():
    decision = apply(None, issued("woocommerce:shop-manual:ghost"), POLICY, NOW)
    assert decision.ignored and decision.order is None and decision.outgoing == []
