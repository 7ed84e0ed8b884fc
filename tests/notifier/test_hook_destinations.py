"""Where automation webhooks may go: https to public addresses; plain http and local addresses in dev alone."""

from __future__ import annotations

import logging
from pathlib import Path

import httpcore
import httpx
import pytest
from pydantic import ValidationError

from notifier.destinations import NotPublicError, PublicOnly, is_public, refused_url, where
from notifier.hook_delivery import HookDeliverer
from notifier.hook_jobs import MemoryHookJobs
from notifier.main import _check_hooks
from notifier.set_aside import MemorySetAside
from plumbing.config import OutboundWebhook
from plumbing.settings import SettingsError
from tests.notifier.conftest import HOOK_SECRET
from tests.notifier.hook_world import SHOP_A, T0, Streamed, a_job, hooks_config

ZAPIER = "https://hooks.zapier.com/hooks/catch/123456/s3cr3tpath/"


def hook(url: str) -> OutboundWebhook:
    return OutboundWebhook(url=url, secret=HOOK_SECRET, events=["PersonalizationLinkIssued"])


@pytest.mark.parametrize(
    "url", ["http://hooks.example.com/s3cr3tpath", "ftp://hooks.example.com/x", "https://user:pw@hooks.example.com/x"]
)
def test_an_automation_url_over_plain_http_or_with_credentials_is_refused_by_the_config(url: str):
    with pytest.raises(ValidationError) as refused:
        hook(url)
    # What the config's loader reports is each message (pydantic's own text also echoes the input: never shown).
    assert all("s3cr3tpath" not in error["msg"] for error in refused.value.errors())


def test_plain_http_to_loopback_is_refused_at_start_unless_local_hooks_are_allowed(tmp_path: Path):
    config = hooks_config(tmp_path, {SHOP_A: "http://127.0.0.1:9/s3cr3tpath"})
    with pytest.raises(SettingsError) as refused:
        _check_hooks(config, allow_local=False)
    assert "stores.0.webhooks.0" in str(refused.value) and "s3cr3tpath" not in str(refused.value)
    _check_hooks(config, allow_local=True)
    assert refused_url("http://localhost:8000/x", allow_local=True) is None
    assert refused_url("http://10.0.0.5/x", allow_local=True) is not None  # http is for loopback alone
    assert refused_url(ZAPIER, allow_local=False) is None


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.215.14", True),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("192.168.0.10", False),
        ("172.16.5.4", False),
        ("100.64.0.1", False),  # carrier-grade NAT
        ("169.254.169.254", False),  # a cloud's metadata service
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fd00::1", False),
        ("fe80::1%eth0", False),
        ("::ffff:127.0.0.1", False),  # IPv4 loopback dressed as IPv6
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        ("2002:a00:1::", False),  # 6to4 of 10.0.0.1
    ],
)
def test_only_public_addresses_are_destinations(address: str, public: bool):
    assert is_public(address) is public


class Recording(httpcore.AsyncNetworkBackend):
    def __init__(self) -> None:
        self.connected: list[tuple[str, int]] = []

    async def connect_tcp(self, host: str, port: int, *args: object, **kwargs: object) -> httpcore.AsyncNetworkStream:
        self.connected.append((host, port))
        raise httpcore.ConnectError("recorded, not connected")


async def test_a_name_resolving_to_a_private_address_is_refused_before_connecting():
    inner = Recording()

    async def rebinding(host: str, port: int) -> list[str]:
        return ["93.184.215.14", "10.0.0.7"]  # one public answer does not launder a private one

    with pytest.raises(NotPublicError, match=r"10\.0\.0\.7"):
        await PublicOnly(inner, rebinding).connect_tcp("hooks.example.com", 443)
    assert inner.connected == []


async def test_the_connection_goes_to_the_address_checked_not_to_a_second_lookup():
    inner, lookups = Recording(), []

    async def once_public(host: str, port: int) -> list[str]:
        lookups.append(host)
        return ["93.184.215.14"] if len(lookups) == 1 else ["127.0.0.1"]  # DNS rebinding: a second answer differs

    with pytest.raises(httpcore.ConnectError):
        await PublicOnly(inner, once_public).connect_tcp("hooks.example.com", 443)
    assert lookups == ["hooks.example.com"] and inner.connected == [("93.184.215.14", 443)]


async def test_a_hook_to_loopback_or_the_metadata_service_is_refused_in_production_before_connecting(tmp_path, caplog):
    """Production transport, real resolution: `localhost` and the metadata address are refused, not connected."""
    for url in (f"https://localhost:9/{'s3cr3tpath'}", "https://169.254.169.254/latest/meta-data/"):
        jobs = MemoryHookJobs()
        deliverer = HookDeliverer(hooks_config(tmp_path, {SHOP_A: url}), jobs, lambda: T0, MemorySetAside())
        job = await a_job(jobs, SHOP_A)
        with caplog.at_level(logging.WARNING):
            await deliverer.claim()
            await deliverer.drain()
        retried = await jobs.get(job)
        assert retried is not None and retried.attempts == 1
        assert "not a public address" in caplog.text and "s3cr3tpath" not in caplog.text


async def test_plain_http_is_refused_at_delivery_in_production(tmp_path):
    jobs, calls = MemoryHookJobs(), list[httpx.Request]()

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(204, stream=Streamed())

    transport = httpx.MockTransport(answer)
    config = hooks_config(tmp_path, {SHOP_A: "http://127.0.0.1:9/hook"})
    deliverer = HookDeliverer(config, jobs, lambda: T0, MemorySetAside(), transport=transport)
    job = await a_job(jobs, SHOP_A)
    await deliverer.claim()
    await deliverer.drain()
    assert calls == [] and await jobs.get(job) is None  # given up at once: no retry can make it https


def test_logs_show_an_endpoint_by_scheme_and_host():
    assert where(ZAPIER + "?token=q") == "https://hooks.zapier.com"
