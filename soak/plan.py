"""The soak's script, drawn once from the seed: every order with what will happen to it, and every fault.

Pure data and one function (`make_plan`): the same seed, minutes and rate give
the same orders, intentions and fault schedule. What actually happens (how
fast services come back, which webhook a killed connector missed) varies with
the machine; the expectations in `report.py` are derived from what the script
did, not from the plan alone.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from soak.config import FULL_WEBHOOKS, PLATFORMS, TEST_FLAG, UNPAID_ORDERS

SERVICES_KILLED = (*(f"connector-{p}" for p in PLATFORMS), "core-1", "core-2", "notifier-1", "notifier-2", "editor")
BROKER_PAUSE_S = 20.0


@dataclass(frozen=True)
class OrderPlan:
    index: int
    at: float  # seconds after traffic starts
    platform: str
    kind: str  # personalizable | mixed | plain
    test: bool = False
    payment: str = "paid"  # paid | later | never
    pay_after: float = 0.0
    customer: str | None = None  # complete | reissue (completes a re-issued link) | abandon; None: nothing to do
    approve: bool = False  # the merchant approves it once it waits in pending_approval
    approve_twice: bool = False  # a double click: a second ApproveOrder
    cancel: str | None = None  # cancelled | refunded
    cancel_after: float = 0.0
    webhook: bool = True  # False: the placement's webhook is lost; only the poll finds the order
    redeliver_after: float | None = None  # the platform redelivers its webhook (current state, "created" again)
    stale_replay: bool = False  # after a change, the placement-time webhook arrives late (full-payload platforms)
    buyer_text: str | None = None
    quantity: int = 1

    @property
    def personalizable(self) -> bool:
        return self.kind != "plain"


@dataclass(frozen=True)
class Fault:
    at: float
    kind: str  # kill | redis | smtp | broker | rate_limit | server_error | webhooks
    target: str = ""
    duration: float = 0.0  # down for this long (kill, redis, smtp, broker)
    count: int = 0  # rate_limit/server_error: answers; webhooks: see `settings`
    settings: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    seed: int
    seconds: float
    orders: list[OrderPlan]
    faults: list[Fault]

    def fault_kinds(self) -> set[str]:
        return {f.kind for f in self.faults}


def make_plan(seed: int, minutes: float, rate: float, approvals: dict[str, str]) -> Plan:
    """`approvals`: platform → manual | automatic (from the soak's config)."""
    rng = random.Random(seed)
    seconds = minutes * 60.0
    count = max(len(PLATFORMS), int(seconds * rate))
    spacing = seconds * 0.9 / count  # the last tenth places nothing: follow-ups still happen in the window
    platforms = [PLATFORMS[i % len(PLATFORMS)] for i in range(count)]
    rng.shuffle(platforms)
    orders = [_order(rng, i, i * spacing, platforms[i], approvals[platforms[i]]) for i in range(count)]
    return Plan(seed, seconds, orders, _faults(rng, seconds))


def _order(rng: random.Random, index: int, at: float, platform: str, approval: str) -> OrderPlan:
    kind = rng.choices(["personalizable", "mixed", "plain"], [0.5, 0.3, 0.2])[0]
    test = platform in TEST_FLAG and rng.random() < 0.1
    payment = rng.choices(["paid", "later", "never"], [0.78, 0.17, 0.05])[0] if platform in UNPAID_ORDERS else "paid"
    customer = None
    if kind != "plain" and payment != "never":
        customer = rng.choices(["complete", "reissue", "abandon"], [0.75, 0.1, 0.15])[0]
    reaches_approval = (approval == "manual" or test) and customer in (None, "complete", "reissue")
    approve = payment != "never" and reaches_approval and rng.random() < 0.85
    never_fulfilled = (
        payment == "never" or customer == "abandon" or (customer is None and not approve and reaches_approval)
    )
    cancel = None
    if never_fulfilled and rng.random() < 0.5:
        cancel = "refunded" if payment != "never" and rng.random() < 0.3 else "cancelled"
    changed = payment == "later" or cancel is not None
    pay_after = round(rng.uniform(2, 8), 3)
    # Paid first, then cancelled: paying a cancelled order would reopen it on the platform.
    cancel_after = round(max(rng.uniform(3, 15), pay_after + 2 if payment == "later" else 0), 3)
    return OrderPlan(
        index=index,
        at=round(at, 3),
        platform=platform,
        kind=kind,
        test=test,
        payment=payment,
        pay_after=pay_after,
        customer=customer,
        approve=approve,
        approve_twice=approve and rng.random() < 0.15,
        cancel=cancel,
        cancel_after=cancel_after,
        webhook=rng.random() >= 0.07,
        redeliver_after=round(rng.uniform(1, 10), 3) if rng.random() < 0.1 else None,
        stale_replay=changed and platform in FULL_WEBHOOKS and rng.random() < 0.5,
        buyer_text=rng.choice([None, "Ada", "Grace & Alan", "Zoë"]) if kind != "plain" else None,
        quantity=rng.choice([1, 1, 1, 2, 3]),
    )


def _faults(rng: random.Random, seconds: float) -> list[Fault]:
    """Each kind at least once; more in long runs. All inside [5 %, 85 %] of the window, so the drain is calm."""

    def times(period_s: float) -> list[float]:
        n = max(1, round(seconds / period_s))
        return sorted(round(rng.uniform(0.05, 0.85) * seconds, 3) for _ in range(n))

    faults = []
    for service in SERVICES_KILLED:
        faults += [Fault(t, "kill", service, duration=round(rng.uniform(0.5, 3.0), 3)) for t in times(300)]
    faults += [Fault(t, "redis", duration=round(rng.uniform(1.0, 3.0), 3)) for t in times(360)]
    faults += [Fault(t, "smtp", duration=round(rng.uniform(15, 30), 3)) for t in times(360)]
    faults += [
        Fault(max(1.0, min(t, 0.85 * seconds - BROKER_PAUSE_S)), "broker", duration=BROKER_PAUSE_S) for t in times(480)
    ]
    for platform in PLATFORMS:
        faults += [Fault(t, "rate_limit", platform, count=rng.randint(5, 15)) for t in times(180)]
        faults += [Fault(t, "server_error", platform, count=rng.randint(3, 10)) for t in times(180)]
        for t in times(40):
            style = rng.choice([{"duplicates": rng.randint(1, 2)}, {"drop": rng.randint(1, 3)}])
            faults.append(Fault(t, "webhooks", platform, duration=round(rng.uniform(10, 20), 3), settings=style))
    return sorted(faults, key=lambda f: f.at)
