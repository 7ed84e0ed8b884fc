"""Template ids between stores and the operator, and stored values written before today's limits."""

from __future__ import annotations

import json
import logging

import pytest

from core.catalog import Catalog
from core.directory import STORE_PREFIX, TEMPLATES, Directory, TemplateForbidden, TemplateInUse
from plumbing.config import Config, ProductMatch, TemplateConfig, load_config
from schemas import TemplateField
from tests.builders import CONFIG_PATH, mug

SQUATTER, OTHER = "woocommerce:shop-manual", "bigcommerce:shop-auto"
SQUATTED = TemplateConfig(title="Squatter's box", fields=[TemplateField(name="note", type="text")])
OPERATORS = {"title": "Gift box", "fields": [{"name": "message", "type": "text", "max_length": 200}]}


def with_operator_template(config: Config) -> Config:
    """The YAML as the operator changes it later: a `gift-box` template."""
    data = config.model_dump(mode="json")
    data["templates"]["gift-box"] = OPERATORS
    return Config.model_validate(data)


@pytest.fixture
async def directory(redis):
    await redis.flushdb()
    directory = Directory(redis, load_config(CONFIG_PATH))
    await directory.seed()
    return directory


async def test_store_template_squatting_an_operator_id_added_later_does_not_reach_other_stores(
    directory, redis, caplog
):
    """The finding: a store's own `gift-box`, then the operator's in the YAML; the store's won for every store."""
    assert await directory.put_template("gift-box", SQUATTED, by=SQUATTER)
    await directory.put_product("woocommerce", "shop-manual", ProductMatch(sku="SQ", template="gift-box"))

    restarted = Directory(redis, with_operator_template(load_config(CONFIG_PATH)))
    with caplog.at_level(logging.WARNING, logger="core.directory"):
        await restarted.seed()
    assert "template 'gift-box' of the YAML is also woocommerce:shop-manual's own" in caplog.text
    # The other store sells the operator's (its catalog is the merchant's once seeded: added as through the API).
    await restarted.put_product("bigcommerce", "shop-auto", ProductMatch(sku="BOX", template="gift-box"))
    config = await restarted.config()

    other = config.store("bigcommerce", "shop-auto")
    line = mug(sku="BOX", product_id="none", variant_id="none")
    assert Catalog(config, other).match(line)[1].title == "Gift box"  # the operator's, for the other store
    assert config.template("gift-box", OTHER).fields[0].name == "message"
    squatter = config.store("woocommerce", "shop-manual")
    assert Catalog(config, squatter).match(mug(sku="SQ", product_id="none"))[1].title == "Squatter's box"
    assert (await restarted.templates(OTHER))["gift-box"].title == "Gift box"
    assert (await restarted.templates(SQUATTER))["gift-box"].title == "Squatter's box"

    # The other store's key cannot change the operator's, nor take over the store's own (nor learn of it).
    with pytest.raises(TemplateForbidden, match="shared by every store"):
        await restarted.put_template("gift-box", SQUATTED, by=OTHER)
    # The owner changes its own; the YAML's stays as the YAML says.
    await restarted.put_template("gift-box", SQUATTED.model_copy(update={"title": "Renamed"}), by=SQUATTER)
    config = await restarted.config()
    assert config.template("gift-box", SQUATTER).title == "Renamed"
    assert config.template("gift-box", OTHER).title == "Gift box"


async def test_a_store_cannot_take_an_id_the_operator_already_has(directory):
    with pytest.raises(TemplateForbidden, match="shared by every store"):
        await directory.put_template("name-mug", SQUATTED, by=SQUATTER)
    await directory.put_template("spare", SQUATTED)  # an operator's, through the API
    with pytest.raises(TemplateForbidden):
        await directory.put_template("spare", SQUATTED, by=SQUATTER)
    assert (await directory.config()).template("name-mug", SQUATTER).title == "Name mug"


async def test_a_store_deletes_its_own_template_even_where_the_yaml_has_the_id(directory, redis):
    await directory.put_template("gift-box", SQUATTED, by=SQUATTER)
    restarted = Directory(redis, with_operator_template(load_config(CONFIG_PATH)))
    await restarted.seed()
    await restarted.put_product("bigcommerce", "shop-auto", ProductMatch(sku="BOX", template="gift-box"))
    await restarted.delete_template("gift-box", by=SQUATTER)  # the other store's catalog uses the YAML's
    config = await restarted.config()
    assert config.template("gift-box", SQUATTER).title == "Gift box" and config.store_templates == {}
    with pytest.raises(TemplateInUse, match="used by the catalog of bigcommerce:shop-auto"):
        await restarted.delete_template("gift-box")


async def test_stored_values_over_todays_limits_are_not_loaded(directory, redis, caplog):
    """A 1.2 MB title and a comma list of addresses written before the limits: neither reaches an event."""
    record = json.loads(await redis.get(STORE_PREFIX + SQUATTER))
    record["settings"]["merchant_email"] = "victim@example.com,postmaster"
    await redis.set(STORE_PREFIX + SQUATTER, json.dumps(record))
    await redis.hset(TEMPLATES, "name-mug", json.dumps({**OPERATORS, "title": "T" * 1_200_000}))
    await redis.hset(TEMPLATES, "huge", json.dumps({**OPERATORS, "title": "T" * 1_200_000}))
    await redis.incr("core:dir:version")

    with caplog.at_level(logging.ERROR, logger="core.directory"):
        config = await directory.config()
    assert config.store("woocommerce", "shop-manual").merchant_email == "manual@example.com"  # the YAML's
    assert config.template("name-mug").title == "Name mug"  # the YAML's
    assert "huge" not in config.templates
    assert "stored store woocommerce:shop-manual is not loaded" in caplog.text
    assert "stored template 'huge' is not loaded" in caplog.text
    assert (await directory.store("woocommerce", "shop-manual")).settings.merchant_email == "manual@example.com"
