"""The editor's settings: where it listens, where uploads go, its limits, and the secret that signs its forms."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import Field, SecretStr, field_validator

from plumbing.durations import Duration
from plumbing.settings import Settings

MIB = 1024 * 1024
# Values people paste from examples; a form signed with one of these can be forged by anyone who read the docs.
PLACEHOLDER_SECRETS = {"changeme", "change-me", "changethis", "secret", "password", "editor-secret", "xxx", "todo"}
MIN_SECRET_LENGTH = 32


class EditorSettings(Settings):
    editor_host: str = Field(default="127.0.0.1", description="PERSONALIZE_EDITOR_HOST: listen address.")
    editor_port: int = Field(default=8600, ge=0, le=65535, description="PERSONALIZE_EDITOR_PORT (`--port` overrides).")
    assets_dir: Path = Field(
        default=Path(".personalize/assets"), description="PERSONALIZE_ASSETS_DIR: where uploaded images are stored."
    )
    # Required with no default: copies behind one load balancer must sign and check forms with the same key,
    # so a key generated per process would refuse every form another copy rendered.
    editor_secret: SecretStr = Field(
        description="PERSONALIZE_EDITOR_SECRET: signs the forms' CSRF tokens; "
        f"at least {MIN_SECRET_LENGTH} characters, shared by every editor copy."
    )
    editor_upload_max_bytes: int = Field(
        default=8 * MIB, ge=1024, description="PERSONALIZE_EDITOR_UPLOAD_MAX_BYTES: one submission's images."
    )
    editor_max_image_pixels: int = Field(
        default=24_000_000,
        ge=1,
        description="PERSONALIZE_EDITOR_MAX_IMAGE_PIXELS: the decode budget, width × height (6000 × 4000); "
        "a larger JPEG is decoded reduced to fit it, any other image refused.",
    )
    editor_image_decodes: int = Field(
        default=2, ge=1, le=64, description="PERSONALIZE_EDITOR_IMAGE_DECODES: images decoded at once, per copy."
    )
    asset_retention: Duration = Field(
        default=timedelta(days=90),
        description="PERSONALIZE_ASSET_RETENTION: how long a stored photo is kept, from when it was stored.",
    )
    editor_rate_per_token: int = Field(default=60, ge=1, description="PERSONALIZE_EDITOR_RATE_PER_TOKEN: per minute.")
    editor_rate_per_address: int = Field(
        default=300, ge=1, description="PERSONALIZE_EDITOR_RATE_PER_ADDRESS: per minute."
    )
    editor_group: str = Field(default="editor", description="PERSONALIZE_EDITOR_GROUP: the consumer group.")

    @field_validator("editor_secret")
    @classmethod
    def _not_placeholder(cls, value: SecretStr) -> SecretStr:
        secret = value.get_secret_value().strip()
        if secret.lower() in PLACEHOLDER_SECRETS:
            raise ValueError(
                "is a placeholder; set a random value (python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(f"must be at least {MIN_SECRET_LENGTH} characters")
        return value

    @field_validator("asset_retention")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value < timedelta(hours=1):
            raise ValueError("must be at least 1h (fulfillment needs the photos)")
        return value

    @property
    def max_body_bytes(self) -> int:
        """The largest request accepted: the images plus room for the text fields and multipart framing."""
        return self.editor_upload_max_bytes + MIB
