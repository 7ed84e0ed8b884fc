"""Editor: `GET /p/<token>` on 200 keep-alive connections, open loop at a fixed rate and closed loop, then completions.

The editor runs as a real process (`personalize editor`) on the embedded broker and Redis, with N links
(2,000 by default) published as the notifier does. The load generator (`benchmarks.loadgen`, its own
process) holds 200 connections and opens random links: first **open loop** at a fixed offered rate (latency
counted from when each request was due), then **closed loop** (each connection asks again as soon as it is
answered: the most the editor serves; its latency is mostly queueing, ≈ 200 × the time per page). Why both:
`benchmarks/README.md`. The first open of each link also publishes `PersonalizationLinkOpened`, as in
production. Then 200 connections complete distinct links (text, clipart and a small PNG each, so Pillow
decodes every one, the file is written and fsynced, and the event is acknowledged by the broker). Rate
limits are raised for the run: every client comes from 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from multiprocessing import get_context
from pathlib import Path

import httpx
from aiokafka import AIOKafkaProducer
from PIL import Image
from redis.asyncio import Redis

from benchmarks import loadgen, profile
from benchmarks.loadgen import percentile_ms
from benchmarks.procstat import load_average, memory_mib, sched
from devstack.embedded import free_port, start_broker, start_redis
from editor_service.security import form_token
from plumbing.config import load_config
from plumbing.kafka import ensure_topics
from plumbing.links import link_url, new_token, token_hash
from plumbing.settings import Settings
from schemas import EVENTS_BY_TOPIC, PersonalizationLinkIssued, RequestedItem, encode

ROOT = Path(__file__).parents[1]
SECRET = "benchmark-secret-" + "b" * 32


async def publish_links(bootstrap: str, base: str, count: int) -> list[str]:
    template = load_config(ROOT / "examples" / "config.yaml").template("name-mug")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=10)
    await producer.start()
    tokens, sends, now = [], [], datetime.now(UTC)
    try:
        for n in range(count):
            token = new_token()
            tokens.append(token)
            link = PersonalizationLinkIssued(
                order_key=f"woocommerce:demo-woo:{n}",
                link_id=f"link-{n}",
                url=link_url(base, token),
                expires_at=now + timedelta(days=7),
                sequence=1,
                merchant_email="merchant@example.com",
                store_id="demo-woo",
                platform="woocommerce",
                order_number=str(n),
                items=[
                    RequestedItem(
                        line_id="1", title="Name mug", quantity=1, template=template, buyer_personalization="Ada"
                    )
                ],
            )
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
        for _ in range(600):
            if process.poll() is not None:
                raise RuntimeError("the editor exited")
            try:
                if (await http.get(f"{url}/health")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the editor did not come up")


def get_jobs(tokens: list[str], count: int, seed: int) -> list[loadgen.Job]:
    pick = random.Random(seed)  # which link to open: not a secret
    return [(f"get-{seed}-{n}", loadgen.request_bytes("GET", f"/p/{pick.choice(tokens)}")) for n in range(count)]


def post_jobs(tokens: list[str]) -> list[loadgen.Job]:
    out = io.BytesIO()
    Image.new("RGB", (320, 200), "orange").save(out, "PNG")
    image, jobs = out.getvalue(), []
    for token in tokens:
        form = {
            "csrf": form_token(SECRET.encode(), token_hash(token)),
            "1:name": "Grace",
            "1:motif": "star",
            "action": "complete",
        }
        body, content_type = multipart(form, {"1:photo": ("p.png", image, "image/png")})
        jobs.append((token, loadgen.request_bytes("POST", f"/p/{token}", {"Content-Type": content_type}, body)))
    return jobs


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]) -> tuple[bytes, str]:
    boundary = "editorbench"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()
    ]
    for name, (filename, data, media) in files.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: {media}\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


class Phase(dict):
    """One load's figures: rate, latencies, statuses, CPU per process, load average before."""

    @property
    def p99(self) -> float:
        return percentile_ms(self["latencies"], 0.99)


async def load(
    processes: dict[str, int],
    port: int,
    build: Callable[..., list[loadgen.Job]],
    build_args: tuple,
    connections: int,
    rate: float | None,
) -> Phase:
    before, load_before = {role: sched(pid) for role, pid in processes.items()}, load_average()
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        result = await asyncio.wrap_future(
            pool.submit(loadgen.run, port, build, build_args, connections, rate, time.monotonic() + 3.0)
        )
    after, took = {role: sched(pid) for role, pid in processes.items()}, result.ended - result.began
    cpu = {role: ((after[role][0] - b[0]) / took, (after[role][1] - b[1]) / took) for role, b in before.items()}
    cpu["generator"] = (result.cpu / took, result.waited / took)
    n = len(result.latencies)
    return Phase(
        latencies=result.latencies,
        lags=result.lags,
        statuses=result.statuses,
        per_s=n / took,
        cpu=cpu,
        load=load_before,
        n=n,
        editor_cpu_ms=cpu["editor"][0] * took * 1000 / n,
        body_bytes=result.received / max(1, n),
    )


