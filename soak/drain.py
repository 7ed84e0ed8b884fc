"""After the traffic: wait until the system settles, then gather what the report judges.

Settled means, for three checks in a row a second apart: every order is in
the status the script's actions imply (`OrderRun.expected_status`), no
customer or merchant intention is left, no notifier outbox holds an email
and no editor completion waits to be published.

The evidence is read in an order that leaves no gap: link events, then the
notifier's outboxes, then the mailbox, then core's orders, then the link
events again. A link read first has its email either in the outbox or
already in the mailbox, unless its order left `pending_personalization`
(which core's later read shows); an email whose link is not among the first
read must be among the second.
"""

from __future__ import annotations

import asyncio
import time

import httpx
from redis.asyncio import Redis
from redis.exceptions import RedisError

from plumbing.replies import text
from schemas import (
    DEAD_LETTERS,
    FULFILLMENT_REQUESTED,
    ORDERS_RECEIVED,
    PERSONALIZATION_LINK_ACTIVITY,
    PERSONALIZATION_LINK_ISSUED,
    PersonalizationLinkIssued,
)
from soak.config import SoakStore
from soak.customer import Customer, Mailbox
from soak.evidence import Evidence
from soak.faults import Chaos
from soak.ledger import OrderRun
from soak.observe import core_orders, core_statuses, read_topic, retrying, scan
from soak.processes import Stack

STABLE_CHECKS = 3


async def progress(runs: list[OrderRun], mailbox: Mailbox, chaos: Chaos, start: float, stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        await asyncio.sleep(15)
        print(
            f"soak: {loop.time() - start:4.0f}s: {sum(r.placed for r in runs)}/{len(runs)} orders placed, "
            f"{mailbox.count()} emails, {sum(r.completed for r in runs)} personalized, "
            f"{sum(1 for r in runs if r.approvals)} approved, {len(chaos.done)} faults made",
            flush=True,
        )


async def drain(runs: list[OrderRun], redis: Redis, deadline_s: float) -> str:
    loop = asyncio.get_running_loop()
    began, stable, said = loop.time(), 0, loop.time()
    while True:
        try:
            waiting = await _unsettled(runs, redis)
        except (RedisError, OSError) as error:
            waiting = [f"Redis: {error}"]
        elapsed = loop.time() - began
        stable = 0 if waiting else stable + 1
        if stable >= STABLE_CHECKS:
            return f"settled after {elapsed:.0f}s"
        if elapsed > deadline_s:
            return f"deadline of {deadline_s:.0f}s reached, {len(waiting)} unsettled, e.g. {'; '.join(waiting[:3])}"
        if waiting and loop.time() - said > 10:
            said = loop.time()
            print(
                f"soak: draining, {elapsed:.0f}s: {len(waiting)} unsettled, e.g. {'; '.join(waiting[:3])}", flush=True
            )
        await asyncio.sleep(1.0)


async def _unsettled(runs: list[OrderRun], redis: Redis) -> list[str]:
    placed = [r for r in runs if r.placed]
    statuses = await core_statuses(redis, [r.key for r in placed])
    waiting = []
    for run in placed:
        status, expected = statuses[run.key], run.expected_status()
        if status != expected and not (run.may_be_unseen() and status == ""):
            waiting.append(f"{run.key} is {status or 'unknown to core'}, expected {expected}")
        waiting += [f"{run.key} waits for the {who}" for who in run.intentions_left(status)]
    outboxes = await scan(redis, "notifier:outbox:*")
    if outboxes:
        waiting.append(f"{len(outboxes)} notifier outbox(es) not empty")
    if await redis.zcard("editor:unpublished"):
        waiting.append("editor completions not yet published")
    return waiting


async def gather_evidence(
    runs: list[OrderRun],
    stores: dict[str, SoakStore],
    redis: Redis,
    bootstrap: str,
    http: httpx.AsyncClient,
    seeded: dict[str, set[str]],
    mailbox: Mailbox,
    customer: Customer,
    chaos: Chaos,
    stack: Stack,
    drained: str,
) -> Evidence:
    links = await read_topic(bootstrap, PERSONALIZATION_LINK_ISSUED)
    outbox = {}
    for key in await retrying("outboxes", lambda: scan(redis, "notifier:outbox:*")):
        outbox[key.removeprefix("notifier:outbox:")] = {text(k) for k in await redis.hkeys(key)}
    mailbox.scan()  # the customer keeps scanning too: keep this moment's view
    emails, others = {k: list(v) for k, v in mailbox.by_link.items()}, list(mailbox.others)
    reminders = {k: list(v) for k, v in mailbox.reminders.items()}
    core = await retrying("core's orders", lambda: core_orders(redis))
    later = await read_topic(bootstrap, PERSONALIZATION_LINK_ISSUED)
    due = {text(m) for m in await retrying("timers", lambda: redis.zrange("notifier:due", 0, -1))}
    pending = [k for k, doc in core.items() if doc.get("status") == "pending_personalization"]
    notifier_status = {}
    for key in pending:
        value = await redis.hget(f"notifier:order:{key}", "status")
        notifier_status[key] = text(value) if value else None
    # An email goes out before its event: mail scanned before the events may miss the email of an event read
    # later, while it was sent. Reminders keep going out for orders that wait for their customer.
    activity = await read_topic(bootstrap, PERSONALIZATION_LINK_ACTIVITY)
    mailbox.scan()
    sandbox_ids = {}
    for store in stores.values():
        listing = (await http.get(f"{store.base_url}/_sandbox/orders", timeout=30)).json()
        sandbox_ids[f"{store.platform}:{store.store_id}:"] = set(listing["ids"])
    return Evidence(
        runs=runs,
        store_prefixes=list(sandbox_ids),
        sandbox_ids=sandbox_ids,
        seeded_ids=seeded,
        core=core,
        due=due,
        notifier_status=notifier_status,
        outbox=outbox,
        fulfillment=await read_topic(bootstrap, FULFILLMENT_REQUESTED),
        links=links,
        received=await read_topic(bootstrap, ORDERS_RECEIVED),
        later_link_ids={r.event.link_id for r in later if isinstance(r.event, PersonalizationLinkIssued)},
        activity=activity,
        later_reminder_emails=set(mailbox.reminders),
        dead_letters=await read_topic(bootstrap, DEAD_LETTERS),
        emails_by_link=emails,
        reminder_emails=reminders,
        other_emails=others,
        stray_link_emails=customer.stray,
        faults=chaos.done,
        exits=stack.exits,
        now=time.time(),
        drained=drained,
    )
