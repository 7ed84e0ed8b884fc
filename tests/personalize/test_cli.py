"""The command line as an operator meets it: bad settings stop at once with the field named."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.builders import CONFIG_PATH


def personalize(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "personalize.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_a_dev_tool_outside_a_checkout_says_where_it_runs(tmp_path):
    result = subprocess.run(
        [sys.executable, "-I", "-c", "import sys; from personalize.cli import main; sys.exit(main(['dev']))"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "runs from a checkout of the project" in result.stderr


def test_core_with_a_bad_config_exits_2_naming_the_field(tmp_path, bootstrap, redis_url):
    bad = tmp_path / "bad.yaml"
    bad.write_text("stores:\n  - {platform: shopify, store_id: s, merchant_email: m@example.com}\n")
    result = personalize(
        "core",
        env={
            "PERSONALIZE_CONFIG": str(bad),
            "PERSONALIZE_KAFKA_BOOTSTRAP": bootstrap,
            "PERSONALIZE_REDIS_URL": redis_url,
        },
    )
    assert result.returncode == 2
    assert "stores.0.platform" in result.stderr and "bad.yaml" in result.stderr


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"PERSONALIZE_KAFKA_BOOTSTRAP": ""}, "PERSONALIZE_KAFKA_BOOTSTRAP"),
        ({"PERSONALIZE_LINK_DELAY": "soon"}, "PERSONALIZE_LINK_DELAY"),
    ],
)
def test_core_with_a_bad_setting_exits_2_naming_it(env, named, redis_url):
    given = {
        "PERSONALIZE_CONFIG": str(CONFIG_PATH),
        "PERSONALIZE_REDIS_URL": redis_url,
        "PERSONALIZE_KAFKA_BOOTSTRAP": "x:1",
    }
    result = personalize("core", env={**given, **env})
    assert result.returncode == 2 and named in result.stderr
