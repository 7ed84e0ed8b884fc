"""What the Etsy connect and stay-connected tests share: a sandbox shop with its app, our app settings pointing at
it, and a merchant's browser walking Etsy's consent page by hand (the redirects followed one by one)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
from pydantic import SecretStr

from connectors.connect.apps import PlatformApp
from plumbing.config import StoreConfig
from sandboxes.etsy import AUTH_PATH, TOKEN_PATH

KEYSTRING, SHARED_SECRET = "connectkeystring42", "connectsharedsecret42"
OUR_BASE = "https://connect.personalize.example"
EMAIL = "maker@example.com"


def sandbox_shop(shop_id: str, shop_name: str = "Mugs & More") -> StoreConfig:
    """The shop as the sandbox serves it: no access token of its own, so only tokens it issued open it."""
    credentials = {"keystring": KEYSTRING, "shared_secret": SHARED_SECRET, "shop_id": shop_id, "shop_name": shop_name}
    return StoreConfig(
        platform="etsy", store_id=f"sandbox-{shop_id}", merchant_email="seller@example.com", credentials=credentials
    )


def app_at(sandbox_url: str, base_url: str = OUR_BASE) -> PlatformApp:
    return PlatformApp(
        platform="etsy",
        client_id=KEYSTRING,
        client_secret=SecretStr(SHARED_SECRET),
        auth_url=sandbox_url + AUTH_PATH,
        token_url=sandbox_url + TOKEN_PATH,
        api_url=sandbox_url,
        base_url=base_url,
    )


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def consent(etsy: httpx.AsyncClient, consent_url: str, decision: str = "allow", **changed: str) -> str:
    """The merchant on Etsy's page (the request as our start sent it, `changed` by an attacker): where Etsy
    sends the browser back to."""
    query = {**query_of(consent_url), **changed}
    page = await etsy.get(urlsplit(consent_url).path, params=query)
    assert page.status_code == 200, page.text
    answer = await etsy.post(urlsplit(consent_url).path, data={**query, "decision": decision})
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


async def start(browser: httpx.AsyncClient, email: str = EMAIL) -> httpx.Response:
    return await browser.get("/connect/etsy/start", params={"merchant_email": email})


async def connect_by_hand(browser: httpx.AsyncClient, etsy: httpx.AsyncClient, email: str = EMAIL) -> httpx.Response:
    """Start, consent, and the callback's page."""
    started = await start(browser, email)
    assert started.status_code == 302, started.text
    return await browser.get(await consent(etsy, started.headers["location"]))
