"""A connector's settings: the shared ones plus where its webhook endpoint listens."""

from __future__ import annotations

from pydantic import Field

from plumbing.settings import Settings


class ConnectorSettings(Settings):
    connector_host: str = Field(default="127.0.0.1", description="PERSONALIZE_CONNECTOR_HOST: webhook listen address.")
    connector_port: int = Field(default=8400, ge=0, le=65535, description="PERSONALIZE_CONNECTOR_PORT.")
    fetch_workers: int = Field(default=4, ge=1, description="PERSONALIZE_FETCH_WORKERS: thin-webhook fetchers.")
