"""The notifier's settings: where links point, how long they live, how mail is sent and looks."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import Field, SecretStr

from plumbing.durations import Duration
from plumbing.settings import Settings


class NotifierSettings(Settings):
    public_url: str = Field(
        default="http://127.0.0.1:8600", description="PERSONALIZE_PUBLIC_URL: the editor's address."
    )
    smtp_url: str = Field(
        default="smtp://127.0.0.1:1025",
        description="PERSONALIZE_SMTP_URL: smtp://host:port, "
        "smtps://… for implicit TLS, ?starttls=true for STARTTLS; user:password@ optional.",
    )
    smtp_username: str | None = Field(default=None, description="PERSONALIZE_SMTP_USERNAME (overrides the URL's).")
    smtp_password: SecretStr | None = Field(default=None, description="PERSONALIZE_SMTP_PASSWORD (never logged).")
    mail_from: str = Field(default="Personalize <personalize@localhost>", description="PERSONALIZE_MAIL_FROM.")
    email_templates_dir: Path | None = Field(
        default=None,
        description="PERSONALIZE_EMAIL_TEMPLATES_DIR: email templates overriding the built-in ones, "
        "`<platform>/<store_id>/<name>` for one store, `<name>` for all (docs/emails.md).",
    )
    scheduler_tick: Duration = Field(
        default=timedelta(milliseconds=250), description="How often due links are looked for."
    )
    hooks_allow_local: bool = Field(
        default=False,
        description="PERSONALIZE_HOOKS_ALLOW_LOCAL: dev and tests only (`personalize dev` sets it): automation "
        "webhooks may go to loopback over plain http and to private addresses; off, https to public ones only.",
    )
    metrics_port: int = Field(default=0, ge=0, le=65535, description="PERSONALIZE_METRICS_PORT: Prometheus, 0 = off.")
    notifier_group: str = "notifier"
    hooks_group: str = "notifier-webhooks"
