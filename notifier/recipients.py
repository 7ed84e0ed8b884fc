"""Who receives a link's emails (the link, its re-issues, its reminders): the one place that decides.

The store chooses (`delivery.recipient`, copied by core from its settings):
- `merchant` (the default, the seed's flow: its fulfiller may not email buyers,
  so the merchant forwards the link);
- `customer`: the buyer, at the address the order carries. An order without
  one falls back to the merchant. Etsy shares no buyer address with apps (its
  `buyer_email` is null unless Etsy grants access), so Etsy orders normally
  fall back, and the merchant's email then holds a message ready to paste
  into Etsy Messages, the only channel to an Etsy buyer. An address that is
  not one plain address counts as none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeGuard

from schemas import LinkDelivery, LinkRecipient, Platform

_ADDRESS = re.compile(r"[^@\s,;<>]+@[^@\s,;<>]+")


@dataclass(frozen=True)
class Addressee:
    recipient: LinkRecipient
    email: str
    name: str
    fell_back: bool  # the store wanted the customer, but the order has no address for them
    etsy_messages: bool  # the merchant passes the link on through Etsy Messages, not by forwarding an email


def is_address(text: str | None) -> TypeGuard[str]:
    """One plain address: what a platform sends as the buyer's email is not trusted to be one."""
    return bool(text and _ADDRESS.fullmatch(text))


def addressee(platform: Platform, merchant_email: str, delivery: LinkDelivery) -> Addressee:
    if delivery.recipient == "customer" and is_address(delivery.customer_email):
        return Addressee("customer", delivery.customer_email, delivery.customer_name, False, False)
    return Addressee("merchant", merchant_email, "", delivery.recipient == "customer", platform == "etsy")
