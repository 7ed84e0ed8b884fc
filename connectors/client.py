"""HTTP to a platform: timeouts, retries with backoff and jitter, and the platform's rate limits.

Retries use tenacity (well kept, async-aware) rather than a loop of our own;
the only rule of ours is how long a 429 asks us to wait.

A connector runs one `PlatformClient` per store, but they share one `httpx.AsyncClient` per platform
(`shared_http`): its connection pool and TLS context (the CA bundle parsed once, ~840 KiB and 17 ms of CPU
per client measured) serve every store, and each request carries its store's address, headers and
credentials. A client built without `http` (a test, a one-off command) has one of its own.

Each attempt has a total deadline (httpx's timeouts are per read: a server dripping a byte every few
seconds never trips them) and its answer is read to at most `MAX_ANSWER_BYTES`, decoded: a page of 100
orders is a few MB at most, so a larger answer is a fault of the platform's (or a decompression bomb),
refused without holding it.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from connectors.budget import RateBudget
from connectors.errors import PlatformError
from connectors.metrics import API_ERRORS, RATE_LIMIT_WAITS

log = logging.getLogger(__name__)

MAX_RATE_LIMIT_WAIT_S = 120.0
DEADLINE_S = 60.0  # one attempt, connect to last byte
MAX_ANSWER_BYTES = 32 * 1024 * 1024
# Connections kept open to one platform by one connector copy: enough for the fetch workers and polls in flight.
MAX_CONNECTIONS = 100
MAX_KEEPALIVE = 40
TIMEOUT_S = 15.0


def shared_http(transport: httpx.AsyncBaseTransport | None = None, timeout_s: float = TIMEOUT_S) -> httpx.AsyncClient:
    """The one HTTP client every store of a platform is reached through, in one connector copy."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_s, connect=5.0),
        limits=httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_KEEPALIVE),
        transport=transport,
        follow_redirects=False,
    )


class RetryableError(Exception):
    """A 5xx or a network error: worth another try after a backoff."""


class RateLimitedError(Exception):
    def __init__(self, wait_s: float | None) -> None:
        super().__init__(f"rate limited; waiting {wait_s:.1f}s" if wait_s is not None else "rate limited; backing off")
        self.wait_s = wait_s


