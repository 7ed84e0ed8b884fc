"""`POST /orders/{order_key}/resend-link` through the running API: replays the finding "resend-link has no rate
limit" (every call mails a link again, to the merchant or to the customer)."""

from __future__ import annotations

from schemas import ResendLink
from tests.builders import mug, order
from tests.merchant_api.conftest import A, placed, published


async def test_resend_link_a_fourth_time_within_the_hour_is_refused_with_429_and_retry_after(stack):
    flooded = await placed(stack, order(A, [mug()]), "pending_personalization")
    other = await placed(stack, order(A, [mug()]), "pending_personalization")
    async with stack.client(A) as client:
        answers = [await client.post(f"/orders/{flooded.order_key}/resend-link") for _ in range(4)]
        assert [a.status_code for a in answers] == [202, 202, 202, 429]
        refused = answers[3]
        assert 3500 < int(refused.headers["Retry-After"]) <= 3600 and "too many resends" in refused.json()["detail"]
        assert len(await published(stack, flooded.order_key, ResendLink, 3)) == 3
        assert (await client.post(f"/orders/{other.order_key}/resend-link")).status_code == 202  # unaffected
    assert len([e for e in stack.recorder.events(flooded.order_key) if isinstance(e, ResendLink)]) == 3
