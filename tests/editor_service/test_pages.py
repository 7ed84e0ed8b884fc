"""`personalize editor` as a real process, driven over HTTP and through the topics: the link's pages and one completion."""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from PIL import Image

from plumbing.links import new_token
from schemas import OrderStatus, PersonalizationCompleted, PersonalizationLinkIssued, RequestedItem
from tests.editor_service.conftest import TEMPLATE, Editor, png, publish_link, set_status, wait_known

MUG_AND_POSTER = [
    RequestedItem(line_id="L1", title="Name mug", quantity=2, template=TEMPLATE, buyer_personalization="Ada"),
    RequestedItem(line_id="L3", title="Second mug", quantity=1, template=TEMPLATE),
]


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', html)
    assert found, html
    return found.group(1)


def valid_form(csrf: str, name: str = "Grace", motif: str = "star", line: str = "L1") -> dict[str, str]:
    return {"csrf": csrf, f"{line}:name": name, f"{line}:motif": motif, "action": "complete"}


def completions(bus: dict, order_key: str) -> list[PersonalizationCompleted]:
    return bus["recorder"].events(order_key, PersonalizationCompleted)


async def opened(bus: dict, editor: Editor, **kwargs: Any) -> tuple[str, PersonalizationLinkIssued, str]:
    """Publish a link, wait until the editor shows it, return (path, event, csrf)."""
    token, event = await publish_link(bus, editor, **kwargs)
    page = await wait_known(editor.link(token))
    assert page.status_code == 200, page.text
    return urlsplit(editor.link(token)).path, event, csrf_of(page.text)


async def test_the_link_shows_one_section_per_line_built_from_its_template(bus, editor, http):
    path, event, _ = await opened(bus, editor, items=MUG_AND_POSTER)
    html = (await http.get(path)).text
    assert html.count('<section class="item"') == 2
    assert "Name mug" in html and "Second mug" in html and "Quantity: 2" in html and "Quantity: 1" in html
    assert re.search(
        r'<input type="text" id="f1-name" name="L1:name" value="Ada"[^>]*maxlength="20"[^>]* required', html
    )
    assert 'name="L3:name" value=""' in html  # no checkout text for the second line
    assert 'type="file" id="f1-photo" name="L1:photo" accept="image/jpeg,image/png,image/webp"' in html
    assert 'type="radio" name="L1:motif" value="heart"' in html and 'value="star"' in html
    assert '<label for="f1-name">' in html and '<label for="f1-photo">' in html and "<legend>" in html
    assert "manual@example.com" not in html and "14.50" not in html and event.link_id not in html
    assert "<script>" not in html.replace('<script src="/static/editor.js" defer></script>', "")


async def test_a_completion_publishes_exactly_one_event_with_its_stored_image(bus, editor, http):
    path, event, csrf = await opened(bus, editor)
    image = png()
    done = await http.post(
        path, data=valid_form(csrf), files={"L1:photo": ("../../etc/passwd.png", image, "image/png")}
    )
    assert done.status_code == 200, done.text
    assert "<dialog open" in done.text and "Thank you!" in done.text and ">Close</button>" in done.text
    await bus["recorder"].wait_for(event.order_key, lambda es: any(isinstance(e, PersonalizationCompleted) for e in es))
    (completion,) = completions(bus, event.order_key)
    (item,) = completion.items
    assert item.line_id == "L1" and item.fields["name"] == "Grace" and item.fields["motif"] == "star"
    (asset,) = item.assets
    stored = Path(urlsplit(asset.uri).path)
    assert item.fields["photo"] == asset.uri and asset.media_type == "image/png" and asset.field == "photo"
    assets_dir = await asyncio.to_thread(Path(editor.service.env["PERSONALIZE_ASSETS_DIR"]).resolve)
    kept = await asyncio.to_thread(stored.read_bytes)  # re-encoded: its pixels, none of what it might hide
    assert Image.open(io.BytesIO(kept)).size == Image.open(io.BytesIO(image)).size
    file_mode, folder_mode = [stat.S_IMODE((await asyncio.to_thread(p.stat)).st_mode) for p in (stored, assets_dir)]
    assert asset.sha256 == hashlib.sha256(kept).hexdigest() and (file_mode, folder_mode) == (0o600, 0o700)
    assert stored.parent == assets_dir
    assert "passwd" not in asset.uri and re.fullmatch(r"[0-9a-f]{32}\.png", stored.name)

    again = await http.post(path, data=valid_form(csrf, name="Other"))
    assert again.status_code == 409 and "already been personalized" in again.text
    reopened = await http.get(path)
    assert reopened.status_code == 200 and "already been personalized" in reopened.text
    await asyncio.sleep(1.0)
    assert len(completions(bus, event.order_key)) == 1


