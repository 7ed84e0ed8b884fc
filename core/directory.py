"""Store settings, catalogs and templates that merchants change while the system runs.

The YAML config says which stores exist and how connectors reach them
(credentials never leave the YAML and the environment). What a merchant
may change at run time (`StoreSettings`, the products sold as
personalizable, the templates) lives in Redis beside core's orders, seeded
from the YAML on first start and never overwritten by it afterwards: a
restart keeps what the merchant set through the API.

Every change bumps one version counter, so a reader (core, once per batch)
re-reads only after a change.

Templates are shared: those of the YAML, and those an operator key writes,
serve every store. A template a store's key creates is that store's own:
only its key (or an operator's) changes or deletes it, and only its catalog
may use it, so one merchant's edit never changes another's editor pages.

Template ids: a store cannot create one a shared template already has.
When the operator later adds to the YAML an id a store already owns, both
stay: the owning store keeps its own (its products and pages do not change
under it) and every other store gets the YAML's (`Config.template(id,
store)`); the seed logs the collision. Writes to that id with the owner's
or an operator key change the store's own; the YAML's changes in the YAML.

Stores connected while the system runs are learned from the `stores` topic (`core.learned_stores`) and
serve like YAML ones; `config()` holds both.

Values stored before a limit existed and now over it (`plumbing/limits.py`)
are not loaded: a store's record falls back to the YAML's, a template is
left out (the YAML's of that id, if any, serves); each is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from redis.asyncio import Redis
from redis.exceptions import WatchError

from core.learned_stores import LEARNED, LearnedStore, StoreEvent, learned
from plumbing.config import Config, ProductMatch, StoreConfig, StoreSettings, TemplateConfig

STORE_PREFIX = "core:dir:store:"
TEMPLATES = "core:dir:templates"
TEMPLATE_OWNERS = "core:dir:template-owners"  # template id -> the store key that owns it; absent: shared
VERSION = "core:dir:version"

log = logging.getLogger(__name__)
_M = TypeVar("_M", bound=BaseModel)


class DirectoryError(ValueError):
    """A change the directory refuses; the message says why (the API answers 404 or 409 with it)."""


class UnknownStore(DirectoryError):
    pass


class UnknownTemplate(DirectoryError):
    pass


class TemplateInUse(DirectoryError):
    pass


class TemplateForbidden(DirectoryError):
    """The template is shared or another store's: this caller may not change it."""


class ConfigSource(Protocol):
    async def config(self) -> Config: ...


class StaticConfig:
    """The in-memory twin of `Directory.config()`: one config that never changes (fast tests)."""

    def __init__(self, config: Config) -> None:
        self._config = config

    async def config(self) -> Config:
        return self._config


class StoreRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    settings: StoreSettings
    products: list[ProductMatch] = Field(default_factory=list)


# How `_update` changes a store's record: given it and the template ids the store may use.
_Change = Callable[[StoreRecord, set[str]], StoreRecord]


def _record_of(store: StoreConfig) -> StoreRecord:
    settings = StoreSettings.model_validate(store.model_dump(include=set(StoreSettings.model_fields)))
    return StoreRecord(settings=settings, products=store.products)


def _same_product(a: ProductMatch, b: ProductMatch) -> bool:
    return (a.product_id, a.variant_id, a.sku) == (b.product_id, b.variant_id, b.sku)


@dataclass
class _Cached:
    version: int
    config: Config


