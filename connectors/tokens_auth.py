"""A store's requests carry its kept access token; a 401 renews it once and the request goes once more.

An `httpx.Auth` per store, so it works on a client of the store's own or passed per request on a client the
platform's stores share. The token is asked of the keeper on every request (a dict read unless it is due).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator, Mapping
from typing import Protocol

import httpx


class Keeper(Protocol):
    def headers(self, credentials: Mapping[str, str]) -> dict[str, str]: ...

    async def fresh(self, store_id: str) -> Mapping[str, str]: ...

    async def after_unauthorized(self, store_id: str, used: Mapping[str, str]) -> Mapping[str, str] | None: ...


class KeptAuth(httpx.Auth):
    def __init__(self, keeper: Keeper, store_id: str) -> None:
        self._keeper, self.store_id = keeper, store_id

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        used = await self._keeper.fresh(self.store_id)
        request.headers.update(self._keeper.headers(used))
        response = yield request
        if response.status_code != 401:
            return
        retry = await self._keeper.after_unauthorized(self.store_id, used)
        if retry is None:  # nothing newer to try: the 401 stands
            return
        request.headers.update(self._keeper.headers(retry))
        yield request

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("a kept token is asynchronous: use httpx.AsyncClient")
