"""One automation webhook POST: signed per Standard Webhooks, over within its deadline, its answer read only in part.

- The deadline is the whole call's: resolving, connecting, sending and
  reading the answer together (httpx's own timeouts are per read, so an
  endpoint that drips a byte every few seconds never trips them).
- Only the status counts; at most `ANSWER_KEPT_BYTES` of the answer are
  read (undecoded, so a compressed one cannot grow), the rest dropped with
  the connection.
- An answer that has not arrived in full (or up to that bound) by the
  deadline is a failure, retried later: the receiver dedupes on
  `webhook-id`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

import httpx
from standardwebhooks.webhooks import Webhook

from notifier.destinations import NotPublicError
from notifier.hook_jobs import HookJob
from plumbing.config import OutboundWebhook

ANSWER_KEPT_BYTES = 4096


@dataclass(frozen=True)
class Answer:
    ok: bool
    why: str  # for logs: never the URL


def headers(hook: OutboundWebhook, job: HookJob, now: datetime) -> dict[str, str]:
    return {
        "webhook-id": job.event_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(hook.secret).sign(job.event_id, now, job.body),
        "content-type": "application/json",
        "user-agent": "personalize-webhooks/1",
    }


async def post(
    http: httpx.AsyncClient, hook: OutboundWebhook, job: HookJob, now: datetime, deadline_s: float
) -> Answer:
    try:
        async with asyncio.timeout(deadline_s):
            request = http.stream("POST", hook.url, content=job.body.encode(), headers=headers(hook, job, now))
            async with request as response:
                await _read_some(response, ANSWER_KEPT_BYTES)
    except TimeoutError:
        return Answer(False, f"no whole answer within {deadline_s:g}s")
    except httpx.HTTPError as error:
        if isinstance(error.__cause__, NotPublicError):
            return Answer(False, f"refused: {error.__cause__}")
        return Answer(False, type(error).__name__)  # its text may quote the URL
    return Answer(response.is_success, f"HTTP {response.status_code}")


async def _read_some(response: httpx.Response, limit: int) -> None:
    kept = 0
    async for chunk in response.aiter_raw():
        kept += len(chunk)
        if kept >= limit:
            return
