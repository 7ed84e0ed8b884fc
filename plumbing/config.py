"""The YAML config: templates and stores. Validated at start-up; a bad file names the field."""

from __future__ import annotations

import base64
import ipaddress
import os
import re
from collections.abc import Iterator
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from plumbing import limits
from plumbing.durations import Duration
from plumbing.limits import (
    Choice,
    FieldName,
    Label,
    ProductKey,
    Secret,
    SenderName,
    ShortText,
    TemplateId,
    Title,
    Url,
)
from plumbing.logs import redact_secrets
from schemas import DELIVERABLE_EVENTS, EmailAddress, LineItem, Platform, Template, TemplateField

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigError(RuntimeError):
    """The config file is missing or invalid; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TemplateFieldConfig(TemplateField):
    """A template's field as a merchant or the operator writes it: the event's field, with its size limited."""

    name: FieldName = Field(examples=["name"])
    label: Label | None = Field(default=None, description="Shown to the customer; defaults to the name.")
    max_length: int | None = Field(default=None, ge=1, le=limits.TEXT_MAX, description="Text fields only.")
    choices: list[Choice] | None = Field(
        default=None, min_length=1, max_length=limits.CHOICES_MAX, description="Clipart fields only."
    )


class TemplateConfig(_Strict):
    title: Title
    fields: list[TemplateFieldConfig] = Field(min_length=1, max_length=limits.FIELDS_MAX)

    @field_validator("fields", mode="before")
    @classmethod
    def _checked_again(cls, value: Any) -> Any:
        # An event's fields (`schemas.TemplateField`, no limits) given here are checked against the limits.
        if isinstance(value, list):
            return [f.model_dump() if type(f) is TemplateField else f for f in value]
        return value

    @model_validator(mode="after")
    def _fits_an_event(self) -> TemplateConfig:
        # Copied into every personalizable line of a request: each limit may be reached, not all at once.
        size = len(self.model_dump_json().encode())
        if size > limits.TEMPLATE_MAX_BYTES:
            raise ValueError(f"the template is {size} bytes as JSON; at most {limits.TEMPLATE_MAX_BYTES}")
        return self

    def event_fields(self) -> list[TemplateField]:
        """The fields as the events carry them."""
        return [TemplateField.model_validate(f.model_dump()) for f in self.fields]


class ProductMatch(_Strict):
    """A personalizable product; a line item matches when any key given here equals the line's."""

    product_id: ProductKey | None = None
    variant_id: ProductKey | None = None
    sku: ProductKey | None = None
    template: TemplateId

    @model_validator(mode="after")
    def _has_a_key(self) -> ProductMatch:
        if not (self.product_id or self.variant_id or self.sku):
            raise ValueError("give at least one of product_id, variant_id, sku")
        return self

    def matches(self, line: LineItem) -> bool:
        return any(
            mine is not None and mine == theirs
            for mine, theirs in (
                (self.product_id, line.product_id),
                (self.variant_id, line.variant_id),
                (self.sku, line.sku),
            )
        )


def _hook_url(url: str) -> str:
    # `https://`, or `http://` to a loopback host (dev and tests; the notifier still refuses it unless
    # PERSONALIZE_HOOKS_ALLOW_LOCAL). Messages never quote the URL: its path may be the endpoint's secret.
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("must be an https:// URL with a host")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ValueError("must be https:// (plain http only to a loopback host, in dev and tests)")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry a user or password (put the secret in `secret`)")
    return url


