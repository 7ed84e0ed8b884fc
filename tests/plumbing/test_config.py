"""The YAML config: the example loads; a bad file stops start-up with a message naming the field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from plumbing.config import ConfigError, load_config

EXAMPLE = Path(__file__).parents[2] / "examples" / "config.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


STORE = """
templates:
  mug: {title: Mug, fields: [{name: name, type: text, max_length: 20, required: true}]}
stores:
  - {platform: woocommerce, store_id: s1, merchant_email: m@example.com, products: [{product_id: "1", template: mug}]}
"""


def test_the_shipped_example_loads():
    config = load_config(EXAMPLE)
    store = config.store("woocommerce", "demo-woo")
    assert store.approval == "manual" and store.products[0].template == "name-mug"
    assert config.template("name-mug").fields[2].choices == ["heart", "star"]


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (STORE.replace("woocommerce", "shopify"), "stores.0.platform"),
        (STORE.replace("m@example.com", "not-an-email"), "stores.0.merchant_email"),
        (STORE.replace("template: mug}", "template: cup}"), "stores.0.products.0.template"),
        (STORE.replace('{product_id: "1", template: mug}', "{template: mug}"), "stores.0.products.0"),
        (STORE.replace("type: text", "type: video"), "templates.mug.fields.0.type"),
        (STORE.replace("m@example.com", "m@example.com, approval: sometimes"), "stores.0.approval"),
        (STORE.replace("merchant_email", "merchant_mail"), "merchant_mail"),
        (STORE + "  - {platform: woocommerce, store_id: s1, merchant_email: m@example.com}\n", "listed twice"),
        ("templates: [1, 2]\n", "templates"),
        ("- just a list\n", "top level"),
        ("stores: [\n", "not valid YAML"),
    ],
)
def test_a_bad_file_names_the_field(tmp_path, text, named):
    with pytest.raises(ConfigError, match=r"config\.yaml") as error:
        load_config(write(tmp_path, text))
    assert named in str(error.value)


def test_a_missing_file_says_so(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml")


def test_secrets_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOP_MAIL", "secret@example.com")
    config = load_config(write(tmp_path, STORE.replace("m@example.com", '"${SHOP_MAIL}"')))
    assert config.stores[0].merchant_email == "secret@example.com"


def test_an_unset_variable_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    with pytest.raises(ConfigError, match=re.escape("stores.0.merchant_email: environment variable NOT_SET_ANYWHERE")):
        load_config(write(tmp_path, STORE.replace("m@example.com", '"${NOT_SET_ANYWHERE}"')))
