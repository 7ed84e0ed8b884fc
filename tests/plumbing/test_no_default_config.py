"""No service runs on the example config by default: its secrets, and the Wix sandbox's private key, are public.

The finding: started without PERSONALIZE_CONFIG, every service loaded `examples/config.yaml`, and a webhook
signed with its `dev-woo-webhook-secret` was accepted for its demo store. Now only `personalize dev` names
that file (to its children, explicitly), and the key pair lives in devstack/, outside the wheel.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import httpx
import pytest

from connectors.settings import ConnectorSettings
from core.settings import CoreSettings
from devstack.dev import EXAMPLE_CONFIG
from devstack.embedded import free_port
from merchant_api.settings import ApiSettings
from notifier.settings import NotifierSettings
from plumbing.config import load_config
from plumbing.settings import Settings, SettingsError, load_settings

ROOT = Path(__file__).parents[2]
SERVICES = [["core"], ["notifier"], ["api"], ["connector", "woocommerce"]]


@pytest.mark.parametrize("kind", [CoreSettings, NotifierSettings, ConnectorSettings, ApiSettings])
def test_a_service_without_personalize_config_has_no_config_to_load(kind: type[Settings], monkeypatch):
    monkeypatch.delenv("PERSONALIZE_CONFIG", raising=False)
    settings = load_settings(kind)
    assert settings.config is None
    with pytest.raises(SettingsError, match="PERSONALIZE_CONFIG is not set"):
        settings.required_config()


@pytest.mark.parametrize("command", SERVICES, ids=lambda c: c[0])
def test_a_service_started_without_personalize_config_stops_naming_it(command: list[str]):
    """From the checkout's folder, where the old default `examples/config.yaml` would have been found."""
    env = {k: v for k, v in os.environ.items() if k != "PERSONALIZE_CONFIG"}
    env.update(PERSONALIZE_KAFKA_BOOTSTRAP="127.0.0.1:9", PERSONALIZE_REDIS_URL="redis://127.0.0.1:9/0")
    result = subprocess.run(
        [sys.executable, "-m", "personalize.cli", *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "PERSONALIZE_CONFIG is not set" in result.stderr


def test_a_webhook_forged_with_the_example_secret_finds_no_connector_without_a_config(bootstrap, redis_url):
    """The attack as it was: the example store's public secret signs an order for its demo store. With a broker
    and Redis there, the connector would have started on the example config and answered it 200."""
    store = next(s for s in load_config(EXAMPLE_CONFIG).stores if s.platform == "woocommerce")
    assert store.webhook_secret  # the public one an attacker reads in the repository
    body = json.dumps({"id": 4242, "status": "processing", "line_items": []}).encode()
    digest = hmac.new(store.webhook_secret.encode(), body, hashlib.sha256).digest()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PERSONALIZE_CONFIG"}
    env.update(PERSONALIZE_KAFKA_BOOTSTRAP=bootstrap, PERSONALIZE_REDIS_URL=redis_url, PERSONALIZE_OPS_PORT="0")
    connector = subprocess.Popen(
        [sys.executable, "-m", "personalize.cli", "connector", "woocommerce", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _, err = connector.communicate(timeout=60)  # it stops by itself, before listening
    finally:
        if connector.poll() is None:
            connector.kill()
    assert connector.returncode == 2 and "PERSONALIZE_CONFIG" in err
    with pytest.raises(httpx.ConnectError):
        httpx.post(
            f"http://127.0.0.1:{port}/webhooks/woocommerce/{store.store_id}",
            content=body,
            headers={
                "X-WC-Webhook-Signature": base64.b64encode(digest).decode(),
                "X-WC-Webhook-Topic": "order.created",
            },
            timeout=5,
        )


def test_dev_names_the_example_config_to_its_services():
    assert EXAMPLE_CONFIG.is_file() and load_config(EXAMPLE_CONFIG).stores


def test_no_package_of_the_wheel_carries_a_private_key():
    """What the wheel ships is the packages `find` includes and their package data: no file there is a key."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = [pattern.rstrip("*") for pattern in project["packages"]["find"]["include"]]
    shipped = [path for name in packages for path in (ROOT / name).rglob("*") if path.is_file()]
    assert shipped, "no package found: the check would pass for nothing"
    keys = [path for path in shipped if b"PRIVATE KEY-----" in path.read_bytes()]
    assert keys == []
    assert not [glob for globs in project["package-data"].values() for glob in globs if "keys" in glob]
    assert (ROOT / "devstack" / "keys" / "wix_dev_private.pem").is_file()  # the sandbox's, in the checkout only
