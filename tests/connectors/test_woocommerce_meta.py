"""WooCommerce buyer text from line meta: the raw `value`, never the HTML-processed `display_value`; lists and
objects kept as the buyer's entries, one per line. Meta entries are built as WooCommerce's REST API serves them
(`sandboxes/orders/woocommerce.py`, from `WC_Order_Item::get_formatted_meta_data` and the orders controller)."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.woocommerce import ADAPTER
from sandboxes.orders.woocommerce import meta_entry
from tests.connectors.platform_case import sample
from tests.connectors.stores.woocommerce import UNIT


def order_with_meta(*meta: dict[str, Any]) -> dict:
    raw = sample("woocommerce", "order_retrieve_v3.json")
    raw["line_items"][0]["meta_data"] = list(meta)
    return raw


def buyer_text(*meta: dict[str, Any]) -> str | None:
    return ADAPTER.map_order(UNIT, order_with_meta(*meta)).order.line_items[0].buyer_personalization


def test_display_value_is_html_processed_so_buyer_text_is_read_from_the_raw_value() -> None:
    entry = meta_entry(7, "Personalization", "Tom & Jerry\nForever")
    assert entry["display_value"] == "Tom &amp; Jerry Forever"  # what WooCommerce serves (the finding)
    assert buyer_text(entry) == "Tom & Jerry\nForever"


@pytest.mark.parametrize(
    ("typed", "displayed"),
    [
        ("<b>Ada</b> & Grace", "Ada &amp; Grace"),  # allowed markup kept by kses, then stripped by wc_clean
        ("5 < 6 > 4", "5 &lt; 6 &gt; 4"),
        ("First\n\nSecond paragraph", "First Second paragraph"),  # wpautop paragraphs, folded by wc_clean
        ("100%25 cotton", "100% cotton"),  # rawurldecode first; then no octet is left to strip
        ("  Ada  ", "Ada"),
        ("&eacute;l&egrave;ve &amp; co", "&eacute;l&egrave;ve &amp; co"),  # entities already valid stay as they are
    ],
)
def test_the_buyers_text_survives_what_display_value_does_to_it(typed: str, displayed: str) -> None:
    entry = meta_entry(7, "Personalization", typed)
    assert entry["display_value"] == displayed
    assert buyer_text(entry) == entry["value"]  # the stored text (rawurldecoded by WooCommerce itself)
    assert entry["value"].strip() == typed.replace("%25", "%").strip()


def test_array_meta_values_are_kept_as_entries_not_python_reprs() -> None:
    names = meta_entry(7, "Personalization", ["Ada", "Grace"])
    assert names["display_value"] == ["Ada", "Grace"]  # not formatted: only scalars are
    assert buyer_text(names) == "Ada\nGrace"
    engraving = meta_entry(8, "Engraving", {"text": "For Grace", "font": "Script", "size": 12, "gilt": True})
    assert buyer_text(engraving) == "text: For Grace\nfont: Script\nsize: 12\ngilt: true"
    nested = meta_entry(9, "Custom text", [{"line": "Ada"}, [], None, {"line": "1815"}])
    assert buyer_text(nested) == "line: Ada\nline: 1815"
    assert "[" not in str(buyer_text(names, engraving)) and "'" not in str(buyer_text(names, engraving))


def test_hidden_and_unnamed_meta_are_not_buyer_text() -> None:
    assert buyer_text(meta_entry(1, "_personalization", "x"), meta_entry(2, "pa_color", "black")) is None
    assert buyer_text(meta_entry(3, "Personalization", ""), meta_entry(4, "Personalization", [])) is None
    by_display_key = {**meta_entry(5, "field_17", "Ada"), "display_key": "Personalization"}
    assert buyer_text(by_display_key) == "Ada"
