"""One bad item never stops a notifier pass: it is set aside with its reason, the others go on; an outage is waited out."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from notifier.due import MemoryTimers
from notifier.hook_delivery import HookDeliverer
from notifier.hook_jobs import HookJob, MemoryHookJobs
from notifier.intake import record_request
from notifier.link_state import LinkState
from notifier.mail import MemorySender
from notifier.memory_store import MemoryLinkStore
from notifier.outbox import Outbox
from notifier.render import EmailRenderer
from notifier.scheduler import LEASE_S, LinkScheduler
from notifier.set_aside import MemorySetAside, RedisSetAside, SetAside, set_aside
from tests.notifier.doubles import KeptProducer
from tests.notifier.helpers import request
from tests.notifier.hook_world import SHOP_A, T0, Streamed, a_job, hooks_config
from tests.support import unique_id


def set_aside_count(pass_: str) -> float:
    return REGISTRY.get_sample_value("notifier_set_aside_total", {"pass": pass_}) or 0.0


def scheduler(store: MemoryLinkStore, mail: MemorySender, parked: MemorySetAside, templates: Path | None = None):
    outbox = Outbox(
        store, KeptProducer(), mail, EmailRenderer(templates), mail_from="P <p@example.com>", clock=lambda: T0
    )
    return LinkScheduler(
        store, outbox, public_url="https://p.example", link_ttl=timedelta(days=7), clock=lambda: T0, set_aside=parked
    )


async def test_a_poison_order_among_good_ones_is_set_aside_and_the_pass_goes_on(tmp_path: Path):
    # The poison: one store's email template, broken by its operator; every other store's orders are fine.
    broken = tmp_path / "woocommerce" / "shop-manual"
    broken.mkdir(parents=True)
    (broken / "link.subject.j2").write_text("{{ broken(")
    store, mail, parked = MemoryLinkStore(), MemorySender(), MemorySetAside()
    passes = scheduler(store, mail, parked, tmp_path)
    poison = request(0, at=T0, platform="woocommerce")
    good = [request(0, at=T0, platform="bigcommerce") for _ in range(2)]
    for wanted in (good[0], poison, good[1]):
        await record_request(store, wanted, T0)
    before = set_aside_count("scheduler")

    assert len(await passes.tick()) == 3
    subjects = " | ".join(str(m["Subject"]) for m in mail.sent)
    assert len(mail.sent) == 2 and all(w.order_number in subjects for w in good)
    (reason,) = (await parked.parked("scheduler")).values()
    assert list(await parked.parked("scheduler")) == [poison.order_key] and "TemplateSyntaxError" in reason
    assert await store.timers.due_at(poison.order_key) is None  # off the timer: not failed again every lease
    assert set_aside_count("scheduler") == before + 1
    assert await passes.tick() == []


class RedisAwayFor(MemoryLinkStore):
    """The twin, with Redis refusing reads of one order."""

    away_for: str | None = None

    async def state(self, order_key: str) -> LinkState:
        if order_key == self.away_for:
            raise RedisConnectionError("Redis away (test)")
        return await super().state(order_key)


async def test_an_order_failing_for_an_outage_is_not_set_aside_but_comes_due_again():
    wanted, mail, parked = request(0, at=T0), MemorySender(), MemorySetAside()
    store = RedisAwayFor()
    await record_request(store, wanted, T0)
    store.away_for = wanted.order_key
    await scheduler(store, mail, parked).tick()
    assert await parked.parked("scheduler") == {}
    assert await store.timers.due_at(wanted.order_key) == T0 + timedelta(seconds=LEASE_S)  # its lease brings it back


async def test_a_poison_webhook_job_among_good_ones_is_set_aside_and_the_others_delivered(tmp_path: Path):
    delivered: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        delivered.append(request.headers["webhook-id"])
        return httpx.Response(204, stream=Streamed())

    jobs, parked = MemoryHookJobs(), MemorySetAside()
    config = hooks_config(tmp_path, {SHOP_A: "https://hooks.example.com/hook"})
    deliverer = HookDeliverer(config, jobs, lambda: T0, parked, transport=httpx.MockTransport(answer))
    first = await a_job(jobs, SHOP_A)
    await jobs.add("poison", HookJob(store=SHOP_A, hook=0, event_id="evt-poison", body="\ud800"), T0)
    last = await a_job(jobs, SHOP_A)
    before = set_aside_count("hooks")

    assert await deliverer.claim() == 3
    await deliverer.drain()
    assert sorted(delivered) == sorted([f"evt-{first}", f"evt-{last}"])
    parked_now = await parked.parked("hooks")
    assert list(parked_now) == ["poison"] and parked_now["poison"].startswith("UnicodeEncodeError")
    assert await jobs.get("poison") is None and await jobs.due.due_at("poison") is None
    assert set_aside_count("hooks") == before + 1


class SetAsideContract:
    @pytest.fixture
    def place(self) -> SetAside:
        raise NotImplementedError

    async def test_a_set_aside_item_keeps_its_reason_and_leaves_its_timer(self, place: SetAside):
        timers, member = MemoryTimers(), unique_id()
        await timers.schedule(member, T0)
        await set_aside(place, timers, "hooks", member, ValueError("bad bytes"), T0)
        assert (await place.parked("hooks"))[member] == "ValueError: bad bytes"
        assert member not in await place.parked("scheduler") and await timers.due_at(member) is None


class TestMemorySetAside(SetAsideContract):
    @pytest.fixture
    def place(self) -> SetAside:
        return MemorySetAside()


class TestRedisSetAside(SetAsideContract):
    @pytest.fixture
    def place(self, store_redis: Redis) -> SetAside:
        return RedisSetAside(store_redis)
