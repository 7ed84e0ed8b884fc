"""A settings change that names a new address, and the link that confirms it (`merchant_api/email_change.py`).

The settings route calls `put_settings`: everything but the unconfirmed addresses applies at once, each new
address gets its pending change and a `MerchantEmailChangeRequested` for the notifier to mail. The link is
opened in a browser by whoever reads that mailbox, with no API key: the token is the proof. Hidden from the
OpenAPI document for that reason (it is no route for a merchant's tools).
"""

from __future__ import annotations

import logging
from html import escape
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from fastapi.responses import HTMLResponse
from pydantic import TypeAdapter, ValidationError

from merchant_api.deps import Api, ApiDep
from merchant_api.email_change import EmailChangeRefused, PendingChange, addresses_to_confirm
from plumbing.config import StoreConfig, StoreSettings
from plumbing.kafka import publish
from schemas import AddressField, EmailAddress, MerchantEmailChangeRequested

log = logging.getLogger(__name__)

_ONE_ADDRESS: TypeAdapter[str] = TypeAdapter(EmailAddress)

router = APIRouter(include_in_schema=False)

# Opened from an email: the page says what happened and leaks nothing onward (the token is in its URL).
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}


async def put_settings(api: Api, store: StoreConfig, wanted: StoreSettings) -> tuple[StoreSettings, list[AddressField]]:
    """Save `wanted` but keep the addresses in effect where a new one needs confirming; answers what is in effect
    and which fields wait."""
    current = (await api.directory.store(store.platform, store.store_id)).settings
    waiting = addresses_to_confirm(current, wanted)
    # The notice goes to the address in effect, so it must be one plain address too (the YAML's is the operator's).
    for field, address in [("merchant_email", current.merchant_email), *waiting.items()] if waiting else []:
        try:
            _ONE_ADDRESS.validate_python(address)
        except ValidationError:  # refused before anything is written; the mail needs one plain address
            raise HTTPException(422, f"{field}: {address!r} is not one plain email address") from None

    def keep_addresses(now: StoreSettings) -> StoreSettings:
        return wanted.model_copy(update={field: getattr(now, field) for field in waiting})

    saved = (await api.directory.update_settings(store.platform, store.store_id, keep_addresses)).settings
    events = []
    for field, address in waiting.items():
        token, expires_at = await api.email_changes.request(store.key, field, address)
        events.append(
            MerchantEmailChangeRequested(
                order_key=store.key,
                platform=store.platform,
                store_id=store.store_id,
                field=field,
                new_address=address,
                current_address=saved.merchant_email,
                confirm_url=f"{api.public_url}/stores/{store.key}/settings/email-change/{field}/{token}",
                expires_at=expires_at,
                sender_name=saved.sender_name,
            )
        )
    await publish(api.producer, events)
    for field in waiting:
        log.info("store %s: a new %s waits for confirmation", store.key, field)  # never the token
    return saved, list(waiting)


LINK = "/stores/{store}/settings/email-change/{field}/{token}"
Token = Annotated[str, Path(min_length=20, max_length=128)]
_REFUSED = (
    "This link does not work",
    "It was used already, replaced by a newer request, or has expired. Change the address again to get a new one.",
)


@router.get(LINK)
async def ask(api: ApiDep, store: str, field: AddressField, token: Token) -> HTMLResponse:
    """Show what the link would change, with a button: opening the link alone changes nothing, so a mail
    scanner that follows every link cannot confirm on the reader's behalf."""
    found = await _pending(api, store, field, token, take=False)
    if found is None:
        return _page(404, *_REFUSED)
    _, change = found
    form = '<form method="post"><button type="submit">Confirm</button></form>'
    return _page(200, "Confirm this address", f"{change.address} will receive {_what(change)}.", form)


@router.post(LINK)
async def confirm(api: ApiDep, store: str, field: AddressField, token: Token) -> HTMLResponse:
    """Apply the pending change the token belongs to, once."""
    found = await _pending(api, store, field, token, take=True)
    if found is None:
        return _page(404, *_REFUSED)
    known, change = found
    await api.directory.update_settings(
        known.platform, known.store_id, lambda now: now.model_copy(update={change.field: change.address})
    )
    log.info("store %s: %s changed after confirmation", known.key, change.field)
    return _page(200, "Address confirmed", f"{change.address} now receives {_what(change)}.")


async def _pending(
    api: Api, store: str, field: AddressField, token: str, *, take: bool
) -> tuple[StoreConfig, PendingChange] | None:
    """The store and the change the token is for (`take`: used up, once), or None with the reason logged."""
    known = await api.directory.known(*_split(store))
    try:
        if known is None:
            raise EmailChangeRefused("no such store")
        changes = api.email_changes
        change = await (changes.confirm if take else changes.check)(known.key, field, token)
    except EmailChangeRefused as why:
        log.info("email change link for %s refused: %s", store if known else "an unknown store", why)
        return None
    return known, change


def _what(change: PendingChange) -> str:
    return "the store's emails" if change.field == "merchant_email" else "the replies to the store's emails"


def _split(store: str) -> tuple[str, str]:
    platform, _, store_id = store.partition(":")
    return platform, store_id


def _page(status: int, title: str, text: str, form: str = "") -> HTMLResponse:
    body = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title></head>'
        f"<body><h1>{escape(title)}</h1><p>{escape(text)}</p>{form}</body></html>"
    )
    return HTMLResponse(body, status_code=status, headers=_PAGE_HEADERS)
