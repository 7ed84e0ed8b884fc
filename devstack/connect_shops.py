"""The stores a newcomer connects in the browser during `personalize dev`: one sandbox shop per platform, not in
the YAML, served as the platform serves an app's merchants (consent page, tokens, app webhooks).

Each platform's connector is given the sandbox app's settings (`PERSONALIZE_<P>_CLIENT_ID` and the rest,
pointed at this shop's sandbox), so `/connect/<p>/start` walks the platform's real flow against it: the
consent page, the code for tokens, our webhooks registered, `StoreConnected`. The shops' ids differ from the
YAML stores' (another shop, site or store hash), so each connected store is a store of its own.

The credentials below are the sandboxes' own, for dev only, like those of `examples/config.yaml`.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import httpx
import yaml
from aiokafka import AIOKafkaConsumer

from devstack.api_keys import create_api_keys
from devstack.embedded import LOOPBACK
from plumbing.config import ProductMatch, StoreConfig
from schemas import STORES, StoreConnected, decode

FIRST_PORT = 8511  # the YAML stores' sandboxes are on 8501…; these on 8511…, one per platform
WIX_PUBLIC_KEY = Path(__file__).parent / "keys" / "wix_dev_public.pem"
DEV_LABEL = "personalize dev: a store connected"
ETSY_ENDPOINT_SECRET = "whsec_ZGV2LWV0c3ktY29ubmVjdC1hcHAta2V5LTMyYnl0ZXMhISE="


@dataclass(frozen=True)
class ConnectShop:
    platform: str
    port: int
    store_id: str  # the sandbox's name for it; the registry's id is the platform's (shop id, site id, hash)
    credentials: dict[str, str]
    webhook_secret: str | None = None
    per_app_webhooks: bool = False  # Etsy and Wix send every shop's webhooks to one URL of the app
    start_query: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def store(self) -> dict:
        """The shop as the sandbox reads it from its config."""
        shop = {
            "platform": self.platform,
            "store_id": self.store_id,
            "merchant_email": f"owner@{self.platform}.sandbox.example",
            "base_url": self.url,
            "credentials": self.credentials,
        }
        return shop | ({"webhook_secret": self.webhook_secret} if self.webhook_secret else {})

    def app_env(self, connector_url: str) -> dict[str, str]:
        """The connector's settings for the sandbox's app: its connect flow runs against this shop."""
        prefix = f"PERSONALIZE_{self.platform.upper()}_"
        env = {"PERSONALIZE_CONNECT_BASE_URL": connector_url}
        if self.platform == "woocommerce":
            return env | {prefix + "CLIENT_ID": "personalize dev"}  # no app: the merchant's site makes the keys
        auth, token = _APP_PATHS[self.platform]
        env |= {
            prefix + "CLIENT_ID": self.credentials["client_id"],
            prefix + "CLIENT_SECRET": self.credentials["client_secret"],
            prefix + "AUTH_URL": self.url + auth.format(client_id=self.credentials["client_id"]),
            prefix + "TOKEN_URL": self.url + token,
            prefix + "API_URL": self.url,
        }
        if self.platform == "wix":
            env[prefix + "PUBLIC_KEY"] = WIX_PUBLIC_KEY.read_text()
        if self.platform == "etsy":
            env[prefix + "WEBHOOK_SECRET"] = ETSY_ENDPOINT_SECRET
        return env

    def webhook_url(self, connector_url: str) -> str | None:
        """Where the sandbox sends the app's webhooks; None: our connector registers them per store by API."""
        return f"{connector_url}/webhooks/{self.platform}" if self.per_app_webhooks else None

    def connect_url(self, connector_url: str, merchant_email: str) -> str:
        query = {"merchant_email": merchant_email, **self.start_query}
        return f"{connector_url}/connect/{self.platform}/start?{urlencode(query)}"


# Each sandbox's own paths for the consent page and the token endpoint (sandboxes/*: the platforms' hosts).
_APP_PATHS = {
    "etsy": ("/oauth/connect", "/v3/public/oauth/token"),
    "wix": ("/app-installer", "/oauth2/token"),
    "squarespace": ("/api/1/login/oauth/provider/authorize", "/api/1/login/oauth/provider/tokens"),
    "bigcommerce": ("/app/{client_id}/install", "/oauth2/token"),
}


