"""Automation endpoints as raw local HTTP servers: one that answers at once, one that drips, one that never ends.

Raw asyncio sockets, not an ASGI app: a server framework buffers and times
out on its own, and these must misbehave byte by byte. Every server appends
what happens to one shared `events` list, so a test asserts the order things
happened in rather than how long they took.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Literal

Style = Literal["quick", "drip", "endless", "fail"]


class Events(list[str]):
    """What happened, in order; `wait_for` wakes at each new entry."""

    def __init__(self) -> None:
        super().__init__()
        self._changed = asyncio.Event()

    def append(self, event: str) -> None:
        super().append(event)
        self._changed.set()

    async def wait_for(self, wanted: str, timeout_s: float = 30.0) -> None:
        """A hang guard, not a timing assertion: the event comes, or the test fails instead of hanging."""
        async with asyncio.timeout(timeout_s):
            while wanted not in self:
                self._changed.clear()
                await self._changed.wait()


@dataclass
class HookServer:
    name: str
    style: Style
    events: Events
    drip_every_s: float = 0.2
    requests: list[bytes] = field(default_factory=list)
    open_now: int = 0
    most_open: int = 0
    _server: asyncio.Server | None = None
    _handlers: dict[asyncio.Task, asyncio.StreamWriter] = field(default_factory=dict)
    _stopping: bool = False

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def start(self) -> HookServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self._stopping = True
        for writer in self._handlers.values():  # a drip never ends by itself; cancelling its task would log noise
            writer.transport.abort()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers[handler] = writer
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        try:
            self.requests.append(await _read_request(reader))
            self.events.append(f"{self.name} received")
            await self._answer(writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.events.append(f"{self.name} closed")
            self.open_now -= 1
            writer.close()

    async def _answer(self, writer: asyncio.StreamWriter) -> None:
        if self.style in ("quick", "fail"):
            status = b"204 No Content" if self.style == "quick" else b"500 Internal Server Error"
            writer.write(b"HTTP/1.1 " + status + b"\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            await writer.drain()
        elif self.style == "drip":  # a byte at a time, each well within any per-read timeout, forever
            for byte in b"HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\n\r\n" + b"." * 1_000_000:
                if self._stopping:
                    return
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(self.drip_every_s)
        else:  # a 200 whose body never ends, as fast as the client takes it
            writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
            chunk = b"%x\r\n%s\r\n" % (65536, b"x" * 65536)
            while not self._stopping:
                writer.write(chunk)
                await writer.drain()


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
        0,
    )
    return head + await reader.readexactly(length)
