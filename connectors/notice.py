"""The notice a personalizable product carries in its description: the buyer personalizes after ordering.

The seed's step 2: buyers "will be informed in the product details that they'll receive an email to
personalize the product after placing an order (this message is generated during product creation)".
The wording follows who gets the link (`StoreSettings.link_recipient`): the merchant forwards it ("the
shop will send you a link"), or the buyer is emailed it directly. Etsy gives us no buyer email, so an
Etsy store's links always go through the merchant (Etsy's own messages) and its notice says so.

Languages: the store's `locale` (`de`, `de-AT` → `de`); one we have no text for falls back to English.
"""

from __future__ import annotations

import html

from plumbing.config import LinkRecipientSetting

NOTICES: dict[str, dict[LinkRecipientSetting, str]] = {
    "en": {
        "merchant": "Personalized after you order: once your order is placed, the shop will send you a link "
        "where you add your personalization. We make your item as soon as you have completed it.",
        "customer": "Personalized after you order: once your order is placed, you will receive an email with a "
        "link where you add your personalization. We make your item as soon as you have completed it.",
    },
    "de": {
        "merchant": "Personalisierung nach der Bestellung: Nach Ihrer Bestellung sendet Ihnen der Shop einen Link, "
        "über den Sie Ihre Personalisierung hinzufügen. Wir fertigen Ihren Artikel, sobald Sie die "
        "Personalisierung abgeschlossen haben.",
        "customer": "Personalisierung nach der Bestellung: Nach Ihrer Bestellung erhalten Sie eine E-Mail mit einem "
        "Link, über den Sie Ihre Personalisierung hinzufügen. Wir fertigen Ihren Artikel, sobald Sie die "
        "Personalisierung abgeschlossen haben.",
    },
}
FALLBACK = "en"
NO_BUYER_EMAIL = {"etsy"}  # platforms whose orders carry no address to email the buyer at


def notice_text(platform: str, link_recipient: LinkRecipientSetting, locale: str) -> str:
    language = locale.split("-", 1)[0].lower()
    texts = NOTICES.get(language, NOTICES[FALLBACK])
    return texts["merchant" if platform in NO_BUYER_EMAIL else link_recipient]


def html_description(notice: str, extra: str = "") -> str:
    """Paragraphs of escaped text: the merchant's words first, then the notice (both plain text to us)."""
    return "".join(f"<p>{html.escape(part)}</p>" for part in (extra.strip(), notice) if part)


def text_description(notice: str, extra: str = "") -> str:
    """For platforms whose description is plain text (Etsy)."""
    return "\n\n".join(part for part in (extra.strip(), notice) if part)
