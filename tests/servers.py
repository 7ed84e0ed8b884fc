"""One home for the `servers` and `bus` fixtures of the test folders that need a broker and Redis of their own
(they restart, pause or fill them, or need topics nobody created yet), instead of the session's.

    servers = own_servers("editor")        # in a conftest.py or a test module
    bus = own_bus()
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Literal

import pytest

from tests.support import embedded_servers, event_bus

Scope = Literal["module", "package"]


def own_servers(name: str, *, scope: Scope = "package", mail: bool = True) -> Callable[..., Any]:
    """A broker, Redis and (unless `mail=False`) an SMTP catcher, under a state folder named `name`."""

    @pytest.fixture(scope=scope)
    def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
        with embedded_servers(tmp_path_factory.mktemp(name), mail=mail) as running:
            yield running

    return servers


def own_bus(*, scope: Scope = "package") -> Callable[..., Any]:
    """Every topic created on the `servers` broker, a producer and a recorder of every topic."""

    @pytest.fixture(scope=scope)
    async def bus(servers: dict) -> AsyncIterator[dict]:
        async with event_bus(servers["broker"].address) as connected:
            yield connected

    return bus
