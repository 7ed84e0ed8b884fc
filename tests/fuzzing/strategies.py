"""Hostile input, shared by the fuzz tests: JSON that breaks schemas, odd Unicode, arbitrary bytes and headers.

Budgets are settings profiles: `fuzz-ci` (the default: derandomized, no example
database, so CI runs the same cases every time and never flakes on a new one)
and `fuzz-explore` (random, with a database, many more examples) for a local
hunt: `PERSONALIZE_FUZZ_PROFILE=fuzz-explore .venv/bin/pytest tests/fuzz`.
"""

from __future__ import annotations

import copy
import json
import os
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

settings.register_profile(
    "fuzz-ci",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
settings.register_profile(  # failures found are kept for the next run in ./.hypothesis (it ignores itself in git)
    "fuzz-explore",
    derandomize=False,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
PROFILE = os.environ.get("PERSONALIZE_FUZZ_PROFILE", "fuzz-ci")
EXPLORE_FACTOR = 20

# Cases tried per target, printed at the end of the run (tests/fuzzing/report.py) and kept for the report.
CASES: Counter[str] = Counter()


def budget(examples: int) -> settings:
    """The profile's settings with this test's share of the CI time (×20 when exploring)."""
    factor = EXPLORE_FACTOR if PROFILE == "fuzz-explore" else 1
    return settings(settings.get_profile(PROFILE), max_examples=examples * factor)


# Characters that have broken text handling somewhere: direction overrides, zero-width joiners and
# spaces, a byte-order mark, NUL and other controls, combining marks, line and paragraph separators,
# astral-plane emoji sequences, the last code point, and the characters HTML and JSON escape.
ODD = [
    "\u202e",
    "\u202d",
    "\u2066",
    "\u200b",
    "\u200d",
    "\u200c",
    "\ufeff",
    "\x00",
    "\x1b",
    "\x7f",
    "\u0301",
    "\u2028",
    "\u2029",
    "👩\u200d👩\u200d👧",
    "\U0010ffff",
    "\ufffd",
    "ﷺ",
    "<",
    ">",
    "&",
    '"',
    "'",
    "\\",
    "/",
    "\r\n",
    "\t",
    "%00",
    "${X}",
    "{{7*7}}",
]
odd_text = st.lists(st.one_of(st.sampled_from(ODD), st.text(max_size=4)), max_size=8).map("".join)
text = st.one_of(st.text(max_size=40), odd_text)

huge_int = st.one_of(
    st.integers(min_value=-(10**300), max_value=10**300),
    st.sampled_from([2**63, -(2**63) - 1, 2**64, 10**20, 10**4000]),
)
floats = st.floats(allow_nan=True, allow_infinity=True)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), huge_int, floats, text)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)),
    max_leaves=20,
)


def dumps(value: Any) -> bytes:
    """JSON as a sloppy producer writes it: NaN and Infinity as bare words, numbers of any size."""
    return json.dumps(value, allow_nan=True, default=str).encode()


def deep(depth: int, opener: str = "[") -> bytes:
    """`[[[…1…]]]` or `{"a":{"a":…1…}}`, `depth` levels."""
    if opener == "[":
        return ("[" * depth + "1" + "]" * depth).encode()
    return ('{"a":' * depth + "1" + "}" * depth).encode()


deep_json = st.builds(deep, st.sampled_from([10, 500, 999, 1000, 2000, 5000, 100_000]), st.sampled_from(["[", "{"]))

# Raw bodies: bytes, JSON of any shape, JSON nested past every parser's recursion limit, and almost-JSON.
raw_bodies = st.one_of(
    st.binary(max_size=2048),
    json_values.map(dumps),
    deep_json,
    st.sampled_from(
        [
            b"",
            b"null",
            b"[]",
            b"{}",
            b'""',
            b"NaN",
            b"-Infinity",
            b"1e999999",
            b"9" * 5000,
            b"{" * 3,
            b'{"a": 1, "a": 2}',
            b"\xef\xbb\xbf{}",
            b'"\\ud800"',
            b'{"\\ud800": "\\udfff"}',
            b"\xed\xa0\x80",
        ]
    ),
)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path into a JSON document (keys and list indices), the root included."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _apply(document: Any, path: tuple, operation: str, value: Any) -> Any:
    if not path:
        return value if operation != "delete" else {}
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if operation == "delete":
        del parent[last]
    elif operation == "wrap":
        parent[last] = [parent[last]] if isinstance(parent[last], dict) else {"value": parent[last]}
    else:
        parent[last] = value
    return document


@st.composite
def mutated(draw: st.DrawFn, original: Any, max_mutations: int = 3) -> Any:
    """`original` with a few parts deleted, replaced by a value of another type, or wrapped one level deeper."""
    document = copy.deepcopy(original)
    for _ in range(draw(st.integers(min_value=1, max_value=max_mutations))):
        paths = _paths(document)
        path = draw(st.sampled_from(paths))
        operation = draw(st.sampled_from(["replace", "replace", "delete", "wrap"]))
        if operation == "delete" and not path:
            operation = "replace"
        value = draw(json_values) if operation == "replace" else None
        document = _apply(document, path, operation, value)
    if draw(st.booleans()) and isinstance(document, dict):
        document[draw(text)] = draw(json_values)  # an extra field nobody asked for
    return document


# The HTTP server parses these before any app sees the request (uvicorn answers 400 to a Content-Length of
# ":" or "+5", checked by hand); the apps are fuzzed in process, so they are left to the server.
FRAMING = {"content-length", "transfer-encoding", "host", "connection", "expect", "upgrade"}
header_names = st.one_of(
    st.sampled_from(
        [
            "content-type",
            "x-wc-webhook-signature",
            "x-wc-webhook-topic",
            "webhook-id",
            "webhook-timestamp",
            "webhook-signature",
            "squarespace-signature",
            "authorization",
            "content-encoding",
            "transfer-encoding-x",
            "x-forwarded-for",
        ]
    ),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz-_0123456789", min_size=1, max_size=20),
).filter(lambda name: name not in FRAMING)
header_values = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80),
    st.sampled_from(
        [
            "v1,",
            "v1,AAAA",
            "v1,!!notbase64",
            "v2,abc v1,def",
            "0",
            "-1",
            "99999999999999999999",
            "order.created",
            "order.deleted",
            "application/json",
            "text/plain; charset=utf-16",
            "gzip",
            "whsec_",
            " " * 40,
        ]
    ),
)
headers = st.dictionaries(header_names, header_values, max_size=6)
