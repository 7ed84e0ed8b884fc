"""A platform app's credentials and addresses, from `PERSONALIZE_<PLATFORM>_*` (the app the merchant consents to).

The addresses default to the platform's real ones; the sandboxes and the tests point them elsewhere. The
redirect URI a flow registers is built from PERSONALIZE_CONNECT_BASE_URL, the connector's public address,
because the platforms compare it exactly with the one registered for the app.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from plumbing.settings import SettingsError

# The platforms' own addresses (../shared/CONNECTING.md): consent page, token endpoint, API.
REAL_ADDRESSES: dict[str, tuple[str, str, str]] = {
    "etsy": (
        "https://www.etsy.com/oauth/connect",
        "https://api.etsy.com/v3/public/oauth/token",
        "https://api.etsy.com",
    ),
    "squarespace": (
        "https://login.squarespace.com/api/1/login/oauth/provider/authorize",
        "https://login.squarespace.com/api/1/login/oauth/provider/tokens",
        "https://api.squarespace.com",
    ),
    "wix": ("https://www.wix.com/app-installer", "https://www.wixapis.com/oauth2/token", "https://www.wixapis.com"),
    "bigcommerce": (
        "https://login.bigcommerce.com/app/{client_id}/install",  # the app's install page; {client_id} is ours
        "https://login.bigcommerce.com/oauth2/token",
        "https://api.bigcommerce.com",
    ),
    # WooCommerce has no app server: consent is on the merchant's own site (`<store_url>/wc-auth/v1/authorize`).
    "woocommerce": ("/wc-auth/v1/authorize", "", ""),
}


class _AppEnv(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    client_id: str | None = None
    client_secret: SecretStr | None = None
    public_key: str | None = None  # Wix: the app's public key, to verify its webhooks' JWTs
    webhook_secret: SecretStr | None = None  # Etsy: the app's one webhook endpoint's signing secret (whsec_…)
    auth_url: str | None = None
    token_url: str | None = None
    api_url: str | None = None


class _ConnectEnv(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PERSONALIZE_", extra="ignore")

    connect_base_url: str | None = Field(
        default=None,
        description="PERSONALIZE_CONNECT_BASE_URL: this connector's public https address; redirect URIs and "
        "callback URLs are built from it (e.g. https://connect.example.com → …/connect/etsy/callback).",
    )


@dataclass(frozen=True)
class PlatformApp:
    platform: str
    client_id: str
    client_secret: SecretStr
    auth_url: str
    token_url: str
    api_url: str
    base_url: str  # ours, public: where the platform sends the browser and the webhooks
    public_key: str | None = None
    webhook_secret: SecretStr | None = None

    def __repr__(self) -> str:  # the secret stays out of logs and errors
        return f"PlatformApp({self.platform!r}, client_id={self.client_id!r}, base_url={self.base_url!r})"

    @property
    def redirect_uri(self) -> str:
        return f"{self.base_url}/connect/{self.platform}/callback"

    def url(self, path: str) -> str:
        """One of our public addresses, e.g. `url("/webhooks/etsy")`."""
        return f"{self.base_url}{path}"

    @property
    def secret(self) -> str:
        return self.client_secret.get_secret_value()


def app_for(platform: str) -> PlatformApp | None:
    """The app as the environment gives it; None when PERSONALIZE_<PLATFORM>_CLIENT_ID is unset (no connect flow).

    WooCommerce needs no client id (keys are made by the merchant's site): its flow runs whenever the
    base URL is set, with the app name from PERSONALIZE_WOOCOMMERCE_CLIENT_ID when given."""
    env = _AppEnv(_env_prefix=f"PERSONALIZE_{platform.upper()}_")
    base = _ConnectEnv().connect_base_url
    if not env.client_id and (platform != "woocommerce" or not base):  # WooCommerce: no flow without our address
        return None
    if not base:
        raise SettingsError(
            f"PERSONALIZE_{platform.upper()}_CLIENT_ID is set but PERSONALIZE_CONNECT_BASE_URL is not: the "
            "platform needs our public address to send the merchant back to"
        )
    if platform != "woocommerce" and env.client_secret is None:
        raise SettingsError(f"PERSONALIZE_{platform.upper()}_CLIENT_SECRET is required with its CLIENT_ID")
    auth, token, api = REAL_ADDRESSES[platform]
    return PlatformApp(
        platform=platform,
        client_id=env.client_id or "personalize",
        client_secret=env.client_secret or SecretStr(""),
        auth_url=env.auth_url or auth,
        token_url=env.token_url or token,
        api_url=env.api_url or api,
        base_url=base.rstrip("/"),
        public_key=env.public_key,
        webhook_secret=env.webhook_secret,
    )
