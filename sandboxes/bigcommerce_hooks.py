"""BigCommerce's webhooks API (`/stores/{hash}/v3/hooks`) and how the platform delivers and gives up
(../shared/CONNECTING.md §5.3, PLATFORMS.md §6).

- A hook belongs to the store and to the client (app or API account) whose token created it: another
  client neither sees nor changes it. `POST` {scope, destination, is_active, headers}; `GET` (filters
  `is_active`, `scope`, `destination`; `page`, `limit`); `GET|PUT|DELETE /{id}`. One hook per
  client+scope+destination (422 for a second), at most 10 per client+scope.
- A delivery is the thin body, signed the Standard Webhooks way with base64(the client's secret), with the
  hook's own `headers` added. 2xx is success. A failed delivery is retried after each of `retry_delays_s`
  (BigCommerce's: 60 s … 86400 s, about 48 h; seconds in tests); when the last retry fails too the hook is
  deactivated (`is_active: false`) and the app's email told (`notified`). A success in between starts over.
- BigCommerce deletes an app's hooks when the app is uninstalled (`delete_client`).

Not faked: the domain blocklist (success ratio under 90 % over 100 requests in 2 minutes) and the
deactivation after 90 days without events. Destinations must be https on port 443 at BigCommerce; the
sandbox allows http on any port (`https_only` turns the rule on) because tests and `dev` run on loopback.
"""

from __future__ import annotations

import asyncio
import base64
import fnmatch
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from sandboxes.standard_webhooks import signed_headers

log = logging.getLogger(__name__)

HOOKS = "/v3/hooks"
# BigCommerce's retry schedule after a failed delivery, in seconds (its webhooks overview).
RETRY_DELAYS_S = (60.0, 180.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 21600.0, 50400.0, 86400.0)
MAX_PER_SCOPE = 10
STORE_ID = "1025646"  # the numeric store id of BigCommerce's samples (the body's `store_id`)