async def test_concurrent_submissions_complete_once(bus, editor, http):
    path, event, csrf = await opened(bus, editor)
    answers = await asyncio.gather(*(http.post(path, data=valid_form(csrf, name=f"Tab {n}")) for n in range(6)))
    assert sorted(a.status_code for a in answers) == [200] + [409] * 5
    await bus["recorder"].wait_for(event.order_key, lambda es: any(isinstance(e, PersonalizationCompleted) for e in es))
    await asyncio.sleep(1.0)
    assert len(completions(bus, event.order_key)) == 1


async def test_an_expired_link_says_so_and_an_unknown_one_says_nothing(bus, editor, http):
    token, _ = await publish_link(bus, editor, expires_in=timedelta(seconds=-1))
    expired = await wait_known(editor.link(token), status=410)
    assert expired.status_code == 410 and "This link has expired" in expired.text
    assert "will receive a new" in expired.text
    for unknown in (new_token(), "not-a-token", "..%2F..%2Fetc%2Fpasswd"):
        missing = await http.get(f"/p/{unknown}")
        assert missing.status_code == 404 and "There is nothing here." in missing.text
        assert unknown not in missing.text and "order" not in missing.text.lower()
    assert (await http.post(f"/p/{new_token()}", data={"csrf": "0" * 64})).status_code == 404


async def test_a_cancelled_order_can_no_longer_be_personalized(bus, editor, http):
    path, event, csrf = await opened(bus, editor)
    await set_status(bus, event.order_key, OrderStatus.CANCELLED)
    closed = await wait_known(editor.url + path, status=410)
    assert "can no longer be personalized" in closed.text
    refused = await http.post(path, data=valid_form(csrf))
    assert refused.status_code == 410 and completions(bus, event.order_key) == []


async def test_statuses_apply_in_occurred_at_order(bus, editor, http):
    path, event, _ = await opened(bus, editor)
    now = datetime.now(UTC)
    await set_status(bus, event.order_key, OrderStatus.IN_FULFILLMENT, at=now)
    await set_status(bus, event.order_key, OrderStatus.PENDING_PERSONALIZATION, at=now - timedelta(seconds=5))
    closed = await wait_known(editor.url + path, status=410)
    await asyncio.sleep(0.5)  # the older event is consumed by now, and changed nothing
    assert (await http.get(path)).status_code == 410 and "can no longer" in closed.text


async def test_validation_errors_show_next_to_the_field_and_keep_the_input(bus, editor, http):
    path, event, csrf = await opened(bus, editor)
    answer = await http.post(
        path,
        data=valid_form(csrf, name="<script>x</script>", motif="dragon"),
        files={"L1:photo": ("cat.png", b"this is not a picture", "image/png")},
    )
    assert answer.status_code == 422
    html = answer.text
    assert 'value="&lt;script&gt;x&lt;/script&gt;"' in html and "<script>x" not in html
    assert re.search(r'id="f1-motif-error">Please choose one of the options shown', html)
    assert re.search(r'id="f1-photo-error">Please choose a JPEG, PNG or WebP image', html)
    too_long = await http.post(path, data=valid_form(csrf, name="x" * 21))
    assert too_long.status_code == 422 and "At most 20 characters" in too_long.text
    assert 'value="xxxxxxxxxxxxxxxxxxxxx"' in too_long.text and 'aria-invalid="true"' in too_long.text
    missing = await http.post(path, data=valid_form(csrf, name="  "))
    assert missing.status_code == 422 and "Please fill this in." in missing.text
    await asyncio.sleep(0.5)
    assert completions(bus, event.order_key) == []