class PlatformClient:
    def __init__(
        self,
        platform: str,
        base_url: str,
        *,
        headers: dict[str, str] | None = None,
        auth: httpx.Auth | None = None,
        rate_limit_wait: Callable[[httpx.Response], float | None] = lambda r: None,
        attempts: int = 5,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        timeout_s: float = TIMEOUT_S,
        deadline_s: float = DEADLINE_S,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
        transport: httpx.AsyncBaseTransport | None = None,
        http: httpx.AsyncClient | None = None,
        budget: RateBudget | None = None,
        budget_id: str = "",
    ) -> None:
        self.platform = platform
        # The platform's quota, shared by every copy (`connectors.budget`); `budget_id` names the store in it.
        self._budget, self._budget_id = budget, budget_id
        # `http` is shared and closed by its owner; without it this client has one of its own, closed with it.
        self._owns_http = http is None
        self._http = http if http is not None else shared_http(transport, timeout_s)
        self._base = base_url.rstrip("/") + "/"
        self._headers = dict(headers or {})
        self.auth = auth
        self._rate_limit_wait = rate_limit_wait
        self._deadline_s, self._max_answer_bytes = deadline_s, max_answer_bytes
        self._attempts = attempts
        self._backoff = wait_exponential_jitter(multiplier=backoff_initial_s, max=backoff_max_s)

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    def url(self, path: str) -> str:
        """`path` under the store's address, as httpx's `base_url` would join them; a whole URL is kept."""
        if path.startswith(("https://", "http://")):
            return path
        return self._base + path.lstrip("/")

    async def get_json(self, path: str, **params: Any) -> tuple[Any, httpx.Headers]:
        return await self.request_json("GET", path, params={k: v for k, v in params.items() if v is not None})

    async def request_json(self, method: str, path: str, **kwargs: Any) -> tuple[Any, httpx.Headers]:
        """The answer's JSON; None for an empty answer (`204 No Content`, as BigCommerce lists say "nothing")."""
        response = await self.request(method, path, **kwargs)
        if response.status_code == 204 or not response.content.strip():
            return None, response.headers
        try:
            return response.json(), response.headers
        except ValueError:
            raise PlatformError(f"{self.platform}: {path} answered non-JSON", response.status_code) from None

    async def request(self, method: str, path: str, *, idempotent: bool = True, **kwargs: Any) -> httpx.Response:
        """`idempotent=False` (a create) is retried after a 429 only: the platform refused it without acting,
        whereas after a 5xx or a lost answer the object may exist, and a retry could make a second one."""
        retrying = AsyncRetrying(
            retry=retry_if_exception_type((RetryableError, RateLimitedError) if idempotent else RateLimitedError),
            wait=self._wait,
            stop=stop_after_attempt(self._attempts),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._once(method, path, **kwargs)
        raise AssertionError("unreachable")

    async def _once(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if self._budget is not None:
            await self._budget.spend(self._budget_id)  # OverBudgetError: not retried here, left to the next turn
        try:
            async with asyncio.timeout(self._deadline_s):
                response = await self._read(method, path, **kwargs)
        except TimeoutError:
            API_ERRORS.labels(self.platform, "deadline").inc()
            raise RetryableError(
                f"{self.platform}: {method} {path}: no whole answer within {self._deadline_s:g}s"
            ) from None
        except httpx.TransportError as error:
            API_ERRORS.labels(self.platform, "network").inc()
            raise RetryableError(f"{self.platform}: {method} {path}: {error!r}") from error
        if self._budget is not None:
            self._budget.observe(response.headers)
        if response.status_code == 429:
            RATE_LIMIT_WAITS.labels(self.platform).inc()
            if self._budget is not None:
                await self._budget.refused(self._budget_id, response.headers)  # the day's quota gone: hours
            raise RateLimitedError(self._wait_for_429(response))
        if response.status_code >= 500:
            API_ERRORS.labels(self.platform, str(response.status_code)).inc()
            raise RetryableError(f"{self.platform}: {method} {path}: {response.status_code}")
        if response.status_code >= 400:
            API_ERRORS.labels(self.platform, str(response.status_code)).inc()
            raise PlatformError(
                f"{self.platform}: {method} {path}: {response.status_code} {response.text[:200]}", response.status_code
            )
        return response

    async def _read(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The answer, its body read (decoded) only as far as the limit allows."""
        headers = {**self._headers, **(kwargs.pop("headers", None) or {})}
        auth = self.auth if self.auth is not None else httpx.USE_CLIENT_DEFAULT
        async with self._http.stream(method, self.url(path), headers=headers, auth=auth, **kwargs) as streamed:
            body = bytearray()
            async for chunk in streamed.aiter_bytes():
                body += chunk
                if len(body) > self._max_answer_bytes:
                    API_ERRORS.labels(self.platform, "too_large").inc()
                    raise PlatformError(
                        f"{self.platform}: {method} {path}: answer over {self._max_answer_bytes} bytes, not read",
                        streamed.status_code,
                    )
        return httpx.Response(
            streamed.status_code, headers=streamed.headers, content=bytes(body), request=streamed.request
        )

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RateLimitedError) and error.wait_s is not None:
            log.warning("%s", error)
            return error.wait_s
        return self._backoff(state)  # no word from the platform on how long: back off exponentially

    def _wait_for_429(self, response: httpx.Response) -> float | None:
        wait = self._rate_limit_wait(response)
        if wait is None:
            wait = retry_after_seconds(response.headers.get("retry-after"))
        return None if wait is None else min(MAX_RATE_LIMIT_WAIT_S, max(0.0, wait))


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` is either seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
