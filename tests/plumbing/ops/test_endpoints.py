"""Every deployable answers /health/live, /health/ready and /metrics on its ops port, never on its public one;
ready follows its dependencies, live does not."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import Awaitable, Callable

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from devstack.embedded import free_port
from plumbing.ops import Health, serve_ops
from schemas import OrderStatusChanged
from tests.builders import MANUAL, order, plain
from tests.connectors.stacks import write_config
from tests.plumbing.ops.conftest import Running, poll, service_env, start
from tests.support import send, send_raw


def samples(text: str, name: str, **labels: str) -> list[float]:
    return [
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]


async def eventually_async(check: Callable[[], Awaitable[bool]], what: str, within_s: float = 30.0) -> None:
    assert await poll(check, within_s, every_s=0.2), f"timed out waiting for {what}"


async def test_core_serves_ops_and_its_readiness_follows_redis_while_liveness_does_not(servers, bus, tmp_path):
    producer, recorder = bus["producer"], bus["recorder"]
    env = service_env(servers)
    group = env["PERSONALIZE_CORE_GROUP"]
    core = await start(["core"], env, tmp_path / "core.log")
    try:
        orders = [order(MANUAL, [plain()]) for _ in range(20)]
        await send(producer, *orders)
        await send_raw(producer, "orders.received", b"{not json", key=b"woocommerce:shop-manual:broken")
        for placed in orders:
            await recorder.wait_for(placed.order_key, lambda es: any(isinstance(e, OrderStatusChanged) for e in es))

        assert (await core.get("/health/ready")).text == "redis: ok, kafka: ok, consumer: ok, stores: ok"
        live = await core.get("/health/live")
        assert live.status_code == 200 and (await core.get("/health")).text == live.text == "loop: ok, stores: ok"

        async def counted() -> bool:
            text = (await core.get("/metrics")).text
            return sum(samples(text, "personalize_consumer_records_total", group=group, topic="orders.received")) >= 21

        await eventually_async(counted, "the records counted")
        text = (await core.get("/metrics")).text
        assert samples(text, "personalize_consumer_dead_letters_total", group=group, topic="orders.received") == [1.0]
        assert samples(text, "personalize_consumer_handler_seconds_count", group=group)[0] >= 1
        assert samples(text, "personalize_consumer_batches_total", group=group, result="committed")[0] >= 1
        assert samples(text, "personalize_consumer_assigned_partitions", group=group)[0] > 0
        lag = samples(text, "personalize_consumer_lag_records", group=group, topic="orders.received")
        assert lag and all(value == 0 for value in lag)

        os.kill(servers["redis"].process.pid, signal.SIGSTOP)
        try:
            ready = await core.get("/health/ready")
            assert ready.status_code == 503 and "redis: down" in ready.text and "kafka: ok" in ready.text
            assert (await core.get("/health/live")).status_code == 200  # restarting would not bring Redis back
        finally:
            os.kill(servers["redis"].process.pid, signal.SIGCONT)
        await core.wait_ready(10)
    finally:
        assert (await asyncio.to_thread(core.terminate))[1] == 0, core.service.log_tail()


async def test_notifier_serves_ops_on_its_older_metrics_port_setting_too(servers, bus, tmp_path):
    port = free_port()
    env = service_env(servers, PERSONALIZE_METRICS_PORT=str(port))
    del env["PERSONALIZE_OPS_PORT"]
    notifier = await start(["notifier"], env, tmp_path / "notifier.log", ops_port=port)
    try:
        ready = await notifier.get("/health/ready")
        assert (
            ready.text
            == "redis: ok, kafka: ok, consumer: ok, hooks_consumer: ok, email_changes: ok, disconnections: ok"
        )
        live = (await notifier.get("/health/live")).text
        assert (
            live
            == "loop: ok, consumer: ok, scheduler: ok, hooks_consumer: ok, hooks_deliverer: ok, email_changes: ok, disconnections: ok"
        )
        text = (await notifier.get("/metrics")).text
        assert samples(text, "personalize_consumer_assigned_partitions", group=env["PERSONALIZE_HOOKS_GROUP"])
    finally:
        assert (await asyncio.to_thread(notifier.terminate))[1] == 0, notifier.service.log_tail()


OPS_PATHS = ("/metrics", "/health", "/health/live", "/health/ready")


async def test_metrics_and_health_are_not_served_on_the_public_ports(servers, bus, tmp_path):
    """The finding: the editor's, a connector's and the API's public ports answered /metrics (store ids in its
    labels) and /health/ready (what they depend on) to anyone. Now only their own ops port does."""
    editor_port, connector_port, api_port = free_port(), free_port(), free_port()
    # Nothing answers at the store's address: its polls fail, which is not the connector's readiness.
    config = write_config(tmp_path / "config.yaml", "woocommerce", "http://127.0.0.1:9")
    started: list[Running] = []
    try:
        editor = await start(
            ["editor", "--port", str(editor_port)], service_env(servers), tmp_path / "e.log", editor_port
        )
        started.append(editor)
        connector = await start(
            ["connector", "woocommerce", "--port", str(connector_port)],
            service_env(servers, PERSONALIZE_CONFIG=str(config)),
            tmp_path / "connector.log",
            connector_port,
        )
        started.append(connector)
        api = await start(["api", "--port", str(api_port)], service_env(servers), tmp_path / "api.log", api_port)
        started.append(api)
        for service in started:
            assert service.url != service.ops_url
            for path in OPS_PATHS:
                answer = await service.get(path, public=True)
                assert answer.status_code == 404, (service.url, path, answer.text)
                assert "_total" not in answer.text and "redis" not in answer.text
        # The public ports still serve what they are for.
        assert (await connector.get("/webhooks/woocommerce/nobody", public=True)).status_code == 405
        assert (await api.get("/orders", public=True)).status_code == 401
        # The ops ports answer it all.
        assert (await editor.get("/health/ready")).text == "redis: ok, kafka: ok, consumer: ok"
        assert (await editor.get("/health")).text == "loop: ok, consumer: ok, republisher: ok, asset-sweep: ok"
        assert "editor_pages_total" in (await editor.get("/metrics")).text
        assert (await connector.get("/health/ready")).text == "redis: ok, kafka: ok"
        assert (await connector.get("/health/live")).status_code == 200
        assert "connector_webhooks_total" in (await connector.get("/metrics")).text
        assert (await api.get("/health/ready")).text == "redis: ok, kafka: ok"
        assert (await api.get("/health/live")).status_code == 200
        assert "python_gc_objects_collected_total" in (await api.get("/metrics")).text
    finally:
        for service in started:
            assert (await asyncio.to_thread(service.terminate))[1] == 0, service.service.log_tail()


@pytest.mark.integration  # serves the ops routes on a loopback port
async def test_a_watched_task_that_ended_makes_the_process_not_live():
    health = Health()
    health.watch("consumer", asyncio.create_task(asyncio.sleep(0)))
    await asyncio.sleep(0.01)
    server = await serve_ops(health, "127.0.0.1", 0)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as http:
            answer = await http.get("/health/live")
            assert answer.status_code == 503 and answer.text == "loop: ok, consumer: down"
            assert (await http.get("/health/ready")).status_code == 200  # nothing to wait for
            health.stopping = True
            assert (await http.get("/health/ready")).text == "stopping: down"
    finally:
        await server.stop()


async def test_an_ops_port_taken_by_another_copy_is_reported_and_the_service_goes_on(caplog):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        server = await serve_ops(Health(), "127.0.0.1", taken)
        assert server.port is None
        assert f"cannot listen on 127.0.0.1:{taken}" in caplog.text
        await server.stop()