async def test_hostile_uploads_and_oversized_input_are_refused(bus, editor, http):
    path, event, csrf = await opened(bus, editor)
    huge = await http.post(path, data=valid_form(csrf, name="A" * 1_000_000))
    assert huge.status_code == 413
    huge_multipart = await http.post(
        path, data=valid_form(csrf, name="A" * 1_000_000), files={"L1:photo": ("a.png", png(), "image/png")}
    )
    assert huge_multipart.status_code == 413
    bomb = await http.post(path, data=valid_form(csrf), files={"L1:photo": ("bomb.png", bomb_png(), "image/png")})
    assert bomb.status_code == 422 and "too many pixels" in bomb.text
    gif = await http.post(path, data=valid_form(csrf), files={"L1:photo": ("a.png", png(kind="GIF"), "image/png")})
    assert gif.status_code == 422 and "JPEG, PNG or WebP" in gif.text
    truncated = await http.post(path, data=valid_form(csrf), files={"L1:photo": ("a.png", png()[:60], "image/png")})
    assert truncated.status_code == 422
    declared = await raw_post(editor.port, path, [b"Content-Length: 100000000"], [b"x" * 1000])
    assert declared.startswith("HTTP/1.1 413")  # answered from the header, without reading the 100 MB
    part = (
        b'--b\r\nContent-Disposition: form-data; name="L1:photo"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n'
    )
    chunks = [b"%x\r\n%s\r\n" % (len(part), part)] + [b"100000\r\n" + b"\0" * 2**20 + b"\r\n"] * 9
    chunked = await raw_post(
        editor.port, path, [b"Transfer-Encoding: chunked"], chunks, content_type=b"multipart/form-data; boundary=b"
    )
    assert chunked.startswith("HTTP/1.1 413")  # answered once the streamed body passed 9 MiB, never ended
    await asyncio.sleep(0.5)
    assert completions(bus, event.order_key) == []
    webp = await http.post(path, data=valid_form(csrf), files={"L1:photo": ("x.gif", png(kind="WEBP"), "text/plain")})
    assert webp.status_code == 200
    await bus["recorder"].wait_for(event.order_key, lambda es: any(isinstance(e, PersonalizationCompleted) for e in es))
    assert completions(bus, event.order_key)[0].items[0].assets[0].media_type == "image/webp"


async def raw_post(
    port: int,
    path: str,
    headers: list[bytes],
    body: list[bytes],
    content_type: bytes = b"application/x-www-form-urlencoded",
) -> str:
    """A POST written by hand, so a body can claim a size it does not send or stream past the limit; the answer's head."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"\r\n".join(
            [
                f"POST {path} HTTP/1.1".encode(),
                b"Host: 127.0.0.1",
                b"Connection: close",
                b"Content-Type: " + content_type,
                *headers,
            ]
        )
        + b"\r\n\r\n"
    )
    try:
        for part in body:
            writer.write(part)
            await writer.drain()
    except ConnectionError:
        pass  # the server may answer and close before all of it is written
    head = await reader.readuntil(b"\r\n\r\n")
    writer.close()
    return head.decode().lower().replace("http/1.1", "HTTP/1.1", 1)


def bomb_png() -> bytes:
    """144 megapixels of one colour: a few kilobytes on the wire, 144 MB once decoded."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(out, "PNG")
    return out.getvalue()


async def test_forms_without_a_valid_csrf_token_are_refused(bus, editor, http):
    path, event, _ = await opened(bus, editor)
    assert (await http.post(path, data={"L1:name": "Grace", "action": "complete"})).status_code == 403
    assert (await http.post(path, data=valid_form("0" * 64))).status_code == 403
    assert (await http.post(f"{path}/draft", data={"L1:name": "x"})).status_code == 403
    assert (
        await http.post(f"{path}/draft", data={"L1:name": "x"}, headers={"x-csrf-token": "f" * 64})
    ).status_code == 403
    _, _, other_csrf = await opened(bus, editor)
    assert (await http.post(path, data=valid_form(other_csrf))).status_code == 403  # signed for another link
    await asyncio.sleep(0.5)
    assert completions(bus, event.order_key) == []


