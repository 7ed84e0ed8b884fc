"""The editor's pure parts, without a broker: settings, form checks, image checks, link states, tokens."""

from __future__ import annotations

import base64
import hashlib
import io
from datetime import UTC, datetime
from typing import Any

import pytest
from PIL import Image

from editor_service.completion import completion_event
from editor_service.forms import check_values, draft_values, prefill, sections
from editor_service.images import ImageRefused, check_image
from editor_service.pages import availability
from editor_service.security import form_token, form_token_ok, looks_like_token
from editor_service.settings import EditorSettings
from editor_service.store import LinkView
from plumbing.links import link_url, new_token, token_hash, token_of
from plumbing.settings import SettingsError, load_settings
from schemas import Asset, RequestedItem, Template, TemplateField
from tests.editor_service.conftest import TEMPLATE, png

ITEMS = [
    RequestedItem(
        line_id="woo:7",
        title="Name mug",
        quantity=1,
        template=TEMPLATE,
        buyer_personalization="A name much longer than twenty",
    )
]
LIMITS = {"max_bytes": 8 * 2**20, "max_pixels": 40_000_000}


def test_the_secret_is_required_and_placeholders_are_refused(monkeypatch):
    monkeypatch.delenv("PERSONALIZE_EDITOR_SECRET", raising=False)
    with pytest.raises(SettingsError, match="PERSONALIZE_EDITOR_SECRET"):
        load_settings(EditorSettings)
    for bad in ("changeme", "short-secret"):
        monkeypatch.setenv("PERSONALIZE_EDITOR_SECRET", bad)
        with pytest.raises(SettingsError, match="PERSONALIZE_EDITOR_SECRET"):
            load_settings(EditorSettings)
    monkeypatch.setenv("PERSONALIZE_EDITOR_SECRET", "k" * 40)
    settings = load_settings(EditorSettings)
    assert settings.editor_port == 8600 and settings.editor_host == "127.0.0.1"
    assert "kkkk" not in repr(settings)


def test_tokens_are_256_bit_hashed_with_sha256_and_forms_are_signed_per_link():
    token = new_token()
    assert token_of(link_url("https://x.example/base/", token)) == token
    assert len(base64.urlsafe_b64decode(token + "=")) == 32 and looks_like_token(token)
    assert token_hash(token) == hashlib.sha256(token.encode()).hexdigest()  # what both services store
    assert not looks_like_token("../etc/passwd") and not looks_like_token("a" * 500)
    signed = form_token(b"k" * 32, token_hash(token))
    assert form_token_ok(b"k" * 32, token_hash(token), signed)
    assert not form_token_ok(b"k" * 32, token_hash(new_token()), signed)
    assert not form_token_ok(b"other" * 8, token_hash(token), signed) and not form_token_ok(b"k", "h", None)


def test_checkout_text_prefills_the_first_text_field_cut_to_its_length():
    assert prefill(ITEMS) == {"woo:7:name": "A name much longer t"}
    (section,) = sections(ITEMS, prefill(ITEMS), {})
    assert section.preview_text == "A name much longer t" and section.fields[0].html_id == "f1-name"


def test_the_preview_draws_a_poster_for_poster_templates_and_a_mug_otherwise():
    poster = Template(
        id="photo-poster",
        title="Photo poster",
        fields=[TemplateField(name="photo", type="image", required=True), TemplateField(name="caption", type="text")],
    )
    items = [*ITEMS, RequestedItem(line_id="p", title="Poster", quantity=1, template=poster)]
    assert [s.shape for s in sections(items, {}, {})] == ["mug", "poster"]


def test_submissions_are_checked_field_by_field():
    ok = check_values(ITEMS, {"woo:7:name": "Grace", "woo:7:motif": "heart"})
    assert ok.errors == {} and ok.values == {"woo:7:name": "Grace", "woo:7:motif": "heart"}
    bad = check_values(ITEMS, {"woo:7:name": "x" * 21, "woo:7:motif": "dragon"})
    assert set(bad.errors) == {"woo:7:name", "woo:7:motif"} and bad.values["woo:7:name"] == "x" * 21
    assert "Please fill this in." in check_values(ITEMS, {}).errors["woo:7:name"]
    assert check_values(ITEMS, {"woo:7:name": "two\nlines"}).errors
    assert draft_values(
        ITEMS, {"woo:7:name": "y" * 50, "woo:7:motif": "dragon", "woo:7:photo": "file:///etc", "csrf": "z"}
    ) == {"woo:7:name": "y" * 20}


def test_images_are_accepted_by_content_only():
    for kind, media in (("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")):
        assert check_image(png(kind=kind), **LIMITS).media_type == media
    out = io.BytesIO()
    Image.new("1", (9000, 9000)).save(out, "PNG")
    for refused in (
        png(kind="GIF"),
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        png()[:80],
        out.getvalue(),
        b"\x89PNG\r\n\x1a\n" + b"\0" * 100,
    ):
        with pytest.raises(ImageRefused):
            check_image(refused, **LIMITS)
    with pytest.raises(ImageRefused, match="too large"):
        check_image(png(), max_bytes=100, max_pixels=10**6)
    with pytest.raises(ImageRefused, match="too many pixels"):
        check_image(png(2000, 2000), max_bytes=10**7, max_pixels=10**6)


def view(**changes: Any) -> LinkView:
    base: dict[str, Any] = {
        "order_key": "k",
        "link_id": "l",
        "sequence": 1,
        "expires": 2e9,
        "order_number": "1",
        "is_test": False,
        "items": ITEMS,
        "latest_seq": 1,
        "status": "pending_personalization",
        "completed_seq": None,
        "draft": {},
    }
    return LinkView(**{**base, **changes})


@pytest.mark.parametrize(
    ("changes", "state"),
    [
        ({}, "open"),
        ({"status": None}, "open"),
        ({"expires": 1.0}, "expired"),
        ({"completed_seq": 1}, "already"),
        ({"completed_seq": 1, "expires": 1.0}, "already"),
        ({"completed_seq": 1, "status": "in_fulfillment"}, "already"),
        ({"completed_seq": 1, "latest_seq": 2}, "open"),  # a newer link: core refused ours, or the items changed
        ({"status": "cancelled", "completed_seq": 1}, "closed"),
        ({"status": "in_fulfillment"}, "closed"),
        ({"status": "pending_approval", "expires": 1.0}, "closed"),
    ],
)
def test_which_page_a_link_shows(changes, state):
    assert availability(view(**changes), datetime.now(UTC)) == state


def test_the_completion_lists_every_line_with_image_uris_and_skips_empty_optional_fields():
    asset = Asset(field="photo", uri="file:///a/b.png", media_type="image/png", sha256="0" * 64)
    event = completion_event("k", ITEMS, {"woo:7:name": "Grace", "woo:7:motif": ""}, {"woo:7:photo": asset})
    (item,) = event.items
    assert item.line_id == "woo:7" and item.fields == {"name": "Grace", "photo": "file:///a/b.png"}
    assert item.assets == [asset]
