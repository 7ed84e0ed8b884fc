"""Lua scripts in Redis under concurrent HTTP load: many calls, one round trip.

A webhook or a page view makes one or two script calls. Made one by one, redis-py's cost per command
(connection pool, timeout, retry wrapper, one socket write each) was a quarter of a connector's CPU per
webhook (py-spy, `benchmarks/`). `ScriptBatch` sends every call that arrives while the previous round
trip is in flight together, in one pipeline: alone, a call goes at once; under load, concurrent requests
share round trips. Each call still runs as its own atomic script, in arrival order.

Not redis-py's script pipeline either: it asks `SCRIPT EXISTS` before every execute, a second round trip.
Here each call is an EVALSHA; the calls that answer NOSCRIPT (a restarted or flushed Redis: they did not
run) are sent again once the script is loaded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError
from redis.typing import EncodableT, KeyT

Call = tuple[Sequence[KeyT], Sequence[EncodableT]]  # (keys, args)


async def run_each(redis: Redis, script: AsyncScript, calls: Sequence[Call]) -> list[object]:
    """Every call's answer, or the error it raised, in order; one round trip (two after a NOSCRIPT)."""
    answers: list[object] = [None] * len(calls)
    todo = list(range(len(calls)))
    for attempt in (1, 2):
        async with redis.pipeline(transaction=False) as pipe:
            for i in todo:
                keys, args = calls[i]
                pipe.evalsha(script.sha, len(keys), *keys, *args)
            for i, answer in zip(todo, await pipe.execute(raise_on_error=False), strict=True):
                answers[i] = answer
        todo = [i for i in todo if isinstance(answers[i], NoScriptError)]
        if not todo or attempt == 2:
            break
        await redis.script_load(script.script)
    return answers


class ScriptBatch:
    """One script's calls from concurrent requests, sent together while a round trip is in flight."""

    def __init__(self, redis: Redis, script: str) -> None:
        self._redis = redis
        self._script = redis.register_script(script)
        self._waiting: list[tuple[Sequence[Call], asyncio.Future]] = []
        self._sender: asyncio.Task | None = None

    async def run(self, calls: Sequence[Call]) -> list[object]:
        """The answers of `calls`, in order; raises the first error any of them raised."""
        if not calls:
            return []
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((calls, future))
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send())
        return await future

    async def _send(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                answers = await run_each(self._redis, self._script, [c for calls, _ in batch for c in calls])
            except Exception as error:  # the connection failed: every caller of this round trip gets it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            except BaseException:  # the sender itself was cancelled (shutdown): so is every caller
                for _, future in [*batch, *self._waiting]:
                    future.cancel()
                self._waiting = []
                raise
            at = 0
            for calls, future in batch:
                mine, at = answers[at : at + len(calls)], at + len(calls)
                if future.done():  # the caller was cancelled
                    continue
                failed = next((a for a in mine if isinstance(a, Exception)), None)
                if failed is not None:
                    future.set_exception(failed)
                else:
                    future.set_result(mine)
