"""Core's rules, decided with no I/O: given an order and an event, then the status and the events out."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.decide import Policy, apply
from core.order import Order
from schemas import (
    ApproveOrder,
    CancelOrder,
    FulfillmentRequested,
    OrderStatus,
    OrderStatusChanged,
    PersonalizationRequested,
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
    state, out = run(order(MANUAL, [plain()]))
    assert statuses(out) == ["pending_approval"]
    assert not of_type(out, FulfillmentRequested)


def test_plain_order_on_an_automatic_store_goes_to_fulfillment_with_all_its_lines():
    state, out = run(order(AUTO, [plain("A"), plain("B")]))
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
    state, out = run(received, completed(received.order_key, "L1"))
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
    state, out = run(received, ApproveOrder(order_key=received.order_key, reason="phoned"))
    assert statuses(out)[-1] == "in_fulfillment"
    assert "phoned" in of_type(out, OrderStatusChanged)[-1].reason
    assert len(of_type(out, FulfillmentRequested)) == 1


def test_cancel_then_nothing_fulfills_it():
    received = order(MANUAL, [mug()])
    state, out = run(received, CancelOrder(order_key=received.order_key))
    assert state.status is OrderStatus.CANCELLED
    for later in (ApproveOrder(order_key=received.order_key), completed(received.order_key, "L1"),
                  updated(received, payment_status="paid", total="1.00")):
        decision = apply(state, later, POLICY, NOW)
        assert not of_type(decision.outgoing, FulfillmentRequested)
        assert not of_type(decision.outgoing, OrderStatusChanged)


@pytest.mark.parametrize("change", [{"cancelled": True}, {"payment_status": "refunded"}])
def test_an_update_saying_cancelled_or_refunded_cancels(change):
    received = order(MANUAL, [mug()])
    state, out = run(received, updated(received, **change))
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
