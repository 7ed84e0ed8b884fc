"""`personalize editor` (a real process on a broker and Redis of its own) under hostile requests.

The links come from events, as the notifier publishes them, some with hostile
item titles and checkout text (platform data is input too). Then requests
with script injection in every text field, 1 MB strings, odd Unicode (direction
overrides, zero-width characters, NUL, lone surrogates and invalid UTF-8
through form encoding), forged content types, images that are not what they
say (decompression bombs, truncated, SVG with script, HTML), path-like file
names (`../../etc/passwd`), oversize and chunked bodies. Properties:

- never a 5xx; the answer is one the routes document (200, 204, 303, 307,
  400, 403, 404, 405, 409, 410, 413, 422), a redirect never leaves the site;
- no injected markup comes back unescaped, in the page, the re-rendered form,
  a saved draft or the thank-you page;
- nothing is written outside the assets folder, and what is written there has
  a random name of ours, never the client's.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import os
import re
import secrets
import struct
import zlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from devstack.embedded import free_port, start_broker, start_redis
from editor_service.security import form_token
from plumbing.links import link_url, new_token, token_hash
from schemas import PersonalizationLinkIssued, RequestedItem
from tests.builders import load_test_config
from tests.editor_service.conftest import running
from tests.fuzzing.strategies import CASES, ODD, budget, odd_text, text
from tests.support import ServiceProcess, event_bus, send, unique_id

pytestmark = pytest.mark.integration

SECRET = "fuzz-editor-secret-" + "s" * 30
TEMPLATE = load_test_config().template("name-mug")  # name (text, ≤ 20, required), photo (image), motif (clipart)
UPLOAD_MAX = 1024 * 1024  # so a request over 2 MiB is refused
ANSWERS = {200, 204, 303, 307, 400, 403, 404, 405, 409, 410, 413, 422}
LINKS = 48
FORM_LINKS = LINKS - 16  # the last 16 are kept fresh for the image cases
ROTATION = itertools.count()
PAYLOADS = [
    '<script>alert("{m}")</script>',
    '"><img src=x onerror=alert("{m}")>',
    "'><svg onload=alert('{m}')>",
    "</textarea></title><b>{m}</b>",
    '<a href="javascript:alert({m})">x</a>',
    "<!--{m}--><iframe>",
]


def payload(marker: str, template: str) -> str:
    return template.format(m=marker)


markup = st.builds(payload, st.uuids().map(lambda u: u.hex[:8]), st.sampled_from(PAYLOADS))
# Short enough for the name field (20 characters), so a submission can complete and show it on the thank-you page.
short_markup = st.builds(
    payload,
    st.uuids().map(lambda u: u.hex[:3]),
    st.sampled_from(["<b>{m}</b>", '"><svg onload={m}>', "<script>{m}</script>", "<i>{m}</i>"]),
)
hostile_text = st.one_of(
    markup,
    st.tuples(odd_text, markup, odd_text).map("".join),
    text,
    st.sampled_from(["a" * 20, "a" * 21, "\u202e" * 20, "\u200b", " ", "\t", "line\nbreak", "x" * 70_000]),
)


def png(width: int = 8, height: int = 8, mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height)).save(out, "PNG")
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A real 1×1 PNG whose header says width × height (CRC fixed): a bomb by its header alone."""
    data = bytearray(png(1, 1))
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr) & 0xFFFFFFFF)
    return bytes(data)


def image_of(kind: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), "teal").save(out, kind)
    return out.getvalue()


IMAGES = {
    "png": png(),
    "jpeg": image_of("JPEG"),
    "webp": image_of("WEBP"),
    "gif": image_of("GIF"),
    "bmp": image_of("BMP"),
    "bomb-header": png_claiming(100_000, 100_000),
    "bomb-real": png(9000, 9000, "1"),  # 81 Mpx, a few KB compressed: over the 24 Mpx budget
    "zero-size": png_claiming(0, 0),
    "truncated": png()[:40],
    "svg-script": b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>',
    "html": b"<html><script>alert(document.cookie)</script></html>",
    "polyglot": png() + b"<script>alert(1)</script>",
    "empty": b"",
}
FILENAMES = [
    "../../etc/passwd",
    "../escape.png",
    "/tmp/absolute.png",
    "..\\..\\windows.png",
    "a\x00b.png",
    "photo.png",
    "\u202egnp.exe",
    "CON",
    "",
    ".",
    "..",
    "x" * 300 + ".png",
    "%2e%2e%2fpasswd",
]
CONTENT_TYPES = [
    "image/png",
    "image/jpeg",
    "text/html",
    "image/svg+xml",
    "application/octet-stream",
    "image/png; name=../../x",
    "",
    "multipart/mixed",
]


