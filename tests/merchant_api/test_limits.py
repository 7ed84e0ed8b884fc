"""The limits where a merchant's input enters the API: field limits answer 422, a body over 256 KiB 413 unread."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlsplit

from merchant_api.app import MAX_BODY_BYTES
from plumbing import limits
from tests.merchant_api.conftest import A, name

FIELDS = [{"name": "name", "type": "text", "max_length": 20}]


async def test_template_title_over_limit_is_refused(stack):
    """The finding: a 1.2 MB title was accepted (201) and copied into every request of the store."""
    finding = json.dumps({"title": "T" * 1_200_000, "fields": FIELDS}).encode()
    length = f"Content-Length: {len(finding)}".encode()
    status, _ = await raw_put(stack.url, "/templates/limits-title", stack.keys[name(A)], [length], [])
    assert status == 413  # over the body limit: refused from its header, before any of it is sent
    async with stack.client(A) as client:
        for title in ("T" * (limits.TITLE_MAX + 1), "T" * 200_000):  # within the body limit: the field's
            answer = await client.put("/templates/limits-title", json={"title": title, "fields": FIELDS})
            assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["body", "title"]
        choices = [{"name": "motif", "type": "clipart", "choices": [f"c{i}" for i in range(limits.CHOICES_MAX + 1)]}]
        answer = await client.put("/templates/limits-title", json={"title": "Mug", "fields": choices})
        assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["body", "fields", 0, "choices"]
        assert (await client.get("/templates/limits-title")).status_code == 404  # nothing was stored


async def test_merchant_email_comma_list_is_refused(stack):
    """The finding: `victim@example.com,postmaster` was accepted and the link emails went to both."""
    path = f"/stores/{name(A)}/settings"
    async with stack.client(A) as client:
        before = (await client.get(path)).json()
        for setting in ("merchant_email", "reply_to"):
            answer = await client.put(path, json={**before, setting: "victim@example.com,postmaster"})
            assert answer.status_code == 422, answer.text
            assert answer.json()["detail"][0]["loc"] == ["body", setting]
            assert "one email address" in answer.json()["detail"][0]["msg"]
        forged = await client.put(path, json={**before, "sender_name": "Shop\r\nBcc: attacker@example.net"})
        assert forged.status_code == 422
        assert (await client.get(path)).json() == before


async def test_catalog_entries_over_their_limits_are_refused(stack):
    async with stack.client(A) as client:
        path = f"/stores/{name(A)}/products"
        before = (await client.get(path)).json()
        answer = await client.put(path, json={"sku": "S" * (limits.PRODUCT_KEY_MAX + 1), "template": "name-mug"})
        assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["body", "sku"]
        draft = {"template": "name-mug", "title": "Mug", "price": "1.00", "draft": True, "options": {"k": "v" * 5000}}
        published = await client.post(f"/stores/{name(A)}/products/publish", json=draft)
        assert published.status_code == 422, published.text
        assert (await client.get(path)).json() == before


async def test_a_2mb_body_is_refused_without_being_read(stack):
    key = stack.keys[name(A)]
    path = f"/stores/{name(A)}/settings"
    # Declared: answered from the header, before the client sent any of its 2 MB.
    status, body = await raw_put(stack.url, path, key, [b"Content-Length: 2000000"], [])
    assert status == 413 and json.loads(body) == {
        "detail": f"request body over its maximum size of {MAX_BODY_BYTES} bytes"
    }
    # Streamed without a length: answered once 320 KiB of it arrived, the body never ended (a 2 MB one would
    # go on; sending no more than what the server reads keeps its answer from being lost to a reset).
    chunks = [b"%x\r\n%s\r\n" % (65536, b" " * 65536)] * 5
    status, body = await raw_put(stack.url, path, key, [b"Transfer-Encoding: chunked"], chunks)
    assert status == 413 and "maximum size" in json.loads(body)["detail"]


async def raw_put(url: str, path: str, key: str, framing: list[bytes], chunks: list[bytes]) -> tuple[int, bytes]:
    """The status and body of a PUT sent as `chunks` and never finished: the server answers or times out."""
    address = urlsplit(url)
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    head = [f"PUT {path} HTTP/1.1".encode(), b"Host: api", f"Authorization: Bearer {key}".encode()]
    writer.write(b"\r\n".join([*head, b"Content-Type: application/json", *framing]) + b"\r\n\r\n")

    for chunk in chunks:
        writer.write(chunk)
    await writer.drain()
    try:
        status_line = await asyncio.wait_for(reader.readline(), 15)
        headers = {}
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name_, _, value = line.decode().partition(":")
            headers[name_.strip().lower()] = value.strip()
        answer = await reader.readexactly(int(headers["content-length"]))
        assert headers.get("connection") == "close"
        return int(status_line.split()[1]), answer
    finally:
        writer.close()
