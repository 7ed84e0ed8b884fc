"""Rate limits per link and per client address, on an editor started with small ones."""

from __future__ import annotations

import asyncio

import httpx

from plumbing.links import new_token
from tests.editor_service.conftest import publish_link, start_editor, wait_recorded


async def test_too_many_requests_per_link_or_per_address_get_429(servers, bus):
    editor = await start_editor(
        servers,
        servers["state"] / "editor-limits.log",
        PERSONALIZE_EDITOR_RATE_PER_TOKEN="5",
        PERSONALIZE_EDITOR_RATE_PER_ADDRESS="12",
        PERSONALIZE_REDIS_URL=f"redis://{servers['redis'].address}/4",
    )  # its own counters
    try:
        token, _ = await publish_link(bus, editor)
        await wait_recorded(servers, token, db=4)
        async with httpx.AsyncClient(base_url=editor.url, timeout=5) as http:
            answers = [(await http.get(f"/p/{token}")).status_code for _ in range(6)]
            assert 429 in answers and answers[0] == 200
            busy = await http.get(f"/p/{token}")
            assert busy.status_code == 429 and busy.headers["retry-after"] == "60"
            assert "Too many requests" in busy.text and busy.headers["referrer-policy"] == "no-referrer"
            # Other links from the same address: the address's own limit stops them too (unknown tokens count).
            others = await asyncio.gather(*(http.get(f"/p/{new_token()}") for _ in range(12)))
            assert {a.status_code for a in others} == {404, 429}
            assert (await http.get("/static/editor.js")).status_code == 200  # only link routes are limited
    finally:
        assert await asyncio.to_thread(editor.service.stop) == 0, editor.service.log_tail()
