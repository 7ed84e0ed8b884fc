"""The merchant's email, rendered from the templates beside this file (autoescaped HTML and plain text)."""

from __future__ import annotations

from dataclasses import dataclass
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from schemas import PersonalizationLinkIssued

_ENV = Environment(
    loader=PackageLoader("notifier", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class RenderedEmail:
    to: str
    subject: str
    text: str
    html: str
    message_id: str

    def message(self, sender: str) -> MIMEMultipart:
        # The legacy MIME classes, not EmailMessage: the modern policy's header parsing
        # took most of the notifier's CPU (profiled), and these build the same message.
        message = MIMEMultipart("alternative")
        message["From"], message["To"] = sender, self.to
        message["Subject"] = self.subject if self.subject.isascii() else Header(self.subject, "utf-8")
        message["Message-ID"] = self.message_id
        message.attach(MIMEText(self.text, "plain", "utf-8"))
        message.attach(MIMEText(self.html, "html", "utf-8"))
        return message


def render_link_email(link: PersonalizationLinkIssued, to: str) -> RenderedEmail:
    expires = link.expires_at.strftime("%A %d %B %Y, %H:%M UTC")
    test = "[TEST] " if link.is_test else ""
    return RenderedEmail(
        to=to,
        subject=f"{test}Order {link.order_number}: personalization link for your customer",
        text=_ENV.get_template("link_email.txt.j2").render(link=link, expires=expires),
        html=_ENV.get_template("link_email.html.j2").render(link=link, expires=expires),
        # The link's id in the Message-ID: a mail system that sees the same message twice can tell.
        message_id=f"<{link.link_id}@personalize>",
    )