class Directory:
    def __init__(self, redis: Redis, seed: Config) -> None:
        self._redis = redis
        self._seed = seed
        self._cached: _Cached | None = None

    @property
    def seed_config(self) -> Config:
        return self._seed

    async def seed(self) -> int:
        """Write the YAML's stores and templates where Redis has none yet; returns how many were written."""
        async with self._redis.pipeline(transaction=True) as pipe:
            for store in self._seed.stores:
                pipe.set(STORE_PREFIX + store.key, _record_of(store).model_dump_json(), nx=True)
            for template_id, template in self._seed.templates.items():
                pipe.hsetnx(TEMPLATES, template_id, template.model_dump_json())
            written = sum(1 for done in await pipe.execute() if done)
        if written:
            await self._redis.incr(VERSION)
        for template_id, owner in (await self.template_owners()).items():
            if template_id in self._seed.templates:
                log.warning(
                    "template %r of the YAML is also %s's own: that store keeps its own, every other store gets "
                    "the YAML's; rename one of them",
                    template_id,
                    owner,
                )
        return written

    async def version(self) -> int:
        return int(await self._redis.get(VERSION) or 0)

    async def config(self) -> Config:
        """The YAML config with the merchants' current settings, products and templates laid over it."""
        version = await self.version()
        if self._cached is not None and self._cached.version == version:
            return self._cached.config
        config = await self._read()
        self._cached = _Cached(version, config)
        return config

    async def _read(self) -> Config:
        known = [*self._seed.stores, *(s.config() for s in await self.learned_stores() if not self._seeded(s.key))]
        keys = [STORE_PREFIX + store.key for store in known]
        async with self._redis.pipeline(transaction=True) as pipe:
            if keys:
                pipe.mget(keys)
            pipe.hgetall(TEMPLATES)
            pipe.hgetall(TEMPLATE_OWNERS)
            *found, raw_templates, raw_owners = await pipe.execute()
        # Replies are bytes: our clients keep redis-py's default (its types say `bytes | str`).
        docs = cast(list[bytes | None], found[0]) if found else []
        owners = {k.decode(): v.decode() for k, v in cast(dict[bytes, bytes], raw_owners).items()}
        shared = dict(self._seed.templates)
        own: dict[str, dict[str, TemplateConfig]] = {}
        for raw_id, raw in cast(dict[bytes, bytes], raw_templates).items():
            template_id = raw_id.decode()
            template = _loaded(TemplateConfig, raw, f"template {template_id!r}")
            if template is None:
                continue
            owner = owners.get(template_id)
            (own.setdefault(owner, {}) if owner else shared)[template_id] = template
        stores = []
        for store, doc in zip(known, docs, strict=True):
            record = (_loaded(StoreRecord, doc, f"store {store.key}") if doc else None) or _record_of(store)
            stores.append(store.model_copy(update={**dict(record.settings), "products": record.products}))
        return Config.model_construct(templates=shared, stores=stores, store_templates=own)

    # --- reads for the API ---------------------------------------------------

    async def known(self, platform: str, store_id: str) -> StoreConfig | None:
        """The store as the YAML has it, or as learned from the `stores` topic (settings at their defaults)."""
        store = self._seed.store(platform, store_id)
        if store is not None:
            return store
        raw = cast(bytes | None, await self._redis.hget(LEARNED, f"{platform}:{store_id}"))
        kept = _loaded(LearnedStore, raw, f"learned store {platform}:{store_id}") if raw else None
        return kept.config() if kept else None

    async def _known(self, platform: str, store_id: str) -> StoreConfig:
        store = await self.known(platform, store_id)
        if store is None:
            raise UnknownStore(f"no store {platform}:{store_id} in the config")
        return store

    # --- stores learned from the `stores` topic ---------------------------------

    def _seeded(self, key: str) -> bool:
        platform, _, store_id = key.partition(":")
        return self._seed.store(platform, store_id) is not None

    async def learned_stores(self) -> list[LearnedStore]:
        raw = cast(dict[bytes, bytes], await self._redis.hgetall(LEARNED))
        kept = (_loaded(LearnedStore, doc, f"learned store {key.decode()}") for key, doc in sorted(raw.items()))
        return [store for store in kept if store is not None]

    async def learn(self, event: StoreEvent) -> None:
        """Record a store event; every reader re-reads the config at its next batch (the version moves)."""
        raw = cast(bytes | None, await self._redis.hget(LEARNED, event.order_key))
        before = _loaded(LearnedStore, raw, f"learned store {event.order_key}") if raw else None
        after = learned(before, event)
        if after is None or after == before:
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(LEARNED, event.order_key, after.model_dump_json())
            pipe.incr(VERSION)
            await pipe.execute()
        log.info("store %s learned: %s", after.key, after.status)

    async def store(self, platform: str, store_id: str) -> StoreRecord:
        store = await self._known(platform, store_id)
        doc = await self._redis.get(STORE_PREFIX + store.key)
        return (_loaded(StoreRecord, doc, f"store {store.key}") if doc else None) or _record_of(store)

    async def templates(self, store: str | None = None) -> dict[str, TemplateConfig]:
        """The templates `store` (a store key) may use: the shared ones and its own; None: the shared ones."""
        config = await self.config()
        return config.templates_for(store) if store else dict(config.templates)

    # --- changes ---------------------------------------------------------------

    async def put_settings(self, platform: str, store_id: str, settings: StoreSettings) -> StoreRecord:
        return await self._update(
            platform, store_id, lambda record, _: record.model_copy(update={"settings": settings})
        )

    async def update_settings(
        self, platform: str, store_id: str, change: Callable[[StoreSettings], StoreSettings]
    ) -> StoreRecord:
        """`change` gets the settings as stored at the write, so a field it keeps is never a stale copy."""
        return await self._update(
            platform, store_id, lambda record, _: record.model_copy(update={"settings": change(record.settings)})
        )

    async def put_product(self, platform: str, store_id: str, product: ProductMatch) -> StoreRecord:
        """Add the product, or replace the entry with the same product/variant/SKU keys."""

        def change(record: StoreRecord, templates: set[str]) -> StoreRecord:
            if product.template not in templates:
                raise UnknownTemplate(f"unknown template {product.template!r} (or another store's own)")
            kept = [p for p in record.products if not _same_product(p, product)]
            return record.model_copy(update={"products": [*kept, product]})

        return await self._update(platform, store_id, change)

    async def delete_product(self, platform: str, store_id: str, product: ProductMatch) -> StoreRecord:
        """Remove the entry with the same product/variant/SKU keys as `product` (its template is not compared)."""

        def change(record: StoreRecord, _: set[str]) -> StoreRecord:
            kept = [p for p in record.products if not _same_product(p, product)]
            if len(kept) == len(record.products):
                raise DirectoryError("no such product in the store's catalog")
            return record.model_copy(update={"products": kept})

        return await self._update(platform, store_id, change)

    async def template_owners(self) -> dict[str, str]:
        """Template id -> the store that owns it; templates not listed are shared."""
        owners = cast(dict[bytes, bytes], await self._redis.hgetall(TEMPLATE_OWNERS))
        return {k.decode(): v.decode() for k, v in owners.items()}

    async def put_template(self, template_id: str, template: TemplateConfig, by: str | None = None) -> bool:
        """Create or replace; `by` is the acting store's key (None: an operator). Returns True when created."""
        while True:
            async with self._redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(TEMPLATES, TEMPLATE_OWNERS)
                    exists = template_id in self._seed.templates or bool(await pipe.hexists(TEMPLATES, template_id))
                    owner = cast(bytes | None, await pipe.hget(TEMPLATE_OWNERS, template_id))
                    if exists:  # so a store never takes an id the operator has: refused, not made its own
                        _check_may_change(template_id, owner, by, shared=template_id in self._seed.templates)
                    pipe.multi()
                    pipe.hset(TEMPLATES, template_id, template.model_dump_json())
                    if not exists and by is not None:
                        pipe.hset(TEMPLATE_OWNERS, template_id, by)
                    pipe.incr(VERSION)
                    await pipe.execute()
                    return not exists
                except WatchError:
                    continue

    async def delete_template(self, template_id: str, by: str | None = None) -> None:
        config = await self._read()
        raw_owner = cast(bytes | None, await self._redis.hget(TEMPLATE_OWNERS, template_id))
        owner = raw_owner.decode() if raw_owner else None
        if template_id not in (config.templates_for(owner) if owner else config.templates):
            raise UnknownTemplate(f"unknown template {template_id!r}")
        _check_may_change(template_id, raw_owner, by)
        # Who resolves this id to the template deleted: its owner alone, or (shared) every store not owning one.
        owned_elsewhere = {s for s, own in config.store_templates.items() if template_id in own}
        users = [
            s.key
            for s in config.stores
            if any(p.template == template_id for p in s.products)
            and (s.key == owner if owner else s.key not in owned_elsewhere)
        ]
        if users:
            raise TemplateInUse(f"template {template_id!r} is used by the catalog of {', '.join(users)}")
        if owner is None and template_id in self._seed.templates:
            raise TemplateInUse(f"template {template_id!r} comes from the YAML config; remove it there")
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hdel(TEMPLATES, template_id)
            pipe.hdel(TEMPLATE_OWNERS, template_id)
            pipe.incr(VERSION)
            await pipe.execute()

    async def _update(self, platform: str, store_id: str, change: _Change) -> StoreRecord:
        """Read-modify-write one store's record, retried if another writer got there first."""
        store = await self._known(platform, store_id)
        key = STORE_PREFIX + store.key
        while True:
            async with self._redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(key, TEMPLATES, TEMPLATE_OWNERS)
                    doc = await pipe.get(key)
                    record = (_loaded(StoreRecord, doc, f"store {store.key}") if doc else None) or _record_of(store)
                    raw_owners = cast(dict[bytes, bytes], await pipe.hgetall(TEMPLATE_OWNERS))
                    owners = {k.decode(): v.decode() for k, v in raw_owners.items()}
                    kept = {k.decode() for k in cast(list[bytes], await pipe.hkeys(TEMPLATES))}
                    # The shared ones (an id another store owns stays usable when the YAML has it too), and its own.
                    templates = set(self._seed.templates) | {k for k in kept if owners.get(k) in (None, store.key)}
                    updated = change(record, templates)
                    pipe.multi()
                    pipe.set(key, updated.model_dump_json())
                    pipe.incr(VERSION)
                    await pipe.execute()
                    return updated
                except WatchError:
                    continue


def _loaded(model: type[_M], doc: bytes | str, what: str) -> _M | None:
    """A stored value, or None when it no longer passes the model (a limit added since it was written)."""
    try:
        return model.model_validate_json(doc)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()[:3])
        log.error(
            "stored %s is not loaded, it fails the current limits (%s); change it through the API", what, problems
        )
        return None


def _check_may_change(template_id: str, owner: bytes | None, by: str | None, shared: bool = False) -> None:
    """`shared`: the YAML has the id too; to any store but its owner it is the shared one (whose owner stays unsaid)."""
    if by is None or (owner is not None and owner.decode() == by):
        return
    whose = "shared by every store (an operator key changes it)" if owner is None or shared else "another store's"
    raise TemplateForbidden(f"template {template_id!r} is {whose}")
