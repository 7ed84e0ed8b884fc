"""`/orders`: list a store's orders, read one, and ask core to approve, cancel or resend its link."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Query

from core.commands import refusal
from core.order import Order
from core.store import store_of
from merchant_api import cursor, resend_limit
from merchant_api.deps import Api, ApiDep, CallerDep, known_store
from merchant_api.keys import Caller
from merchant_api.views import (
    STORE_DESCRIPTION,
    CommandAccepted,
    CommandBody,
    OrderDetail,
    OrderPage,
    Problem,
    Responses,
    detail,
    summary,
)
from plumbing.kafka import publish
from schemas import ApproveOrder, CancelOrder, OrderStatus, ResendLink

router = APIRouter(prefix="/orders", tags=["orders"])

_NOT_FOUND: Responses = {
    404: {"model": Problem, "description": "No such order for this key (another store's looks the same)."}
}
_REFUSED: Responses = {
    409: {"model": Problem, "description": "The order's status does not allow the command; `detail` says why."}
}
_LIMITED: Responses = {
    429: {
        "model": Problem,
        "description": f"Resent {resend_limit.PER_ORDER} times this hour for this order, or "
        f"{resend_limit.PER_STORE} times for the store; retry after `Retry-After` seconds.",
        "headers": {
            "Retry-After": {"description": "Seconds until a resend is let through.", "schema": {"type": "integer"}}
        },
    }
}


@router.get("", responses={400: {"model": Problem}, 404: {"model": Problem}})
async def list_orders(
    api: ApiDep,
    caller: CallerDep,
    status: Annotated[OrderStatus | None, Query(description="Only orders with this status.")] = None,
    store: Annotated[
        str | None, Query(description=STORE_DESCRIPTION + " Defaults to the key's store; an operator key must give it.")
    ] = None,
    cursor_: Annotated[str | None, Query(alias="cursor", description="`next_cursor` of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> OrderPage:
    """A store's orders, newest received first, a page at a time."""
    name = store or caller.store
    if name is None:
        raise HTTPException(400, "an operator key must name the store: ?store=<platform>:<store_id>")
    await known_store(api, caller, name)
    try:
        after = cursor.decode(cursor_) if cursor_ else None
    except cursor.BadCursor as error:
        raise HTTPException(400, str(error)) from None
    page = await api.orders.page(name, status, after, limit)
    loaded = await api.orders.load_many(page.order_keys) if page.order_keys else {}
    orders = [summary(found.order) for found in loaded.values() if found.order is not None]
    return OrderPage(orders=orders, next_cursor=cursor.encode(page.next))


@router.get("/{order_key}", responses=_NOT_FOUND)
async def get_order(order_key: str, api: ApiDep, caller: CallerDep) -> OrderDetail:
    """Status and its history, items, the lines to personalize, the links' life, the personalization, the parts sent."""
    return detail(await _visible_order(api, caller, order_key))


@router.post("/{order_key}/approve", status_code=202, responses={**_NOT_FOUND, **_REFUSED})
async def approve(
    order_key: str, api: ApiDep, caller: CallerDep, body: Annotated[CommandBody | None, Body()] = None
) -> CommandAccepted:
    """Send the order to fulfillment (from pending personalization, it goes without the personalization)."""
    return await _command(api, caller, order_key, ApproveOrder, body)


@router.post("/{order_key}/cancel", status_code=202, responses={**_NOT_FOUND, **_REFUSED})
async def cancel(
    order_key: str, api: ApiDep, caller: CallerDep, body: Annotated[CommandBody | None, Body()] = None
) -> CommandAccepted:
    """Cancel the order, from any status but cancelled; nothing fulfills it afterwards."""
    return await _command(api, caller, order_key, CancelOrder, body)


@router.post("/{order_key}/resend-link", status_code=202, responses={**_NOT_FOUND, **_REFUSED, **_LIMITED})
async def resend_link(
    order_key: str, api: ApiDep, caller: CallerDep, body: Annotated[CommandBody | None, Body()] = None
) -> CommandAccepted:
    """Send a fresh personalization link now (only while pending personalization; a few times an hour)."""
    return await _command(api, caller, order_key, ResendLink, body)


async def _visible_order(api: Api, caller: Caller, order_key: str) -> Order:
    order = (await api.orders.load_many([order_key]))[order_key].order
    if order is None or not caller.may_act_for(store_of(order)):
        raise HTTPException(404, f"no order {order_key!r} for this key")
    return order


async def _command(
    api: Api,
    caller: Caller,
    order_key: str,
    kind: type[ApproveOrder | CancelOrder | ResendLink],
    body: CommandBody | None,
) -> CommandAccepted:
    """Checked against core's own rules for a clear 409 now; core checks again when the command arrives."""
    order = await _visible_order(api, caller, order_key)
    if why := refusal(order, kind):
        raise HTTPException(409, why)
    if kind is ResendLink and (wait_s := await api.resends.take(store_of(order), order.order_key)) is not None:
        raise HTTPException(429, "too many resends of this link; try again later", headers={"Retry-After": str(wait_s)})
    command = kind(order_key=order.order_key, reason=body.reason if body else None)
    await publish(api.producer, [command])
    return CommandAccepted(command=command.event_type, event_id=command.event_id, order_key=order.order_key)
