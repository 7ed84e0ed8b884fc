"""A connector's settings: the shared ones, the store registry's, and where its webhook endpoint listens."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, SecretStr, model_validator

from connectors.stores.sealing import CredentialsKeyError, Sealer
from plumbing.settings import Duration, Settings, SettingsError


class RegistrySettings(Settings):
    """Where connected stores are kept (the connectors and `personalize stores` read these)."""

    database_url: SecretStr | None = Field(
        default=None,
        description="PERSONALIZE_DATABASE_URL: the PostgreSQL of the store registry (postgresql://…); never logged. "
        "Unset: a connector serves the YAML's stores alone, as small setups do.",
    )
    credentials_key: SecretStr | None = Field(
        default=None,
        description="PERSONALIZE_CREDENTIALS_KEY: comma-separated Fernet keys; the first seals store credentials, "
        "every one opens (rotation: put the new key first, `personalize stores reseal`, drop the old one).",
    )

    @model_validator(mode="after")
    def _registry_is_whole(self) -> RegistrySettings:
        if self.database_url is None:
            return self
        try:
            Sealer.from_setting(self.credentials_key)
        except CredentialsKeyError as error:
            raise ValueError(f"{error} (PERSONALIZE_DATABASE_URL is set)") from None
        return self

    def sealer(self) -> Sealer:
        return Sealer.from_setting(self.credentials_key)

    def required_database_url(self) -> str:
        if self.database_url is None:
            raise SettingsError(
                "PERSONALIZE_DATABASE_URL is not set: the store registry lives in PostgreSQL "
                "(`personalize dev` starts one)"
            )
        return self.database_url.get_secret_value()


class ConnectorSettings(RegistrySettings):
    connector_host: str = Field(default="127.0.0.1", description="PERSONALIZE_CONNECTOR_HOST: webhook listen address.")
    connector_port: int = Field(default=8400, ge=0, le=65535, description="PERSONALIZE_CONNECTOR_PORT.")
    fetch_workers: int = Field(default=4, ge=1, description="PERSONALIZE_FETCH_WORKERS: thin-webhook fetchers.")
    etsy_daily_quota: int = Field(
        default=10_000,
        ge=100,
        description="PERSONALIZE_ETSY_DAILY_QUOTA: the Etsy app's requests per day (10,000 unless Etsy raised it); "
        "half of it paces the shops' polls, the rest is for webhook fetches and token renewals.",
    )
    token_refresh_margin: Duration = Field(
        default=timedelta(minutes=5),
        description="PERSONALIZE_TOKEN_REFRESH_MARGIN: an expiring access token (Etsy's live an hour) is renewed "
        "this long before it expires.",
    )
