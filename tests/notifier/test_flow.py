"""The seed's flow through real processes: an order → core → the notifier's email and link → re-issue → completion.

With PERSONALIZE_LINK_DELAY=2s and PERSONALIZE_LINK_TTL=6s: one link and one
email to the merchant after 2 s, a second link (sequence 2) and email when the
first expires while the order is still pending, and nothing once completed.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from devstack.mailcatcher import MailCatcher
from schemas import OrderStatusChanged, PersonalizationLinkIssued
from tests.builders import MANUAL, completed, mug, order, plain
from tests.notifier.conftest import notifier_env
from tests.support import ServiceProcess, send, unique_id

pytestmark = pytest.mark.integration  # starts servers or service processes of its own


async def test_order_to_email_to_reissue_and_silence_after_completion(servers, bus, config_path, tmp_path):
    mail = MailCatcher(tmp_path / "mail").start()
    redis_db = f"redis://{servers['redis'].address}/3"
    env = notifier_env(
        servers,
        smtp_url=mail.url,
        PERSONALIZE_REDIS_URL=redis_db,
        PERSONALIZE_LINK_TTL="6s",
        PERSONALIZE_LINK_DELAY="2s",
    )
    core = ServiceProcess(
        ["core"], {**env, "PERSONALIZE_CORE_GROUP": f"flow-core-{unique_id()}"}, tmp_path / "core.log"
    )
    notifier = ServiceProcess(
        ["notifier"],
        {
            **env,
            "PERSONALIZE_NOTIFIER_GROUP": f"flow-{unique_id()}",
            "PERSONALIZE_HOOKS_GROUP": f"flow-hooks-{unique_id()}",
        },
        tmp_path / "notifier.log",
    )
    core.start()
    notifier.start()
    recorder = bus["recorder"]
    try:
        placed = order(MANUAL, [mug("L1"), plain("L2")], at=datetime.now(UTC))
        await send(bus["producer"], placed)
        first = await asyncio.to_thread(mail.wait_for, 1, 40)
        assert first[0]["To"] == "manual@example.com" and placed.order_number in first[0]["Subject"]
        await recorder.wait_for(placed.order_key, lambda es: any(isinstance(e, PersonalizationLinkIssued) for e in es))
        both = await asyncio.to_thread(mail.wait_for, 2, 20)  # the re-issue, once the 6 s link expired
        links = recorder.events(placed.order_key, PersonalizationLinkIssued)
        await recorder.wait_for(
            placed.order_key, lambda es: sum(isinstance(e, PersonalizationLinkIssued) for e in es) >= 2
        )
        links = recorder.events(placed.order_key, PersonalizationLinkIssued)
        assert [link.sequence for link in links] == [1, 2]
        body = both[1].get_body(("plain",))
        assert body is not None and links[1].url in body.get_content()
        await send(bus["producer"], completed(placed.order_key, "L1"))
        await recorder.wait_for(
            placed.order_key,
            lambda es: any(isinstance(e, OrderStatusChanged) and e.to_status.value == "pending_approval" for e in es),
        )
        await asyncio.sleep(8)  # longer than a link's life: an expiry would have sent a third
        assert len(mail.messages) == 2
        assert len(recorder.events(placed.order_key, PersonalizationLinkIssued)) == 2
    finally:
        await asyncio.to_thread(notifier.stop)
        await asyncio.to_thread(core.stop)
        mail.stop()
