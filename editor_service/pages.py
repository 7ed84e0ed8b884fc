"""The link routes: `GET /p/<token>` (the editor), `POST /p/<token>` (complete), `POST /p/<token>/draft`.

The first `GET` of a live link reports `PersonalizationLinkOpened` once (`opened.py`); a page that
cannot be used (expired, completed, cancelled) is not an open.

Every route takes the same first steps (`_open`): a malformed token is a 404
without a Redis call; the rate limits count the link and the client address;
the link is looked up by its token's SHA-256. The raw token is never stored
or logged (the access log is off).
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.types import Scope

from editor_service.completion import complete, completion_event, oversized
from editor_service.deps import Editor, EditorDep
from editor_service.forms import Submission, check_values, draft_values, image_fields, prefill, sections
from editor_service.images import CheckedImage, ImageRefused
from editor_service.metrics import REFUSED, SECONDS
from editor_service.opened import report_first_open
from editor_service.render import message, page
from editor_service.security import form_token, form_token_ok, looks_like_token
from editor_service.store import PP, LinkView
from plumbing.links import token_hash
from schemas import Asset

router = APIRouter()

MAX_FIELDS = 200
MAX_TEXT_PART = 64 * 1024
STATE_STATUS = {"already": 200, "expired": 410, "closed": 410}
TOO_LONG = "All together this is too long to send to the shop. Please shorten the texts and send it again."


def availability(view: LinkView, now: datetime) -> str:
    """`open`, or why not: `closed` (cancelled, or moved on without us), `already`, `expired`."""
    if view.status == "cancelled":
        return "closed"
    moved_on = view.status not in (None, PP)
    if view.completed_seq is not None and (view.completed_seq >= view.latest_seq or moved_on):
        return "already"
    if moved_on:
        return "closed"
    if view.expires <= now.timestamp():
        return "expired"
    return "open"


@router.get("/p/{token}")
async def show(token: str, request: Request, editor: EditorDep, saved: bool = False) -> Response:
    """The editor for every line to personalize, or the page saying why the link cannot be used."""
    return await show_page(token, client_address(request.scope), saved, editor)


async def show_page(token: str, address: str, saved: bool, editor: Editor) -> Response:
    """`GET /p/<token>`; also served straight by a hot route (`plumbing/hot_routes.py`), without FastAPI's per-request cost."""
    with SECONDS.labels("show").time():
        opened = await _open(token, address, editor)
        if isinstance(opened, Response):
            return opened
        link_hash, view = opened
        state = availability(view, editor.clock())
        if state != "open":
            return message(state, STATE_STATUS[state])
        if not view.opened:
            await report_first_open(editor.store, editor.producer, view, editor.clock())
        values = {**prefill(view.items), **view.draft}
        return _editor_page(
            editor, link_hash, view, Submission(values=values), notice="Draft saved." if saved else None
        )


@router.post("/p/{token}")
async def submit(token: str, request: Request, editor: EditorDep) -> Response:
    """Complete the personalization, or save a draft (the no-script "Save draft" button posts here too)."""
    with SECONDS.labels("submit").time():
        opened = await _open(token, client_address(request.scope), editor)
        if isinstance(opened, Response):
            return opened
        link_hash, view = opened
        form = await _read_form(request, max_files=len(image_fields(view.items)) + 1)
        if isinstance(form, Response):
            return form
        refused = _refuse(editor, link_hash, view, form.get("csrf"))
        if refused:
            return refused
        texts = {k: v for k, v in form.multi_items() if isinstance(v, str)}
        if texts.get("action") == "draft":
            await editor.store.save_draft(view.order_key, draft_values(view.items, texts))
            return RedirectResponse(f"/p/{token}?saved=1", status_code=303)
        submission = check_values(view.items, texts)
        images = await _check_images(editor, view, form, submission)
        if submission.errors:
            return _editor_page(editor, link_hash, view, submission, status=422)
        return await _complete(editor, link_hash, view, submission, images)


@router.post("/p/{token}/draft")
async def save_draft(token: str, request: Request, editor: EditorDep) -> Response:
    """Keep the field values typed so far (sent by the page's script as the customer types)."""
    opened = await _open(token, client_address(request.scope), editor)
    if isinstance(opened, Response):
        return opened
    link_hash, view = opened
    form = await _read_form(request, max_files=0)
    if isinstance(form, Response):
        return form
    refused = _refuse(editor, link_hash, view, request.headers.get("x-csrf-token") or form.get("csrf"))
    if refused:
        return refused
    texts = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    await editor.store.save_draft(view.order_key, draft_values(view.items, texts))
    return Response(status_code=204)


