"""What core's shortcuts for speed must leave as it was: catalog matches and event ids.

The others have their own tests: the stored documents in `test_codec.py`, the partitioner in
`tests/plumbing/test_partitioner.py`.
"""

from __future__ import annotations

import uuid

from core.catalog import Catalog
from plumbing.config import ProductMatch
from schemas import LineItem, OrderStatusChanged
from schemas.envelope import new_event_id
from tests.builders import load_test_config


def test_a_line_takes_the_first_listed_product_that_matches_any_of_its_keys():
    config = load_test_config()
    store = config.stores[0].model_copy(
        update={
            "products": [
                ProductMatch(sku="S", template=next(iter(config.templates))),
                ProductMatch(product_id="P", variant_id="V", template=next(iter(config.templates))),
                ProductMatch(product_id="P", template=next(iter(config.templates))),
            ]
        }
    )
    catalog = Catalog(config, store)
    for product_id in ("P", "Q", None):
        for variant_id in ("V", None):
            for sku in ("S", None):
                line = LineItem(
                    line_id="L",
                    product_id=product_id,
                    variant_id=variant_id,
                    sku=sku,
                    title="t",
                    quantity=1,
                    unit_price="1.00",
                )
                expected = next((p for p in store.products if p.matches(line)), None)
                found = catalog.match(line)
                assert (found[0] if found else None) is expected


def test_event_ids_are_canonical_random_uuids_and_other_spellings_are_still_normalized():
    for _ in range(1000):
        made = new_event_id()
        assert str(uuid.UUID(made)) == made and uuid.UUID(made).version == 4
    spelled = "{6F1C1F0E-6A43-4D1E-9A43-0F8D2F3B7C11}"
    event = OrderStatusChanged(event_id=spelled, order_key="k", from_status=None, to_status="cancelled", reason="r")
    assert event.event_id == "6f1c1f0e-6a43-4d1e-9a43-0f8d2f3b7c11"
