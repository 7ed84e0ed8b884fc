"""One sandbox store and one connector process per platform, on the session's broker and Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.connectors.stacks import Stack, built_platforms, running_stack


@pytest.fixture(scope="session", params=built_platforms())
async def stack(request, bootstrap, redis_url, topics, recorder, tmp_path_factory) -> AsyncIterator[Stack]:
    folder = tmp_path_factory.mktemp(f"connector-{request.param}")
    async with running_stack(request.param, folder, bootstrap, redis_url) as built:
        yield built
