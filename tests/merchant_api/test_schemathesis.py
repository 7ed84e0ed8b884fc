"""schemathesis against the live API (`personalize api` on the tests' broker and Redis, with a real key).

Every case must pass schemathesis' default checks (above all no 5xx; then status codes, content types,
headers and bodies as documented, invalid input and missing auth refused) but one:
`positive_data_acceptance` expects every schema-valid request accepted, and the document cannot say the
rules that span fields (a clipart field needs choices, only text fields take max_length, a product needs
one of three keys, a cursor must be one the API issued), so such requests are rightly refused.

The schema is the app's own document (the one `/openapi.json` serves, checked below), loaded at import:
schemathesis' lazy fixture loader does not run on pytest 9 (it sets `Function._nodeid`). Half of the
generated store names and order keys are pointed at the fuzz store's real ones (chosen by a hash of the
generated value, so a failing case replays the same), otherwise nearly every case would stop at a 404.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance

from merchant_api.app import MAX_BODY_BYTES, openapi_document
from plumbing import limits
from tests.builders import mug, order, plain
from tests.merchant_api.conftest import FUZZ, name, placed

# The same cases every run, so a red CI is a regression; set this variable to explore new ones.
RANDOM = "PERSONALIZE_FUZZ_RANDOM"
EXAMPLES = 20  # per operation, besides the schema-derived coverage cases; keeps the run under a minute here


@pytest.fixture(scope="module")
async def fuzz_target(stack) -> AsyncIterator[dict]:
    waiting = await placed(stack, order(FUZZ, [mug()]), "pending_personalization")
    ready = await placed(stack, order(FUZZ, [plain()]), "pending_approval")
    async with stack.client() as http:
        assert (await http.get("/openapi.json")).json() == openapi_document()  # fuzzing what really runs
    KEY.append(stack.keys[name(FUZZ)])
    yield {"stack": stack, "orders": [waiting.order_key, ready.order_key], "tried": []}
    KEY.clear()


@pytest.fixture(scope="module", autouse=True)
def report_cases(fuzz_target):
    yield
    tried = fuzz_target["tried"]
    answered = sorted({status for _, status in tried})
    print(f"\nschemathesis: {len(tried)} cases over {len({op for op, _ in tried})} operations, answers {answered}")
    # The run really generated cases, and the key got them past authentication to real answers.
    assert len(tried) >= EXAMPLES and {200, 201, 202, 204} <= set(answered)


schema = schemathesis.openapi.from_dict(openapi_document())
KEY: list[str] = []  # the fuzz store's key, once the stack has made it


@schema.auth(refresh_interval=None)  # not cached: schemathesis asks once at collection, before the key exists
class FuzzStoreKey:
    """Through schemathesis' auth hook, so the cases it generates without the header (expecting 401) stay so."""

    def get(self, case, context):
        return KEY[0] if KEY else None

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
    derandomize=RANDOM not in os.environ,
)
def test_no_generated_request_breaks_the_api(case, fuzz_target):
    stack = fuzz_target["stack"]
    _aim(case, fuzz_target["orders"])
    response = case.call_and_validate(base_url=stack.url, excluded_checks=[positive_data_acceptance], timeout=15)
    fuzz_target["tried"].append((case.operation.label, response.status_code))


# Oversized: each body the generator makes, its strings grown just past a limit (or far past, up to what the
# body limit lets through: a body over it is refused unread, tests/merchant_api/test_limits.py) or its lists
# past their counts. In every case the answer is a documented refusal, never a 5xx.
LIMITS = sorted({limits.LABEL_MAX, limits.TITLE_MAX, limits.PRODUCT_KEY_MAX, 500, limits.URL_MAX, 20_000})
STRING_SIZES = [n + 1 for n in LIMITS] + [100_000]
LIST_SIZE = max(limits.FIELDS_MAX, limits.CHOICES_MAX, limits.OPTIONS_MAX) + 1
BODY_OPERATIONS = [op for op in (result.ok() for result in schema.get_all_operations()) if op.body]
OVERSIZED = 40


@given(data=st.data())
@settings(
    max_examples=OVERSIZED,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
    derandomize=RANDOM not in os.environ,
)
def test_oversized_fields_and_lists_break_nothing(data, fuzz_target):
    stack = fuzz_target["stack"]
    operation = data.draw(st.sampled_from(BODY_OPERATIONS), label="operation")
    case = data.draw(operation.as_strategy(), label="case")
    if not isinstance(case.body, dict | list):
        case.body = {"reason": ""}  # the commands' optional body
    grow = data.draw(st.sampled_from(["strings", "lists"]))
    size = data.draw(st.sampled_from(STRING_SIZES)) if grow == "strings" else 0
    fill = data.draw(st.sampled_from(["x", "é", "\U0001f600"]))  # JSON-escaped: 1, 6 and 12 bytes each
    case.body = _within_the_body_limit(case.body, size, fill) if grow == "strings" else _grown(case.body)
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {KEY[0]}"}
    _aim(case, fuzz_target["orders"], always=True)  # the limits are checked past the 404 of an unknown store
    response = case.call_and_validate(base_url=stack.url, excluded_checks=[positive_data_acceptance], timeout=15)
    fuzz_target["tried"].append((f"oversized {case.operation.label}", response.status_code))
    assert response.status_code < 500


def _within_the_body_limit(body: Any, size: int, fill: str) -> Any:
    while len(json.dumps(grown := _strings(body, size, fill))) > MAX_BODY_BYTES - 1024:
        size //= 2
    return grown


def _strings(value: Any, size: int, fill: str) -> Any:
    if isinstance(value, str):
        return (value + fill * size)[:size]
    if isinstance(value, dict):
        return {key: _strings(item, size, fill) for key, item in value.items()}
    if isinstance(value, list):
        return [_strings(item, size, fill) for item in value]
    return value


def _grown(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _grown(item) for key, item in value.items()}
    if isinstance(value, list):
        items = [_grown(item) for item in value] or ["x"]
        return (items * LIST_SIZE)[: max(LIST_SIZE, len(items))]
    return value


def _aim(case, orders: list[str], always: bool = False) -> None:
    for where, key, real in (
        (case.path_parameters, "store", name(FUZZ)),
        (case.query, "store", name(FUZZ)),
        (case.path_parameters, "order_key", None),
    ):
        if where and isinstance(where.get(key), str) and (always or _heads(where[key])):
            where[key] = real or orders[zlib.crc32(where[key].encode()) % len(orders)]


def _heads(value: str) -> bool:
    return zlib.crc32(value.encode()) % 2 == 0
