"""The link emails, rendered from templates in the store's language (autoescaped HTML and plain text).

- Languages: gettext catalogs (`locales/<lang>/LC_MESSAGES/messages.po`,
  English is the source), read with Babel, which also writes the dates the
  locale's way. A locale without a catalog falls back to its language
  (`de-AT` → `de`), then to English.
- Overrides: with PERSONALIZE_EMAIL_TEMPLATES_DIR set, a template found there
  as `<platform>/<store_id>/<name>` wins for that store, one found as `<name>`
  for every store, else the built-in one beside this file.
- Why decisions and wording live where they do: `docs/emails.md`.
"""

from __future__ import annotations

import gettext
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, parseaddr
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Literal

from babel import negotiate_locale
from babel.dates import format_date, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    Template,
    select_autoescape,
)

from notifier.recipients import Addressee, is_address
from schemas import LinkDelivery, PersonalizationLinkIssued

EmailKind = Literal["link", "reissued_link", "reminder"]
LOCALES_DIR = Path(__file__).parent / "locales"
SOURCE_LOCALE = "en"
LOCALES = (SOURCE_LOCALE, *sorted(p.name for p in LOCALES_DIR.iterdir() if (p / "LC_MESSAGES").is_dir()))


def pick_locale(requested: str) -> str:
    """The supported locale closest to the store's: exact, then its language, then English."""
    wanted = requested.replace("_", "-").strip()
    return negotiate_locale([wanted], list(LOCALES), sep="-") or SOURCE_LOCALE


@cache
def translations(locale: str) -> gettext.NullTranslations:
    # Compiled from the .po at start-up, so the repository holds no binary catalog that could drift from its source.
    po = LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return gettext.NullTranslations()
    with po.open("rb") as source:
        catalog = read_po(source, locale=locale)
    compiled = BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries are left out: an unsure translation falls back to English
    compiled.seek(0)
    return Translations(fp=compiled)


def _environment(loader: BaseLoader, locale: str, reload: bool) -> Environment:
    env = Environment(
        loader=loader,
        auto_reload=reload,  # a stat per template per email, measured: only worth it for files an operator edits
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.policies["ext.i18n.trimmed"] = True  # a wrapped {% trans %} block is one msgid, whatever its line breaks
    # newstyle: variables escaped in HTML. The method is added by the i18n extension at run time, unknown to mypy.
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    return env


_PLAIN = Environment(
    loader=PackageLoader("notifier", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def plain_email(
    kind: str, context: Mapping[str, object], to: str, event_id: object, sender_name: str | None = None
) -> RenderedEmail:
    """A store-level email (an address change, a disconnection) from `<kind>.subject.j2`, `.txt.j2` and
    `.html.j2`: autoescaped, untranslated, English for every store until they are (`docs/emails.md`)."""
    return RenderedEmail(
        to=to,
        subject=_one_line(_PLAIN.get_template(f"{kind}.subject.j2").render(context)),
        text=_PLAIN.get_template(f"{kind}.txt.j2").render(context),
        html=_PLAIN.get_template(f"{kind}.html.j2").render(context),
        message_id=f"<{event_id}.{kind}@personalize>",
        sender_name=sender_name,
    )


def _one_line(text: str) -> str:
    """Header values: a newline in an order number or a shop name must not start a header of its own."""
    return " ".join(text.split())


def format_expiry(moment: datetime, locale: str) -> str:
    return (
        f"{format_date(moment, 'full', locale=locale)}, {format_time(moment, 'HH:mm', tzinfo=UTC, locale=locale)} UTC"
    )


@dataclass(frozen=True)
class RenderedEmail:
    to: str
    subject: str
    text: str
    html: str
    message_id: str
    sender_name: str | None = None
    reply_to: str | None = None
    locale: str = SOURCE_LOCALE

    def message(self, sender: str) -> MIMEMultipart:
        """The MIME message; the address comes from PERSONALIZE_MAIL_FROM, the display name from the store."""
        # The legacy MIME classes, not EmailMessage: the modern policy's header parsing
        # took most of the notifier's CPU (profiled), and these build the same message.
        default_name, address = parseaddr(sender)
        message = MIMEMultipart("alternative")
        message["From"] = formataddr((_one_line(self.sender_name or default_name), address), "utf-8")
        message["To"] = self.to
        if self.reply_to:
            message["Reply-To"] = _one_line(self.reply_to)
        subject = self.subject if self.subject.isascii() else Header(self.subject, "utf-8")
        message["Subject"] = subject  # type: ignore[assignment]  # a compat32 message takes a Header; typeshed says str
        message["Message-ID"] = self.message_id
        message["Content-Language"] = self.locale
        message.attach(MIMEText(self.text, "plain", "utf-8"))
        message.attach(MIMEText(self.html, "html", "utf-8"))
        return message


class EmailRenderer:
    """Renders the three emails of a link; one Jinja environment per supported language."""

    def __init__(self, overrides: Path | None = None) -> None:
        built_in = PackageLoader("notifier", "templates")
        loader = ChoiceLoader([FileSystemLoader(overrides), built_in]) if overrides else built_in
        self._overrides = overrides is not None
        self._envs = {locale: _environment(loader, locale, self._overrides) for locale in LOCALES}

    def render(
        self,
        kind: EmailKind,
        link: PersonalizationLinkIssued,
        delivery: LinkDelivery,
        to: Addressee,
        *,
        expired: bool = False,
        reminder: int = 0,
    ) -> RenderedEmail:
        locale = pick_locale(delivery.locale)
        env = self._envs[locale]
        logo = delivery.logo_url if (delivery.logo_url or "").startswith("https://") else None
        context = {
            "link": link,
            "to": to,
            "kind": kind,
            "expired": expired,
            "reminder": reminder,
            "locale": locale,
            "shop": delivery.sender_name or "",
            "logo_url": logo,
            "customer_name": delivery.customer_name,
            "expires": format_expiry(link.expires_at, locale),
        }

        def template(name: str) -> Template:
            if not self._overrides:
                return env.get_template(name)
            return env.select_template([f"{link.platform}/{link.store_id}/{name}", name])

        context["customer_message"] = template("customer_message.txt.j2").render(context).strip()
        subject = _one_line(template(f"{kind}.subject.j2").render(context))
        context["subject"] = subject
        address = formataddr((_one_line(to.name), to.email), "utf-8") if to.name else to.email
        # The link's id in the Message-ID: a mail system that sees the same message twice can tell.
        suffix = f".reminder-{reminder}" if kind == "reminder" else ""
        return RenderedEmail(
            to=address,
            subject=("[TEST] " if link.is_test else "") + subject,
            text=template(f"{kind}.txt.j2").render(context),
            html=template(f"{kind}.html.j2").render(context),
            message_id=f"<{link.link_id}{suffix}@personalize>",
            sender_name=delivery.sender_name,
            reply_to=delivery.reply_to if is_address(delivery.reply_to) else None,
            locale=locale,
        )
