"""Who receives the personalization email: the one place that decides.

The merchant, always, for now: the seed's fulfiller may not email buyers
(its legal point), and the merchant forwards the link. A per-store opt-in to
email the customer comes with the merchant-experience issue, here.
"""

from __future__ import annotations

from schemas import PersonalizationLinkIssued


def recipient_for(link: PersonalizationLinkIssued) -> str:
    return link.merchant_email