async def run(args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory() as state:
        broker, redis_server = start_broker(Path(state)), start_redis(Path(state))
        port, ops_port = free_port(), free_port()
        base = f"http://127.0.0.1:{port}"
        env = dict(
            os.environ,
            PERSONALIZE_KAFKA_BOOTSTRAP=broker.address,
            PERSONALIZE_REDIS_URL=f"redis://{redis_server.address}/0",
            PERSONALIZE_EDITOR_SECRET=SECRET,
            PERSONALIZE_ASSETS_DIR=str(Path(state) / "assets"),
            PERSONALIZE_LOG_LEVEL="WARNING",
            PERSONALIZE_EDITOR_RATE_PER_TOKEN="1000000",
            PERSONALIZE_EDITOR_RATE_PER_ADDRESS="1000000",
            PERSONALIZE_KAFKA_SESSION_TIMEOUT_MS="3000",
            PERSONALIZE_OPS_PORT=str(ops_port),
        )
        editor = subprocess.Popen([sys.executable, "-m", "personalize.cli", "editor", "--port", str(port)], env=env)
        redis = Redis.from_url(f"redis://{redis_server.address}/0")
        processes = {"editor": editor.pid, "broker": broker.process.pid, "redis": redis_server.process.pid}
        phases: dict[str, Phase] = {}
        try:
            await ensure_topics(Settings(kafka_bootstrap=broker.address), EVENTS_BY_TOPIC)
            await wait_up(f"http://127.0.0.1:{ops_port}", editor)  # its ops port: /health is not public
            tokens = await publish_links(broker.address, base, args.links)
            await wait_recorded(redis, tokens)
            c = args.clients
            phases["warm-up"] = await load(processes, port, get_jobs, (tokens, 500, 0), c, None)
            phases["open"] = await load(
                processes, port, get_jobs, (tokens, int(args.rate * args.seconds), 1), c, args.rate
            )
            phases["closed"] = await load(processes, port, get_jobs, (tokens, args.gets, 2), c, None)
            if args.profile:
                recording = profile.start(
                    editor.pid, args.profile / "editor.txt", args.gets / max(1.0, phases["closed"]["per_s"]) + 5
                )
                phases["profile"] = await load(processes, port, get_jobs, (tokens, args.gets, 3), c, None)
                recording.wait()
            if args.posts:
                phases["post"] = await load(processes, port, post_jobs, (tokens[: args.posts],), c, None)
            rss, peak = memory_mib(editor.pid), memory_mib(editor.pid, "VmHWM")
            unpublished = await redis.zcard("editor:unpublished")
        finally:
            editor.terminate()
            editor.wait(20)
            await redis.aclose()
            broker.stop()
            redis_server.stop()
    return {"phases": phases, "rss_mib": rss, "peak_mib": peak, "unpublished": unpublished}


def _cpu(cpu: dict[str, tuple[float, float]]) -> str:
    return ", ".join(
        f"{role} {run:.0%}" + (f" (+{wait:.0%} queued)" if wait >= 0.05 else "")
        for role, (run, wait) in cpu.items()
        if run >= 0.005
    )


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--links", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=200, help="keep-alive connections")
    parser.add_argument("--rate", type=float, default=400, help="offered GETs/s of the open-loop phase")
    parser.add_argument("--seconds", type=float, default=15, help="length of the open-loop phase")
    parser.add_argument("--gets", type=int, default=4000, help="GETs of the closed-loop phase")
    parser.add_argument("--posts", type=int, default=1000, help="completions (each on its own link)")
    parser.add_argument("--profile", type=Path, help="also run a closed-loop GET phase under py-spy, into this folder")
    args = parser.parse_args(argv)
    args.posts = min(args.posts, args.links)
    r = asyncio.run(run(args))
    print(
        f"editor, {args.clients} keep-alive connections from one generator process, {args.links:,} links, "
        f"{os.cpu_count()} shared cores"
    )
    titles = {
        "open": f"GET /p/<token>, open loop, {args.rate:,.0f}/s offered for {args.seconds:.0f} s",
        "closed": "GET /p/<token>, closed loop (the most it serves)",
        "profile": f"GET, closed loop under py-spy ({args.profile}/editor.txt)",
        "post": "POST /p/<token> (complete), closed loop",
    }
    for name, title in titles.items():
        if name not in r["phases"]:
            continue
        p = r["phases"][name]
        lat = p["latencies"]
        print(f"  {title} (load average before: {p['load']})")
        print(
            f"     n={p['n']:,}  {p['per_s']:,.0f}/s  p50 {percentile_ms(lat, 0.5):.1f} ms  p99 {p.p99:.1f} ms  "
            f"max {percentile_ms(lat, 1):.1f} ms  editor CPU {p['editor_cpu_ms']:.2f} ms/req  {p['statuses']}  "
            f"{p['body_bytes']:,.0f} B/answer"
        )
        print(
            f"     CPU, share of one core: {_cpu(p['cpu'])}; sent late p99 (see README) "
            f"{percentile_ms(p['lags'], 0.99):.1f} ms"
        )
    print(
        f"  editor RSS after the run / peak: {r['rss_mib']:.0f} / {r['peak_mib']:.0f} MiB; "
        f"completions left unpublished: {r['unpublished']}"
    )
    if args.profile:
        print(f"  where the editor's CPU went (closed-loop GETs, py-spy, {args.profile}/editor.txt)")
        print("\n".join(f"     {row}" for row in profile.top(args.profile / "editor.txt")))
    return r


if __name__ == "__main__":
    main()
