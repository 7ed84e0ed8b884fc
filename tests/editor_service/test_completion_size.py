"""What a completion may weigh, checked when the customer submits: the editor's app in this process, with the
in-memory store and a fake broker, so the replay needs no server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from editor_service.app import make_app
from editor_service.assets import AssetStore
from editor_service.completion import COMPLETION_MAX_BYTES
from editor_service.decoding import ImageChecks
from editor_service.deps import Editor
from editor_service.forms import DEFAULT_TEXT_MAX
from editor_service.memory import MemoryEditorStore
from editor_service.security import form_token
from editor_service.settings import EditorSettings
from plumbing.links import new_token, token_hash
from schemas import PersonalizationCompleted, RequestedItem, Template, TemplateField
from tests.editor_service.conftest import SECRET, link_event, png
from tests.editor_service.fakes import FakeBroker

# Text fields with no `max_length`, as a merchant's own template may have them.
UNBOUNDED = Template(
    id="engraving",
    title="Engraving",
    fields=[TemplateField(name=f"line{i}", type="text") for i in range(14)]
    + [TemplateField(name="photo", type="image")],
)
LINES = [RequestedItem(line_id=f"L{n}", title=f"Ring {n}", quantity=1, template=UNBOUNDED) for n in range(10)]


@pytest.fixture
def broker() -> FakeBroker:
    return FakeBroker()


@pytest.fixture
def store() -> MemoryEditorStore:
    return MemoryEditorStore()


@pytest.fixture
async def http(store, broker, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = EditorSettings(editor_secret=SECRET, assets_dir=tmp_path / "assets")
    images = ImageChecks(max_bytes=settings.editor_upload_max_bytes, max_pixels=10**6, decodes=1)
    editor = Editor(store, broker, AssetStore(settings.assets_dir, settings.asset_retention), images, settings, now)
    transport = httpx.ASGITransport(app=make_app(editor))
    async with httpx.AsyncClient(transport=transport, base_url="http://editor") as client:
        yield client
    await images.close()


def now() -> datetime:
    return datetime.now(UTC)


async def link(store: MemoryEditorStore) -> tuple[str, str, str]:
    """A live link of `LINES`: its path, order key and form token."""
    token = new_token()
    _, event = link_event("http://editor", token=token, items=LINES, buyer_text=None)
    await store.record_link(event, token_hash(token))
    return f"/p/{token}", event.order_key, form_token(SECRET.encode(), token_hash(token))


async def test_oversized_completions_are_refused_on_the_form_before_the_thank_you(store, broker, http, tmp_path):
    path, order_key, csrf = await link(store)
    # Every field at its limit in four-byte characters: 140 × 2000 bytes, over the completion's budget.
    texts = {f"{line.line_id}:line{i}": "🎁" * DEFAULT_TEXT_MAX for line in LINES for i in range(14)}
    answer = await http.post(
        path, data={"csrf": csrf, "action": "complete", **texts}, files={"L0:photo": ("a.png", png(), "image/png")}
    )
    assert answer.status_code == 422 and "Thank you" not in answer.text
    assert "too long to send to the shop" in answer.text and "Please choose this image again." in answer.text
    assert answer.text.count(f'value="{"🎁" * DEFAULT_TEXT_MAX}"') == len(texts)  # nothing the customer typed is lost
    assert await store.completions.held(order_key) is None and broker.acknowledged == []
    assert list((tmp_path / "assets").iterdir()) == []  # the stored photo went again
    # Shortened, the same form goes through, and what was claimed can be published.
    short = dict.fromkeys(texts, "Ada")
    done = await http.post(path, data={"csrf": csrf, "action": "complete", **short})
    assert done.status_code == 200 and "Thank you" in done.text
    (completion,) = broker.acknowledged
    assert isinstance(completion, PersonalizationCompleted)
    assert len(completion.model_dump_json().encode()) < COMPLETION_MAX_BYTES


async def test_a_text_field_without_max_length_gets_the_default_limit(store, http):
    path, order_key, csrf = await link(store)
    page = await http.get(path)
    assert 'name="L0:line0" value=""' in page.text and f'maxlength="{DEFAULT_TEXT_MAX}"' in page.text
    assert f"Up to {DEFAULT_TEXT_MAX} characters." in page.text
    over = await http.post(path, data={"csrf": csrf, "action": "complete", "L0:line0": "x" * (DEFAULT_TEXT_MAX + 1)})
    assert over.status_code == 422 and f"At most {DEFAULT_TEXT_MAX} characters" in over.text
    assert await store.completions.held(order_key) is None
