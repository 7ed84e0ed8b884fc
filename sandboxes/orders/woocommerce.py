"""WooCommerce line-item meta as the REST API serves it: `value` as stored, `display_value` as displayed.

From `woocommerce/woocommerce`: `WC_Order_Item::get_formatted_meta_data` formats only non-empty scalar
values: `rawurldecode`, `wp_kses_post` (disallowed tags dropped, `&` that starts no entity → `&amp;`,
stray `<` `>` escaped), `make_clickable`, then `wpautop` (paragraphs, a newline → `<br />`); the REST
orders controller (`merge_meta_item_with_formatted_meta_display_attributes`) passes the result through
`wc_clean` = `sanitize_text_field` (tags stripped, every run of whitespace and newlines folded into one
space, percent-encoded octets removed, trimmed). Formatting also leaves the decoded string in `value`
(the meta object is changed in place). Lists and objects are not formatted: both fields carry the value
as it is. Here in small: enough to give a connector the answers WooCommerce gives, not WordPress itself.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

# A subset of wp_kses_allowed_html('post'): enough to show that allowed markup survives kses and is then
# stripped by wc_clean anyway.
ALLOWED_TAGS = {"a", "b", "br", "em", "i", "p", "span", "strong", "u"}
_TAG = re.compile(r"</?([a-zA-Z][a-zA-Z0-9-]*)[^<>]*>")
_LONE_AMPERSAND = re.compile(r"&(?!(?:[a-zA-Z][a-zA-Z0-9]*|#[0-9]+|#[xX][0-9a-fA-F]+);)")
_SCRIPT_OR_STYLE = re.compile(r"<(script|style)[^>]*?>.*?</\1>", re.IGNORECASE | re.DOTALL)
_WHITESPACE = re.compile(r"[\r\n\t ]+")
_OCTET = re.compile(r"%[a-fA-F0-9]{2}")


def meta_entry(meta_id: int, key: str, value: Any) -> dict[str, Any]:
    """One `meta_data` entry of a line item, as `GET /orders/{id}` and the order webhooks carry it."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)) or value == "":
        return {"id": meta_id, "key": key, "value": value, "display_key": key, "display_value": value}
    decoded = unquote(str(value))
    return {"id": meta_id, "key": key, "value": decoded, "display_key": key, "display_value": display(decoded)}


def display(text: str) -> str:
    return sanitize_text_field(wpautop(kses_post(text)))


def kses_post(text: str) -> str:
    pieces, last = [], 0
    for tag in _TAG.finditer(text):
        pieces.append(_escaped(text[last : tag.start()]))
        if tag.group(1).lower() in ALLOWED_TAGS:
            pieces.append(tag.group(0))
        last = tag.end()
    pieces.append(_escaped(text[last:]))
    return "".join(pieces)


def _escaped(text: str) -> str:
    return _LONE_AMPERSAND.sub("&amp;", text).replace("<", "&lt;").replace(">", "&gt;")


def wpautop(text: str) -> str:
    if not text.strip():
        return ""
    paragraphs = re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n").strip())
    return "".join("<p>" + p.strip().replace("\n", "<br />\n") + "</p>\n" for p in paragraphs if p.strip())


def sanitize_text_field(text: str) -> str:
    if "<" in text:
        text = re.sub(r"<[^>]*>", "", _SCRIPT_OR_STYLE.sub("", text))
    text = _WHITESPACE.sub(" ", text).strip()
    found = False
    while match := _OCTET.search(text):
        text, found = text.replace(match.group(0), ""), True
    return re.sub(r" +", " ", text).strip() if found else text


# --- trash and restore --------------------------------------------------------------------------------------

TRASHED_FROM = "_wp_trash_meta_status"  # where WordPress keeps the status a trashed post had


def trash(raw: dict[str, Any], modified_gmt: str) -> None:
    """`wp_trash_post` / `woocommerce_trash_order`: status `trash`, the old one kept for a restore."""
    if raw["status"] == "trash":
        return
    raw["meta_data"] = [*raw.get("meta_data", []), {"id": 0, "key": TRASHED_FROM, "value": raw["status"]}]
    raw.update(status="trash", date_modified=modified_gmt, date_modified_gmt=modified_gmt)


def restore(raw: dict[str, Any], modified_gmt: str) -> None:
    """`wp_untrash_post` / `woocommerce_untrash_order`: back to the status the order had when trashed."""
    kept = [m for m in raw.get("meta_data", []) if m.get("key") == TRASHED_FROM]
    if raw["status"] != "trash" or not kept:
        return
    raw["meta_data"] = [m for m in raw["meta_data"] if m.get("key") != TRASHED_FROM]
    raw.update(status=kept[0]["value"], date_modified=modified_gmt, date_modified_gmt=modified_gmt)
