"""Fakes of what the service lifecycle opens and runs, each writing what it was asked to do into one journal."""

from __future__ import annotations

import asyncio

Journal = list[str]  # what the fakes were asked to do, in order


class FakeRedis:
    def __init__(self, journal: Journal, url: str | None) -> None:
        self.journal = journal
        journal.append(f"redis opened {url}")

    async def execute_command(self, *command: str) -> list[object]:
        assert command == ("ROLE",), "readiness asks only the role"
        return [b"master", 0, []]

    async def aclose(self) -> None:
        self.journal.append("redis closed")


class FakeMetadata:
    async def fetch_all_metadata(self) -> None:
        return None


class FakeProducer:
    def __init__(self, journal: Journal, fails: bool = False) -> None:
        self.journal, self.fails, self.client = journal, fails, FakeMetadata()

    async def start(self) -> None:
        if self.fails:
            self.journal.append("producer did not start")
            raise ConnectionError("no broker")
        self.journal.append("producer started")

    async def stop(self) -> None:
        self.journal.append("producer stopped")


class FakeConsumer:
    def __init__(self, journal: Journal, group: str) -> None:
        self.journal, self.group, self.joined = journal, group, True
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self.journal.append(f"{self.group} stops fetching")
        self._stopping.set()

    async def run(self) -> None:
        await self._stopping.wait()
        self.journal.append(f"{self.group} finished its batch")


class FakeServer:
    """uvicorn's Server as the lifecycle uses it: `serve()` until `should_exit`."""

    def __init__(self, journal: Journal, fails: bool = False) -> None:
        self.journal, self.fails = journal, fails
        self._exit = asyncio.Event()

    @property
    def should_exit(self) -> bool:
        return self._exit.is_set()

    @should_exit.setter
    def should_exit(self, value: bool) -> None:
        self.journal.append("server stops accepting")
        self._exit.set()

    async def serve(self) -> None:
        if self.fails:
            raise OSError("address already in use")
        await self._exit.wait()
        self.journal.append("server done")


class FakeOps:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def stop(self) -> None:
        self.journal.append("ops stopped")
