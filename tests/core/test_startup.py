"""Core started while Redis is still down (a restart of both at once) waits for it instead of exiting."""

from __future__ import annotations

import asyncio

import pytest

from devstack.embedded import free_port, start_redis
from schemas import OrderStatusChanged
from tests.builders import MANUAL, order, plain
from tests.core.conftest import core_env
from tests.support import ServiceProcess, send, unique_id

pytestmark = pytest.mark.integration  # starts servers or service processes of its own


async def test_core_waits_for_redis_at_start_up_then_decides(bootstrap, topics, producer, recorder, tmp_path):
    port = free_port()
    service = ServiceProcess(
        ["core"],
        core_env(
            bootstrap,
            f"redis://127.0.0.1:{port}/0",
            PERSONALIZE_OPS_PORT="0",
            PERSONALIZE_CORE_GROUP=f"startup-{unique_id()}",
        ),
        tmp_path / "core.log",
    )
    service.start()
    redis = None
    try:
        for _ in range(100):  # until it has tried and said it waits
            if "Redis unavailable at start-up" in service.log_tail(200):
                break
            assert service.process.poll() is None, service.log_tail()
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"core never reported waiting for Redis:\n{service.log_tail()}")
        redis = start_redis(tmp_path, port=port)
        placed = order(MANUAL, [plain()])
        await send(producer, placed)
        await recorder.wait_for(placed.order_key, lambda es: any(isinstance(e, OrderStatusChanged) for e in es), 60)
        assert service.process.poll() is None
    finally:
        assert service.stop() == 0, service.log_tail()
        if redis is not None:
            redis.stop()
