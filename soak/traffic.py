"""Orders on the five sandboxes, as the plan says: placed at a steady rate, then paid, cancelled, redelivered.

Everything goes through the sandboxes' `/_sandbox` controls except the stale
replay: the order's webhook as it was when placed, signed the platform's way
and posted to the connector after the order changed (a retry arriving out of
order); the connector must see it is older than what it published.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from typing import Any

import httpx

from plumbing.config import Config
from sandboxes.base import SandboxState
from soak.ledger import OrderRun
from soak.plan import OrderPlan

log = logging.getLogger("soak")

TITLES = {"etsy": "Photo poster"}


class Traffic:
    def __init__(self, runs: list[OrderRun], config: Config, http: httpx.AsyncClient, start: float) -> None:
        self._runs, self._config, self._http, self._start = runs, config, http, start

    async def run(self) -> None:
        await asyncio.gather(*(self._life(run) for run in self._runs))

    async def _life(self, run: OrderRun) -> None:
        plan = run.plan
        await _sleep_until(self._start + plan.at)
        placed = await self._post(f"{run.store.base_url}/_sandbox/orders", _spec(run))
        if placed is None:
            run.place_error = "the sandbox did not take the order"
            return
        run.order_id, run.placement, run.paid = str(placed["id"]), placed["order"], plan.payment == "paid"
        at = asyncio.get_running_loop().time()
        steps: list[tuple[float, Any]] = []
        if plan.payment == "later":
            steps.append((plan.pay_after, self._pay))
        if plan.cancel:
            steps.append((plan.cancel_after, self._cancel))
        if plan.redeliver_after is not None:
            steps.append((plan.redeliver_after, self._redeliver))
        if plan.stale_replay:
            steps.append((max(t for t, _ in steps) + 1.5, self._stale_replay))
        for after, step in sorted(steps, key=lambda s: s[0]):
            await _sleep_until(at + after)
            await step(run)

    async def _pay(self, run: OrderRun) -> None:
        if await self._post(f"{run.store.base_url}/_sandbox/orders/{run.order_id}/status", {"status": "paid"}):
            run.paid = True

    async def _cancel(self, run: OrderRun) -> None:
        status = run.plan.cancel
        if await self._post(f"{run.store.base_url}/_sandbox/orders/{run.order_id}/status", {"status": status}):
            run.cancelled = status

    async def _redeliver(self, run: OrderRun) -> None:
        await self._post(
            f"{run.store.base_url}/_sandbox/orders/{run.order_id}/webhook", {"event": "created", "times": 2}
        )

    async def _stale_replay(self, run: OrderRun) -> None:
        sandbox = importlib.import_module(f"sandboxes.{run.store.platform}").SANDBOX
        store = self._config.store(run.store.platform, run.store.store_id)
        if store is None:  # the soak writes the config its stores come from: a bug of the soak
            raise LookupError(f"{run.store.platform}:{run.store.store_id} is not in the soak's config")
        headers, body = sandbox.webhook(SandboxState(store=store), run.placement, "created", thin=False)
        try:
            await self._http.post(run.store.webhook_url, content=body, headers=headers)
        except httpx.HTTPError:
            pass  # the connector may be down (a fault): a lost stale retry is no loss

    async def _post(self, url: str, body: dict) -> dict | None:
        """The sandboxes are never faulted, but the machine is busy: retry a few times."""
        for attempt in range(5):
            try:
                response = await self._http.post(url, json=body, timeout=30)
                if response.status_code < 500:
                    response.raise_for_status()
                    return response.json()
            except httpx.HTTPError as error:
                log.warning("sandbox call %s failed (%s); attempt %d", url, error, attempt + 1)
            await asyncio.sleep(1 + attempt)
        return None


def _spec(run: OrderRun) -> dict:
    plan, store = run.plan, run.store
    mug = {
        "product_id": store.personalizable_product,
        "title": TITLES.get(store.platform, "Name mug"),
        "quantity": plan.quantity,
        "price": "14.50",
        "buyer_text": plan.buyer_text,
    }
    plain = {"product_id": store.plain_product, "title": "Tote bag", "quantity": 1, "price": "9.00"}
    items = {"personalizable": [mug], "mixed": [mug, plain], "plain": [plain]}[plan.kind]
    return {
        "items": items,
        "test": plan.test,
        "paid": plan.payment == "paid",
        "webhook": plan.webhook,
        "customer_name": f"Soak Buyer{plan.index}",
        "customer_email": f"buyer{plan.index}@soak.example",
    }


async def _sleep_until(moment: float) -> None:
    delay = moment - asyncio.get_running_loop().time()
    if delay > 0:
        await asyncio.sleep(delay)


def describe(plan: OrderPlan) -> str:
    bits = [plan.kind, plan.payment]
    bits += ["test"] if plan.test else []
    bits += [f"customer {plan.customer}"] if plan.customer else []
    bits += ["approve" + (" twice" if plan.approve_twice else "")] if plan.approve else []
    bits += [plan.cancel] if plan.cancel else []
    bits += ["webhook lost"] if not plan.webhook else []
    return ", ".join(bits)
