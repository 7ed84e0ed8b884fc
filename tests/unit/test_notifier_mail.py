"""The merchant's email and the SMTP settings, without a server."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy

import pytest

from notifier.mail import parse_smtp_url
from notifier.render import render_link_email
from schemas import PersonalizationLinkIssued, RequestedItem
from tests.builders import load_test_config

AT = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)


def link(**changes) -> PersonalizationLinkIssued:
    fields = dict(order_key="etsy:shop:42", occurred_at=AT, link_id="0b1c", url="https://p.example/p/tok<en>",
                  expires_at=AT + timedelta(days=7), sequence=1, merchant_email="m@example.com", store_id="shop",
                  platform="etsy", order_number="42",
                  items=[RequestedItem(line_id="1", title='Mug "<script>alert(1)</script>"', quantity=3,
                                       template=load_test_config().template("name-mug"))])
    return PersonalizationLinkIssued(**{**fields, **changes})


def test_the_email_names_the_order_lists_products_and_links_with_a_forwardable_part():
    email = render_link_email(link(), "m@example.com")
    assert email.subject == "Order 42: personalization link for your customer"
    assert "Friday 04 December 2026, 12:00 UTC" in email.text
    assert "-------- forward from here --------" in email.text and "https://p.example/p/tok<en>" in email.text
    assert "<script>" not in email.html and "&lt;script&gt;" in email.html  # autoescaped
    assert 'href="https://p.example/p/tok&lt;en&gt;"' in email.html
    message = email.message("Shop <shop@example.com>")
    assert message["Message-ID"] == "<0b1c@personalize>" and message["To"] == "m@example.com"
    assert [part.get_content_type() for part in message.get_payload()] == ["text/plain", "text/html"]
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)  # as a mail client reads it
    assert "tok<en>" in parsed.get_body(("plain",)).get_content()


def test_a_test_order_says_so_in_the_subject_and_body():
    email = render_link_email(link(is_test=True), "m@example.com")
    assert email.subject.startswith("[TEST] ") and "TEST order" in email.text


@pytest.mark.parametrize(("url", "host", "port", "tls", "starttls", "user"), [
    ("smtp://mail.example.com:2525", "mail.example.com", 2525, False, False, None),
    ("smtps://u%40x:p%3Aw@mail.example.com", "mail.example.com", 465, True, False, "u@x"),
    ("smtp://mail.example.com:587?starttls=true", "mail.example.com", 587, False, True, None),
])
def test_smtp_urls(url, host, port, tls, starttls, user):
    target = parse_smtp_url(url)
    assert (target.host, target.port, target.implicit_tls, target.starttls, target.username) == (host, port, tls, starttls, user)


@pytest.mark.parametrize("url", ["http://mail.example.com", "smtp://", "mail.example.com:25"])
def test_bad_smtp_urls_are_refused(url):
    with pytest.raises(ValueError, match="PERSONALIZE_SMTP_URL"):
        parse_smtp_url(url)