@dataclass
class Hook:
    id: int
    client_id: str
    scope: str
    destination: str
    is_active: bool
    headers: dict[str, str]
    created_at: int
    updated_at: int

    def view(self, store_hash: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "client_id": self.client_id,
            "store_hash": store_hash,
            "scope": self.scope,
            "destination": self.destination,
            "is_active": self.is_active,
            "headers": self.headers or None,  # as BigCommerce answers a hook with none
            "events_history_enabled": False,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def _error(status: int, title: str) -> JSONResponse:
    return JSONResponse(
        {"status": status, "title": title, "type": "/api-docs/getting-started/api-status-codes"}, status
    )


@dataclass
class Hooks:
    store_hash: str
    secret_of: Callable[[str], str]  # a client's secret: what its hooks are signed with
    retry_delays_s: tuple[float, ...] = RETRY_DELAYS_S
    https_only: bool = False
    enabled: Callable[[], bool] = lambda: True  # the sandbox's webhook switch (an outage test turns it off)
    items: dict[int, Hook] = field(default_factory=dict)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    notified: list[str] = field(default_factory=list)  # "the app's email": one line per deactivated hook
    _next_id: int = 2000
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _http: httpx.AsyncClient | None = None

    # -- the API ----------------------------------------------------------------------------------------

    def create(self, client_id: str, body: Any) -> Response:
        problem = self._problem(body, partial=False)
        if problem:
            return _error(422, problem)
        scope, destination = body["scope"], body["destination"]
        same = [h for h in self.items.values() if h.client_id == client_id and h.scope == scope]
        if any(h.destination == destination for h in same):
            return _error(422, "A hook with this scope and destination already exists.")
        if len(same) >= MAX_PER_SCOPE:
            return _error(422, f"At most {MAX_PER_SCOPE} hooks per scope.")
        self._next_id += 1
        now = int(time.time())
        hook = Hook(
            self._next_id, client_id, scope, destination, bool(body.get("is_active", True)),
            dict(body.get("headers") or {}), now, now,
        )  # fmt: skip
        self.items[hook.id] = hook
        return JSONResponse({"data": hook.view(self.store_hash), "meta": {}})

    def listing(self, client_id: str, query: Any) -> Response:
        hooks = [h for h in self.items.values() if h.client_id == client_id]
        if "is_active" in query:
            hooks = [h for h in hooks if h.is_active == (query["is_active"].lower() == "true")]
        for name in ("scope", "destination"):
            if name in query:
                hooks = [h for h in hooks if getattr(h, name) == query[name]]
        try:
            page, limit = int(query.get("page", 1)), int(query.get("limit", 50))
        except ValueError:
            return _error(400, "page and limit must be integers")
        if page < 1 or not 1 <= limit <= 250:
            return _error(400, "page must be 1 or more, limit 1 to 250")
        chunk = hooks[(page - 1) * limit : page * limit]
        pages = max(1, -(-len(hooks) // limit))
        meta = {"pagination": {"count": len(chunk), "current_page": page, "per_page": limit, "total": len(hooks),
                               "total_pages": pages}}  # fmt: skip
        return JSONResponse({"data": [h.view(self.store_hash) for h in chunk], "meta": meta})

    def one(self, client_id: str, hook_id: int) -> Hook | None:
        hook = self.items.get(hook_id)
        return hook if hook is not None and hook.client_id == client_id else None

    def update(self, client_id: str, hook_id: int, body: Any) -> Response:
        hook = self.one(client_id, hook_id)
        if hook is None:
            return _error(404, "Hook not found.")
        problem = self._problem(body, partial=True)
        if problem:
            return _error(422, problem)
        for name in ("scope", "destination", "is_active", "headers"):
            if name in body:
                setattr(hook, name, dict(body[name] or {}) if name == "headers" else body[name])
        hook.updated_at = int(time.time())
        return JSONResponse({"data": hook.view(self.store_hash), "meta": {}})

    def delete(self, client_id: str, hook_id: int) -> Response:
        hook = self.one(client_id, hook_id)
        if hook is None:
            return _error(404, "Hook not found.")
        del self.items[hook_id]
        return JSONResponse({"data": hook.view(self.store_hash), "meta": {}})

    def delete_client(self, client_id: str) -> int:
        """The app was uninstalled: BigCommerce deletes its hooks."""
        gone = [i for i, h in self.items.items() if h.client_id == client_id]
        for hook_id in gone:
            del self.items[hook_id]
        return len(gone)

    def _problem(self, body: Any, partial: bool) -> str | None:
        if not isinstance(body, dict):
            return "The request body must be a JSON object."
        for name in () if partial else ("scope", "destination"):
            if name not in body:
                return f"{name} is required."
        if "scope" in body and not (isinstance(body["scope"], str) and body["scope"].startswith("store/")):
            return "scope must be a webhook scope such as store/order/created."
        if "destination" in body:
            url = urlsplit(body["destination"]) if isinstance(body["destination"], str) else None
            if url is None or url.scheme not in ("http", "https") or not url.hostname:
                return "destination must be a URL."
            if self.https_only and (url.scheme != "https" or (url.port or 443) != 443):
                return "destination must be https on port 443."
        if "is_active" in body and not isinstance(body["is_active"], bool):
            return "is_active must be a boolean."
        headers = body.get("headers")
        if headers is not None and not (
            isinstance(headers, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())
        ):
            return "headers must be an object of strings."
        return None

    # -- delivery ---------------------------------------------------------------------------------------

    def announce(self, scope: str, data: dict[str, Any], created_at: int) -> None:
        """An event happened: every active hook subscribed to `scope` (or a wildcard of it) gets a delivery."""
        if not self.enabled():
            return
        body = {
            "scope": scope,
            "store_id": STORE_ID,
            "data": data,
            # "The SHA-1 hash of the JSON-encoded payload data": a repeated delivery of one event keeps it.
            "hash": hashlib.sha1(json.dumps(data, separators=(",", ":")).encode()).hexdigest(),
            "created_at": created_at,
            "producer": f"stores/{self.store_hash}",
        }
        raw = json.dumps(body, separators=(",", ":")).encode()
        for hook in list(self.items.values()):
            if hook.is_active and fnmatch.fnmatchcase(scope, hook.scope):
                task = asyncio.get_running_loop().create_task(self._deliver(hook, scope, raw))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _deliver(self, hook: Hook, scope: str, body: bytes) -> None:
        msg_id = "msg_" + hashlib.sha256(body + str(hook.id).encode()).hexdigest()[:24]
        key = base64.b64encode(self.secret_of(hook.client_id).encode()).decode()
        for attempt, delay in enumerate((0.0, *self.retry_delays_s)):
            await asyncio.sleep(delay)
            if self.items.get(hook.id) is not hook or not hook.is_active:
                return  # deleted or deactivated meanwhile: BigCommerce stops sending
            headers = {"Content-Type": "application/json", **signed_headers(key, msg_id, int(time.time()), body)}
            status = await self._post(hook.destination, body, {**headers, **hook.headers})
            self.deliveries.append({"hook_id": hook.id, "scope": scope, "attempt": attempt, "status": status})
            if isinstance(status, int) and 200 <= status < 300:
                return
        hook.is_active = False
        hook.updated_at = int(time.time())
        self.notified.append(f"hook {hook.id} ({hook.scope} to {hook.destination}) deactivated after failures")

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> int | str:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=5.0)
        try:
            return (await self._http.post(url, content=body, headers=headers)).status_code
        except httpx.HTTPError as error:
            return type(error).__name__

    def router(self, client_of: Callable[[Request], str]) -> APIRouter:
        router = APIRouter()

        @router.post(HOOKS)
        async def create(request: Request) -> Response:
            return self.create(client_of(request), await _json(request))

        @router.get(HOOKS)
        async def listing(request: Request) -> Response:
            return self.listing(client_of(request), request.query_params)

        @router.get(HOOKS + "/{hook_id}")
        async def one(hook_id: int, request: Request) -> Response:
            hook = self.one(client_of(request), hook_id)
            if hook is None:
                return _error(404, "Hook not found.")
            return JSONResponse({"data": hook.view(self.store_hash), "meta": {}})

        @router.put(HOOKS + "/{hook_id}")
        async def update(hook_id: int, request: Request) -> Response:
            return self.update(client_of(request), hook_id, await _json(request))

        @router.delete(HOOKS + "/{hook_id}")
        async def delete(hook_id: int, request: Request) -> Response:
            return self.delete(client_of(request), hook_id)

        return router


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"null")
    except ValueError:
        return None
