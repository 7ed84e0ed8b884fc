"""The merchant API's settings: the shared ones plus where it listens."""

from __future__ import annotations

from pydantic import Field

from plumbing.settings import Settings


class ApiSettings(Settings):
    api_host: str = Field(default="127.0.0.1", description="PERSONALIZE_API_HOST: listen address.")
    api_port: int = Field(default=8700, ge=0, le=65535, description="PERSONALIZE_API_PORT (`--port` overrides).")
