"""What a platform's connect flow is given: its app, the states, the registry, and one way to finish."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass

import httpx
from fastapi import APIRouter
from pydantic import TypeAdapter, ValidationError
from starlette.responses import HTMLResponse

from connectors.connect.apps import PlatformApp
from connectors.connect.pages import connected_page, failed_page
from connectors.connect.states import ConnectStates
from connectors.stores.lifecycle import StoreLifecycle
from connectors.stores.registry import StoreRegistry
from schemas import EmailAddress

_EMAIL: TypeAdapter[str] = TypeAdapter(EmailAddress)
# Token exchanges and identity reads: the merchant's browser waits on them, so a short deadline.
HTTP_TIMEOUT = httpx.Timeout(15.0, connect=5.0)


class BadConnectRequest(ValueError):
    """The start request cannot begin a flow (no or a bad merchant email, a bad store URL): 400, said plainly."""


@dataclass
class ConnectContext:
    app: PlatformApp
    states: ConnectStates
    lifecycle: StoreLifecycle
    registry: StoreRegistry
    http: httpx.AsyncClient  # to the platform's token and identity endpoints; not the order client

    @property
    def platform(self) -> str:
        return self.app.platform

    async def begin(self, merchant_email: str | None, **remembered: str) -> str:
        """The state of a new flow, remembering the merchant's email (checked here) and `remembered`."""
        try:
            email = _EMAIL.validate_python(merchant_email or "")
        except ValidationError:
            raise BadConnectRequest("merchant_email must be the email address the store's mail goes to") from None
        return await self.states.issue(self.platform, {**remembered, "merchant_email": email})

    async def resume(self, state: str | None) -> dict[str, str] | None:
        """What `begin` remembered, once; None: unknown, expired or used (show `expired_state()`)."""
        return await self.states.take(self.platform, state or "")

    async def connect(
        self,
        store_id: str,
        shop_name: str,
        merchant_email: str,
        credentials: Mapping[str, str],
        details: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        """The store written (sealed) and announced; the page that tells the merchant so."""
        await self.lifecycle.connect(self.platform, store_id, merchant_email, credentials, details)
        return connected_page(self.platform, shop_name, merchant_email)

    def expired_state(self) -> HTMLResponse:
        return failed_page(
            400,
            "This connect link was already used, has expired, or did not start here.",
            f"Start again from the Connect {self.platform} button.",
        )


def connect_router(ctx: ConnectContext) -> APIRouter | None:
    """The platform's `/connect/<platform>/...` routes; None for a platform with no flow built."""
    try:
        module = importlib.import_module(f"connectors.{ctx.platform}.connect")
    except ModuleNotFoundError:
        return None
    router = APIRouter(prefix=f"/connect/{ctx.platform}")
    router.include_router(module.routes(ctx))
    return router
