"""Publishing a product: each platform's sandbox gets the create call the platform documents, and the catalog
registers the product by the id the platform gave it; a refusal registers nothing.

Each test serves a platform's sandbox on a loopback port and keeps the catalog in the session's Redis,
under a store id of its own.
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.main import client_for
from connectors.notice import NOTICES
from connectors.publishing import ProductDraft, PublishedProduct, PublishError, publish_product
from connectors.registry import adapter_for
from core.directory import Directory, UnknownStore, UnknownTemplate
from plumbing.config import Config, ProductMatch, StoreConfig, StoreSettings, TemplateConfig
from sandboxes.base import make_sandbox_app
from sandboxes.main import sandbox_for
from tests.connectors.stacks import STORES, built_platforms
from tests.support import InProcessServer, unique_id

PLATFORMS = built_platforms()
TEMPLATES = {"name-mug": {"title": "Name mug", "fields": [{"name": "name", "type": "text", "max_length": 20}]}}
# What each platform needs beyond the draft, as a merchant would pass it (docs/publishing.md).
OPTIONS = {"etsy": {"taxonomy_id": "1633", "shipping_profile_id": "20166011"}}
CURRENCY = {"squarespace": "USD"}
READ_BACK = {  # the platform's own read of one product, and where the product sits in its answer
    "woocommerce": ("/wp-json/wc/v3/products/{id}", lambda a: a),
    "etsy": ("/v3/application/listings/{id}", lambda a: a),
    "wix": ("/stores/v1/products/{id}", lambda a: a["product"]),
    "squarespace": ("/1.0/commerce/products/{id}", lambda a: a["products"][0]),
    "bigcommerce": ("/v3/catalog/products/{id}", lambda a: a["data"]),
}
SHOWN = {  # (hidden from buyers, description, price) as each platform keeps them
    "woocommerce": lambda p: (p["status"] == "draft", p["description"], Decimal(p["regular_price"])),
    "etsy": lambda p: (p["state"] == "draft", p["description"], Decimal(p["price"]["amount"]) / p["price"]["divisor"]),
    "wix": lambda p: (p["visible"] is False, p["description"], Decimal(str(p["priceData"]["price"]))),
    "squarespace": lambda p: (
        p["isVisible"] is False,
        p["description"],
        Decimal(p["variants"][0]["pricing"]["basePrice"]["value"]),
    ),
    "bigcommerce": lambda p: (p["is_visible"] is False, p["description"], Decimal(str(p["price"]))),
}


@dataclass
class Shop:
    store: StoreConfig
    directory: Directory
    sandbox: InProcessServer

    def draft(self, **fields: Any) -> ProductDraft:
        platform = self.store.platform
        return ProductDraft(
            **{
                "template": "name-mug",
                "title": "Name mug",
                "price": "24.50",
                "draft": True,
                "currency": CURRENCY.get(platform),
                "options": OPTIONS.get(platform, {}),
                **fields,
            }
        )

    async def publish(self, **fields: Any) -> PublishedProduct:
        return await publish_product(self.store, self.directory, self.draft(**fields))

    async def products_on_platform(self) -> list[dict[str, Any]]:
        async with httpx.AsyncClient() as http:
            return (await http.get(f"{self.sandbox.url}/_sandbox/products")).json()["products"]

    async def read_back(self, product_id: str) -> dict[str, Any]:
        path, unwrap = READ_BACK[self.store.platform]
        api = client_for(adapter_for(self.store.platform), self.store)
        try:
            answer, _ = await api.get_json(path.format(id=product_id))
        finally:
            await api.aclose()
        return unwrap(answer)

    async def catalog(self) -> list[ProductMatch]:
        return (await self.directory.store(self.store.platform, self.store.store_id)).products


@asynccontextmanager
async def shop(redis, platform: str, credentials: dict[str, str] | None = None, **settings: Any) -> AsyncIterator[Shop]:
    sandbox = InProcessServer()
    given = STORES[platform]
    raw = {
        "platform": platform,
        "store_id": f"pub-{unique_id()}",
        "merchant_email": "m@example.com",
        "base_url": sandbox.url,
        "credentials": given["credentials"],
        **settings,
    }
    config = Config.model_validate({"templates": TEMPLATES, "stores": [raw]})
    await sandbox.start(make_sandbox_app(sandbox_for(platform), config.stores[0]))
    store = config.stores[0].model_copy(update={"credentials": credentials}) if credentials else config.stores[0]
    try:
        yield Shop(store, Directory(redis, config), sandbox)
    finally:
        await sandbox.stop()


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_a_draft_is_created_hidden_with_the_notice_and_its_price_then_registered(redis, platform):
    async with shop(redis, platform) as s:
        published = await s.publish(description="Fine porcelain & a gold rim")

        hidden, description, price = SHOWN[platform](await s.read_back(published.product_id))
        assert hidden and published.draft and price == Decimal("24.50")
        notice = NOTICES["en"]["merchant"]
        if platform == "etsy":  # plain text
            assert description == f"Fine porcelain & a gold rim\n\n{notice}"
        else:  # HTML, the merchant's text escaped
            assert description == f"<p>Fine porcelain &amp; a gold rim</p><p>{html.escape(notice)}</p>"
        assert published.catalog_entry == ProductMatch(product_id=published.product_id, template="name-mug")
        assert published.catalog_entry in await s.catalog()
        assert len(await s.products_on_platform()) == 1


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_the_notice_follows_the_store_s_current_recipient_and_language(redis, platform):
    async with shop(redis, platform) as s:  # the YAML says merchant, English ...
        await s.directory.put_settings(
            platform,
            s.store.store_id,
            StoreSettings(merchant_email="m@example.com", link_recipient="customer", locale="de-AT"),
        )  # ... the merchant changed it
        published = await s.publish()

        _, description, _ = SHOWN[platform](await s.read_back(published.product_id))
        # Etsy orders carry no buyer email: the link always goes through the shop there.
        expected = NOTICES["de"]["merchant" if platform == "etsy" else "customer"]
        assert published.notice == expected
        assert (expected if platform == "etsy" else html.escape(expected)) in description


async def test_a_language_without_a_text_falls_back_to_english(redis):
    async with shop(redis, "woocommerce", locale="fr", link_recipient="customer") as s:
        assert (await s.publish()).notice == NOTICES["en"]["customer"]


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_without_draft_the_product_is_visible_where_the_platform_allows_it(redis, platform):
    async with shop(redis, platform) as s:
        published = await s.publish(draft=False)

        hidden, _, _ = SHOWN[platform](await s.read_back(published.product_id))
        if platform == "etsy":  # createDraftListing makes drafts only; activating needs an image
            assert hidden and published.draft and "add an image" in published.notes[0]
        else:
            assert not hidden and not published.draft


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_an_unknown_template_is_refused_before_the_platform_is_asked(redis, platform):
    async with shop(redis, platform) as s:
        with pytest.raises(UnknownTemplate, match="no-such-template"):
            await s.publish(template="no-such-template")
        assert await s.products_on_platform() == [] and await s.catalog() == []


async def test_an_unknown_store_is_refused(redis):
    async with shop(redis, "woocommerce") as s:
        stranger = s.store.model_copy(update={"store_id": "not-configured"})
        with pytest.raises(UnknownStore):
            await publish_product(stranger, s.directory, s.draft())
        assert await s.products_on_platform() == []


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_wrong_credentials_are_a_refusal_that_registers_nothing(redis, platform):
    wrong = {k: f"{v}-wrong" if k != "shop_id" else v for k, v in STORES[platform]["credentials"].items()}
    async with shop(redis, platform, credentials=wrong) as s:
        with pytest.raises(PublishError, match=rf"{platform} refused the product, nothing was registered: .*401"):
            await s.publish()
        assert await s.products_on_platform() == [] and await s.catalog() == []


REFUSALS = {  # per platform: a draft its API refuses (after `first`, if any, was accepted), and what it says
    "woocommerce": ({"options": {"sku": "MUG-1"}}, {"options": {"sku": "MUG-1"}}, "product_invalid_sku"),
    "etsy": (None, {"options": {"shipping_profile_id": "20166011"}}, "Missing required parameter.*taxonomy_id"),
    "wix": (None, {"title": "Personalized " + "m" * 80}, "product.name"),
    "squarespace": (None, {"options": {"store_page_id": "not-a-page"}}, "storePageId"),
    "bigcommerce": ({}, {}, "409.*duplicate"),
}


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_the_platform_s_refusal_is_reported_with_its_reason_and_registers_nothing(redis, platform):
    first, refused, reason = REFUSALS[platform]
    async with shop(redis, platform) as s:
        accepted = [(await s.publish(**first)).catalog_entry] if first is not None else []
        with pytest.raises(PublishError, match=reason):
            await s.publish(**refused)
        assert await s.catalog() == accepted
        assert len(await s.products_on_platform()) == len(accepted)


async def test_squarespace_asks_for_the_currency_before_calling(redis):
    async with shop(redis, "squarespace") as s:
        with pytest.raises(PublishError, match="--currency"):
            await s.publish(currency=None)
        assert s.sandbox.app.state.sandbox.api_calls == 0


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_a_rate_limited_create_is_retried_and_makes_one_product(redis, platform):
    async with shop(redis, platform) as s:
        async with httpx.AsyncClient() as http:
            await http.post(f"{s.sandbox.url}/_sandbox/faults", json={"rate_limit": 1, "retry_after": 0.05})
        published = await s.publish()
        assert [published.catalog_entry] == await s.catalog()
        assert len(await s.products_on_platform()) == 1


@pytest.mark.parametrize("platform", ["woocommerce", "bigcommerce"])
async def test_a_create_that_fails_on_the_server_is_not_retried_blindly(redis, platform):
    async with shop(redis, platform) as s:
        async with httpx.AsyncClient() as http:
            await http.post(f"{s.sandbox.url}/_sandbox/faults", json={"server_error": 1})
        with pytest.raises(PublishError, match=r"did not answer.*Check the store"):
            await s.publish()
        assert s.sandbox.app.state.sandbox.api_calls == 1 and await s.catalog() == []


def test_docs_show_every_notice_text():
    page = (Path(__file__).parents[2] / "docs" / "publishing.md").read_text()
    assert [text for texts in NOTICES.values() for text in texts.values() if text not in page] == []


async def test_a_template_another_store_owns_is_refused_before_the_platform_is_asked(redis):
    async with shop(redis, "woocommerce") as s:
        own = f"own-{unique_id()}"
        await s.directory.put_template(own, TemplateConfig.model_validate(TEMPLATES["name-mug"]), by="wix:someone")
        with pytest.raises(UnknownTemplate, match=own):
            await s.publish(template=own)
        assert await s.products_on_platform() == [] and await s.catalog() == []