def _shops() -> dict[str, ConnectShop]:
    woo = ConnectShop(
        "woocommerce",
        FIRST_PORT,
        "connect-woo",
        {"consumer_key": "ck_dev_connect_admin", "consumer_secret": "cs_dev_connect_admin"},
    )
    return {
        # WooCommerce's flow starts from the shop's address.
        "woocommerce": dataclasses.replace(woo, start_query={"store_url": woo.url}),
        "etsy": ConnectShop(
            "etsy",
            FIRST_PORT + 1,
            "connect-etsy",
            {
                "keystring": "devconnectkeystring",
                "shared_secret": "devconnectsharedsecret",
                "client_id": "devconnectkeystring",
                "client_secret": "devconnectsharedsecret",
                "shop_id": "23456789",
                "shop_name": "Connected Prints",
            },
            webhook_secret=ETSY_ENDPOINT_SECRET,
            per_app_webhooks=True,
        ),
        "wix": ConnectShop(
            "wix",
            FIRST_PORT + 2,
            "connect-wix",
            {
                "api_key": "IST.dev-wix-connect-key",
                "site_id": "6a1d3f5b-7c9e-4b2d-8f0a-1c3e5a7b9d2f",
                "instance_id": "2e4f6a8c-0b1d-4e3f-9a5c-7b9d1f3a5c7e",
                "site_name": "Connected Mugs",
                "client_id": "5d7e1c3a-8b2f-4e61-9c0a-2f4b6d8e1a37",
                "client_secret": "dev-wix-app-secret",
            },
            per_app_webhooks=True,
        ),
        "squarespace": ConnectShop(
            "squarespace",
            FIRST_PORT + 3,
            "connect-squarespace",
            {
                "api_key": "dev-squarespace-connect-key",
                "client_id": "sq-dev-connect-client",
                "client_secret": "sq-dev-connect-client-secret",
                "website_id": "6a2b4c6d8e0f1a3b5c7d9e1f",
                "site_title": "Connected Posters",
            },
        ),
        "bigcommerce": ConnectShop(
            "bigcommerce",
            FIRST_PORT + 4,
            "connect-bigcommerce",
            {"store_hash": "dvc0nn3ct", "client_id": "bc-dev-connect-client", "client_secret": "bc-dev-client-secret"},
            webhook_secret="bc-dev-client-secret",
        ),
    }


SHOPS = _shops()


def write_config(path: Path, platforms: list[str]) -> Path:
    """The config the connect sandboxes read: these shops, nothing else."""
    path.write_text(yaml.safe_dump({"stores": [SHOPS[p].store() for p in platforms if p in SHOPS]}))
    return path


async def open_for_connecting(
    connectors: dict[str, str], stores: list[StoreConfig], env: Mapping[str, str], api_url: str
) -> None:
    """Register our callbacks with each connect sandbox (as an app's developer does in the platform's portal),
    print where to connect each, then give every store connected during the run what the merchant would set
    next: an API key, and the products of the YAML store of its platform, through the merchant API."""
    async with httpx.AsyncClient(timeout=5) as http:
        for platform, connector in connectors.items():
            await _register(http, SHOPS[platform], connector)
        print("  connect a store in the browser (the sandbox plays the platform's consent page):", flush=True)
        for platform, connector in connectors.items():
            print(f"    {platform:<11} {SHOPS[platform].connect_url(connector, 'you@example.com')}", flush=True)
        products = {s.platform: s.products for s in stores}
        yaml_keys = {s.key for s in stores}
        async for event in _stores_connected(env["PERSONALIZE_KAFKA_BOOTSTRAP"]):
            if event.order_key not in yaml_keys:
                made = await create_api_keys(env["PERSONALIZE_REDIS_URL"], [event.order_key], DEV_LABEL)
                key = made[event.order_key]
                await _adopt(http, api_url, key, event, products.get(event.platform, []))


async def _register(http: httpx.AsyncClient, shop: ConnectShop, connector: str) -> None:
    app: dict[str, object] = {"redirect_uris": [f"{connector}/connect/{shop.platform}/callback"]}
    if shop.platform == "bigcommerce":
        app["uninstall_url"] = f"{connector}/connect/bigcommerce/uninstall"
    if shop.platform == "woocommerce":
        return  # no app to register: the merchant's site asks for keys with our callback in the request
    for _ in range(60):  # the sandbox is still starting
        try:
            (await http.post(f"{shop.url}/_sandbox/oauth", json=app)).raise_for_status()
            return
        except httpx.HTTPError:
            await asyncio.sleep(0.5)
    raise RuntimeError(f"the {shop.platform} connect sandbox at {shop.url} did not take our app's callbacks")


async def _stores_connected(bootstrap: str) -> AsyncIterator[StoreConnected]:
    consumer = AIOKafkaConsumer(STORES, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    try:
        async for record in consumer:
            event = decode(STORES, record.value) if record.value is not None else None
            if isinstance(event, StoreConnected):
                yield event
    finally:
        await consumer.stop()


async def _adopt(
    http: httpx.AsyncClient, api_url: str, key: str, event: StoreConnected, products: list[ProductMatch]
) -> None:
    """The connected store's products, as its merchant would set them through the API (core knows the store
    once it has read the same event: until then the API answers 404)."""
    auth = {"Authorization": f"Bearer {key}"}
    for product in products:
        url = f"{api_url}/stores/{event.order_key}/products"
        for _ in range(60):
            answer = await http.put(url, json=product.model_dump(exclude_none=True), headers=auth)
            if answer.status_code != 404:
                break
            await asyncio.sleep(0.5)
        answer.raise_for_status()
    print(
        f"dev: {event.order_key} connected ({event.merchant_email}); its merchant API key: {key}; "
        f"its personalizable products, as the demo store of {event.platform} has them: {len(products)}",
        flush=True,
    )
