"""Editor: latency of `GET /p/<token>` and of the completion POST under 200 concurrent clients, and its memory.

The editor runs as a real process (`personalize editor`) on the embedded
broker and Redis, with N links (2,000 by default) published as the notifier
does. 200 concurrent clients then open random links, and then complete
distinct links (text, clipart and a small PNG each, so Pillow decodes every
one, the file is written and fsynced, and the event is acknowledged by the
broker). The clients are bare keep-alive connections in this process, on the
same two cores as the editor, broker and Redis; the editor's own CPU time per
request is reported too. Rate limits are raised for the run: every client
comes from 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
from aiokafka import AIOKafkaProducer
from PIL import Image
from redis.asyncio import Redis

from benchmarks.procstat import memory_mib
from editor_service.security import form_token
from personalize.config import load_config
from personalize.embedded import free_port, start_broker, start_redis
from personalize.kafka import ensure_topics
from personalize.links import link_url, new_token, token_hash
from personalize.settings import Settings
from schemas import EVENTS_BY_TOPIC, PersonalizationLinkIssued, RequestedItem, encode

ROOT = Path(__file__).parents[1]
SECRET = "benchmark-secret-" + "b" * 32


async def publish_links(bootstrap: str, base: str, count: int) -> list[str]:
    template = load_config(ROOT / "examples" / "config.yaml").template("name-mug")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=10)
    await producer.start()
    tokens, sends, now = [], [], datetime.now(timezone.utc)
    try:
        for n in range(count):
            token = new_token()
            tokens.append(token)
            link = PersonalizationLinkIssued(
                order_key=f"woocommerce:demo-woo:{n}", link_id=f"link-{n}", url=link_url(base, token),
                expires_at=now + timedelta(days=7), sequence=1, merchant_email="merchant@example.com",
                store_id="demo-woo", platform="woocommerce", order_number=str(n),
                items=[RequestedItem(line_id="1", title="Name mug", quantity=1, template=template,
                                     buyer_personalization="Ada")])
            sends.append(await producer.send("personalization.link-issued", encode(link), key=link.order_key.encode()))
        await asyncio.gather(*sends)
    finally:
        await producer.stop()
    return tokens


async def wait_recorded(redis: Redis, tokens: list[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    for token in tokens:
        while not await redis.exists(f"editor:link:{token_hash(token)}"):
            if time.monotonic() > deadline:
                raise RuntimeError("the editor did not record every link in time")
            await asyncio.sleep(0.1)


async def wait_up(url: str, process: subprocess.Popen) -> None:
    async with httpx.AsyncClient(timeout=2) as http:
        for _ in range(300):
            if process.poll() is not None:
                raise RuntimeError("the editor exited")
            try:
                if (await http.get(f"{url}/health")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the editor did not come up")


class Connection:
    """A bare keep-alive HTTP/1.1 connection: httpx costs the client more CPU than the editor spends per request,
    and client and editor share this machine's two cores."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"", content_type: str = "") -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
        if content_type:
            head += f"Content-Type: {content_type}\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        status_line = await self.reader.readline()
        length, close = 0, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
            close = close or (name.lower() == "connection" and "close" in value.lower())
        await self.reader.readexactly(length)
        if close:
            self.writer.close()
            self.writer = None
        return int(status_line.split()[1])


async def drive(port: int, clients: int, jobs: list, one) -> tuple[list[float], dict]:  # noqa: ANN001
    """Run `one(connection, job)` for every job on `clients` concurrent connections; latencies in seconds."""
    queue: asyncio.Queue = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    latencies, statuses = [], {}

    async def client() -> None:
        connection = Connection(port)
        while not queue.empty():
            job = queue.get_nowait()
            started = time.perf_counter()
            try:
                status = await one(connection, job)
            except (OSError, asyncio.IncompleteReadError, ValueError) as error:
                status, connection = type(error).__name__, Connection(port)
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1
        if connection.writer:
            connection.writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    statuses["per_s"] = round(len(jobs) / (time.perf_counter() - began))
    return latencies, statuses


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]) -> tuple[bytes, str]:
    boundary = "editorbench"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    for name, (filename, data, media) in files.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                     f"Content-Type: {media}\r\n\r\n".encode() + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def small_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 200), "orange").save(out, "PNG")
    return out.getvalue()


