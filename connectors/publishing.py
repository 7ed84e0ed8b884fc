"""Publishing a personalizable product, the seed's step 1: create it on the platform, then list it in the catalog.

`publish_product(store, directory, draft)` is the one entry point (the CLI's `publish-product` and the
merchant API call it). In order:
1. the store and the template must be known to the directory (`UnknownStore`, `UnknownTemplate`);
2. the notice (`connectors/notice.py`) is worded for the store's current link recipient and language;
3. the platform folder's `products.create_product(api, store, listing)` creates the product through the
   platform's API, with the store's own auth, through the shared client; a create is retried after a 429
   only (see `PlatformClient.request`), so a lost answer never makes two products;
4. only then is the product registered (`Directory.put_product`), by the id the platform gave it: orders
   carry that id on their lines. A refusal registers nothing.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import overload

from pydantic import BaseModel, ConfigDict, Field

from connectors.client import PlatformClient, RateLimitedError, RetryableError
from connectors.errors import PlatformError
from connectors.main import client_for
from connectors.notice import html_description, notice_text, text_description
from connectors.registry import adapter_for
from core.directory import Directory, UnknownTemplate
from plumbing.config import ProductMatch, StoreConfig
from plumbing.limits import OPTIONS_MAX, OptionValue, ShortText, TemplateId


class ProductDraft(BaseModel):
    """What the merchant asks for; platform specifics (`options`) are named in docs/publishing.md."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    template: TemplateId = Field(description="The personalization template the product uses.")
    title: str = Field(min_length=1, max_length=140, description="The product's name (Wix allows 80).")
    price: str = Field(pattern=r"^\d{1,7}(\.\d{1,2})?$", description="A decimal amount, e.g. `24.50`.")
    currency: str | None = Field(
        default=None, pattern=r"^[A-Z]{3}$", description="ISO 4217; only Squarespace takes one per product."
    )
    draft: bool = Field(description="Create it hidden from buyers (the seed's test publishes a draft).")
    description: str = Field(default="", max_length=20_000, description="Plain text shown before the notice.")
    options: dict[ShortText, OptionValue] = Field(
        default_factory=dict, max_length=OPTIONS_MAX, description="Platform fields, e.g. Etsy `taxonomy_id`."
    )


class PublishedProduct(BaseModel):
    model_config = ConfigDict(frozen=True)

    platform: str
    store_id: str
    product_id: str = Field(description="The platform's id of the new product; order lines carry it.")
    draft: bool = Field(description="Hidden from buyers on the platform.")
    catalog_entry: ProductMatch
    notice: str
    notes: list[str] = Field(default_factory=list, description="What the merchant should know or do next.")


class PublishError(Exception):
    """The product could not be published; the message says why and what was (not) created."""


@dataclass(frozen=True)
class Listing:
    """A draft resolved for one store: what a platform's `create_product` sends."""

    title: str
    price: Decimal
    currency: str | None
    draft: bool
    html: str
    text: str
    options: Mapping[str, str] = field(default_factory=dict)

    @overload
    def option(self, store: StoreConfig, key: str, default: str) -> str: ...

    @overload
    def option(self, store: StoreConfig, key: str, default: None = None) -> str | None: ...

    def option(self, store: StoreConfig, key: str, default: str | None = None) -> str | None:
        """The draft's option, else the store's setting of that name (configured once per store), else default."""
        return self.options.get(key) or store.credentials.get(key) or default


@dataclass(frozen=True)
class Created:
    product_id: str
    draft: bool
    notes: tuple[str, ...] = ()


def created_id(answer: object, *path: str) -> str:
    """The new product's id at `path` in the platform's answer; anything else is the platform's error."""
    node = answer
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    if node is None or isinstance(node, (dict, list)) or str(node) == "":
        raise PlatformError(f"the answer has no {'.'.join(path)}")
    return str(node)


async def publish_product(
    store: StoreConfig, directory: Directory, draft: ProductDraft, api: PlatformClient | None = None
) -> PublishedProduct:
    record = await directory.store(store.platform, store.store_id)
    # Checked as `put_product` will check it (a template another store owns is not ours to use), before
    # the platform is asked: a product created and then refused by the catalog would be an orphan.
    if draft.template not in await directory.templates(store.key):
        raise UnknownTemplate(f"unknown template {draft.template!r} (or another store's own)")
    notice = notice_text(store.platform, record.settings.link_recipient, record.settings.locale)
    listing = Listing(
        title=draft.title,
        price=Decimal(draft.price),
        currency=draft.currency,
        draft=draft.draft,
        html=html_description(notice, draft.description),
        text=text_description(notice, draft.description),
        options=draft.options,
    )
    products = importlib.import_module(f"connectors.{store.platform}.products")
    client = api or client_for(adapter_for(store.platform), store)
    try:
        created = await products.create_product(client, store, listing)
    except PlatformError as error:
        raise PublishError(
            f"{store.key}: {store.platform} refused the product, nothing was registered: {error}"
        ) from None
    except ValueError as error:  # a draft the platform's rules cannot take, found before any call
        raise PublishError(f"{store.key}: {error}") from None
    except (RetryableError, RateLimitedError) as error:
        raise PublishError(
            f"{store.key}: {store.platform} did not answer ({error}); nothing was registered. "
            f"Check the store for a new product before publishing again."
        ) from None
    finally:
        if api is None:
            await client.aclose()
    entry = ProductMatch(product_id=created.product_id, template=draft.template)
    await directory.put_product(store.platform, store.store_id, entry)
    notes = list(created.notes)
    if draft.currency and store.platform != "squarespace":
        notes.append(f"{store.platform} prices products in the shop's currency: the currency given was not sent")
    return PublishedProduct(
        platform=store.platform,
        store_id=store.store_id,
        product_id=created.product_id,
        draft=created.draft,
        catalog_entry=entry,
        notice=notice,
        notes=notes,
    )