async def _complete(
    editor: Editor, link_hash: str, view: LinkView, submission: Submission, images: dict[str, CheckedImage]
) -> Response:
    """Store the images, then claim and publish the completion, or say why not; the files go if it does not."""
    assets = {
        key: await asyncio.to_thread(editor.assets.save, key.rsplit(":", 1)[1], image) for key, image in images.items()
    }
    event = completion_event(view.order_key, view.items, submission.values, assets)
    if oversized(event):  # before the claim: once claimed, the customer is thanked and it must be publishable
        _discard(editor, assets)
        REFUSED.labels("completion_too_large").inc()
        submission.errors.update(dict.fromkeys(assets, "Please choose this image again."))
        return _editor_page(editor, link_hash, view, submission, status=422, form_error=TOO_LONG)
    if not await complete(editor.store, editor.producer, event, view.latest_seq):
        _discard(editor, assets)
        return message("already", 409)
    return page(
        "done", order_number=view.order_number, sections=sections(view.items, submission.values, {}), images=set(assets)
    )


def _discard(editor: Editor, assets: dict[str, Asset]) -> None:
    for asset in assets.values():
        editor.assets.discard(asset)


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"


async def _open(token: str, address: str, editor: Editor) -> tuple[str, LinkView] | Response:
    if not looks_like_token(token):
        REFUSED.labels("not_found").inc()
        return message("not_found", 404)
    link_hash = token_hash(token)
    (per_link, per_address), view = await editor.store.visit(link_hash, [f"t:{link_hash}", f"a:{address}"])
    if per_link > editor.settings.editor_rate_per_token or per_address > editor.settings.editor_rate_per_address:
        REFUSED.labels("rate_limited").inc()
        return message("busy", 429, {"Retry-After": "60"})
    if view is None:
        REFUSED.labels("not_found").inc()
        return message("not_found", 404)
    return link_hash, view


def _refuse(editor: Editor, link_hash: str, view: LinkView, csrf: object) -> Response | None:
    """403 without a valid form token; the state pages once the link cannot be used."""
    if not isinstance(csrf, str) or not form_token_ok(editor.secret, link_hash, csrf):
        REFUSED.labels("csrf").inc()
        return message("forbidden", 403)
    state = availability(view, editor.clock())
    if state == "already":
        return message("already", 409)
    if state != "open":
        return message(state, STATE_STATUS[state])
    return None


async def _read_form(request: Request, max_files: int) -> FormData | Response:
    try:
        return await request.form(max_files=max_files, max_fields=MAX_FIELDS, max_part_size=MAX_TEXT_PART)
    except HTTPException as error:  # starlette's form limits; the body limit itself answers 413 earlier
        REFUSED.labels("bad_form").inc()
        too_large = "maximum size" in str(error.detail)
        return message("too_large", 413) if too_large else message("bad_form", 400)


async def _check_images(
    editor: Editor, view: LinkView, form: FormData, submission: Submission
) -> dict[str, CheckedImage]:
    """Decode each uploaded image on the decode pool (`decoding.py`); errors go into `submission` next to their field."""
    checked = {}
    for key, _item, spec in image_fields(view.items):
        upload = form.get(key)
        if not isinstance(upload, UploadFile) or (upload.size or 0) <= 0:
            if spec.required:
                submission.errors[key] = "Please choose an image."
            continue
        try:
            checked[key] = await editor.images.check(await upload.read())
        except ImageRefused as error:
            submission.errors[key] = str(error)
    if submission.errors:
        for key in checked:
            submission.errors.setdefault(key, "Please choose this image again.")
        checked = {}
    return checked


def _editor_page(
    editor: Editor,
    link_hash: str,
    view: LinkView,
    submission: Submission,
    *,
    status: int = 200,
    notice: str | None = None,
    form_error: str | None = None,
) -> Response:
    return page(
        "editor",
        status,
        order_number=view.order_number,
        is_test=view.is_test,
        sections=sections(view.items, submission.values, submission.errors),
        csrf=form_token(editor.secret, link_hash),
        error_count=len(submission.errors),
        form_error=form_error,
        notice=notice,
        accept="image/jpeg,image/png,image/webp",
        max_mb=editor.settings.editor_upload_max_bytes // (1024 * 1024),
    )
