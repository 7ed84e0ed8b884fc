"""The command line as an operator meets it: bad settings stop at once with the field named; dev runs."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def personalize(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "personalize.cli", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=timeout)


def test_core_with_a_bad_config_exits_2_naming_the_field(tmp_path, bootstrap, redis_url):
    bad = tmp_path / "bad.yaml"
    bad.write_text("stores:\n  - {platform: shopify, store_id: s, merchant_email: m@example.com}\n")
    result = personalize("core", env={"PERSONALIZE_CONFIG": str(bad), "PERSONALIZE_KAFKA_BOOTSTRAP": bootstrap,
                                      "PERSONALIZE_REDIS_URL": redis_url})
    assert result.returncode == 2
    assert "stores.0.platform" in result.stderr and "bad.yaml" in result.stderr


@pytest.mark.parametrize(("env", "named"), [
    ({"PERSONALIZE_KAFKA_BOOTSTRAP": ""}, "PERSONALIZE_KAFKA_BOOTSTRAP"),
    ({"PERSONALIZE_LINK_DELAY": "soon"}, "PERSONALIZE_LINK_DELAY"),
])
def test_core_with_a_bad_setting_exits_2_naming_it(env, named, redis_url):
    result = personalize("core", env={"PERSONALIZE_REDIS_URL": redis_url, "PERSONALIZE_KAFKA_BOOTSTRAP": "x:1", **env})
    assert result.returncode == 2 and named in result.stderr


def test_dev_starts_everything_places_sample_orders_and_stops_cleanly(tmp_path):
    env = {k: "" for k in ("PERSONALIZE_KAFKA_BOOTSTRAP", "PERSONALIZE_REDIS_URL", "PERSONALIZE_SMTP_URL")}
    env.update(PERSONALIZE_KAFKA_SESSION_TIMEOUT_MS="3000", PERSONALIZE_LINK_DELAY="2s")
    result = personalize("dev", "--state", str(tmp_path / "state"), "--exit-after", "30", env=env, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "personalize dev is up" in result.stdout and "dev: stopped" in result.stdout
    assert "merchant API http://127.0.0.1:8700" in result.stdout and "woocommerce:demo-woo" in result.stdout
    assert "Authorization: Bearer pz_" in result.stdout  # a key per store, ready to curl
    for platform in ("woocommerce", "etsy", "wix", "squarespace", "bigcommerce"):
        assert f"OrderReceived              {platform}:" in result.stdout
    assert "∅ → pending_personalization" in result.stdout
    assert "PersonalizationLinkIssued" in result.stdout  # the notifier emailed the link (delay 2 s)...
    assert list((tmp_path / "state" / "mail").glob("*.eml"))  # ...and the mail catcher kept it
