"""docs/ holds what `personalize docs` generates from schemas/: a test fails while it is stale."""

from __future__ import annotations

import json
from pathlib import Path

from devstack.docs import asyncapi_document, rendered

DOCS = Path(__file__).parents[2] / "docs"


def test_committed_event_docs_are_current():
    stale = [str(p) for p, text in rendered(DOCS).items() if not p.exists() or p.read_text() != text]
    assert stale == [], "run `make docs` and commit: stale " + ", ".join(stale)


def test_asyncapi_documents_every_topic_with_its_events():
    document = asyncapi_document()
    assert document["asyncapi"].startswith("3.")
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert addresses == {
        "orders.received",
        "orders.status",
        "personalization.requested",
        "personalization.completed",
        "personalization.link-issued",
        "personalization.link-activity",
        "orders.commands",
        "fulfillment.requested",
        "dead-letters",
        "stores.email-changes",
        "stores",
    }
    schemas = document["components"]["schemas"]
    assert {
        "OrderReceived",
        "OrderUpdated",
        "FulfillmentRequested",
        "DeadLetter",
        "PersonalizationLinkOpened",
        "PersonalizationLinkExpired",
        "PersonalizationReminderSent",
        "MerchantEmailChangeRequested",
    } <= schemas.keys()
    assert json.loads((DOCS / "schemas" / "OrderReceived.json").read_text())["properties"]["total"]["type"] == "string"
