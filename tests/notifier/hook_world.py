"""A config with automation endpoints on the test stores, and jobs for them, as the router makes them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import yaml

from notifier.hook_jobs import HookJob, HookJobStore
from plumbing.config import Config, load_config
from tests.builders import CONFIG_PATH
from tests.notifier.conftest import HOOK_SECRET
from tests.support import unique_id

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SHOP_A, SHOP_B = "woocommerce:shop-manual", "bigcommerce:shop-auto"


class Streamed(httpx.AsyncByteStream):
    """An answer's body as a server's arrives: streamed, not already in memory."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b"{}"


def hooks_config(folder: Path, urls: dict[str, str]) -> Config:
    """The test config, each store in `urls` (`<platform>:<store_id>`) with one endpoint there."""
    raw = yaml.safe_load(CONFIG_PATH.read_text())
    for store in raw["stores"]:
        url = urls.get(f"{store['platform']}:{store['store_id']}")
        if url:
            store["webhooks"] = [{"url": url, "secret": HOOK_SECRET, "events": ["PersonalizationLinkIssued"]}]
    path = folder / f"hooks-{unique_id()}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_config(path)


async def a_job(jobs: HookJobStore, store: str, at: datetime = T0, body: str = '{"event_type": "X"}') -> str:
    job_id = unique_id()
    await jobs.add(job_id, HookJob(store=store, hook=0, event_id=f"evt-{job_id}", body=body), at)
    return job_id
