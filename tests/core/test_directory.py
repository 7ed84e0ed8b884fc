"""Run-time store settings, catalogs and templates: seeded from the YAML once, then the merchant's."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.directory import Directory, DirectoryError, TemplateInUse, UnknownStore, UnknownTemplate
from plumbing.config import ProductMatch, StoreSettings, TemplateConfig, load_config
from schemas import TemplateField
from tests.builders import CONFIG_PATH


@pytest.fixture
async def directory(redis):
    await redis.flushdb()
    directory = Directory(redis, load_config(CONFIG_PATH))
    await directory.seed()
    return directory


async def test_seeding_gives_the_yaml_config(directory):
    config = await directory.config()
    store = config.store("woocommerce", "shop-manual")
    assert store.approval == "manual" and store.merchant_email == "manual@example.com"
    assert [p.template for p in store.products] == ["name-mug", "name-mug"]
    assert config.template("name-mug").title == "Name mug"


async def test_settings_changed_at_run_time_survive_a_new_seed(directory, redis):
    record = await directory.store("woocommerce", "shop-manual")
    changed = record.settings.model_copy(
        update={"approval": "automatic", "locale": "de", "reminders": [timedelta(days=2)]}
    )
    await directory.put_settings("woocommerce", "shop-manual", StoreSettings.model_validate(changed.model_dump()))

    restarted = Directory(redis, load_config(CONFIG_PATH))
    assert await restarted.seed() == 0
    store = (await restarted.config()).store("woocommerce", "shop-manual")
    assert (store.approval, store.locale, store.reminders) == ("automatic", "de", [timedelta(days=2)])
    assert store.base_url is None  # connector fields still come from the YAML


async def test_a_reader_sees_each_change_once_the_version_moves(directory, redis):
    reader = Directory(redis, load_config(CONFIG_PATH))
    before = await reader.config()
    assert await reader.config() is before  # unchanged: no re-read
    await directory.put_product("woocommerce", "shop-manual", ProductMatch(sku="POSTER", template="name-mug"))
    after = await reader.config()
    assert after is not before
    assert any(p.sku == "POSTER" for p in after.store("woocommerce", "shop-manual").products)


async def test_products_are_replaced_by_their_keys_and_deleted(directory):
    await directory.put_template(
        "poster", TemplateConfig(title="Poster", fields=[TemplateField(name="photo", type="image")])
    )
    record = await directory.put_product("woocommerce", "shop-manual", ProductMatch(product_id="93", template="poster"))
    assert [(p.product_id, p.template) for p in record.products if p.product_id == "93"] == [("93", "poster")]
    record = await directory.delete_product("woocommerce", "shop-manual", ProductMatch(product_id="93", template="x"))
    assert all(p.product_id != "93" for p in record.products)
    with pytest.raises(DirectoryError):
        await directory.delete_product("woocommerce", "shop-manual", ProductMatch(product_id="93", template="x"))


async def test_refusals_name_the_problem(directory):
    with pytest.raises(UnknownStore):
        await directory.store("etsy", "nobody")
    with pytest.raises(UnknownTemplate):
        await directory.put_product("woocommerce", "shop-manual", ProductMatch(sku="X", template="missing"))
    with pytest.raises(TemplateInUse):
        await directory.delete_template("name-mug")
    await directory.put_template("spare", TemplateConfig(title="Spare", fields=[TemplateField(name="t", type="text")]))
    await directory.delete_template("spare")
    assert "spare" not in await directory.templates()
