"""`plumbing/scripts.py`: script calls of concurrent requests share round trips, each still its own answer."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from plumbing.scripts import ScriptBatch
from tests.support import unique_id

# INCR the key by ARGV[1]; a negative step is refused, so one call can fail alone.
STEP = """
if tonumber(ARGV[1]) < 0 then return redis.error_reply('negative step') end
return redis.call('INCRBY', KEYS[1], ARGV[1])
"""


class CountingRedis:
    """The real client, counting the pipelines it executes (one per round trip)."""

    def __init__(self, redis: Redis) -> None:
        self._redis, self.round_trips = redis, 0

    def __getattr__(self, name: str) -> object:
        return getattr(self._redis, name)

    def pipeline(self, **kwargs: object):  # redis-py's Pipeline
        self.round_trips += 1
        return self._redis.pipeline(**kwargs)


async def test_concurrent_calls_share_round_trips_and_each_gets_its_own_answers(redis: Redis):
    counting, key = CountingRedis(redis), f"scripts:{unique_id()}"
    batch = ScriptBatch(counting, STEP)  # type: ignore[arg-type]
    answers = await asyncio.gather(*(batch.run([([key], [1]), ([key], [10])]) for _ in range(50)))
    assert counting.round_trips <= 2  # the first call alone, then the 49 that came meanwhile
    assert max(a for pair in answers for a in pair) == 550
    assert all(second - first == 10 for first, second in answers)  # a caller's calls stay in order


async def test_a_failing_call_fails_only_its_caller(redis: Redis):
    batch, key = ScriptBatch(redis, STEP), f"scripts:{unique_id()}"
    good, bad = await asyncio.gather(batch.run([([key], [1])]), batch.run([([key], [-1])]), return_exceptions=True)
    assert good == [1]
    assert isinstance(bad, ResponseError) and "negative step" in str(bad)


async def test_after_redis_lost_its_scripts_each_call_runs_exactly_once(redis: Redis):
    batch, key = ScriptBatch(redis, STEP), f"scripts:{unique_id()}"
    await batch.run([([key], [1])])
    await redis.script_flush()  # a restarted Redis: every EVALSHA answers NOSCRIPT, none ran
    assert await asyncio.gather(batch.run([([key], [1])]), batch.run([([key], [1])])) == [[2], [3]]


async def test_no_calls_make_no_round_trip(redis: Redis):
    counting = CountingRedis(redis)
    assert await ScriptBatch(counting, STEP).run([]) == []  # type: ignore[arg-type]
    assert counting.round_trips == 0


@pytest.mark.parametrize("calls", [1, 3])
async def test_a_lost_connection_fails_every_caller_of_that_round_trip(calls: int):
    broken = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=None)
    batch = ScriptBatch(broken, STEP)
    results = await asyncio.gather(*(batch.run([(["k"], [1])]) for _ in range(calls)), return_exceptions=True)
    assert all(isinstance(r, Exception) for r in results)
    await broken.aclose()