async def run(links: int, clients: int, gets: int, posts: int) -> dict:
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    with tempfile.TemporaryDirectory() as state:
        broker, redis_server = start_broker(Path(state)), start_redis(Path(state))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = dict(os.environ, PERSONALIZE_KAFKA_BOOTSTRAP=broker.address,
                   PERSONALIZE_REDIS_URL=f"redis://{redis_server.address}/0", PERSONALIZE_EDITOR_SECRET=SECRET,
                   PERSONALIZE_ASSETS_DIR=str(Path(state) / "assets"), PERSONALIZE_LOG_LEVEL="WARNING",
                   PERSONALIZE_EDITOR_RATE_PER_TOKEN="1000000", PERSONALIZE_EDITOR_RATE_PER_ADDRESS="1000000",
                   PERSONALIZE_KAFKA_SESSION_TIMEOUT_MS="3000")
        editor = subprocess.Popen([sys.executable, "-m", "personalize.cli", "editor", "--port", str(port)], env=env)
        redis = Redis.from_url(f"redis://{redis_server.address}/0")
        try:
            await ensure_topics(Settings(kafka_bootstrap=broker.address), EVENTS_BY_TOPIC)
            await wait_up(base, editor)
            tokens = await publish_links(broker.address, base, links)
            await wait_recorded(redis, tokens)

            async def get(connection: Connection, token: str) -> int:
                return await connection.request("GET", f"/p/{token}")

            cpu = cpu_seconds(editor.pid)
            get_lat, get_status = await drive(port, clients, [random.choice(tokens) for _ in range(gets)], get)  # noqa: S311
            get_status["editor_cpu_ms"] = round((cpu_seconds(editor.pid) - cpu) * 1000 / gets, 2)
            image = small_png()

            async def post(connection: Connection, token: str) -> int:
                form = {"csrf": form_token(SECRET.encode(), token_hash(token)), "1:name": "Grace",
                        "1:motif": "star", "action": "complete"}
                body, content_type = multipart(form, {"1:photo": ("p.png", image, "image/png")})
                return await connection.request("POST", f"/p/{token}", body, content_type)

            cpu = cpu_seconds(editor.pid)
            post_lat, post_status = await drive(port, clients, tokens[:posts], post)
            post_status["editor_cpu_ms"] = round((cpu_seconds(editor.pid) - cpu) * 1000 / len(tokens[:posts]), 2)
            rss, peak = memory_mib(editor.pid), memory_mib(editor.pid, "VmHWM")
            unpublished = await redis.zcard("editor:unpublished")
        finally:
            editor.terminate()
            editor.wait(20)
            await redis.aclose()
            broker.stop()
            redis_server.stop()
    return {"load": load, "links": links, "clients": clients, "get": get_lat, "get_status": get_status, "post": post_lat,
            "post_status": post_status, "rss_mib": rss, "peak_mib": peak, "unpublished": unpublished}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--links", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--gets", type=int, default=4000)
    parser.add_argument("--posts", type=int, default=1000, help="completions (each on its own link)")
    args = parser.parse_args(argv)
    r = asyncio.run(run(args.links, args.clients, args.gets, min(args.posts, args.links)))
    print(f"editor, {r['clients']} concurrent clients, {r['links']:,} links, one process on loopback "
          f"(load average before: {r['load']})")
    for name in ("get", "post"):
        lat, status = r[name], dict(r[f"{name}_status"])
        rate, cpu = status.pop("per_s"), status.pop("editor_cpu_ms")
        label = "GET /p/<token>" if name == "get" else "POST /p/<token> (complete)"
        print(f"  {label:<28} n={len(lat):>5,}  p50 {statistics.median(lat) * 1000:6.0f} ms  "
              f"p99 {percentile(lat, 0.99) * 1000:6.0f} ms  {rate:>4}/s  editor CPU {cpu:.1f} ms/req  {status}")
    print(f"  {'editor RSS after the run / peak':<28} {r['rss_mib']:.0f} / {r['peak_mib']:.0f} MiB")
    print(f"  {'completions left unpublished':<28} {r['unpublished']}")
    return r


if __name__ == "__main__":
    main()
