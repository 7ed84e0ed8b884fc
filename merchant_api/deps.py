"""What the routes need, in one object on `app.state`, the caller behind the key, and their `Annotated` aliases."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from aiokafka import AIOKafkaProducer
from fastapi import Depends, HTTPException, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from core.directory import Directory
from core.store import RedisOrderStore
from merchant_api.email_change import EmailChanges
from merchant_api.keys import ApiKeys, Caller
from merchant_api.resend_limit import ResendLimiter
from merchant_api.views import STORE_DESCRIPTION
from plumbing.config import StoreConfig


@dataclass(frozen=True)
class Api:
    orders: RedisOrderStore
    directory: Directory
    keys: ApiKeys
    producer: AIOKafkaProducer
    resends: ResendLimiter
    email_changes: EmailChanges
    public_url: str  # where the API is reached from outside: the base of the email confirmation links


async def get_api(request: Request) -> Api:
    # async on purpose: FastAPI runs a plain `def` dependency in its thread pool, a hop per request.
    return request.app.state.api


ApiDep = Annotated[Api, Depends(get_api)]

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer pz_…`, from `personalize keys create`.")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


async def get_caller(
    api: ApiDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Caller:
    if credentials is None:
        raise HTTPException(401, "send the API key as `Authorization: Bearer <key>`", headers=_CHALLENGE)
    caller = await api.keys.verify(credentials.credentials)
    if caller is None:
        raise HTTPException(401, "unknown or revoked API key", headers=_CHALLENGE)
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]


async def known_store(api: Api, caller: Caller, name: str) -> StoreConfig:
    """The store the caller may act for, else 404: another store's key learns nothing, not even that it exists."""
    platform, _, store_id = name.partition(":")
    store = await api.directory.known(platform, store_id)  # the YAML's, or one learned from the `stores` topic
    if store is None or not caller.may_act_for(store.key):
        raise HTTPException(404, f"no store {name!r} for this key")
    return store


async def get_store(
    api: ApiDep,
    caller: CallerDep,
    store: Annotated[str, Path(description=STORE_DESCRIPTION, examples=["woocommerce:demo-woo"])],
) -> StoreConfig:
    return await known_store(api, caller, store)


StoreDep = Annotated[StoreConfig, Depends(get_store)]
