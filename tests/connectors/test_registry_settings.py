"""The store registry's settings and the credentials a command reads: refused with a message that names the
setting, never one that shows a secret."""

from __future__ import annotations

import argparse
import io
import json
from datetime import UTC, datetime

import pytest

from connectors.settings import ConnectorSettings
from connectors.stores import ConnectedStore, new_key
from connectors.stores.details import StoreDetailsError, config_of
from personalize.store_commands import STDIN_MAX_BYTES, StoreCommandError, _check_runnable, read_credentials
from plumbing.logs import redacted
from plumbing.settings import SettingsError, load_settings

DB_PASSWORD = "pg-pw-Rr39"
URL = f"postgresql://registry:{DB_PASSWORD}@db.internal:5432/personalize"


def test_unset_database_url_leaves_the_connector_to_the_yaml(monkeypatch) -> None:
    monkeypatch.delenv("PERSONALIZE_DATABASE_URL", raising=False)
    assert load_settings(ConnectorSettings).database_url is None


def test_a_database_without_a_credentials_key_is_refused_naming_both(monkeypatch) -> None:
    monkeypatch.setenv("PERSONALIZE_DATABASE_URL", URL)
    monkeypatch.delenv("PERSONALIZE_CREDENTIALS_KEY", raising=False)
    with pytest.raises(SettingsError, match=r"PERSONALIZE_CREDENTIALS_KEY.*PERSONALIZE_DATABASE_URL") as error:
        load_settings(ConnectorSettings)
    assert DB_PASSWORD not in str(error.value)


def test_a_malformed_credentials_key_is_refused_without_showing_it(monkeypatch) -> None:
    monkeypatch.setenv("PERSONALIZE_DATABASE_URL", URL)
    monkeypatch.setenv("PERSONALIZE_CREDENTIALS_KEY", "not-a-fernet-key-Qq17")
    with pytest.raises(SettingsError, match="32 url-safe base64") as error:
        load_settings(ConnectorSettings)
    assert "Qq17" not in str(error.value)


def test_the_database_url_and_the_keys_are_masked_in_logs(monkeypatch) -> None:
    keys = f"{new_key()},{new_key()}"
    monkeypatch.setenv("PERSONALIZE_DATABASE_URL", URL)
    monkeypatch.setenv("PERSONALIZE_CREDENTIALS_KEY", keys)
    settings = load_settings(ConnectorSettings)
    assert settings.sealer() is not None
    line = redacted(f"connecting to {URL} with {keys}")
    assert DB_PASSWORD not in line and keys.split(",")[0] not in line
    assert DB_PASSWORD not in repr(settings) and keys not in repr(settings)


@pytest.mark.parametrize(
    ("stdin", "why"),
    [
        ("", "JSON object"),
        ('["ck_x"]', "JSON object"),
        ("{}", "JSON object"),
        ('{"consumer_secret": 12345}', "non-empty string"),
        ('{"consumer_secret": ""}', "non-empty string"),
        (json.dumps({f"k{i}": "v" for i in range(21)}), "at most 20"),
        (json.dumps({"pem": "x" * 9000}), "over 8192"),
        ("x" * (STDIN_MAX_BYTES + 1), f"over {STDIN_MAX_BYTES} bytes"),
    ],
)
def test_credentials_on_stdin_over_the_limits_are_refused(stdin: str, why: str) -> None:
    with pytest.raises(StoreCommandError, match=why):
        read_credentials(io.StringIO(stdin))


def test_a_refused_credential_is_named_not_shown() -> None:
    with pytest.raises(StoreCommandError) as error:
        read_credentials(io.StringIO('{"consumer_secret": "cs_live_Pp28", "other": ["cs_live_Pp28"]}'))
    assert "other" in str(error.value) and "cs_live_Pp28" not in str(error.value)


def test_a_store_its_connector_could_not_run_is_refused_before_anything_is_written() -> None:
    args = argparse.Namespace(platform="woocommerce", store_id="w", merchant_email="m@example.com")
    with pytest.raises(StoreDetailsError, match="base_url"):
        _check_runnable(args, {"consumer_secret": "cs_live_Oo19"}, {"base_url": "ftp://shop"})
    with pytest.raises(StoreDetailsError, match="store_id"):
        _check_runnable(
            argparse.Namespace(platform="woocommerce", store_id="a/b", merchant_email="m@example.com"),
            {"consumer_secret": "cs_live_Oo19"},
            {"base_url": "https://shop.example.com"},
        )


def test_credentials_opened_for_a_connector_are_masked_from_then_on() -> None:
    now = datetime.now(UTC)
    store = ConnectedStore(
        "woocommerce", "w", "m@example.com", "connected", 1, now, now, details={"base_url": "https://s.example"}
    )
    config_of(store, {"consumer_key": "ck_live_Nn20", "consumer_secret": "cs_live_Mm21", "webhook_secret": "wh_Ll22"})
    line = redacted("ck_live_Nn20 cs_live_Mm21 wh_Ll22")
    assert "Nn20" not in line and "Mm21" not in line and "Ll22" not in line
