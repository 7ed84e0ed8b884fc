"""Core's batch handler against the brokers' record limit: an input whose events would not fit is refused alone,
its order left as it was, and the rest of the batch goes on (issue 15, the High finding)."""

from __future__ import annotations

from datetime import timedelta

from core.directory import StaticConfig
from core.handlers import CoreHandler
from core.store import MemoryOrderStore
from plumbing.config import Config, ProductMatch, TemplateConfig
from plumbing.kafka import DEFAULT_MAX_MESSAGE_BYTES
from schemas import FulfillmentRequested, OrderStatusChanged, PersonalizationRequested, TemplateField
from tests.builders import AUTO, MANUAL, T0, load_test_config, mug, order, plain, updated
from tests.core.test_handler import received

DELAY = timedelta(minutes=15)
BANNER = "300"  # the manual store's product with the huge template


def with_huge_template(config: Config, title_bytes: int = 1_200_000) -> Config:
    """The manual store sells a product whose template has a 1.2 MB title: what the API accepted before its field
    limits, and what a YAML or a directory written by hand can still hold (the model has no limit of its own)."""
    huge = TemplateConfig.model_construct(title="T" * title_bytes, fields=[TemplateField(name="name", type="text")])
    stores = [
        s.model_copy(update={"products": [*s.products, ProductMatch(product_id=BANNER, template="banner")]})
        if (s.platform, s.store_id) == MANUAL
        else s
        for s in config.stores
    ]
    return config.model_copy(update={"templates": {**config.templates, "banner": huge}, "stores": stores})


def handler(store: MemoryOrderStore, config: Config) -> CoreHandler:
    return CoreHandler(store, StaticConfig(config), DELAY, lambda: T0, DEFAULT_MAX_MESSAGE_BYTES)


async def test_a_huge_template_title_dead_letters_only_its_order_and_the_batch_goes_on():
    store = MemoryOrderStore()
    huge = order(MANUAL, [mug("L1", product_id=BANNER, sku=None)])
    other = order(AUTO, [plain()])
    outcome = await handler(store, with_huge_template(load_test_config()))([received(huge), received(other, 1)])

    ((refused, reason),) = outcome.rejected
    assert refused.event is huge
    assert "PersonalizationRequested" in reason and "983,616 bytes" in reason and huge.order_key in reason
    assert huge.order_key not in store.rows  # not taken: replayed once the template is fixed, it starts afresh
    assert all(e.order_key == other.order_key for e in outcome.outgoing)
    assert any(isinstance(e, FulfillmentRequested) for e in outcome.outgoing)
    assert other.order_key in store.rows


async def test_a_paid_order_with_thousands_of_personalizable_lines_is_dead_lettered_naming_them():
    store = MemoryOrderStore()
    lines = [mug(f"L{n}", title=f"Name mug {n}") for n in range(5000)]
    huge = order(MANUAL, lines)
    outcome = await handler(store, load_test_config())([received(huge)])

    ((refused, reason),) = outcome.rejected
    assert refused.event is huge and outcome.outgoing == []
    assert "(5000 personalizable lines;" in reason and "over the limit of 983,616 bytes" in reason
    assert huge.order_key not in store.rows


async def test_an_items_change_too_large_to_request_leaves_the_pending_order_as_it_was():
    store = MemoryOrderStore()
    config = with_huge_template(load_test_config())
    first = order(MANUAL, [mug("L1")])
    await handler(store, config)([received(first)])
    stored = store.rows[first.order_key]

    grown = updated(first, line_items=[mug("L1"), mug("L2", product_id=BANNER, sku=None)])
    outcome = await handler(store, config)([received(grown, 1)])
    ((refused, _),) = outcome.rejected
    assert refused.event is grown and outcome.outgoing == []
    assert store.rows[first.order_key] == stored  # not a byte of it written

    # And the order is not stuck: the refund after it applies to the order as it was.
    outcome = await handler(store, config)([received(updated(first, payment_status="refunded"), 2)])
    assert [e.to_status.value for e in outcome.outgoing if isinstance(e, OrderStatusChanged)] == ["cancelled"]


async def test_an_order_just_under_the_limit_is_taken():
    store = MemoryOrderStore()
    config = with_huge_template(load_test_config(), title_bytes=900_000)
    fits = order(MANUAL, [mug("L1", product_id=BANNER, sku=None)])
    outcome = await handler(store, config)([received(fits)])
    assert outcome.rejected == []
    assert any(isinstance(e, PersonalizationRequested) for e in outcome.outgoing)


async def test_a_request_leaves_room_under_the_limit_for_the_link_the_notifier_issues_from_it():
    # Under the brokers' limit by a few kilobytes: the notifier's PersonalizationLinkIssued (the same items, and
    # the link) would not be.
    config = with_huge_template(load_test_config(), title_bytes=DEFAULT_MAX_MESSAGE_BYTES - 8_000)
    tight = order(MANUAL, [mug("L1", product_id=BANNER, sku=None)])
    outcome = await handler(MemoryOrderStore(), config)([received(tight)])
    ((_, reason),) = outcome.rejected
    assert "16,384 bytes of the limit are kept for the link" in reason
