"""The soak's script and its expectations, without running anything: the same seed gives the same plan, every
fault kind is in it, and what core must show follows from what the script did."""

from __future__ import annotations

import pytest

from soak.config import SoakStore
from soak.ledger import OrderRun
from soak.plan import SERVICES_KILLED, OrderPlan, make_plan

APPROVALS = {
    "woocommerce": "manual",
    "etsy": "automatic",
    "wix": "manual",
    "squarespace": "manual",
    "bigcommerce": "automatic",
}


def store(approval: str = "manual", mixed: str = "hold_whole_order") -> SoakStore:
    return SoakStore("woocommerce", "soak-woo", approval, "93", "120", mixed, 1, 2)


def test_the_same_seed_gives_the_same_orders_and_faults():
    assert make_plan(7, 2, 0.5, APPROVALS) == make_plan(7, 2, 0.5, APPROVALS)
    assert make_plan(7, 2, 0.5, APPROVALS) != make_plan(8, 2, 0.5, APPROVALS)


def test_a_short_plan_has_every_fault_kind_and_kills_every_service_inside_the_window():
    plan = make_plan(7, 2, 0.4, APPROVALS)

    assert plan.fault_kinds() == {"kill", "redis", "smtp", "broker", "rate_limit", "server_error", "webhooks"}
    assert {f.target for f in plan.faults if f.kind == "kill"} == set(SERVICES_KILLED)
    assert all(f.at > 0 and f.at + f.duration <= 0.85 * plan.seconds + 1 for f in plan.faults if f.kind == "broker")
    assert len(plan.orders) == 48


def test_only_orders_that_will_never_ship_are_cancelled():
    for order in make_plan(3, 30, 1.0, APPROVALS).orders:
        if order.cancel:
            assert order.payment == "never" or order.customer == "abandon" or not order.approve


@pytest.mark.parametrize(
    ("did", "expected"),
    [
        ({}, "pending_personalization"),
        ({"completed": True}, "pending_approval"),
        ({"completed": True, "approvals": 1}, "in_fulfillment"),
        ({"completed": True, "cancelled": "refunded"}, "cancelled"),
        ({"paid": False}, None),
    ],
)
def test_the_expected_status_follows_what_the_script_did(did, expected):
    run = OrderRun(
        OrderPlan(0, 0, "woocommerce", "mixed", customer="complete", approve=True), store(), order_id="1", paid=True
    )
    for name, value in did.items():
        setattr(run, name, value)

    assert run.expected_status() == expected


def test_an_automatic_store_fulfills_at_once_unless_it_is_a_test_order():
    plain = OrderRun(OrderPlan(0, 0, "woocommerce", "plain"), store("automatic"), order_id="1", paid=True)
    test = OrderRun(OrderPlan(0, 0, "woocommerce", "plain", test=True), store("automatic"), order_id="2", paid=True)

    assert plain.expected_status() == "in_fulfillment" and plain.expected_parts() == {"whole_order": {1}}
    assert test.expected_status() == "pending_approval" and test.expected_parts() == {}


def test_shipping_plain_lines_first_splits_a_mixed_order_in_two_parts():
    run = OrderRun(
        OrderPlan(0, 0, "woocommerce", "mixed", customer="complete"),
        store("automatic", "ship_plain_items_now"),
        order_id="1",
        paid=True,
    )

    assert run.expected_parts() == {"plain_items": {1}}
    run.completed = True
    assert run.expected_parts() == {"plain_items": {1}, "personalized_items": {1}}
