"""Every connector's webhook endpoint and order mapping under hostile input, one platform at a time.

The connector's own app (`connectors.webhooks.make_app`) with its real intake
and dedupe on the session's Redis, served in process; the producer records
what would go to Kafka (and, like a real one, refuses a record over 1 MiB),
the thin-webhook fetcher records what it would fetch. Properties:

- never a 5xx, whatever the body and headers;
- without a valid signature: 401 (or 404 / the unsigned WooCommerce ping),
  and nothing published or queued;
- a correctly signed body of any shape: never 401; what it says is published,
  queued or ignored, and what cannot be read becomes exactly one dead letter;
- every mapping turns any order-shaped JSON into an `OrderReceived` or an
  `UnmappableOrderError`, never another exception (a poll page would stop on it).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from aiokafka.errors import MessageSizeTooLargeError
from hypothesis import assume, given
from hypothesis import strategies as st
from redis.asyncio import Redis

from connectors.errors import UnmappableOrderError
from connectors.intake import Intake
from connectors.platform import PlatformAdapter
from connectors.registry import adapter_for
from connectors.webhooks import MAX_BODY_BYTES, make_app
from plumbing.config import StoreConfig, load_config
from sandboxes.base import ItemSpec, OrderSpec, SandboxState
from sandboxes.main import sandbox_for
from schemas import DeadLetter, OrderReceived, OrderUpdated, decode, encode
from tests.connectors.stacks import built_platforms, write_config
from tests.connectors.stores.wix import STORE as WIX_STORE
from tests.fuzzing.strategies import CASES, budget, dumps, headers, json_values, mutated, raw_bodies, text

PLATFORMS = built_platforms()
PRODUCER_LIMIT = 1024 * 1024  # aiokafka's max_request_size, and a real broker's default message.max.bytes
WIX_KEY = (Path(__file__).parents[2] / "devstack" / "keys" / "wix_dev_private.pem").read_text()
WIX_PUBLIC = (Path(__file__).parents[2] / "devstack" / "keys" / "wix_dev_public.pem").read_text()
WIX_INSTANCE = WIX_STORE["credentials"]["instance_id"]  # a token names its site; only the store's is its own
BIG_UNREADABLE = b'{"unreadable": "' + b"x" * 900_000 + b'"}'


class RecordingProducer:
    """What the intake would send to Kafka; refuses what a real producer refuses (a record over 1 MiB)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    async def send(self, topic: str, value: bytes, key: bytes | None = None, headers: Any = None) -> asyncio.Future:
        if len(value) + len(key or b"") > PRODUCER_LIMIT:
            raise MessageSizeTooLargeError(f"{len(value)} bytes")
        self.sent.append((topic, value))
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


@dataclass
class RecordingFetcher:
    queued: list[tuple[str, str]] = field(default_factory=list)

    def enqueue(self, store: StoreConfig, order_id: str) -> bool:
        self.queued.append((store.key, order_id))
        return True


@dataclass
class Connector:
    platform: str
    adapter: PlatformAdapter
    store: StoreConfig
    state: SandboxState
    producer: RecordingProducer
    fetcher: RecordingFetcher
    http: httpx.AsyncClient
    sample: dict  # a realistic order of this platform, as its API and full webhooks carry it

    @property
    def url(self) -> str:
        return f"/webhooks/{self.platform}/{self.store.store_id}"

    def reset(self) -> None:
        self.producer.sent.clear()
        self.fetcher.queued.clear()

    async def post(self, body: bytes, headers: Mapping[str, str], url: str | None = None) -> httpx.Response:
        self.reset()
        return await self.http.post(url or self.url, content=body, headers=dict(headers))


def sample_order(platform: str, state: SandboxState) -> dict:
    spec = OrderSpec(items=[ItemSpec(buyer_text="Ada \u202eevil"), ItemSpec(product_id="7", title="Tote & <b>bag</b>")])
    raw = sandbox_for(platform).new_order(state, spec)
    if platform == "bigcommerce":  # the client embeds the fetched sub-resources before mapping
        raw = {k: v for k, v in raw.items() if not k.startswith("_")} | {
            "products": raw["_products"],
            "shipping_addresses": raw.get("_shipping_addresses", []),
        }
    return raw


