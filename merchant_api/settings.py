"""The merchant API's settings: the shared ones plus where it listens."""

from __future__ import annotations

from pydantic import Field

from plumbing.settings import Settings


class ApiSettings(Settings):
    api_host: str = Field(default="127.0.0.1", description="PERSONALIZE_API_HOST: listen address.")
    api_port: int = Field(default=8700, ge=0, le=65535, description="PERSONALIZE_API_PORT (`--port` overrides).")
    api_public_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^/?#]+(/[^?#]*)?$",
        description="PERSONALIZE_API_PUBLIC_URL: the API's address as a merchant's browser reaches it, the base of "
        "the links confirming a changed email address (default http://<host>:<port>).",
    )

    def public_url(self) -> str:
        return (self.api_public_url or f"http://{self.api_host}:{self.api_port}").rstrip("/")
