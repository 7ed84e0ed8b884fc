"""API keys: shown once, kept hashed, and a store's key sees its own store and nothing else."""

from __future__ import annotations

from redis.asyncio import Redis

from tests.builders import mug, order
from tests.merchant_api.conftest import A, B, name, personalize, placed


async def test_without_a_key_or_with_a_wrong_one_the_answer_is_401_with_a_bearer_challenge(stack):
    async with stack.client() as anonymous:
        answer = await anonymous.get("/orders")
        assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"
        assert "Authorization: Bearer" in answer.json()["detail"]
    wrong = stack.keys[name(A)][:-4] + "AAAA"
    for key in (wrong, "pz_0123456789abcdef_" + "x" * 43, "not-a-key"):
        async with stack.client(key=key) as guessing:
            answer = await guessing.get("/orders")
            assert answer.status_code == 401 and answer.json()["detail"] == "unknown or revoked API key"
    async with stack.client(A) as allowed:
        assert (await allowed.get("/orders")).status_code == 200


async def test_a_stores_key_gets_404_for_another_stores_order_settings_catalog_and_listing(stack):
    theirs = await placed(stack, order(B, [mug()]), "pending_personalization")
    async with stack.client(B) as owner, stack.client(A) as other:
        assert (await owner.get(f"/orders/{theirs.order_key}")).status_code == 200
        for path in (
            f"/orders/{theirs.order_key}",
            f"/stores/{name(B)}/settings",
            f"/stores/{name(B)}/products",
            f"/orders?store={name(B)}",
        ):
            answer = await other.get(path)
            assert answer.status_code == 404, path
            assert "for this key" in answer.json()["detail"]
        for command in ("approve", "cancel", "resend-link"):
            assert (await other.post(f"/orders/{theirs.order_key}/{command}")).status_code == 404
        # The same answer as for a store that does not exist at all: nothing tells them apart.
        nobody = (await other.get("/stores/etsy:nobody/settings")).json()
        assert nobody["detail"] == "no store 'etsy:nobody' for this key"


async def test_an_operator_key_acts_for_every_store_but_must_name_the_one_it_lists(stack):
    theirs = await placed(stack, order(B, [mug()]), "pending_personalization")
    async with stack.client("operator") as operator:
        assert (await operator.get(f"/orders/{theirs.order_key}")).json()["store"] == name(B)
        assert (await operator.get(f"/stores/{name(A)}/settings")).status_code == 200
        answer = await operator.get("/orders")
        assert answer.status_code == 400 and "?store=" in answer.json()["detail"]
        listed = await operator.get("/orders", params={"store": name(B), "limit": 100})
        assert theirs.order_key in [o["order_key"] for o in listed.json()["orders"]]


async def test_keys_create_prints_the_key_once_and_redis_keeps_only_its_hash(stack):
    created = personalize("keys", "create", "--store", name(A), "--label", "till", env=stack.env)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("pz_") and "shown only now" in created.stderr and key not in created.stderr
    async with stack.client(key=key) as client:
        assert (await client.get(f"/stores/{name(A)}/settings")).status_code == 200

    redis = Redis.from_url(stack.redis_url)
    try:
        secret = key.split("_", 2)[2].encode()
        for stored in [k async for k in redis.scan_iter("core:apikey*")]:
            values = await (redis.hgetall(stored) if await redis.type(stored) == b"hash" else redis.smembers(stored))
            flat = values.values() if isinstance(values, dict) else values
            assert all(secret not in value for value in flat)
    finally:
        await redis.aclose()

    key_id = key.split("_")[1]
    listed = personalize("keys", "list", "--store", name(A), env=stack.env)
    assert key_id in listed.stdout and "till" in listed.stdout and key not in listed.stdout
    assert personalize("keys", "revoke", key_id, env=stack.env).returncode == 0
    async with stack.client(key=key) as client:
        assert (await client.get(f"/stores/{name(A)}/settings")).status_code == 401


async def test_keys_create_for_a_store_not_in_the_config_exits_2_naming_the_known_ones(stack):
    result = personalize("keys", "create", "--store", "etsy:nobody", env=stack.env)
    assert result.returncode == 2 and "woocommerce:shop-a" in result.stderr and not result.stdout
