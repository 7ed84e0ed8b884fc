"""What the webhook worker logs when a delivery fails: the endpoint's scheme and host and its hook, never its path.

A Zapier catch URL is `https://hooks.zapier.com/hooks/catch/<account>/<secret>/`:
whoever reads the logs could post to it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from notifier.hook_delivery import HookDeliverer
from notifier.hook_jobs import RETRY_AFTER_S, HookJob, MemoryHookJobs
from notifier.set_aside import MemorySetAside
from tests.notifier.hook_world import SHOP_A, T0, Streamed, a_job, hooks_config

SECRET_PATH = "s3cr3tpath"
ZAPIER = f"https://hooks.zapier.com/hooks/catch/123456/{SECRET_PATH}/?token=q"


def answering(status: int | None) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        if status is None:
            raise httpx.ConnectError(f"cannot reach {request.url}", request=request)  # httpx's errors quote the URL
        return httpx.Response(status, stream=Streamed())

    return httpx.MockTransport(answer)


async def deliver_once(tmp_path: Path, transport: httpx.MockTransport, job: HookJob | None = None) -> None:
    jobs = MemoryHookJobs()
    deliverer = HookDeliverer(
        hooks_config(tmp_path, {SHOP_A: ZAPIER}), jobs, lambda: T0, MemorySetAside(), transport=transport
    )
    if job is None:
        await a_job(jobs, SHOP_A)
    else:
        await jobs.add("the-job", job, T0)
    await deliverer.claim()
    await deliverer.drain()


def logged(caplog: pytest.LogCaptureFixture) -> str:
    handler = logging.Formatter()
    return "\n".join(handler.format(record) for record in caplog.records)  # messages and tracebacks alike


async def test_failure_logs_name_the_hook_by_scheme_and_host_never_its_secret_path(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.WARNING, logger="httpx")  # as `setup_logging` has it: httpx's own request lines are off
    await deliver_once(tmp_path, answering(500))  # retried
    await deliver_once(tmp_path, answering(None))  # unreachable
    last = HookJob(store=SHOP_A, hook=0, event_id="evt-last", attempts=len(RETRY_AFTER_S), body="{}")
    await deliver_once(tmp_path, answering(500), last)  # given up
    poison = HookJob(store=SHOP_A, hook=0, event_id="evt-poison", body="\ud800")  # cannot even be encoded
    await deliver_once(tmp_path, answering(204), poison)  # set aside
    text = logged(caplog)
    assert "HTTP 500" in text and "ConnectError" in text and "gave up" in text and "set the-job aside" in text
    assert f"{SHOP_A} hook 0 (https://hooks.zapier.com)" in text
    assert SECRET_PATH not in text and "/hooks/catch" not in text and "token=q" not in text
