"""`personalize sandbox <platform>`: one fake store of that platform, for `dev` and the tests."""

from __future__ import annotations

import importlib

import uvicorn
from fastapi import FastAPI

from plumbing.config import load_config
from plumbing.settings import Settings, SettingsError
from sandboxes.base import PlatformSandbox, make_sandbox_app


def sandbox_for(platform: str) -> PlatformSandbox:
    try:
        return importlib.import_module(f"sandboxes.{platform}").SANDBOX
    except (ModuleNotFoundError, AttributeError):
        raise SettingsError(f"no sandbox for platform {platform!r}") from None


def build_app(platform: str, settings: Settings, store_id: str | None, webhook_url: str | None) -> FastAPI:
    config = load_config(settings.required_config())
    stores = [s for s in config.stores if s.platform == platform and (store_id is None or s.store_id == store_id)]
    if not stores:
        raise SettingsError(f"{settings.config}: no {platform} store{f' {store_id!r}' if store_id else ''} to serve")
    return make_sandbox_app(sandbox_for(platform), stores[0], webhook_url)


def run(platform: str, settings: Settings, port: int, store_id: str | None, webhook_url: str | None) -> None:
    app = build_app(platform, settings, store_id, webhook_url)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
