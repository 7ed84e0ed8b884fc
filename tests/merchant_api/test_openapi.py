"""docs/merchant-api.openapi.json is what `personalize docs` writes from the app: a test fails while it is stale."""

from __future__ import annotations

import json
from pathlib import Path

from devstack.docs import rendered
from merchant_api.app import openapi_document

DOCS = Path(__file__).parents[2] / "docs"
NAME = "merchant-api.openapi.json"


def test_the_committed_openapi_document_is_current():
    expected = rendered(DOCS, {NAME: openapi_document()})[DOCS / NAME]
    assert (DOCS / NAME).read_text() == expected, "run `make docs` (personalize docs) and commit docs/" + NAME


def test_every_route_asks_for_a_bearer_key_and_documents_its_errors():
    document = json.loads((DOCS / NAME).read_text())
    bearer = document["components"]["securitySchemes"]["HTTPBearer"]
    assert (bearer["type"], bearer["scheme"]) == ("http", "bearer")
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert operation["security"] == [{"HTTPBearer": []}], (method, path)
            assert {"401", "503"} <= operation["responses"].keys(), (method, path)
    commands = [p for p in document["paths"] if p.startswith("/orders/{order_key}/")]
    assert sorted(commands) == [
        "/orders/{order_key}/approve",
        "/orders/{order_key}/cancel",
        "/orders/{order_key}/resend-link",
    ]
    assert all({"202", "404", "409"} <= document["paths"][p]["post"]["responses"].keys() for p in commands)