def is_loopback_host(host: str) -> bool:
    """`localhost` or a loopback address (`urlsplit`'s `hostname`: lower case, no brackets)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class OutboundWebhook(_Strict):
    """A merchant's automation endpoint (Zapier-like): chosen events, signed per Standard Webhooks."""

    url: Annotated[str, AfterValidator(_hook_url)] = Field(
        max_length=2048, description="https://; plain http only to loopback, in dev and tests."
    )
    secret: str = Field(description="`whsec_` + base64 of 24-64 random bytes; give it as ${ENV}.")
    events: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _valid(self) -> OutboundWebhook:
        if not self.secret.startswith("whsec_"):
            raise ValueError("secret must start with whsec_ (Standard Webhooks)")
        try:
            key = base64.b64decode(self.secret[6:], validate=True)
        except ValueError:
            raise ValueError("secret after whsec_ must be base64") from None
        if not 24 <= len(key) <= 64:
            raise ValueError("secret must hold 24 to 64 bytes")
        unknown = set(self.events) - DELIVERABLE_EVENTS
        if unknown:
            raise ValueError(f"unknown events {sorted(unknown)}; choose from {sorted(DELIVERABLE_EVENTS)}")
        return self


DEFAULT_BUYER_TEXT_KEYS = ("personalization", "personalisation", "personalized text", "custom text", "engraving")


LinkRecipientSetting = Literal["merchant", "customer"]
MixedOrderPolicy = Literal["hold_whole_order", "ship_plain_items_now"]


def _reminder_delay(value: timedelta) -> timedelta:
    # Written back as RFC 3339 durations (the API, the events): no sign, no fraction, and days rather than
    # pydantic's 365-day years, which that grammar cannot mix with days.
    if value <= timedelta(0) or value >= timedelta(days=365) or value.microseconds:
        raise ValueError("a reminder is a whole number of seconds after the link is issued, under 365 days")
    return value


ReminderDelay = Annotated[Duration, AfterValidator(_reminder_delay)]


class StoreSettings(_Strict):
    """What a merchant may change while the system runs (the merchant API); the YAML seeds it."""

    merchant_email: EmailAddress
    approval: Literal["manual", "automatic"] = "manual"
    link_recipient: LinkRecipientSetting = Field(
        default="merchant",
        description="`merchant`: the merchant gets the link and forwards it (the seed's flow). `customer`: the buyer "
        "gets it, where the order has the buyer's address (not on Etsy: those fall back to the merchant).",
    )
    locale: str = Field(
        default="en",
        pattern=r"^[a-z]{2}(-[A-Z]{2})?$",
        description="Language of emails and product notices; unsupported ones fall back to English.",
    )
    sender_name: SenderName | None = Field(default=None, description="The emails' sender name.")
    reply_to: EmailAddress | None = None
    logo_url: Url | None = None
    reminders: list[ReminderDelay] = Field(
        default_factory=lambda: [timedelta(days=3), timedelta(days=6)],
        max_length=10,
        description="Remind this long after a link is issued, while it is unused; [] for none.",
    )
    mixed_orders: MixedOrderPolicy = Field(
        default="hold_whole_order",
        description="An order with personalizable and plain lines: hold it whole (the seed), or fulfill the plain "
        "lines at once and the personalized ones when ready.",
    )


class StoreConfig(StoreSettings):
    platform: Platform
    store_id: str = Field(min_length=1, max_length=limits.STORE_ID_MAX, pattern=r"^[^\s/\x00-\x1f\x7f]+$")
    products: list[ProductMatch] = Field(default_factory=list, max_length=limits.PRODUCTS_MAX)

    # How the store's connector reaches the platform (connectors only).
    base_url: Url | None = Field(
        default=None, description="The store's or the API's address, without a trailing slash."
    )
    credentials: dict[ShortText, Secret] = Field(
        default_factory=dict,
        max_length=limits.CREDENTIALS_MAX,
        description="As the platform needs them; write secrets as ${ENV}.",
    )
    webhook_secret: Secret | None = Field(
        default=None, description="Shared secret, or public key (Wix), to verify webhooks."
    )
    poll_interval: Duration = timedelta(seconds=60)
    lookback: Duration = Field(
        default=timedelta(minutes=10), description="Each poll re-reads this far before the cursor."
    )
    start_from: AwareDatetime | None = Field(
        default=None, description="First poll starts here (default: now - lookback)."
    )
    buyer_text_keys: list[ShortText] = Field(
        default_factory=lambda: list(DEFAULT_BUYER_TEXT_KEYS),
        max_length=limits.TEXT_KEYS_MAX,
        description="Names of the order-line fields that carry the text the buyer typed at checkout (case-insensitive).",
    )

    webhooks: list[OutboundWebhook] = Field(
        default_factory=list, max_length=limits.WEBHOOKS_MAX, description="Automation endpoints (notifier)."
    )

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.store_id}"


