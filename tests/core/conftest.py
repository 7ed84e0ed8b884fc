"""`personalize core` as a real subprocess, driven only through the topics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from schemas import OrderStatusChanged
from tests.builders import CONFIG_PATH, MANUAL, order, plain
from tests.support import Recorder, ServiceProcess, send


def core_env(bootstrap: str, redis_url: str, **extra: str) -> dict[str, str]:
    return {
        "PERSONALIZE_KAFKA_BOOTSTRAP": bootstrap,
        "PERSONALIZE_REDIS_URL": redis_url,
        "PERSONALIZE_CONFIG": str(CONFIG_PATH),
        "PERSONALIZE_KAFKA_SESSION_TIMEOUT_MS": "3000",
        **extra,
    }


@pytest.fixture(scope="session")
async def core(
    bootstrap, redis_url, topics, producer, recorder: Recorder, state_dir: Path
) -> AsyncIterator[ServiceProcess]:
    service = ServiceProcess(["core"], core_env(bootstrap, redis_url), state_dir / "core.log")
    service.start()
    warm_up = order(MANUAL, [plain()])
    await send(producer, warm_up)
    try:
        await recorder.wait_for(warm_up.order_key, lambda es: any(isinstance(e, OrderStatusChanged) for e in es), 60)
    except AssertionError:
        raise AssertionError(f"core did not come up:\n{service.log_tail()}") from None
    yield service
    assert service.stop() == 0, service.log_tail()