async def test_drafts_survive_a_reload(bus, editor, http):
    path, _, csrf = await opened(bus, editor)
    saved = await http.post(
        f"{path}/draft",
        data={"L1:name": "Half typed", "L1:motif": "heart", "L1:other": "x"},
        headers={"x-csrf-token": csrf},
    )
    assert saved.status_code == 204
    html = (await http.get(path)).text
    assert 'value="Half typed"' in html and re.search(r'value="heart"[^>]* checked', html)
    button = await http.post(path, data={**valid_form(csrf, name="<b>Bold</b>"), "action": "draft"})
    assert button.status_code == 303 and button.headers["location"].endswith("?saved=1")
    html = (await http.get(button.headers["location"])).text
    assert "Draft saved." in html and 'value="&lt;b&gt;Bold&lt;/b&gt;"' in html


async def test_a_superseded_link_shows_the_newest_items_until_it_expires(bus, editor, http):
    token1, first = await publish_link(bus, editor)
    number = first.order_number
    token2, _ = await publish_link(bus, editor, number=number, sequence=2, items=MUG_AND_POSTER)
    await wait_known(editor.link(token2))
    html = (await http.get(urlsplit(editor.link(token1)).path)).text
    assert "Second mug" in html
    token0, _ = await publish_link(bus, editor, number=number, sequence=1, expires_in=timedelta(seconds=-1))
    assert (await wait_known(editor.link(token0), status=410)).status_code == 410
    path1, csrf = urlsplit(editor.link(token1)).path, csrf_of(html)
    done = await http.post(path1, data={**valid_form(csrf), "L3:name": "Lin", "L3:motif": "heart"})
    assert done.status_code == 200, done.text
    await bus["recorder"].wait_for(first.order_key, lambda es: any(isinstance(e, PersonalizationCompleted) for e in es))
    (completion,) = completions(bus, first.order_key)
    assert [i.line_id for i in completion.items] == ["L1", "L3"]


async def test_security_headers_are_on_every_answer(bus, editor, http):
    path, _, _ = await opened(bus, editor)
    too_large = await raw_post(editor.port, path, [b"Content-Length: 100000000"], [])
    heads = [dict(line.split(": ", 1) for line in too_large.splitlines()[1:] if line)]
    for answer in [
        await http.get(path),
        await http.get(f"/p/{new_token()}"),
        await http.get("/static/editor.js"),
        await http.get("/metrics"),  # not here, but on the ops port: the 404 carries them too
    ]:
        heads.append(answer.headers)
    for headers in heads:
        assert headers["referrer-policy"] == "no-referrer", headers
        assert headers["x-content-type-options"] == "nosniff"
        csp = headers["content-security-policy"]
        for directive in (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "frame-ancestors 'none'",
            "form-action 'self'",
            "base-uri 'none'",
            "img-src 'self' data: blob:",
        ):
            assert directive in csp
    assert (await http.get(path)).headers["cache-control"] == "no-store"
    assert "server" not in (await http.get(path)).headers


async def test_health_and_metrics_on_the_ops_port_only(editor, http):
    async with httpx.AsyncClient(base_url=editor.ops_url, timeout=10) as ops:
        assert (await ops.get("/health/ready")).text == "redis: ok, kafka: ok, consumer: ok"
        assert (await ops.get("/health")).status_code == 200  # liveness, kept under its old name
        metrics = (await ops.get("/metrics")).text
    assert "editor_pages_total" in metrics and "editor_completions_total" in metrics
    assert [(await http.get(path)).status_code for path in ("/health/ready", "/health", "/metrics")] == [404] * 3


async def test_the_token_never_reaches_the_log(bus, editor, http):
    token, _ = await publish_link(bus, editor)
    await wait_known(editor.link(token))
    await http.post(f"/p/{token}", data={"csrf": "bad"})
    assert token not in editor.service.log_path.read_text()
