"""`personalize editor`: the customer's personalization pages, and the consumer that builds its link table."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from editor_service.app import make_app
from editor_service.assets import AssetStore
from editor_service.completion import Republisher
from editor_service.decoding import ImageChecks
from editor_service.deps import Editor
from editor_service.handlers import EditorHandler
from editor_service.settings import EditorSettings
from editor_service.state import EditorStore
from plumbing.ops import EDITOR_OPS_PORT
from plumbing.service import HTTP_GRACE_S, Service, waiting_pool
from schemas import topics, utc_now

log = logging.getLogger("editor")

CONSUMES = (topics.PERSONALIZATION_LINK_ISSUED, topics.ORDERS_STATUS)
PRODUCES = (topics.PERSONALIZATION_COMPLETED, topics.PERSONALIZATION_LINK_ACTIVITY, topics.DEAD_LETTERS)
REDIS_CONNECTIONS = 64
REDIS_WAIT_S = 5


async def run(
    settings: EditorSettings, clock: Callable[[], datetime] = utc_now, stop: asyncio.Event | None = None
) -> None:
    pool = waiting_pool(REDIS_CONNECTIONS, REDIS_WAIT_S)  # pages wait for a free connection rather than fail
    service = Service("editor", settings, CONSUMES + PRODUCES, log, redis=pool, stop=stop, grace_s=HTTP_GRACE_S)
    async with service:
        store = EditorStore(service.redis)
        consumer = service.consumer("consumer", EditorHandler(store), settings.editor_group, CONSUMES)
        assets = AssetStore(settings.assets_dir, settings.asset_retention)
        images = ImageChecks(
            max_bytes=settings.editor_upload_max_bytes,
            max_pixels=settings.editor_max_image_pixels,
            decodes=settings.editor_image_decodes,
        )
        service.closes(images.close)
        editor = Editor(store, service.producer, assets, images, settings, clock)
        service.watch("consumer", consumer.run())
        service.watch("republisher", Republisher(store, service.producer).run(service.stop))
        service.watch("asset-sweep", assets.run_sweeps(service.stop))
        host, port = settings.editor_host, settings.editor_port
        service.serve_http(make_app(editor), host, port)
        await service.serve_ops(EDITOR_OPS_PORT)  # not on the public port: see plumbing.ops
        log.info("editor on http://%s:%d/p/<token>, assets in %s", host, port, settings.assets_dir.resolve())
        await service.run()