@pytest.fixture(scope="module", params=PLATFORMS)
async def connector(request, redis_url, tmp_path_factory) -> AsyncIterator[Connector]:
    platform = request.param
    path = write_config(tmp_path_factory.mktemp(f"fuzz-{platform}") / "config.yaml", platform, "http://127.0.0.1:9")
    store = load_config(path).stores[0]
    adapter = adapter_for(platform)
    redis = Redis.from_url(redis_url)
    producer, fetcher = RecordingProducer(), RecordingFetcher()
    app = make_app(adapter, {store.store_id: store}, Intake(adapter, producer, redis), fetcher)
    state = SandboxState(store=store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://connector") as http:
        yield Connector(platform, adapter, store, state, producer, fetcher, http, sample_order(platform, state))
    await redis.aclose()


# --- signing as the platform does ---------------------------------------------------------------------------


def sign(c: Connector, body: bytes, topic: str = "created") -> dict[str, str]:
    """Headers that make `body` a correctly signed delivery of `c`'s platform (Wix: see `wix_token`)."""
    return sandbox_for(c.platform).sign_raw(c.state, body, event=topic)[0]


def wix_token(claims: dict, key: str = WIX_KEY, algorithm: str = "RS256") -> bytes:
    return jwt.encode(claims, key, algorithm=algorithm).encode()


def hs256_with_public_key(claims: dict) -> bytes:
    """Signed by hand: PyJWT itself refuses to HMAC with a PEM key."""

    def b64(raw: bytes) -> bytes:
        return base64.urlsafe_b64encode(raw).rstrip(b"=")

    signing_input = b64(b'{"alg":"HS256","typ":"JWT"}') + b"." + b64(json.dumps(claims).encode())
    return signing_input + b"." + b64(hmac.new(WIX_PUBLIC.encode(), signing_input, hashlib.sha256).digest())


def wix_claims(event: Any, envelope_extra: Any = None) -> dict:
    envelope = {"eventType": "wix.ecom.v1.order_created", "data": json.dumps(event, allow_nan=True)}
    if isinstance(envelope_extra, dict):
        envelope.update(envelope_extra)
    envelope["instanceId"] = WIX_INSTANCE
    now = int(time.time())
    return {"data": json.dumps(envelope, allow_nan=True), "iat": now, "exp": now + 600}


def full_event(order: Any, slug: str = "created") -> dict:
    carrier = {"created": {"createdEvent": {"entity": order}}, "updated": {"updatedEvent": {"currentEntity": order}}}
    return {
        "id": "e",
        "entityFqdn": "wix.ecom.v1.order",
        "slug": slug,
        "entityId": "x",
        **carrier.get(slug, {"actionEvent": {"body": {"order": order}}}),
    }


@st.composite
def signed_delivery(draw: st.DrawFn, c: Connector) -> tuple[bytes, dict[str, str]]:
    """A correctly signed delivery whose content is anything from nonsense to a slightly broken real one."""
    if c.platform == "wix":
        kind = draw(st.sampled_from(["raw", "claims", "event", "order"]))
        if kind == "raw":
            signed, token = sandbox_for("wix").sign_raw(c.state, draw(raw_bodies), event="created")
            return token, signed
        if kind == "claims":  # any claims and envelope, around the two a token needs to be this store's
            envelope = draw(st.dictionaries(text, json_values, max_size=4)) | {"instanceId": WIX_INSTANCE}
            claims = draw(st.dictionaries(text, json_values, max_size=4)) | {
                "iat": int(time.time()),
                "data": json.dumps(_finite_claims(envelope)),
            }
            return wix_token(_finite_claims(claims)), {"content-type": "text/plain"}
        if kind == "event":
            event = draw(mutated(full_event(c.sample, draw(st.sampled_from(["created", "updated", "approved"])))))
            return wix_token(wix_claims(event, draw(st.none() | st.dictionaries(text, json_values, max_size=2)))), {}
        order = draw(mutated(c.sample))
        return wix_token(wix_claims(full_event(order, draw(st.sampled_from(["created", "updated", "canceled"]))))), {}
    topic = draw(st.sampled_from(["created", "updated", "deleted", "restored"]))
    kind = draw(st.sampled_from(["raw", "real"]))
    if kind == "raw":
        body = draw(raw_bodies)
    else:
        _, real = sandbox_for(c.platform).webhook(c.state, c.sample, "created", thin=True)
        body = dumps(draw(mutated(json.loads(real))))
    try:
        signed = sign(c, body, topic)
    except UnicodeDecodeError:  # Standard Webhooks sign text: such a body cannot come signed
        assume(False)
    if c.platform == "woocommerce":
        signed["X-WC-Webhook-Topic"] = draw(
            st.sampled_from(
                ["order.created", "order.updated", "order.deleted", "order.restored", "product.created", ""]
            )
            | text
        )
        signed = {k: v for k, v in signed.items() if _header_safe(v)}
    return body, signed


def _finite_claims(claims: dict) -> dict:
    """PyJWT writes claims as standard JSON; keep the drawn ones it can write."""
    try:
        json.dumps(claims, allow_nan=False)
        return claims
    except ValueError:
        return {k: v for k, v in claims.items() if _json_ok(v)}


def _json_ok(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
        return True
    except ValueError:
        return False


def _header_safe(value: str) -> bool:
    return all(0x20 <= ord(ch) < 0x7F for ch in value)


# --- the properties ------------------------------------------------------------------------------------------


def published(c: Connector) -> list:
    events = []
    for topic, value in c.producer.sent:
        assert len(value) <= PRODUCER_LIMIT
        events.append(decode(topic, value))  # whatever goes out is a valid event of its topic
    return events


@given(data=st.data())
@budget(60)
async def test_requests_without_a_valid_signature_get_4xx_and_publish_nothing(connector: Connector, data):
    c = connector
    CASES[f"webhook {c.platform}: unsigned or forged"] += 1
    body = data.draw(raw_bodies, "body")
    sent_headers = data.draw(headers, "headers")
    where = data.draw(
        st.sampled_from(
            [
                c.url,
                c.url,
                f"/webhooks/{c.platform}",
                f"/webhooks/{c.platform}/other-store",
                f"/webhooks/not-{c.platform}/{c.store.store_id}",
            ]
        ),
        "url",
    )
    if c.platform == "wix" and data.draw(st.booleans(), "forged token"):
        claims = wix_claims(full_event(c.sample))
        body = data.draw(
            st.sampled_from(
                [
                    wix_token(claims, None, "none"),  # unsigned
                    wix_token(claims, "k" * 32, "HS256"),  # HMAC'd with a key of the forger's choosing
                    hs256_with_public_key(claims),  # the classic confusion: the public key used as an HMAC secret
                    wix_token({**claims, "exp": int(time.time()) - 3600}),  # expired: a replay
                    wix_token(claims)[:-4] + b"AAAA",  # tampered signature
                ]
            ),
            "forged",
        )
    response = await c.post(body, sent_headers, where)
    assert response.status_code < 500, response.text
    assert response.status_code in (401, 404) or (response.status_code == 200 and response.text == "pong")
    assert c.producer.sent == [] and c.fetcher.queued == []


@given(data=st.data())
@budget(40)
async def test_a_signed_body_changed_after_signing_is_refused(connector: Connector, data):
    c = connector
    CASES[f"webhook {c.platform}: tampered after signing"] += 1
    body, signed = data.draw(signed_delivery(c), "delivery")
    if c.platform == "wix":
        # The token is the body: flip one character of its payload part.
        head, payload, signature = body.split(b".")
        assume(payload)
        i = data.draw(st.integers(0, len(payload) - 1), "at")
        flipped = b"A" if payload[i : i + 1] != b"A" else b"B"
        tampered = b".".join([head, payload[:i] + flipped + payload[i + 1 :], signature])
    else:
        tampered = data.draw(
            st.one_of(st.just(body + b" "), st.just(b" " + body), raw_bodies.filter(lambda b: b != body)), "tampered"
        )
    response = await c.post(tampered, signed)
    assert response.status_code < 500, response.text
    # Over the size limit a body is refused for its size before any signature is read (a Wix token wrapping
    # deeply nested JSON grows past it).
    refusal = 413 if len(tampered) > MAX_BODY_BYTES else 401
    assert response.status_code == refusal or (response.status_code == 200 and response.text == "pong")
    assert c.producer.sent == [] and c.fetcher.queued == []


@given(data=st.data())
@budget(120)
async def test_a_correctly_signed_body_of_any_shape_is_answered_without_5xx(connector: Connector, data):
    c = connector
    CASES[f"webhook {c.platform}: correctly signed"] += 1
    body, signed = data.draw(signed_delivery(c), "delivery")
    check_signed_answer(c, body, await c.post(body, signed))


async def test_a_signed_unreadable_body_near_the_size_limit_still_fits_its_dead_letter(connector: Connector):
    c = connector
    if c.platform == "wix":
        body = wix_token(wix_claims({"entityFqdn": "wix.ecom.v1.order", "slug": "created", "x": "x" * 700_000}))
        response = await c.post(body, {})
    else:
        body = BIG_UNREADABLE
        response = await c.post(body, sign(c, body, "created"))
    check_signed_answer(c, body, response)


def check_signed_answer(c: Connector, body: bytes, response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    assert response.status_code != 401, f"a correctly signed delivery was refused: {response.text}"
    events = published(c)
    assert all(e.order_key.startswith(f"{c.platform}:{c.store.store_id}:") for e in events)
    if response.status_code == 413:
        assert events == [] and c.fetcher.queued == []
    elif response.text in ("accepted into dead-letters", "order id refused"):  # the latter 400: nothing fetched
        assert c.fetcher.queued == []
        (dead,) = events
        assert isinstance(dead, DeadLetter) and dead.source_topic == f"webhook:{c.platform}:{c.store.store_id}"
        kept = base64.b64decode(dead.raw)
        assert dead.error and body.startswith(kept) and (kept == body or "truncated" in dead.error)
    elif response.text == "accepted":
        assert events == [] and len(c.fetcher.queued) == 1
    elif response.text == "ok":  # a full order: published, a duplicate (nothing), or unmappable (a dead letter)
        assert all(isinstance(e, (OrderReceived, OrderUpdated, DeadLetter)) for e in events) and len(events) <= 1
    else:
        assert response.status_code == 200 and events == [] and c.fetcher.queued == []


@pytest.mark.parametrize("platform", PLATFORMS)
@given(data=st.data())
@budget(150)
def test_every_mapping_gives_an_order_or_an_unmappable_error(platform, data):
    adapter, store, sample = _mapping_setup(platform)
    CASES[f"mapping {platform}: mutated orders"] += 1
    raw = data.draw(st.one_of(mutated(sample, max_mutations=4), st.dictionaries(text, json_values, max_size=6)))
    if not isinstance(raw, dict):
        raw = {"value": raw}
    try:
        mapped = adapter.map_order(store, raw)
    except UnmappableOrderError as error:
        assert str(error)
        return
    event = mapped.order
    assert decode("orders.received", encode(event)) == event  # what maps is a valid event on the wire too
    assert event.order_key.startswith(f"{platform}:{store.store_id}:")


_SETUPS: dict[str, tuple] = {}


def _mapping_setup(platform: str) -> tuple[PlatformAdapter, StoreConfig, dict]:
    if platform not in _SETUPS:
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix=f"fuzz-map-{platform}-"))
        store = load_config(write_config(folder / "config.yaml", platform, "http://127.0.0.1:9")).stores[0]
        sample = sample_order(platform, SandboxState(store=store))
        adapter = adapter_for(platform)
        adapter.map_order(store, sample)  # the unmutated sample maps: the mutations start from a real order
        _SETUPS[platform] = (adapter, store, sample)
    return _SETUPS[platform]
