"""The link emails (who gets them, wording, language, branding, overrides), reminder times, SMTP settings; no server."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import Message
from pathlib import Path
from typing import Any, cast

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from notifier.automation import HOOK_TOPICS
from notifier.mail import parse_smtp_url
from notifier.recipients import addressee
from notifier.reminders import due_reminder, next_wakeup, reminder_times
from notifier.render import LOCALES_DIR, EmailKind, EmailRenderer, RenderedEmail, pick_locale
from schemas import PERSONALIZATION_LINK_ACTIVITY, LinkDelivery, PersonalizationLinkIssued, RequestedItem
from tests.builders import load_test_config

AT = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
TEMPLATES = Path(__file__).parents[2] / "notifier" / "templates"
RENDERER = EmailRenderer()


def link(**changes: object) -> PersonalizationLinkIssued:
    fields = {
        "order_key": "woocommerce:shop:42",
        "occurred_at": AT,
        "link_id": "0b1c",
        "url": "https://p.example/p/tok<en>",
        "expires_at": AT + timedelta(days=7),
        "sequence": 1,
        "merchant_email": "m@example.com",
        "store_id": "shop",
        "platform": "woocommerce",
        "order_number": "42",
        "items": [
            RequestedItem(
                line_id="1",
                title='Mug "<script>alert(1)</script>"',
                quantity=3,
                template=load_test_config().template("name-mug"),
            )
        ],
    }
    return PersonalizationLinkIssued.model_validate({**fields, **changes})


def render(
    kind: EmailKind = "link",
    the_link: PersonalizationLinkIssued | None = None,
    renderer: EmailRenderer = RENDERER,
    **delivery: object,
) -> RenderedEmail:
    the_link = the_link or link()
    wanted = LinkDelivery(**delivery)
    to = addressee(the_link.platform, the_link.merchant_email, wanted)
    return renderer.render(kind, the_link, wanted, to, expired=True, reminder=1)


# Any: with policy.default headers parse into objects (`.addresses`) that typeshed does not know of.
def parsed(email: RenderedEmail, sender: str = "Personalize <personalize@localhost>") -> Any:
    return message_from_bytes(email.message(sender).as_bytes(), policy=policy.default)  # as a mail client reads it


def test_the_merchant_email_names_the_order_lists_products_and_links_with_a_forwardable_part():
    email = render()
    assert email.subject == "Order 42: personalization link for your customer"
    assert "Friday, December 4, 2026, 12:00 UTC" in email.text
    assert "-------- forward from here --------" in email.text and "https://p.example/p/tok<en>" in email.text
    assert "<script>" not in email.html and "&lt;script&gt;" in email.html  # autoescaped
    assert 'href="https://p.example/p/tok&lt;en&gt;"' in email.html
    message = email.message("Shop <shop@example.com>")
    assert message["Message-ID"] == "<0b1c@personalize>" and message["To"] == "m@example.com"
    parts = cast(list[Message], message.get_payload())  # a multipart message's payload is its parts
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    assert "tok<en>" in parsed(email).get_body(("plain",)).get_content()


def test_a_test_order_says_so_in_the_subject_and_body():
    email = render(the_link=link(is_test=True))
    assert email.subject.startswith("[TEST] ") and "This is a test order" in email.text


def test_the_store_chooses_the_merchant_by_default_and_the_customer_when_the_order_has_an_address():
    assert addressee("woocommerce", "m@example.com", LinkDelivery()).recipient == "merchant"
    wanted = LinkDelivery(recipient="customer", customer_email="ada@example.com", customer_name="Ada")
    assert addressee("woocommerce", "m@example.com", wanted) == addressee("etsy", "m@example.com", wanted)
    to = addressee("woocommerce", "m@example.com", wanted)
    assert (to.recipient, to.email, to.fell_back) == ("customer", "ada@example.com", False)
    no_address = addressee("wix", "m@example.com", LinkDelivery(recipient="customer"))
    assert (no_address.recipient, no_address.email, no_address.fell_back) == ("merchant", "m@example.com", True)


def test_the_customer_is_asked_to_personalize_not_to_forward():
    email = render(recipient="customer", customer_email="ada@example.com", customer_name="Ada Lovelace")
    assert email.subject == "Personalize your order 42"
    assert parsed(email)["To"].addresses[0].addr_spec == "ada@example.com"
    assert "Hello Ada Lovelace," in email.text and "forward" not in email.text.lower()
    assert "Personalize my order" in email.html and "forward" not in email.html.lower()


def test_an_etsy_order_falls_back_to_the_merchant_with_a_message_to_paste_into_etsy_messages():
    email = render(the_link=link(platform="etsy", order_key="etsy:shop:42"), recipient="customer", customer_name="Ada")
    assert parsed(email)["To"].addresses[0].addr_spec == "m@example.com"
    assert "Etsy does not share this buyer's email address" in email.text
    pasted = email.text.split("-------- copy from here --------\n")[1].split("-------- copy up to here")[0]
    assert pasted.startswith("Hello Ada,") and "https://p.example/p/tok<en>" in pasted and "Etsy" not in pasted
    assert "Etsy Messages" in email.html and "forward" not in email.text.lower()
    # The HTML shows the same text to copy, escaped like everything else.
    assert "https://p.example/p/tok&lt;en&gt;" in email.html.split("<pre")[1]


def test_an_etsy_store_that_keeps_the_merchant_flow_also_gets_the_etsy_messages_text():
    email = render(the_link=link(platform="etsy", order_key="etsy:shop:42"))
    assert "Etsy Messages" in email.text and "Your store sends personalization links" not in email.text


@pytest.mark.parametrize("kind", ["link", "reissued_link", "reminder"])
@pytest.mark.parametrize("recipient", ["merchant", "customer"])
def test_every_email_is_german_for_a_german_store(kind, recipient):
    email = render(kind, locale="de-AT", recipient=recipient, customer_email="ada@example.com")
    english = render(kind, recipient=recipient, customer_email="ada@example.com")
    assert email.locale == "de" and "Bestellung 42" in email.subject and email.subject != english.subject
    assert "Freitag, 4. Dezember 2026, 12:00 UTC" in email.text and "Freitag, 4. Dezember 2026" in email.html
    assert '<html lang="de">' in email.html and parsed(email)["Content-Language"] == "de"
    visible_html = re.sub(r"<[^>]*>", " ", email.html)
    for english_word in (r"\bHello\b", r"\border\b", r"\blink works\b", r"\bpersonalize\b", r"\bcustomer\b"):
        assert not re.search(english_word, email.text, re.IGNORECASE) and not re.search(
            english_word, visible_html, re.IGNORECASE
        ), english_word


def test_german_wording_per_recipient():
    assert render(locale="de").subject == "Bestellung 42: Personalisierungslink für Ihren Kunden"
    customer = render(locale="de", recipient="customer", customer_email="ada@example.com")
    assert customer.subject == "Personalisieren Sie Ihre Bestellung 42"
    assert "Meine Bestellung personalisieren" in customer.html
    etsy = render(the_link=link(platform="etsy"), locale="de", recipient="customer")
    assert "Etsy-Nachrichten" in etsy.text and "ab hier kopieren" in etsy.text


def test_the_german_catalog_translates_every_message_of_the_templates():
    with (LOCALES_DIR / "de" / "LC_MESSAGES" / "messages.po").open("rb") as source:
        catalog = read_po(source)
    used = {
        message
        for _, _, message, *_ in extract_from_dir(
            TEMPLATES, method_map=[("**.j2", "jinja2")], options_map={"**.j2": {"trimmed": "true"}}
        )
    }
    assert used and all(isinstance(m, str) for m in used)
    for message in used:
        translated = catalog.get(message)
        assert translated is not None and translated.string and not translated.fuzzy, message


@pytest.mark.parametrize(
    ("wanted", "chosen"), [("de", "de"), ("de-AT", "de"), ("de_CH", "de"), ("en-GB", "en"), ("fr", "en"), ("", "en")]
)
def test_an_unknown_locale_falls_back_to_its_language_then_english(wanted, chosen):
    assert pick_locale(wanted) == chosen


def test_the_store_brands_the_email():
    email = render(
        sender_name="Mugs & Co", reply_to="help@mugs.example", logo_url="https://cdn.example/logo.png?a=1&b=2"
    )
    message = parsed(email, "Personalize <noreply@personalize.example>")
    assert message["From"].addresses[0].display_name == "Mugs & Co"
    assert message["From"].addresses[0].addr_spec == "noreply@personalize.example"  # the address stays ours
    assert message["Reply-To"] == "help@mugs.example"
    assert '<img src="https://cdn.example/logo.png?a=1&amp;b=2" alt="Mugs &amp; Co"' in email.html
    assert "logo" not in email.text


def test_a_plain_http_logo_is_left_out_and_no_name_keeps_the_default_sender():
    email = render(logo_url="http://cdn.example/logo.png")
    assert "<img" not in email.html
    assert parsed(email)["From"].addresses[0].display_name == "Personalize"


def test_a_newline_in_a_store_or_order_value_cannot_add_a_header():
    email = render(
        sender_name="Mugs\r\nBcc: victim@example.com",
        reply_to="help@mugs.example\nBcc: x@example.com",
        the_link=link(order_number="42\r\nBcc: victim@example.com"),
        recipient="customer",
        customer_email="ada@example.com\r\nBcc: victim@example.com",
        customer_name="Ada\nBcc: v@example.com",
    )
    message = parsed(email)
    assert message["Bcc"] is None and "\n" not in message["Subject"] and message["Reply-To"] is None
    assert message["To"] == "m@example.com"  # not an address: the merchant gets it, as when there is none


def test_a_store_overrides_a_template_in_the_templates_dir(tmp_path):
    store_dir = tmp_path / "woocommerce" / "shop"
    store_dir.mkdir(parents=True)
    (store_dir / "link.subject.j2").write_text("{{ shop }} – order {{ link.order_number }} is ready to personalize")
    (store_dir / "link.html.j2").write_text(
        '{% extends "_layout.html.j2" %}{% block body %}<p>{{ link.items[0].title }}</p>'
        '<a href="{{ link.url }}">{{ _("Personalize my order") }}</a>{% endblock %}'
    )
    renderer = EmailRenderer(tmp_path)
    email = render(renderer=renderer, sender_name="Mugs & Co", locale="de")
    assert email.subject == "Mugs & Co – order 42 is ready to personalize"
    assert "&lt;script&gt;" in email.html and "<script>" not in email.html  # still autoescaped
    assert "Meine Bestellung personalisieren" in email.html  # an override may use the catalogs too
    assert "Bestellung 42 wartet" in email.text  # what it does not override stays built in
    other_store = render(the_link=link(store_id="other", order_key="woocommerce:other:42"), renderer=renderer)
    assert other_store.subject == "Order 42: personalization link for your customer"


def test_an_override_for_every_store_sits_at_the_top_of_the_dir(tmp_path):
    (tmp_path / "reminder.subject.j2").write_text("Nudge: {{ link.order_number }}")
    assert render("reminder", renderer=EmailRenderer(tmp_path)).subject == "Nudge: 42"


def test_reissued_and_reminder_wording_and_message_ids():
    reissued = render("reissued_link", the_link=link(sequence=2))
    assert reissued.subject == "Order 42: new personalization link for your customer"
    assert "expired before your customer used it" in reissued.text
    reminder = render("reminder")
    assert reminder.subject == "Order 42: reminder, your customer has not personalized yet"
    assert reminder.message_id == "<0b1c.reminder-1@personalize>"
    customer = render("reminder", recipient="customer", customer_email="ada@example.com")
    assert customer.subject == "Reminder: personalize your order 42" and "friendly reminder" in customer.text


def test_reminders_fall_between_issue_and_expiry_in_order():
    expires = AT + timedelta(days=7)
    offsets = [timedelta(days=6), timedelta(days=3), timedelta(days=7), timedelta(days=8), timedelta(0)]
    assert reminder_times(AT, expires, offsets) == [
        (AT + timedelta(days=3)).timestamp(),
        (AT + timedelta(days=6)).timestamp(),
    ]


def test_after_an_outage_only_the_latest_overdue_reminder_is_due():
    times = [AT.timestamp() + 10, AT.timestamp() + 20, AT.timestamp() + 30]
    assert due_reminder(times, 0, AT) is None
    assert due_reminder(times, 0, AT + timedelta(seconds=10)) == 1
    assert due_reminder(times, 0, AT + timedelta(seconds=25)) == 2
    assert due_reminder(times, 2, AT + timedelta(seconds=25)) is None
    assert next_wakeup(times, 2, AT.timestamp() + 40) == AT + timedelta(seconds=30)
    assert next_wakeup(times, 3, AT.timestamp() + 40) == AT + timedelta(seconds=40)


def test_automation_webhooks_route_link_activity():
    assert PERSONALIZATION_LINK_ACTIVITY in HOOK_TOPICS


@pytest.mark.parametrize(
    ("url", "host", "port", "tls", "starttls", "user"),
    [
        ("smtp://mail.example.com:2525", "mail.example.com", 2525, False, False, None),
        ("smtps://u%40x:p%3Aw@mail.example.com", "mail.example.com", 465, True, False, "u@x"),
        ("smtp://mail.example.com:587?starttls=true", "mail.example.com", 587, False, True, None),
    ],
)
def test_smtp_urls(url, host, port, tls, starttls, user):
    target = parse_smtp_url(url)
    assert (target.host, target.port, target.implicit_tls, target.starttls, target.username) == (
        host,
        port,
        tls,
        starttls,
        user,
    )


@pytest.mark.parametrize("url", ["http://mail.example.com", "smtp://", "mail.example.com:25"])
def test_bad_smtp_urls_are_refused(url):
    with pytest.raises(ValueError, match="PERSONALIZE_SMTP_URL"):
        parse_smtp_url(url)
