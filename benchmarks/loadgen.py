"""A lean HTTP/1.1 load generator, run in its own process so its CPU is its own and shows in the table.

Why not httpx: it spends ~3 ms of CPU per request (measured: two httpx processes took 64 % of a core to send
216 webhooks/s), as much as the server it measures, on a machine whose two cores the server, the broker and
Redis share. This client writes prebuilt request bytes on keep-alive connections (an `asyncio.Protocol` on
uvloop) and reads `Content-Length` answers: tens of µs per request.

Two ways to load a server, both on a fixed number of open connections:

- **closed loop** (`rate=None`): every connection sends its next request as soon as the answer to the previous
  one arrives. It finds the most the server can do; its latency is mostly queueing (with C connections,
  latency ≈ C × the server's time per request), so it says little about what a client sees at a given load.
- **open loop** (`rate=R`): request i is due at `start + i / R` whatever happened before, and any free
  connection takes it. Latency is counted from when it was due, so a slow server cannot slow the load down
  and hide its own queue (coordinated omission). This is what a platform sending webhooks does.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from benchmarks.procstat import sched

Job = tuple[str, bytes]  # (a name the caller matches results on, the whole request: head and body)


def request_bytes(method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    head += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class _Connection(asyncio.Protocol):
    """One keep-alive connection; `ask` writes a request and waits for its whole answer: (status, closes)."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.waiter: asyncio.Future | None = None
        self.transport: asyncio.Transport | None = None
        self.open = True
        self.received = 0  # body bytes of every answer so far

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        if self.waiter and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("closed by the server"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiter is None or self.waiter.done():
            return
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        lines = bytes(self.buffer[:end]).split(b"\r\n")
        length, closes = 0, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection":
                closes = b"close" in value.lower()
            elif name == b"transfer-encoding":
                self.waiter.set_exception(ValueError("chunked answers are not supported"))
                return
        if len(self.buffer) < end + 4 + length:
            return
        del self.buffer[: end + 4 + length]
        self.received += length
        self.waiter.set_result((int(lines[0].split()[1]), closes))

    async def ask(self, request: bytes) -> tuple[int, bool]:
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self.waiter


@dataclass
class Result:
    sent: dict[str, float] = field(default_factory=dict)  # name → monotonic time it was due (open) or written
    latencies: list[float] = field(default_factory=list)  # seconds, from due (open) or written (closed)
    lags: list[float] = field(default_factory=list)  # seconds from due to written: the generator's own delay
    statuses: dict[str, int] = field(default_factory=dict)
    received: int = 0  # body bytes of every answer
    began: float = 0.0
    ended: float = 0.0
    cpu: float = 0.0  # this process's seconds on a core from began to ended
    waited: float = 0.0  # and its seconds runnable but waiting for a core (the machine was busy)


async def _connect(port: int) -> _Connection:
    _, connection = await asyncio.get_running_loop().create_connection(_Connection, "127.0.0.1", port)
    return connection


async def drive(port: int, jobs: Sequence[Job], connections: int, rate: float | None, start_at: float) -> Result:
    """Send every job on `connections` keep-alive connections from `start_at` (monotonic), closed or open loop."""
    pool = [await _connect(port) for _ in range(connections)]
    result, next_job = Result(), iter(enumerate(jobs))

    async def worker(connection: _Connection) -> None:
        for index, (name, request) in next_job:
            due = start_at + index / rate if rate else 0.0
            if rate and (wait := due - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            written = time.monotonic()
            due = due or written
            result.sent[name] = due
            result.lags.append(written - due)
            try:
                if not connection.open:
                    connection = await _connect(port)
                status, closes = await connection.ask(request)
                if closes:
                    connection.transport.close()
                    connection = await _connect(port)
                key = str(status)
            except (OSError, ValueError) as error:
                key, connection = type(error).__name__, await _connect(port)
            result.latencies.append(time.monotonic() - due)
            result.statuses[key] = result.statuses.get(key, 0) + 1
        result.received += connection.received

    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    gc.collect()
    gc.freeze()  # the prebuilt requests are long-lived: keep the collector from walking them during the run
    result.began, (cpu, waited) = time.monotonic(), sched()
    await asyncio.gather(*(worker(c) for c in pool))
    result.ended, (cpu_after, waited_after) = time.monotonic(), sched()
    result.cpu, result.waited = cpu_after - cpu, waited_after - waited
    for connection in pool:
        if connection.transport:
            connection.transport.close()
    return result


def run(
    port: int,
    build: Callable[..., Sequence[Job]],
    build_args: tuple,
    connections: int,
    rate: float | None,
    start_at: float,
) -> Result:
    """In a worker process: build the requests (before `start_at`), then send them on uvloop."""
    import uvloop

    jobs = build(*build_args)
    # Built late (a busy machine): start now rather than owe the first requests' lateness to the server.
    return uvloop.run(drive(port, jobs, connections, rate, max(start_at, time.monotonic() + 0.2)))


def percentile_ms(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")
