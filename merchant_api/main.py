"""`personalize api`: the merchant API, reading core's store in Redis and publishing commands for core."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

from core.directory import Directory
from core.store import RedisOrderStore
from merchant_api.app import make_app
from merchant_api.deps import Api
from merchant_api.email_change import EmailChanges
from merchant_api.keys import ApiKeys
from merchant_api.resend_limit import RedisResendLimiter
from merchant_api.settings import ApiSettings
from plumbing.config import load_config
from plumbing.ops import add_ops_routes
from plumbing.service import HTTP_GRACE_S, Service, waiting_pool
from schemas import ORDERS_COMMANDS, STORES_EMAIL_CHANGES

log = logging.getLogger("merchant_api")

REDIS_CONNECTIONS = 32
REDIS_WAIT_S = 5


async def run(settings: ApiSettings, stop: asyncio.Event | None = None) -> None:
    config = load_config(settings.config)
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

        async def healthy() -> dict[str, bool]:
            return {"redis": await _ok(redis.ping()), "kafka": await _ok(producer.client.fetch_all_metadata())}

        api = Api(
            orders=RedisOrderStore(redis),
            directory=directory,
            keys=ApiKeys(redis),
            producer=producer,
            healthy=healthy,
            resends=RedisResendLimiter(redis),
            email_changes=EmailChanges(redis),
            public_url=settings.public_url(),
        )
        app = make_app(api)
        # /health/live, /health/ready and /metrics as on every deployable (docs/operations.md); the API's own
        # /health stays first in line, so it keeps answering as documented in its OpenAPI.
        add_ops_routes(app, service.health)
        service.serve_http(app, settings.api_host, settings.api_port)
        log.info("merchant API on http://%s:%d (OpenAPI at /docs)", settings.api_host, settings.api_port)
        await service.run()


async def _ok(check: Awaitable[object]) -> bool:
    try:
        await asyncio.wait_for(check, 2)
        return True
    except Exception:  # any failure means not healthy
        return False
