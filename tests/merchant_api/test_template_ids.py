"""Template ids through the API when a store's own and the YAML's share one: who sees and changes which."""

from __future__ import annotations

import httpx
import pytest

from core.directory import Directory
from merchant_api.app import make_app
from merchant_api.deps import Api
from merchant_api.keys import ApiKeys
from plumbing.config import Config, TemplateConfig, load_config
from schemas import TemplateField
from tests.builders import CONFIG_PATH

SQUATTER, OTHER = "woocommerce:shop-manual", "bigcommerce:shop-auto"
OWN = TemplateConfig(title="Squatter's box", fields=[TemplateField(name="note", type="text")])


def with_gift_box(config: Config) -> Config:
    data = config.model_dump(mode="json")
    data["templates"]["gift-box"] = {"title": "Gift box", "fields": [{"name": "message", "type": "text"}]}
    return Config.model_validate(data)


@pytest.fixture
async def clients(redis):
    """The API on a directory where the squatter owns `gift-box` and the YAML, added later, has one too."""
    await redis.flushdb()
    await Directory(redis, load_config(CONFIG_PATH)).put_template("gift-box", OWN, by=SQUATTER)
    directory = Directory(redis, with_gift_box(load_config(CONFIG_PATH)))
    await directory.seed()
    keys = ApiKeys(redis)
    api = Api(
        orders=None, directory=directory, keys=keys, producer=None, resends=None, email_changes=None, public_url=""
    )  # templates need no more
    transport = httpx.ASGITransport(app=make_app(api))
    made = {
        who: (await keys.create(None if who == "operator" else who, "tests"))[1]
        for who in (SQUATTER, OTHER, "operator")
    }
    opened = {
        who: httpx.AsyncClient(transport=transport, base_url="http://api", headers={"Authorization": f"Bearer {key}"})
        for who, key in made.items()
    }
    yield opened
    for client in opened.values():
        await client.aclose()


async def test_each_store_sees_the_template_its_catalog_gets(clients):
    other = (await clients[OTHER].get("/templates/gift-box")).json()
    assert (other["title"], other["owner"]) == ("Gift box", None)
    own = (await clients[SQUATTER].get("/templates/gift-box")).json()
    assert (own["title"], own["owner"]) == ("Squatter's box", SQUATTER)
    listed = [(t["id"], t["owner"]) for t in (await clients[SQUATTER].get("/templates")).json()]
    assert listed.count(("gift-box", SQUATTER)) == 1 and ("gift-box", None) not in listed
    every = [(t["id"], t["owner"]) for t in (await clients["operator"].get("/templates")).json()]
    assert ("gift-box", None) in every and ("gift-box", SQUATTER) in every


async def test_another_store_cannot_change_the_shared_id_nor_learn_who_else_owns_it(clients):
    body = {"title": "Mine now", "fields": [{"name": "n", "type": "text"}]}
    refused = await clients[OTHER].put("/templates/gift-box", json=body)
    assert refused.status_code == 403 and "shared by every store" in refused.json()["detail"]
    assert SQUATTER not in refused.text
    assert (await clients[OTHER].get("/templates/gift-box")).json()["title"] == "Gift box"
