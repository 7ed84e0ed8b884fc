"""WooCommerce's webhooks as its REST API and `WC_Webhook` keep them (woocommerce/woocommerce: the v1-v3 webhooks
controller, `class-wc-webhook.php`, the webhook data store; ../shared/CONNECTING.md §1.3).

- `POST /wp-json/wc/v3/webhooks` `{name, topic, delivery_url, secret, status}`: topic and delivery_url required and
  valid (400 otherwise), saved `pending_delivery`, answered 201 with a `Location`, then pinged (form body
  `webhook_id=<id>`, no signature); only an answer of exactly 200 clears `pending_delivery`. The REST answer does
  not wait on the ping's verdict: a webhook whose ping failed is saved all the same (wp-admin's form is what
  refuses to save it). `secret` is write-only; none given: 50 random characters.
- `GET` (list, `status=all|active|paused|disabled`, `per_page` ≤ 100, `page`, `X-WP-Total(Pages)`) and one;
  `PUT`/`POST …/{id}` updates, re-pinging an active one whose delivery_url changed or whose ping is pending;
  `DELETE …/{id}?force=true` (501 without `force`).
- Deliveries of `order.<event>` to every active webhook of that topic, signed with the webhook's own secret. A
  2xx, 301 or 302 resets `failure_count`; any other answer (or none) is a failure, and a failure that finds the
  count already above 5 sets the status `disabled`: the 7th consecutive failure (`failed_delivery`). Re-enabling
  by `PUT status=active` does not reset the count; recreating does.
- `POST /_sandbox/hooks/fail {"next": N}`: the next N deliveries fail as an unreachable URL would (the connector
  down, a network cut), so a test can make the store disable a webhook.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import string
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

WEBHOOKS = "/wp-json/wc/v3/webhooks"
STATUSES = ("active", "paused", "disabled")
RESOURCES = ("coupon", "customer", "order", "product")
EVENTS = ("created", "updated", "deleted", "restored")
MAX_FAILURES = 5  # `woocommerce_max_webhook_delivery_failures`: disabled when a failure finds the count above it
AGENT = "WooCommerce/8.0.0 Hookshot (WordPress/6.4)"

Post = Callable[[str, bytes, dict[str, str]], Awaitable[int | str]]

_WP_ENTITIES = re.compile(r"&(lt|gt|quot|amp);|&#0*(60|62|34|39|38);|&#[xX]0*(27|22|26);")
_NAMED = {"lt": "<", "gt": ">", "quot": '"', "amp": "&"}


def signature(secret: str, body: bytes) -> str:
    """`generate_signature`: base64 of the raw HMAC-SHA256 of the exact body, keyed with
    `wp_specialchars_decode(secret, ENT_QUOTES)`."""
    key = _WP_ENTITIES.sub(_decoded, secret)
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def _decoded(entity: re.Match[str]) -> str:
    named, decimal, hexadecimal = entity.groups()
    return _NAMED[named] if named else chr(int(decimal)) if decimal else chr(int(hexadecimal, 16))


def valid_topic(topic: object) -> bool:
    """`wc_is_webhook_valid_topic`."""
    if not isinstance(topic, str):
        return False
    if topic.startswith(("action.woocommerce_", "action.wc_")):
        return True
    resource, _, event = topic.partition(".")
    return resource in RESOURCES and event in EVENTS


def _valid_url(url: object) -> bool:
    """`wc_is_valid_url`: http or https, a host."""
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0, tzinfo=None).isoformat()


@dataclass
class Webhook:
    id: int
    name: str
    status: str
    topic: str
    delivery_url: str
    secret: str
    failure_count: int = 0
    pending_delivery: bool = True
    ping_answer: int | str | None = None  # the sandbox's own field: what the last ping got
    date_created: str = field(default_factory=_now)
    date_modified: str = field(default_factory=_now)

    def view(self) -> dict[str, Any]:
        """The REST answer (`prepare_item_for_response`): never the secret."""
        resource, _, event = self.topic.partition(".")
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "topic": self.topic,
            "resource": resource,
            "event": event,
            "hooks": [],
            "delivery_url": self.delivery_url,
            "date_created": self.date_created,
            "date_created_gmt": self.date_created,
            "date_modified": self.date_modified,
            "date_modified_gmt": self.date_modified,
            "pending_delivery": self.pending_delivery,
            "ping_answer": self.ping_answer,
            "_links": {"self": [{"href": f"{WEBHOOKS}/{self.id}"}]},
        }


@dataclass
class WooHooks:
    post: Post
    hooks: dict[int, Webhook] = field(default_factory=dict)
    deliveries: list[dict[str, Any]] = field(default_factory=list)  # per registered webhook: what each got
    fail_next: int = 0
    _next_id: int = 1

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    async def ping(self, hook: Webhook) -> None:
        """`deliver_ping`: only exactly 200 clears `pending_delivery`."""
        hook.ping_answer = await self.post(hook.delivery_url, f"webhook_id={hook.id}".encode(), {"User-Agent": AGENT})
        if hook.ping_answer == 200:
            hook.pending_delivery = False

    async def deliver(self, order_id: int | str, event: str, body: bytes) -> None:
        """One order event to every active webhook of its topic (`deliver`, then `log_delivery`)."""
        topic = f"order.{event}"
        for hook in [h for h in self.hooks.values() if h.status == "active" and h.topic == topic]:
            headers = {
                "Content-Type": "application/json",
                "User-Agent": AGENT,
                "X-WC-Webhook-Source": "https://example.com/",
                "X-WC-Webhook-Topic": topic,
                "X-WC-Webhook-Resource": "order",
                "X-WC-Webhook-Event": event,
                "X-WC-Webhook-Signature": signature(hook.secret, body),
                "X-WC-Webhook-ID": str(hook.id),
                "X-WC-Webhook-Delivery-ID": secrets.token_hex(16),
            }
            if self.fail_next > 0:
                self.fail_next -= 1
                answer: int | str = "ConnectError"
            else:
                answer = await self.post(hook.delivery_url, body, headers)
            self.deliveries.append({"hook_id": hook.id, "order_id": str(order_id), "event": event, "answer": answer})
            self._log_delivery(hook, answer)

    def _log_delivery(self, hook: Webhook, answer: int | str) -> None:
        if isinstance(answer, int) and 200 <= answer < 303:
            hook.failure_count = 0
        elif hook.failure_count > MAX_FAILURES:
            hook.status = "disabled"
        else:
            hook.failure_count += 1


class FailSpec(BaseModel):
    next: int = Field(ge=0, le=1000)


def _error(code: str, message: str, status: int) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, "data": {"status": status}}, status_code=status)


def _invalid_id() -> JSONResponse:
    return _error("woocommerce_rest_shop_webhook_invalid_id", "Invalid ID.", 404)


def hooks_router(store: WooHooks) -> APIRouter:
    router = APIRouter()

    @router.post(WEBHOOKS)
    async def create(request: Request) -> Response:
        try:
            spec = await request.json()
        except ValueError:
            return _error("rest_invalid_json", "Invalid JSON body passed.", 400)
        if not isinstance(spec, dict):
            return _error("rest_invalid_json", "Invalid JSON body passed.", 400)
        for name in ("topic", "delivery_url"):
            if name not in spec:
                return _error("rest_missing_callback_param", f"Missing parameter(s): {name}", 400)
        if not valid_topic(str(spec["topic"]).lower()):
            return _error(
                "woocommerce_rest_shop_webhook_invalid_topic", "Webhook topic is required and must be valid.", 400
            )
        if not _valid_url(spec["delivery_url"]):
            return _error(
                "woocommerce_rest_shop_webhook_invalid_delivery_url",
                "Webhook delivery URL must be a valid URL starting with http:// or https://.",
                400,
            )
        status = spec.get("status", "active")
        if status not in STATUSES:
            return _error("rest_invalid_param", "Invalid parameter(s): status", 400)
        alphabet = string.ascii_letters + string.digits + "!@#$%^&*()-_ []{}<>~`+=,.;:/?|"
        hook = Webhook(
            id=store.new_id(),
            name=str(spec.get("name") or f"Webhook created on {_now()}"),
            status=status,
            topic=str(spec["topic"]).lower(),
            delivery_url=spec["delivery_url"],
            secret=str(spec.get("secret") or "".join(secrets.choice(alphabet) for _ in range(50))),
        )
        store.hooks[hook.id] = hook
        await store.ping(hook)  # after the save, before the answer; its verdict does not change the answer
        return JSONResponse(hook.view(), status_code=201, headers={"Location": f"/wp-json/wc/v3/webhooks/{hook.id}"})

    @router.get(WEBHOOKS)
    async def listing(request: Request) -> Response:
        q = request.query_params
        try:
            per_page, page = int(q.get("per_page", 10)), int(q.get("page", 1))
        except ValueError:
            return _error("rest_invalid_param", "Invalid parameter(s): per_page, page", 400)
        status = q.get("status", "all")
        if not 1 <= per_page <= 100 or page < 1 or status not in ("all", *STATUSES):
            return _error("rest_invalid_param", "Invalid parameter(s): per_page, page, status", 400)
        found = sorted(
            (h for h in store.hooks.values() if status == "all" or h.status == status),
            key=lambda h: h.id,
            reverse=q.get("order", "desc") == "desc",
        )
        pages = max(1, -(-len(found) // per_page))
        chunk = found[(page - 1) * per_page : page * per_page]
        headers = {"X-WP-Total": str(len(found)), "X-WP-TotalPages": str(pages)}
        return JSONResponse([h.view() for h in chunk], headers=headers)

    @router.get(WEBHOOKS + "/{hook_id}")
    async def one(hook_id: int) -> Response:
        hook = store.hooks.get(hook_id)
        return JSONResponse(hook.view()) if hook else _invalid_id()

    async def update(hook_id: int, request: Request) -> Response:
        hook = store.hooks.get(hook_id)
        if hook is None:
            return _error("woocommerce_rest_shop_webhook_invalid_id", "ID is invalid.", 400)
        spec = await request.json()
        if not isinstance(spec, dict):
            return _error("rest_invalid_json", "Invalid JSON body passed.", 400)
        moved = False
        if spec.get("topic"):
            if not valid_topic(str(spec["topic"]).lower()):
                return _error("woocommerce_rest_shop_webhook_invalid_topic", "Webhook topic must be valid.", 400)
            hook.topic = str(spec["topic"]).lower()
        if spec.get("delivery_url"):
            if not _valid_url(spec["delivery_url"]):
                return _error("woocommerce_rest_shop_webhook_invalid_delivery_url", "Invalid delivery URL.", 400)
            moved = spec["delivery_url"] != hook.delivery_url
            hook.delivery_url = spec["delivery_url"]
        if spec.get("secret"):
            hook.secret = str(spec["secret"])
        if spec.get("status"):
            if spec["status"] not in STATUSES:
                return _error("woocommerce_rest_shop_webhook_invalid_status", "Webhook status must be valid.", 400)
            hook.status = spec["status"]  # failure_count is not in the schema: it stays as it was
        if spec.get("name"):
            hook.name = str(spec["name"])
        hook.date_modified = _now()
        if hook.status == "active" and (moved or hook.pending_delivery):
            await store.ping(hook)
        return JSONResponse(hook.view())

    for method in ("PUT", "POST", "PATCH"):  # WP_REST_Server::EDITABLE
        router.add_api_route(
            WEBHOOKS + "/{hook_id}", update, methods=[method], operation_id=f"update_webhook_{method.lower()}"
        )

    @router.delete(WEBHOOKS + "/{hook_id}")
    async def delete(hook_id: int, request: Request) -> Response:
        if request.query_params.get("force") not in ("true", "1"):
            return _error("woocommerce_rest_trash_not_supported", "Webhooks do not support trashing.", 501)
        hook = store.hooks.pop(hook_id, None)
        return JSONResponse(hook.view()) if hook else _invalid_id()

    @router.post("/_sandbox/hooks/fail")
    async def fail(spec: FailSpec) -> dict[str, Any]:
        store.fail_next = spec.next
        return {"fail_next": store.fail_next}

    @router.get("/_sandbox/hooks")
    async def seen() -> dict[str, Any]:
        hooks = [{**h.view(), "failure_count": h.failure_count} for h in store.hooks.values()]
        return {"hooks": hooks, "deliveries": store.deliveries}

    return router


def payload(raw: dict[str, Any], event: str) -> bytes:
    """`build_payload`: the REST order, or only `{"id"}` for `deleted`; `trim(wp_json_encode(…))`."""
    return json.dumps({"id": raw["id"]} if event == "deleted" else raw, separators=(",", ":")).encode()
