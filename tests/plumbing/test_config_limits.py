"""The field limits of what a merchant or the operator writes (`plumbing/limits.py`), at the models themselves."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from plumbing import limits
from plumbing.config import ConfigError, ProductMatch, StoreSettings, TemplateConfig, load_config
from schemas import LinkDelivery, PersonalizationRequested, RequestedItem, Template, TemplateField
from tests.builders import T0, mug


def template(**changes) -> dict:
    return {"title": "Name mug", "fields": [{"name": "name", "type": "text", "max_length": 20}], **changes}


def clipart(name: str, choices: list[str]) -> dict:
    return {"name": name, "type": "clipart", "choices": choices}


def refused(model, data: dict) -> list[str]:
    with pytest.raises(ValidationError) as error:
        model.model_validate(data)
    return [".".join(map(str, e["loc"])) for e in error.value.errors()]


def test_template_title_over_limit_is_refused():
    """The finding: a 1.2 MB title was accepted and copied into every request of the store."""
    assert refused(TemplateConfig, template(title="T" * 1_200_000)) == ["title"]
    assert refused(TemplateConfig, template(title="T" * (limits.TITLE_MAX + 1))) == ["title"]
    assert TemplateConfig.model_validate(template(title="T" * limits.TITLE_MAX)).title == "T" * limits.TITLE_MAX


def test_template_fields_labels_and_choices_over_their_limits_are_refused():
    field = {"name": "name", "type": "text"}
    assert refused(TemplateConfig, template(fields=[{**field, "label": "L" * (limits.LABEL_MAX + 1)}])) == [
        "fields.0.label"
    ]
    assert refused(TemplateConfig, template(fields=[{**field, "label": "two\nlines"}])) == ["fields.0.label"]
    assert refused(TemplateConfig, template(fields=[{**field, "max_length": limits.TEXT_MAX + 1}])) == [
        "fields.0.max_length"
    ]
    assert refused(TemplateConfig, template(fields=[{**field, "name": "n" * (limits.NAME_MAX + 1)}])) == [
        "fields.0.name"
    ]
    many = [{"name": f"f{i}", "type": "image"} for i in range(limits.FIELDS_MAX + 1)]
    assert refused(TemplateConfig, template(fields=many)) == ["fields"]
    choices = [f"c{i}" for i in range(limits.CHOICES_MAX + 1)]
    assert refused(TemplateConfig, template(fields=[clipart("motif", choices)])) == ["fields.0.choices"]
    long_choice = ["c" * (limits.CHOICE_MAX + 1)]
    assert refused(TemplateConfig, template(fields=[clipart("motif", long_choice)])) == ["fields.0.choices.0"]


def test_a_template_within_each_limit_but_over_its_size_is_refused():
    """Each limit reachable on one field, not on all fifty: 50 fields of 100 choices of 100 would be 500 KB."""
    choices = [f"{j}".ljust(limits.CHOICE_MAX, "x") for j in range(limits.CHOICES_MAX)]
    assert TemplateConfig.model_validate(template(fields=[clipart("f0", choices)]))  # one field at every limit fits
    with pytest.raises(ValidationError, match=f"at most {limits.TEMPLATE_MAX_BYTES}"):
        TemplateConfig.model_validate(template(fields=[clipart(f"f{i}", choices) for i in range(2)]))


def test_a_request_built_from_values_at_their_limits_stays_far_under_a_broker_limit():
    """What core copies per personalizable line (the template) and per request (the delivery settings)."""
    choices = [f"{j}".ljust(limits.CHOICE_MAX, "x") for j in range(limits.CHOICES_MAX)]
    biggest = TemplateConfig.model_validate(template(title="T" * limits.TITLE_MAX, fields=[clipart("m", choices)]))
    settings = StoreSettings.model_validate(
        {
            "merchant_email": "m" * 64 + "@" + "d" * 60 + ".example.com",
            "reply_to": "r" * 64 + "@" + "d" * 60 + ".example.com",
            "sender_name": "S" * limits.SENDER_NAME_MAX,
            "logo_url": "https://x.example/" + "a" * (limits.URL_MAX - 18),
        }
    )
    line = mug()
    request = PersonalizationRequested(
        order_key="etsy:shop:1",
        store_id="shop",
        platform="etsy",
        merchant_email=settings.merchant_email,
        received_at=T0,
        notify_after=T0,
        delivery=LinkDelivery(sender_name=settings.sender_name, reply_to=settings.reply_to, logo_url=settings.logo_url),
        items=[
            RequestedItem(
                line_id=line.line_id,
                title=line.title,
                quantity=1,
                template=Template(id="t", title=biggest.title, fields=biggest.event_fields()),
            )
        ],
    )
    size = len(request.model_dump_json())
    assert 10_000 < size < 20 * 1024  # a stock broker's 1 MB takes fifty such lines


def test_fields_from_an_event_are_checked_against_the_limits():
    big = TemplateField(name="motif", type="clipart", choices=["c"] * (limits.CHOICES_MAX + 1))
    with pytest.raises(ValidationError):
        TemplateConfig(title="x", fields=[big])
    config = TemplateConfig(title="x", fields=[TemplateField(name="t", type="text")])
    assert all(type(f) is TemplateField for f in config.event_fields())


SETTINGS = {"merchant_email": "shop@example.com"}


@pytest.mark.parametrize(
    "address",
    [
        "victim@example.com,postmaster",  # the finding: mailed to both
        "victim@example.com, attacker@example.net",
        "victim@example.com;attacker@example.net",
        "Shop <shop@example.com>",
        "shop@example.com\r\nBcc: attacker@example.net",
        "shop @example.com",
        '"quoted"@example.com',
        "shop@localhost",
        "shop@[127.0.0.1]",
        "shop..x@example.com",
        "l" * 65 + "@example.com",
        "shop@" + "d" * 250 + ".com",
    ],
)
def test_merchant_email_comma_list_is_refused(address):
    assert refused(StoreSettings, {**SETTINGS, "merchant_email": address}) == ["merchant_email"]
    assert refused(StoreSettings, {**SETTINGS, "reply_to": address}) == ["reply_to"]


@pytest.mark.parametrize("address", ["shop@example.com", "o'brien+orders@mail.example.co.uk", "x@xn--bcher-kva.de"])
def test_one_plain_address_is_accepted(address):
    assert StoreSettings.model_validate({**SETTINGS, "merchant_email": address, "reply_to": address})


def test_settings_over_their_limits_are_refused():
    assert refused(StoreSettings, {**SETTINGS, "logo_url": "https://x.example/" + "a" * limits.URL_MAX}) == ["logo_url"]
    assert refused(StoreSettings, {**SETTINGS, "logo_url": "https://x.example/a b.png"}) == ["logo_url"]
    assert refused(StoreSettings, {**SETTINGS, "sender_name": "Shop\r\nBcc: x@example.net"}) == ["sender_name"]
    assert refused(StoreSettings, {**SETTINGS, "sender_name": "S" * (limits.SENDER_NAME_MAX + 1)}) == ["sender_name"]


def test_catalog_entries_over_their_limits_are_refused():
    assert refused(ProductMatch, {"sku": "S" * (limits.PRODUCT_KEY_MAX + 1), "template": "name-mug"}) == ["sku"]
    assert refused(ProductMatch, {"sku": "S", "template": "t" * (limits.NAME_MAX + 1)}) == ["template"]
    assert refused(ProductMatch, {"sku": "S", "template": "../name-mug"}) == ["template"]


def test_the_yaml_names_a_field_over_its_limit(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(
        "templates:\n  mug:\n    title: '" + "T" * 201 + "'\n    fields: [{name: n, type: text}]\n"
        "stores:\n  - {platform: etsy, store_id: s, merchant_email: 'a@example.com,b@example.com'}\n"
    )
    with pytest.raises(ConfigError, match=r"templates\.mug\.title: .*stores\.0\.merchant_email: .*one email address"):
        load_config(path)


def test_the_yaml_cannot_write_a_stores_own_templates(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("store_templates: {etsy:s: {t: {title: T, fields: [{name: n, type: text}]}}}\n")
    with pytest.raises(ConfigError, match="store_templates: written by the merchant API"):
        load_config(path)
