"""The platform contract, written once: what every platform folder of `connectors/` must do.

Each `test_<platform>.py` subclasses `PlatformContract` with the platform's adapter, sandbox and store,
its documented samples and what they map to, and a signer of its own written from the platform's docs
(never with the connector's or the sandbox's code); the file's own tests are the platform's quirks.
Tables (`variations`, `broken`, `reads`, …) become one test case each; see `pytest_generate_tests`.
The sandbox half of the contract is `sandbox_contract.py`, the helpers `platform_case.py`.

API answers come from respx at the httpx transport (with `assert_all_called` and `assert_all_mocked`:
an unmatched request fails the test, and so does a route never called) or from the sandbox app.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from connectors.errors import InvalidSignatureError, UnmappableOrderError, UnreadableWebhookError
from connectors.platform import WebhookNote
from tests.connectors.sandbox_contract import SandboxContract

MAPPED = Path(__file__).parent / "mapped"  # what each platform's documented order maps to (mapped/README.md)
Delivery = tuple[dict[str, str], bytes]  # headers and body, as the platform posts them
Forgery = Callable[["PlatformContract", dict[str, str], bytes], Delivery]  # a signed delivery -> a forged one


def flipped(body: bytes) -> bytes:
    """One bit of the middle byte changed: whatever a signature covers, it no longer matches."""
    middle = len(body) // 2
    return body[:middle] + bytes([body[middle] ^ 0x01]) + body[middle + 1 :]


class PlatformContract(SandboxContract):
    # mapping
    variations: ClassVar[tuple[Any, ...]]  # (fields set on the documented order, what the mapped order then says)
    broken: ClassVar[tuple[Any, ...]]  # orders that cannot be read
    # webhooks
    signature_header: ClassVar[str | None]  # the header carrying the signature; None: the body signs itself
    other_secret: ClassVar[Any]  # a secret (or key) that is not the store's
    forgeries: ClassVar[tuple[Any, ...]] = ()  # the platform's own ways to forge a delivery (Forgery)
    unusable_secrets: ClassVar[tuple[tuple[str, str | None], ...]] = ()  # store secret -> the refusal it gets
    reads: ClassVar[tuple[tuple[Any, ...], ...]]  # (payload, the note or NothingToDo[, extra headers])
    unreadable: ClassVar[tuple[Any, ...]]  # payloads that, signed, say nothing we can read
    reading_verifies = False  # Wix's read_webhook checks the signature again

    # --- what a platform file supplies ----------------------------------------------------------------

    def documented_order(self) -> dict:
        raise NotImplementedError

    def deliver(self, payload: Any, headers: dict[str, str] | None = None, secret: Any = None) -> Delivery:
        """`payload` signed with `secret` (default: the store's) as the docs say, computed in the test file."""
        raise NotImplementedError

    def sample_payload(self) -> Any:
        """The documented webhook body (Wix: the claims of its token)."""
        raise NotImplementedError

    def sample_note(self) -> WebhookNote:
        raise NotImplementedError

    # --- tables into test cases ---------------------------------------------------------------------------

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        tables = {
            "variation": self.variations,
            "broken_order": self.broken,
            "read": self.reads,
            "unreadable_payload": self.unreadable,
            "forgery": self.every_forgery(),
            "unusable_secret": [(None, "no webhook_secret"), ("", "no webhook_secret"), *self.unusable_secrets],
        }
        for name, table in tables.items():
            if name in metafunc.fixturenames:
                metafunc.parametrize(name, table, ids=case_id)

    def every_forgery(self) -> list[Any]:
        forgeries = [
            pytest.param(lambda t, h, b: (h, flipped(b)), id="a bit flipped after signing"),
            pytest.param(
                lambda t, h, b: t.deliver(t.sample_payload(), secret=t.other_secret), id="signed with another secret"
            ),
        ]
        if self.signature_header:
            name = self.signature_header
            forgeries += [
                pytest.param(lambda t, h, b: (h, b + b" "), id="a space appended"),
                pytest.param(lambda t, h, b: ({k: v for k, v in h.items() if k != name}, b), id="unsigned"),
                pytest.param(lambda t, h, b: ({**h, name: "not a signature"}, b), id="not a signature"),
            ]
        return [*forgeries, *self.forgeries]

    # --- mapping ----------------------------------------------------------------------------------------

    def test_the_documented_order_maps_field_by_field(self) -> None:
        mapped = self.adapter.map_order(self.store, self.documented_order())
        event = mapped.order.model_dump(mode="json", exclude={"event_id", "occurred_at"})  # new for each mapping
        expected = json.loads((MAPPED / f"{self.adapter.name}.json").read_text())
        assert {"modified_at": mapped.modified_at.isoformat(), **event} == expected

    def test_a_variation_of_the_documented_order_maps(self, variation: tuple[dict, dict]) -> None:
        changes, expected = variation
        order = self.adapter.map_order(self.store, {**self.documented_order(), **changes}).order
        assert {field: getattr(order, field) for field in expected} == expected

    def test_an_order_we_cannot_read_says_why(self, broken_order: Any) -> None:
        with pytest.raises(UnmappableOrderError):
            self.adapter.map_order(self.store, broken_order)

    # --- webhooks ---------------------------------------------------------------------------------------

    def test_a_correctly_signed_documented_delivery_is_read(self) -> None:
        headers, body = self.deliver(self.sample_payload())
        self.adapter.verify_webhook(self.store, httpx.Headers(headers), body)
        assert self.adapter.read_webhook(self.store, httpx.Headers(headers), body) == self.sample_note()

    def test_a_forged_delivery_is_refused(self, forgery: Forgery) -> None:
        headers, body = forgery(self, *self.deliver(self.sample_payload()))
        with pytest.raises(InvalidSignatureError):
            self.adapter.verify_webhook(self.store, httpx.Headers(headers), body)
        if self.reading_verifies:  # reading never trusts an unverified body either
            with pytest.raises(InvalidSignatureError):
                self.adapter.read_webhook(self.store, httpx.Headers(headers), body)

    def test_a_store_without_a_usable_secret_refuses_every_webhook(self, unusable_secret: tuple) -> None:
        secret, refusal = unusable_secret
        headers, body = self.deliver(self.sample_payload())
        with pytest.raises(InvalidSignatureError, match=refusal):
            self.adapter.verify_webhook(
                self.store.model_copy(update={"webhook_secret": secret}), httpx.Headers(headers), body
            )

    def test_a_verified_delivery_reads_as_what_it_says(self, read: tuple) -> None:
        payload, expected, *extra = read
        headers, body = self.deliver(payload, *extra)
        self.adapter.verify_webhook(self.store, httpx.Headers(headers), body)
        note = self.adapter.read_webhook(self.store, httpx.Headers(headers), body)
        assert isinstance(note, expected) if isinstance(expected, type) else note == expected

    def test_a_verified_body_we_cannot_read_is_unreadable(self, unreadable_payload: Any) -> None:
        headers, body = self.deliver(unreadable_payload)
        self.adapter.verify_webhook(self.store, httpx.Headers(headers), body)
        with pytest.raises(UnreadableWebhookError):
            self.adapter.read_webhook(self.store, httpx.Headers(headers), body)


def case_id(value: Any) -> str | None:
    """Short ids for table rows: scalars as they are, small containers by their scalars; None (pytest numbers the
    row) for a whole order."""
    if isinstance(value, dict):
        if len(value) > 4:
            return None
        return "-".join(filter(None, map(case_id, value.values())))[:60] or None
    if isinstance(value, (list, tuple)):
        return "-".join(filter(None, map(case_id, value)))[:60] or None
    if isinstance(value, bytes):
        return value[:30].decode("ascii", "replace")
    if isinstance(value, type):
        return value.__name__
    if value is None or isinstance(value, (str, int, float, bool)):
        return str(value)[:40]
    return repr(value)[:40]
