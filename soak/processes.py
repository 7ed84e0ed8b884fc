"""The soak's processes: every deployable as `personalize <command>`, the embedded broker and Redis, a mail catcher.

A supervisor restarts any service that exits on its own (as systemd or
Kubernetes would) and counts it: the report lists those exits. Faults go
through the same objects: `kill` is SIGKILL, the broker is paused with
SIGSTOP/SIGCONT (it keeps its data only while it runs), Redis is killed and
started again on the same port and append-only folder.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from devstack.embedded import LOOPBACK, EmbeddedServer, free_port, start_broker, start_redis

log = logging.getLogger("soak")


@dataclass
class Exit:
    service: str
    code: int | None
    at: float


@dataclass
class Service:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen | None = None
    held_down: bool = False  # a fault keeps it down; the supervisor leaves it alone
    starts: int = 0

    def start(self) -> None:
        if self.process is not None and self.process.poll() is None:
            return  # already running (two overlapping faults on one service): never leak a copy
        with open(self.log_path, "ab") as out:
            out.write(f"\n--- soak: start {self.starts + 1} at {time.strftime('%H:%M:%S')} ---\n".encode())
            out.flush()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "personalize.cli", *self.argv],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def exited(self) -> int | None:
        """The exit code if it is not running (and not held down), else None."""
        if self.held_down or self.process is None:
            return None
        return self.process.poll()


class MailCatcher:
    """An SMTP server keeping each message as `<uuid>.eml` (written whole, then renamed); it can go down and back."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://{LOOPBACK}:{self.port}"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes), "bytes unless the server sets decode_data, which it does not"
        name = uuid.uuid4().hex
        partial = self.folder / f"{name}.part"
        partial.write_bytes(envelope.content)
        partial.rename(self.folder / f"{name}.eml")
        return "250 OK"

    def start(self) -> None:
        self._controller = Controller(self, hostname=LOOPBACK, port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None


@dataclass
class Stack:
    state: Path
    services: dict[str, Service] = field(default_factory=dict)
    broker: EmbeddedServer | None = None
    redis: EmbeddedServer | None = None
    mail: MailCatcher | None = None
    exits: list[Exit] = field(default_factory=list)
    started_at: float = field(default_factory=time.monotonic)
    broker_paused: bool = False
    stopping: bool = False
    # The plan draws fault times at random, so two outages of one kind can overlap (seed 13 did, twice): the
    # mail stays down until the last one ends, and Redis restarts take turns, instead of a second server
    # trying to bind the port the first one already has again.
    mail_outages: int = 0
    redis_restarting: asyncio.Lock = field(default_factory=asyncio.Lock)

    def start_infrastructure(self) -> None:
        self.broker = start_broker(self.state)
        self.redis = start_redis(self.state)
        self.mail = MailCatcher(self.state / "mail")
        self.mail.start()

    def started(self) -> tuple[EmbeddedServer, EmbeddedServer, MailCatcher]:
        """The broker, Redis and the mail catcher, once `start_infrastructure` has run."""
        assert self.broker and self.redis and self.mail, "start_infrastructure first"
        return self.broker, self.redis, self.mail

    def add(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        (self.state / "logs").mkdir(parents=True, exist_ok=True)
        self.services[name] = Service(name, argv, env, self.state / "logs" / f"{name}.log")

    def start_all(self) -> None:
        for service in self.services.values():
            service.start()

    async def supervise(self, stop: asyncio.Event) -> None:
        """Restart what exits on its own (a crash, a start-up that met the broker paused), one second later."""
        while not stop.is_set():
            for service in self.services.values():
                code = service.exited()
                if code is not None:
                    self.exits.append(Exit(service.name, code, time.monotonic() - self.started_at))
                    log.warning("%s exited on its own with %s; restarting it", service.name, code)
                    service.held_down = True
                    asyncio.get_running_loop().call_later(1.0, self._restart, service)
            try:
                await asyncio.wait_for(stop.wait(), 0.5)
            except TimeoutError:
                pass

    def _restart(self, service: Service) -> None:
        if self.stopping:
            return
        service.start()
        service.held_down = False

    async def kill_for(self, name: str, seconds: float) -> None:
        service = self.services[name]
        service.held_down = True
        service.kill()
        await asyncio.sleep(seconds)
        if not self.stopping:
            service.start()
            service.held_down = False

    async def restart_redis(self, seconds: float) -> None:
        assert self.redis is not None
        async with self.redis_restarting:
            port = self.redis.port
            self.redis.process.kill()
            self.redis.process.wait()
            await asyncio.sleep(seconds)
            self.redis = await asyncio.to_thread(start_redis, self.state, port)

    async def pause_broker(self, seconds: float) -> None:
        assert self.broker is not None
        os.kill(self.broker.process.pid, signal.SIGSTOP)
        self.broker_paused = True
        try:
            await asyncio.sleep(seconds)
        finally:
            self.resume_broker()

    def resume_broker(self) -> None:
        if self.broker is not None and self.broker_paused:
            os.kill(self.broker.process.pid, signal.SIGCONT)
            self.broker_paused = False

    async def mail_down_for(self, seconds: float) -> None:
        assert self.mail is not None
        self.mail_outages += 1
        self.mail.stop()
        try:
            await asyncio.sleep(seconds)
        finally:
            self.mail_outages -= 1
            if not self.mail_outages:
                self.mail.start()

    def stop_services(self, grace_s: float = 15.0) -> dict[str, tuple[float | None, int | None]]:
        """SIGTERM every service; each one's seconds to exit and exit code (None, None: killed after `grace_s`)."""
        self.stopping = True
        self.resume_broker()
        began, running = time.monotonic(), {}
        for service in self.services.values():
            service.held_down = True
            if service.process and service.process.poll() is None:
                service.process.terminate()
                running[service.name] = (service, service.process)
        stopped: dict[str, tuple[float | None, int | None]] = {}
        while running and time.monotonic() - began < grace_s:
            for name, (_, process) in list(running.items()):
                if process.poll() is not None:
                    stopped[name] = (round(time.monotonic() - began, 1), process.returncode)
                    del running[name]
            time.sleep(0.05)
        for name, (service, _) in running.items():
            log.warning("%s did not stop within %.0f s of SIGTERM; killing it", name, grace_s)
            service.kill()
            stopped[name] = (None, None)
        return stopped

    def stop(self) -> None:
        self.stop_services()
        if self.mail is not None:
            self.mail.stop()
        for server in (self.redis, self.broker):
            if server is not None:
                server.stop()
