"""No secret reaches a log line or a start-up error: what the settings and the config call secret shows `***`.

The finding: the notifier's start-up error echoed PERSONALIZE_SMTP_URL whole, its password with it; and any
line that happened to carry a secret (an exception's text, a library's message) printed it as is.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from notifier.settings import NotifierSettings
from plumbing.config import load_config
from plumbing.logs import MASK, Secrets, setup_logging
from plumbing.settings import load_settings
from tests.builders import CONFIG_PATH

SASL_PASSWORD = 'sasl-pw-Zq81\\n"quoted"'  # a backslash and quotes: JSON and repr spell it otherwise
SMTP_PASSWORD = "smtp-pw-Yx72:@/"  # characters a URL percent-encodes
URL_PASSWORD = "redis-pw-Wv63"
WEBHOOK_SECRET = "store-webhook-secret-Uu54"
CONSUMER_SECRET = "cs_live_Tt45"


@pytest.fixture
def root_logger() -> Iterator[None]:
    """The root logger as it was, after a test that set up logging."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


@pytest.fixture
def secret_settings(monkeypatch) -> NotifierSettings:
    for name, value in {
        "PERSONALIZE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "PERSONALIZE_KAFKA_SASL_USERNAME": "svc",
        "PERSONALIZE_KAFKA_SASL_PASSWORD": SASL_PASSWORD,
        "PERSONALIZE_SMTP_PASSWORD": SMTP_PASSWORD,
        "PERSONALIZE_REDIS_URL": f"redis://default:{URL_PASSWORD}@redis.internal:6379/0",
    }.items():
        monkeypatch.setenv(name, value)
    return load_settings(NotifierSettings)


def secret_config(folder: Path) -> Path:
    path = folder / "config.yaml"
    path.write_text(
        CONFIG_PATH.read_text()
        + "  - platform: woocommerce\n"
        + "    store_id: shop-secret\n"
        + "    merchant_email: m@example.com\n"
        + f"    credentials: {{consumer_key: ck_live_1, consumer_secret: {CONSUMER_SECRET}, shop_id: '987654'}}\n"
        + f"    webhook_secret: {WEBHOOK_SECRET}\n"
    )
    return path


def log_the_secrets(secrets: list[str]) -> None:
    log = logging.getLogger("notifier.mail")
    log.error("could not log in with %s", secrets[0])
    log.warning("an f-string with them all: %s", " ".join(secrets), extra={"detail": secrets[1]})
    try:
        raise ConnectionError(f"server said no to {secrets!r}")
    except ConnectionError:
        log.exception("sending failed")


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_a_secret_in_an_error_line_shows_as_stars(log_format, root_logger, secret_settings, tmp_path, monkeypatch):
    load_config(secret_config(tmp_path))
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)  # here, not in a fixture: pytest sets its own between the two
    setup_logging("INFO", log_format)
    secrets = [SASL_PASSWORD, SMTP_PASSWORD, URL_PASSWORD, WEBHOOK_SECRET, CONSUMER_SECRET]

    log_the_secrets(secrets)

    written = stream.getvalue()
    assert "could not log in with" in written and "Traceback" in written and "ConnectionError" in written
    for secret in secrets:
        for spelling in (secret, json.dumps(secret)[1:-1], repr(secret)[1:-1]):
            assert spelling not in written, (secret, written)
    assert written.count(MASK) >= 2 * len(secrets) + 1
    if log_format == "json":
        lines = [json.loads(line) for line in written.splitlines()]  # masking keeps every line JSON
        assert lines[0]["message"] == f"could not log in with {MASK}"
        assert lines[1]["detail"] == MASK


def test_the_smtp_password_is_not_echoed_in_the_start_up_error():
    env = dict(
        os.environ,
        PERSONALIZE_CONFIG=str(CONFIG_PATH),
        PERSONALIZE_SMTP_URL=f"smtp://mailer:{SMTP_PASSWORD.rstrip(':@/')}@",  # no host: refused at start
        PERSONALIZE_KAFKA_BOOTSTRAP="127.0.0.1:9",
        PERSONALIZE_REDIS_URL="redis://127.0.0.1:9/0",
    )
    result = subprocess.run(
        [sys.executable, "-m", "personalize.cli", "notifier"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2 and "PERSONALIZE_SMTP_URL must look like" in result.stderr, result.stderr
    assert SMTP_PASSWORD.rstrip(":@/") not in result.stderr + result.stdout
    assert f"smtp://mailer:{MASK}@" in result.stderr


def test_thousands_of_secrets_each_masked_and_overlapping_ones_masked_whole():
    secrets = Secrets()
    tokens = [f"tok-{n:05d}-{n * 7919 % 100_003:06d}" for n in range(3000)]  # a connector's 1,000 stores
    for token in tokens:
        secrets.add([token])  # one by one, as stores start: found whether built in or added since
    assert all(secrets.hide(f"a {t} b") == f"a {MASK} b" for t in tokens[::37] + tokens[-5:])
    secrets.add(["abcd-Secret-ONE", "Secret-ONE-and-more", "zz-abcd"])  # each overlapping another
    assert secrets.hide("[zz-abcd-Secret-ONE-and-more] ok") == f"[{MASK}] ok"
    line = f"{tokens[0]}{tokens[1]} then {tokens[2]}"  # touching: one mask, nothing between
    assert secrets.hide(line) == f"{MASK} then {MASK}"
    assert secrets.hide("nothing secret here, tok-00001") == "nothing secret here, tok-00001"
