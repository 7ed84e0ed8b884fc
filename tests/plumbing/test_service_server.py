"""The services' uvicorn leaves SIGTERM/SIGINT to the service, which stops consuming before it stops serving."""

from __future__ import annotations

import asyncio
import signal

import pytest
from starlette.applications import Starlette

from plumbing.ops import service_server

pytestmark = pytest.mark.integration  # serves on a loopback port


def on_signal(signum: int, frame: object) -> None:
    raise AssertionError("not called: the test sends no signal")


async def test_the_service_keeps_its_signal_handlers_while_uvicorn_serves():
    before = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server = service_server(Starlette(), "127.0.0.1", 0)
        serving = asyncio.create_task(server.serve())
        async with asyncio.timeout(10):
            while not server.started:  # noqa: ASYNC110 - uvicorn says so with a flag, not an event
                await asyncio.sleep(0.01)
        assert signal.getsignal(signal.SIGTERM) is on_signal and signal.getsignal(signal.SIGINT) is on_signal
        server.should_exit = True
        await serving
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
