"""Buyer text in a WooCommerce line item's `meta_data`: the raw `value`, never `display_value`.

`display_value` is WooCommerce's display form (`WC_Order_Item::get_formatted_meta_data`, then the REST
controller's `wc_clean`): `wp_kses_post` escapes `&` to `&amp;`, `wpautop` turns newlines into markup that
`sanitize_text_field` then strips and folds into one space, so `Tom & Jerry\\nForever` arrives as
`Tom &amp; Jerry Forever`; and only scalar values are formatted, so a list or object is passed through as
it is. `value` is what the plugin stored, as JSON.

Decision for structured values (add-on plugins that store a list or an object): they become text a person
reads back as it was entered, one entry per line: a list's items in order, an object's entries as
`key: value`, nested the same way; JSON `true`/`false`/`null` as those words, numbers as written. Never a
Python repr (`['Ada', 'Grace']`), which is neither what the buyer typed nor JSON.
"""

from __future__ import annotations

import json

HIDDEN = "_"  # keys starting with it are the plugin's own bookkeeping (`_reduced_stock`, `_wapf_meta`)


def buyer_text(meta: list[dict], keys: list[str]) -> str | None:
    """Product add-on plugins store the buyer's text as a line meta named after the field."""
    wanted = {k.lower() for k in keys}
    found = [text for m in meta if _is_buyer_field(m, wanted) and (text := as_text(m.get("value")))]
    return "\n".join(found) if found else None


def _is_buyer_field(meta: dict, wanted: set[str]) -> bool:
    key = str(meta.get("key", ""))
    return not key.startswith(HIDDEN) and (key.lower() in wanted or str(meta.get("display_key", "")).lower() in wanted)


def as_text(value: object) -> str:
    """A meta value as the buyer's text; "" for nothing (None, "", an empty list or object)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float)):
        return json.dumps(value)  # true, 3, 2.5: as the JSON said it
    if isinstance(value, list):
        return "\n".join(text for item in value if (text := as_text(item)))
    if isinstance(value, dict):
        return "\n".join(f"{key}: {text}" for key, item in value.items() if (text := as_text(item)))
    return str(value)
