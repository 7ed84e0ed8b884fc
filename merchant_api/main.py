"""`personalize api`: the merchant API, reading core's store in Redis and publishing commands for core."""

from __future__ import annotations

import asyncio
import logging

from core.directory import Directory
from core.store import RedisOrderStore
from merchant_api.app import make_app
from merchant_api.deps import Api
from merchant_api.email_change import EmailChanges
from merchant_api.keys import ApiKeys
from merchant_api.resend_limit import RedisResendLimiter
from merchant_api.settings import ApiSettings
from plumbing.config import load_config
from plumbing.ops import API_OPS_PORT
from plumbing.service import HTTP_GRACE_S, Service, waiting_pool
from schemas import ORDERS_COMMANDS, STORES_EMAIL_CHANGES

log = logging.getLogger("merchant_api")

REDIS_CONNECTIONS = 32
REDIS_WAIT_S = 5


async def run(settings: ApiSettings, stop: asyncio.Event | None = None) -> None:
    config = load_config(settings.required_config())
    pool = waiting_pool(REDIS_CONNECTIONS, REDIS_WAIT_S)  # requests wait for a free connection rather than fail
    service = Service(
        "merchant API",
        settings,
        (ORDERS_COMMANDS, STORES_EMAIL_CHANGES),
        log,
        redis=pool,
        stop=stop,
        grace_s=HTTP_GRACE_S,
    )
    async with service:
        redis, producer = service.redis, service.producer
        directory = Directory(redis, config)
        await directory.seed()  # the API may start before core: both seed, the first one wins, the rest is a no-op
        api = Api(
            orders=RedisOrderStore(redis),
            directory=directory,
            keys=ApiKeys(redis),
            producer=producer,
            resends=RedisResendLimiter(redis),
            email_changes=EmailChanges(redis),
            public_url=settings.public_url(),
        )
        service.serve_http(make_app(api), settings.api_host, settings.api_port)
        await service.serve_ops(API_OPS_PORT)  # not on the public port: see plumbing.ops
        log.info("merchant API on http://%s:%d (OpenAPI at /docs)", settings.api_host, settings.api_port)
        await service.run()