class Config(_Strict):
    templates: dict[TemplateId, TemplateConfig] = Field(
        default_factory=dict, description="Shared by every store: the YAML's, and those an operator key writes."
    )
    stores: list[StoreConfig] = Field(default_factory=list)
    # Store key -> the templates that store's key created (`core/directory.py`); never in the YAML.
    store_templates: dict[str, dict[str, TemplateConfig]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _references_resolve(self) -> Config:
        if self.store_templates:
            raise ValueError("store_templates: written by the merchant API, not in the YAML (use templates)")
        seen: set[tuple[str, str]] = set()
        for i, store in enumerate(self.stores):
            key = (store.platform, store.store_id)
            if key in seen:
                raise ValueError(f"stores.{i}: store {store.platform}:{store.store_id} is listed twice")
            seen.add(key)
            for j, product in enumerate(store.products):
                if product.template not in self.templates:
                    raise ValueError(f"stores.{i}.products.{j}.template: unknown template {product.template!r}")
        return self

    def store(self, platform: str, store_id: str) -> StoreConfig | None:
        return self._stores_by_key.get((platform, store_id))

    def template(self, template_id: str, store: str | None = None) -> Template:
        """The template `store` (a store key) gets for this id: its own if it has one by that id, else the shared."""
        own = self._own_templates.get((store, template_id)) if store else None
        return own or self._templates_by_id[template_id]

    def templates_for(self, store: str) -> dict[str, TemplateConfig]:
        """Every template the store may use: the shared ones, and its own (which win over a shared one's id)."""
        return {**self.templates, **self.store_templates.get(store, {})}

    # Looked up for every order: built once (the config is frozen).
    @cached_property
    def _stores_by_key(self) -> dict[tuple[str, str], StoreConfig]:
        return {(s.platform, s.store_id): s for s in self.stores}

    @cached_property
    def _templates_by_id(self) -> dict[str, Template]:
        return {tid: Template(id=tid, title=t.title, fields=t.event_fields()) for tid, t in self.templates.items()}

    @cached_property
    def _own_templates(self) -> dict[tuple[str, str], Template]:
        return {
            (store, tid): Template(id=tid, title=t.title, fields=t.event_fields())
            for store, own in self.store_templates.items()
            for tid, t in own.items()
        }


def _expand_env(node: Any, path: str) -> Any:
    if isinstance(node, dict):
        return {k: _expand_env(v, f"{path}.{k}" if path else str(k)) for k, v in node.items()}
    if isinstance(node, list):
        return [_expand_env(v, f"{path}.{i}") for i, v in enumerate(node)]
    if isinstance(node, str):

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                raise ConfigError(f"{path}: environment variable {name} is not set")
            return os.environ[name]

        return _ENV_REF.sub(substitute, node)
    return node


def load_config(path: Path | str) -> Config:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the config file ({error.strerror})") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping with templates and stores")
    try:
        config = Config.model_validate(_expand_env(raw, ""))
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}" for e in error.errors()
        )
        raise ConfigError(f"{path}: {problems}") from None
    redact_secrets(_secrets_of(config))
    return config


def _secrets_of(config: Config) -> Iterator[str]:
    """What a log line must never show: the stores' credentials (but their ids) and webhook secrets."""
    for store in config.stores:
        yield from (value for name, value in store.credentials.items() if not name.endswith("_id"))
        if store.webhook_secret:
            yield store.webhook_secret
        yield from (hook.secret for hook in store.webhooks)