def hostile_items(n: int) -> list[RequestedItem]:
    """Platform data can be hostile too: titles, line ids and checkout text with markup."""
    # (Not `"`: browsers send it as %22 in a multipart field name and nothing decodes it back.)
    line = f"L'><b>{n}</b>" if n % 3 == 0 else f"L{n}"
    return [
        RequestedItem(
            line_id=line,
            title=payload(f"t{n}", PAYLOADS[n % len(PAYLOADS)]) + ODD[n % len(ODD)],
            quantity=1,
            template=TEMPLATE,
            buyer_personalization=payload(f"b{n}", PAYLOADS[(n + 1) % len(PAYLOADS)]),
        )
    ]


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    folder = tmp_path_factory.mktemp("fuzz-editor")
    broker, redis = start_broker(folder), start_redis(folder)
    yield {"folder": folder, "broker": broker, "redis": redis, "assets": folder / "assets" / "inside"}
    broker.stop()
    redis.stop()


@pytest.fixture(scope="module")
async def editor(state: dict) -> AsyncIterator[dict]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    service = ServiceProcess(
        ["editor", "--port", str(port)],
        {
            "PERSONALIZE_KAFKA_BOOTSTRAP": state["broker"].address,
            "PERSONALIZE_REDIS_URL": f"redis://{state['redis'].address}/0",
            "PERSONALIZE_EDITOR_SECRET": SECRET,
            "PERSONALIZE_ASSETS_DIR": str(state["assets"]),
            "PERSONALIZE_EDITOR_GROUP": f"editor-{unique_id()}",
            "PERSONALIZE_EDITOR_RATE_PER_TOKEN": "1000000",
            "PERSONALIZE_EDITOR_RATE_PER_ADDRESS": "1000000",
            "PERSONALIZE_EDITOR_UPLOAD_MAX_BYTES": str(UPLOAD_MAX),
            "PERSONALIZE_KAFKA_SESSION_TIMEOUT_MS": "3000",
            "PERSONALIZE_TOPIC_PARTITIONS": "4",
        },
        state["folder"] / "editor.log",
    )
    service.start()
    async with event_bus(state["broker"].address) as bus:
        tokens = []
        now = datetime.now(UTC)
        for n in range(LINKS):
            token = new_token()
            await send(
                bus["producer"],
                PersonalizationLinkIssued(
                    order_key=f"woocommerce:shop-manual:fuzz-{n}-{unique_id()}",
                    link_id=secrets.token_hex(8),
                    url=link_url(url, token),
                    expires_at=now + timedelta(days=7),
                    sequence=1,
                    merchant_email="m@example.com",
                    store_id="shop-manual",
                    platform="woocommerce",
                    order_number=f"{n}<i>{n}</i>\u202e",
                    items=hostile_items(n),
                ),
            )
            tokens.append(token)
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            for token in (tokens[0], tokens[-1]):
                for _ in range(300):
                    assert running(service), service.log_tail()
                    try:
                        if (await http.get(f"/p/{token}")).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(0.1)
                else:
                    raise AssertionError(f"the editor did not record the links:\n{service.log_tail()}")
            yield {"http": http, "tokens": tokens, "service": service, "url": url}
    assert await asyncio.to_thread(service.stop) == 0, service.log_tail()


def csrf(token: str) -> str:
    return form_token(SECRET.encode(), token_hash(token))


# What the payloads above would look like unescaped; the pages themselves contain none of it.
INJECTED = re.compile(r"<script>|<img src=x|<svg onload|<iframe>|<a href=\"javascript:|<b>\w*</b>|<i>\w+</i>")


