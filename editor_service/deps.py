"""What the routes need, in one object on `app.state`, and its `Annotated` alias."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from aiokafka import AIOKafkaProducer
from fastapi import Depends, Request

from editor_service.assets import AssetStore
from editor_service.decoding import ImageChecks
from editor_service.settings import EditorSettings
from editor_service.store import EditorState


@dataclass(frozen=True)
class Editor:
    store: EditorState
    producer: AIOKafkaProducer
    assets: AssetStore
    images: ImageChecks
    settings: EditorSettings
    clock: Callable[[], datetime]

    @property
    def secret(self) -> bytes:
        return self.settings.editor_secret.get_secret_value().encode()


async def get_editor(request: Request) -> Editor:
    # async on purpose: FastAPI runs a plain `def` dependency in its thread pool, a hop per request.
    return request.app.state.editor


EditorDep = Annotated[Editor, Depends(get_editor)]