def check_answer(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text[:500]
    assert response.status_code in ANSWERS, (response.status_code, response.text[:300])
    if response.is_redirect:  # a draft saved (303), a trailing slash (307): never to another site
        target = httpx.URL(response.headers["location"])
        assert target.host in ("", "127.0.0.1") and not response.headers["location"].startswith("//"), target
    found = INJECTED.search(response.text)
    assert found is None, f"unescaped markup {found.group(0)!r} in a {response.status_code} answer"


# --- the link page ------------------------------------------------------------------------------------------


async def test_every_link_page_shows_hostile_platform_text_escaped(editor):
    for token in editor["tokens"][:12]:
        CASES["editor: link pages with hostile platform text"] += 1
        response = await editor["http"].get(f"/p/{token}")
        assert response.status_code in (200, 409, 410)
        check_answer(response)
        if response.status_code == 200:
            assert "&lt;" in response.text  # the markup is there, as text


@given(
    token=st.one_of(
        text,
        odd_text,
        st.sampled_from(
            ["..", "../../etc/passwd", "%2e%2e%2f", "a" * 200, "A" * 43, "<script>", "\x00", "?x=1", "#", ";"]
        ),
    ),
    method=st.sampled_from(["GET", "POST"]),
    suffix=st.sampled_from(["", "/draft", "/", "/../../etc/passwd"]),
)
@budget(40)
async def test_hostile_tokens_in_the_path_are_404_never_5xx(editor, token, method, suffix):
    CASES["editor: hostile tokens in the path"] += 1
    path = "/p/" + quote(token, safe="") + suffix
    response = await editor["http"].request(
        method, path, content=b"csrf=x", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    check_answer(response)
    assert response.status_code != 200 or token == ""


# --- form submissions -----------------------------------------------------------------------------------------


@st.composite
def submissions(draw: st.DrawFn, tokens: list[str]) -> tuple[str, dict, dict]:
    index = next(ROTATION) % FORM_LINKS  # each example on the next link, so many can complete
    token, line = tokens[index], hostile_items(index)[0].line_id
    name = draw(
        st.one_of(short_markup, short_markup, st.tuples(st.sampled_from(ODD), short_markup).map("".join), hostile_text)
    )
    valid_motif = st.sampled_from(["heart", "star", ""])
    motif = draw(st.one_of(valid_motif, valid_motif, valid_motif, hostile_text))
    data = {f"{line}:name": name, f"{line}:motif": motif, "csrf": draw(st.sampled_from([csrf(token)] * 9 + [name]))}
    action = draw(st.sampled_from(["complete", "complete", "draft"]))
    if action == "draft":
        data["action"] = "draft"
    for _ in range(draw(st.integers(0, 2))):
        data[draw(text)] = draw(hostile_text)
    files = {}
    if draw(st.booleans()):
        valid = st.sampled_from([IMAGES["png"], IMAGES["jpeg"], IMAGES["webp"], IMAGES["polyglot"]])
        blob = draw(st.one_of(valid, valid, st.sampled_from(list(IMAGES.values())), st.binary(max_size=300)))
        files[f"{line}:photo"] = (draw(st.sampled_from(FILENAMES)), blob, draw(st.sampled_from(CONTENT_TYPES)))
    return token, data, files


@given(data=st.data())
@budget(70)
async def test_hostile_form_submissions_are_answered_escaped_and_never_5xx(editor, data):
    CASES["editor: hostile form submissions (multipart)"] += 1
    token, form, files = data.draw(submissions(editor["tokens"]), "submission")
    form = {k: v for k, v in form.items() if "\x00" not in k}  # httpx refuses a NUL in a part's name
    try:
        response = await editor["http"].post(f"/p/{token}", data=form, files=files or None)
    except (httpx.InvalidURL, UnicodeEncodeError, ValueError):
        return  # a client cannot send it (a lone surrogate in a field name): nothing reached the editor
    check_answer(response)
    if response.status_code == 303:
        check_answer(await editor["http"].get(f"/p/{token}"))  # the saved draft, rendered back


def urlencoded(pairs: list[tuple[bytes, bytes]]) -> bytes:
    return b"&".join(quote(k, safe="").encode() + b"=" + quote(v, safe="").encode() for k, v in pairs)


RAW_FORM_BYTES = [
    b"%ED%A0%80",
    b"%ED%BF%BF",
    b"%FF%FE",
    b"%C0%AF",
    b"%00",
    b"%E2%80%AE",
    b"%",
    b"%zz",
    b"&&&",
    b"=",
    b"+",
    b"%F4%90%80%80",
]


@given(data=st.data())
@budget(50)
async def test_drafts_with_odd_unicode_and_invalid_utf8_are_saved_and_shown_escaped(editor, data):
    CASES["editor: drafts with odd Unicode through form encoding"] += 1
    index = data.draw(st.integers(0, len(editor["tokens"]) - 1), "link")
    token, line = editor["tokens"][index], hostile_items(index)[0].line_id
    value = data.draw(hostile_text, "value")
    raw = urlencoded([(f"{line}:name".encode(), value.encode("utf-8", "surrogatepass"))])
    raw += (
        b"&"
        + quote(f"{line}:motif", safe="").encode()
        + b"="
        + b"".join(data.draw(st.lists(st.sampled_from(RAW_FORM_BYTES), max_size=4), "raw bytes"))
    )
    headers = {
        "content-type": data.draw(
            st.sampled_from(
                [
                    "application/x-www-form-urlencoded",
                    "application/x-www-form-urlencoded; charset=latin-1",
                    "application/x-www-form-urlencoded; charset=utf-16",
                ]
            )
        ),
        "x-csrf-token": csrf(token),
    }
    response = await editor["http"].post(f"/p/{token}/draft", content=raw, headers=headers)
    check_answer(response)
    check_answer(await editor["http"].get(f"/p/{token}"))


@given(
    content_type=st.one_of(
        st.sampled_from(
            [
                "multipart/form-data",
                "multipart/form-data; boundary=",
                "multipart/form-data; boundary=" + "b" * 2000,
                "multipart/form-data; boundary=x",
                "application/json",
                "text/plain",
                "image/png",
                "",
                "application/x-www-form-urlencoded",
                'multipart/form-data; boundary="unterminated',
                "multipart/form-data; charset=utf-7; boundary=x",
            ]
        ),
        st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60),
    ),
    body=st.one_of(
        st.binary(max_size=2000),
        st.sampled_from(
            [
                b'--x\r\nContent-Disposition: form-data; name="csrf"\r\n\r\nabc\r\n--x--\r\n',
                b'--x\r\nContent-Disposition: form-data; name="L1:photo"; filename="../../etc/passwd"\r\n'
                b"Content-Type: image/png\r\n\r\n" + IMAGES["png"] + b"\r\n--x--\r\n",
                b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n' + b"y" * 70_000 + b"\r\n--x--\r\n",
                b"--x\r\n" * 500,
                b'{"csrf": "x"}',
            ]
        ),
    ),
    draft=st.booleans(),
)
@budget(40)
async def test_forged_content_types_and_broken_bodies_never_5xx(editor, content_type, body, draft):
    CASES["editor: forged request content types and broken bodies"] += 1
    token = editor["tokens"][-1]
    headers = {"content-type": content_type, "x-csrf-token": csrf(token)}
    response = await editor["http"].post(f"/p/{token}" + ("/draft" if draft else ""), content=body, headers=headers)
    check_answer(response)


@pytest.mark.parametrize("index, name", [(32, "<script>x</script>"), (33, '\u202e"><svg onload=1>')])
async def test_a_completion_with_markup_shows_it_escaped_on_the_thank_you_page(editor, index, name):
    token, line = editor["tokens"][index], hostile_items(index)[0].line_id
    response = await editor["http"].post(
        f"/p/{token}",
        data={"csrf": csrf(token), f"{line}:name": name, f"{line}:motif": "star"},
        files={f"{line}:photo": ("../../etc/passwd", IMAGES["png"], "text/html")},
    )
    CASES["editor: completions with markup (thank-you page)"] += 1
    check_answer(response)
    assert response.status_code == 200 and "&lt;" in response.text
    check_answer(await editor["http"].get(f"/p/{token}"))  # "already personalized" from now on


# --- sizes and images, case by case --------------------------------------------------------------------------


async def test_oversize_bodies_are_refused_with_413(editor):
    token, line = editor["tokens"][1], hostile_items(1)[0].line_id
    port = int(editor["url"].rsplit(":", 1)[1])
    multipart = "multipart/form-data; boundary=x"
    field = (
        b'--x\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n'
        + csrf(token).encode()
        + b'\r\n--x\r\nContent-Disposition: form-data; name="'
        + quote(f"{line}:name").encode()
        + b'"\r\n\r\n'
    )
    image = [
        field
        + b'Ada\r\n--x\r\nContent-Disposition: form-data; name="'
        + quote(f"{line}:photo").encode()
        + b'"; filename="a.png"\r\n\r\n\x89PNG',
        *[b"0" * 65536] * 48,
        b"\r\n--x--\r\n",
    ]
    cases = {
        "a 1 MB text field (parts: 64 KiB)": (
            f"/p/{token}",
            multipart,
            [field + b"x" * (1024 * 1024) + b"\r\n--x--\r\n"],
            None,
        ),
        "a 1 MB draft (drafts: 64 KiB)": (
            f"/p/{token}/draft",
            "application/x-www-form-urlencoded",
            [b"a=" + b"x" * (1024 * 1024)],
            None,
        ),
        "Content-Length of 10 GiB": (f"/p/{token}", multipart, [b"x" * 10], 10 * 1024**3),
        "a chunked 3 MiB image (no length)": (f"/p/{token}", multipart, image, None),
        "a 3 MiB image": (f"/p/{token}", multipart, image, sum(map(len, image))),
    }
    for name, (path, content_type, chunks, length) in cases.items():
        CASES["editor: oversize bodies"] += 1
        status = await raw_post(port, path, content_type, chunks, length, headers={"x-csrf-token": csrf(token)})
        assert status == 413, f"{name}: {status}"


async def raw_post(
    port: int, path: str, content_type: str, chunks: list[bytes], length: int | None, headers: dict[str, str]
) -> int:
    """The status of a POST whose body the server may refuse before it is all sent (then it closes the connection)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    head = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1",
        f"Content-Type: {content_type}",
        framing,
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    if length is None and len(chunks) == 1:  # one piece: send it with its length, as a browser does
        head[3] = f"Content-Length: {len(chunks[0])}"
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode())

    async def body() -> None:
        try:
            for chunk in chunks:
                writer.write(chunk if length is not None or len(chunks) == 1 else b"%x\r\n%s\r\n" % (len(chunk), chunk))
                await writer.drain()
            if length is None and len(chunks) > 1:
                writer.write(b"0\r\n\r\n")
                await writer.drain()
        except ConnectionError:
            pass  # refused mid-body: the answer is already on its way

    sending = asyncio.create_task(body())
    try:
        status_line = await asyncio.wait_for(reader.readline(), 30)
        return int(status_line.split()[1])
    except ConnectionError:
        # The server answered and closed with our body still arriving: the reset can overtake its answer.
        # Refused before reading it all is what matters; the log check at the end rules out a 500.
        return 413
    finally:
        sending.cancel()
        await asyncio.gather(sending, return_exceptions=True)
        writer.close()


@pytest.mark.parametrize("kind", sorted(IMAGES))
async def test_each_image_kind_is_stored_under_our_name_or_refused_next_to_its_field(editor, kind, state):
    index = LINKS - 2 - sorted(IMAGES).index(kind)  # a fresh link per image: a completion is once per order
    token, line = editor["tokens"][index], hostile_items(index)[0].line_id
    before = set(state["assets"].glob("*")) if state["assets"].exists() else set()
    response = await editor["http"].post(
        f"/p/{token}",
        data={"csrf": csrf(token), f"{line}:name": "Ada", f"{line}:motif": "heart"},
        files={f"{line}:photo": ("../../etc/passwd", IMAGES[kind], "text/html")},
    )
    CASES["editor: image kinds (bombs, forged types, polyglots)"] += 1
    check_answer(response)
    stored = set(state["assets"].glob("*")) - before
    if kind in ("png", "jpeg", "webp", "polyglot"):
        assert response.status_code == 200, response.text[:300]
        (path,) = stored
        kept = path.read_bytes()  # re-encoded: the pixels, not what hid after them
        assert re.fullmatch(r"[0-9a-f]{32}\.(png|jpg|webp)", path.name) and b"<script>" not in kept
        assert Image.open(io.BytesIO(kept)).size == Image.open(io.BytesIO(IMAGES[kind])).size
    elif kind == "empty":
        assert response.status_code == 200 and not stored  # an empty file input is "no image" (it is optional)
    else:
        assert response.status_code == 422 and not stored, (response.status_code, stored)
        assert "too many pixels" in response.text or "JPEG, PNG or WebP" in response.text


def test_nothing_was_written_outside_the_assets_folder(state, editor):
    """Runs after the others in this module: every file the editor wrote is one of ours, in the assets folder."""
    assets = state["assets"]
    for path in assets.iterdir() if assets.exists() else []:
        assert re.fullmatch(r"[0-9a-f]{32}\.(png|jpg|webp)", path.name), path.name
    known = {"broker.log", "redis.log", "editor.log", "appendonly.aof", "dump.rdb"}
    for root, _dirs, files in os.walk(state["folder"]):
        if Path(root) == assets or Path(root).is_relative_to(state["folder"] / "redis"):
            continue
        for name in files:
            assert name in known or name.endswith(".log"), f"unexpected file {Path(root) / name}"
    log = editor["service"].log_path.read_text(errors="replace")
    assert "Exception in ASGI application" not in log and "Traceback" not in log, editor["service"].log_tail()
    assert not Path("/tmp/absolute.png").exists() or Path("/tmp/absolute.png").stat().st_mtime < _started_at
    assert not any(Path(root).name == "etc" for root, _, _ in os.walk(state["folder"]))


_started_at = datetime.now().timestamp()
