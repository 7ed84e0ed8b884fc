"""The Wix app as Wix runs one: its external install, client-credentials tokens per app instance, Get App
Instance, several sites on one app, and App Instance Removed.

From the docs (../shared/CONNECTING.md §3):
- Install: `GET https://www.wix.com/app-installer?appId=…&postInstallationUrl=<encoded URL>`; the merchant
  picks a site and agrees; Wix sends the browser to `postInstallationUrl`, keeping its own query (our state)
  and appending `appId`, `tenantId` (the site id) and `instanceId` (the app on that site). Wix documents no
  refusal redirect: a merchant who cancels simply never comes back, so the sandbox shows a page and stops.
- Create Access Token: `POST https://www.wixapis.com/oauth2/token`, JSON `{"grant_type":"client_credentials",
  "client_id","client_secret","instance_id"}` → `{"access_token","token_type":"Bearer","expires_in":14400}`
  ("Always 14400 (4 hours)"). No refresh token: a new token is made whenever wanted.
- Get App Instance: `GET /apps/v1/instance` with `Authorization: <token>` (no `Bearer`, as in the docs'
  example) → `{"instance": {instanceId, appName, …}, "site": {siteDisplayName, siteId, url, …}}`.
- An `instanceId` "remains the same even if the app is uninstalled and reinstalled".
- App Instance Removed: a webhook to the app's one URL whose envelope is `{"eventType": "AppRemoved",
  "instanceId", "data": "{\"appId\": …}"}`, signed like every other (sandboxes/wix.py).

Not documented, so decided here (and marked so): a removed instance's token request is refused 400
`{"error": "invalid_grant"}` (the IETF form Wix says its errors follow), a wrong app secret 401
`invalid_client`; tokens are opaque. Wix keeps no list of allowed `postInstallationUrl`s; the sandbox checks
one only when `redirect_uris` is set.

Controls (served by `wix_app_routes.py`): `POST /_sandbox/oauth` (the app's id, secret, lifetime in seconds),
`GET /_sandbox/oauth` (what the connector did), `POST /_sandbox/oauth/expire` (every token issued so far expires
now: no sleeping in tests), `POST /_sandbox/sites` (another site with the app available), `GET /_sandbox/sites`,
`POST /_sandbox/sites/{instance_id}/orders` (an order on that site, announced to the app's webhook URL) and
`POST /_sandbox/sites/{instance_id}/uninstall` (the merchant removes the app: its tokens die, App Instance
Removed is delivered).
"""

from __future__ import annotations

import hmac
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from html import escape
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, Field

from sandboxes.base import SandboxState

AUTH_PATH = "/app-installer"  # www.wix.com/app-installer: the external install
TOKEN_PATH = "/oauth2/token"  # www.wixapis.com/oauth2/token: Create Access Token
INSTANCE_PATH = "/apps/v1/instance"  # Get App Instance
APP_ID = "5d7e1c3a-8b2f-4e61-9c0a-2f4b6d8e1a37"  # the sandbox app, unless the store's credentials name one
APP_SECRET = "dev-wix-app-secret"
TOKEN_TTL_S = 14400


@dataclass
class Site:
    instance_id: str
    site_id: str
    name: str
    state: SandboxState  # its own orders
    installed: bool = False


@dataclass
class AppStats:
    installs: int = 0
    tokens_issued: int = 0
    removed: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


class AppSettings(BaseModel):
    client_id: str | None = None
    client_secret: str | None = None
    redirect_uris: list[str] = Field(default_factory=list, description="empty: any https (or local) URL")
    access_ttl_s: int = Field(default=TOKEN_TTL_S, ge=1, description="Wix's is 14400; tests want seconds.")


class NewSite(BaseModel):
    name: str = Field(default="Another site", max_length=100)


class WixApp:
    """One app, its sites by instance id, and the tokens it issued (token → instance, expiry)."""

    def __init__(self, primary: SandboxState, clock: Callable[[], float] = time.monotonic) -> None:
        creds = primary.store.credentials
        self.client_id = creds.get("app_id") or APP_ID
        self.client_secret = creds.get("app_secret") or APP_SECRET
        self.redirect_uris: set[str] = set()
        self.access_ttl_s = TOKEN_TTL_S
        self.stats = AppStats()
        self.primary = primary
        self._clock = clock
        self._tokens: dict[str, tuple[str, float]] = {}
        first = Site(
            instance_id=creds.get("instance_id") or str(uuid.uuid4()),
            site_id=creds.get("site_id") or str(uuid.uuid4()),
            name=creds.get("site_name") or f"{primary.store.store_id} (sandbox)",
            state=primary,
        )
        self.sites: dict[str, Site] = {first.instance_id: first}

    # -- what the API side asks ----------------------------------------------------------------------------

    def site_of(self, token: str) -> Site | None:
        """The site a young token of an installed instance is for; None for any other token."""
        issued = self._tokens.get(token)
        if issued is None or self._clock() >= issued[1]:
            return None
        site = self.sites.get(issued[0])
        return site if site is not None and site.installed else None

    def knows(self, token: str) -> bool:
        return token in self._tokens

    # -- install, token, identity --------------------------------------------------------------------------

    def install_problem(self, query: Mapping[str, str]) -> str | None:
        if query.get("appId") != self.client_id:
            return "This app does not exist."
        target = query.get("postInstallationUrl") or ""
        parts = urlsplit(target)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            return "postInstallationUrl must be an encoded absolute URL."
        if self.redirect_uris and urlunsplit(parts._replace(query="", fragment="")) not in self.redirect_uris:
            return "postInstallationUrl is not one of this app's URLs."
        return None

    def install_page(self, query: Mapping[str, str]) -> str:
        choices = "".join(
            f'<label><input type="radio" name="instance" value="{escape(s.instance_id)}"{" checked" if i == 0 else ""}>'
            f" {escape(s.name)}</label><br>"
            for i, s in enumerate(self.sites.values())
        )
        hidden = "".join(
            f'<input type="hidden" name="{escape(k)}" value="{escape(query[k])}">'
            for k in ("appId", "postInstallationUrl")
        )
        return (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Add app</title></head><body>'
            f"<h1>Add the app to a site</h1><p>Choose the site:</p>"
            f'<form method="post" action="{AUTH_PATH}">{hidden}{choices}'
            '<button type="submit" name="decision" value="allow">Agree &amp; Add</button> '
            '<button type="submit" name="decision" value="deny">Cancel</button></form></body></html>'
        )

    def install(self, form: Mapping[str, str]) -> str:
        """The app on the chosen site; where Wix sends the browser (the URL's own query kept, Wix's appended)."""
        site = self.sites[form["instance"]]
        site.installed = True
        self.stats.installs += 1
        parts = urlsplit(form["postInstallationUrl"])
        query = [*parse_qsl(parts.query), ("appId", self.client_id), ("tenantId", site.site_id)]
        query.append(("instanceId", site.instance_id))
        return urlunsplit(parts._replace(query=urlencode(query)))

    def token(self, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        if body.get("grant_type") != "client_credentials":
            return self._refuse(400, "unsupported_grant_type", "grant_type must be client_credentials")
        if not (_same(body.get("client_id"), self.client_id) and _same(body.get("client_secret"), self.client_secret)):
            return self._refuse(401, "invalid_client", "client_id or client_secret is wrong")
        site = self.sites.get(str(body.get("instance_id") or ""))
        if site is None or not site.installed:
            return self._refuse(400, "invalid_grant", "the app is not installed on this instance")
        access = "OauthNG.JWS." + secrets.token_urlsafe(32)
        self._tokens[access] = (site.instance_id, self._clock() + self.access_ttl_s)
        self.stats.tokens_issued += 1
        return 200, {"access_token": access, "token_type": "Bearer", "expires_in": self.access_ttl_s}

    def identity(self, site: Site) -> dict[str, Any]:
        return {
            "instance": {
                "instanceId": site.instance_id,
                "appName": "personalize (sandbox)",
                "appVersion": "1.0.0",
                "isFree": True,
                "permissions": ["WIX_DEVELOPERS.MANAGE_APP_INSTANCE", "SCOPE.DC-STORES.READ-ORDERS"],
            },
            "site": {
                "siteDisplayName": site.name,
                "siteId": site.site_id,
                "url": f"https://sandbox.wixsite.com/{site.site_id[:8]}",
                "locale": "en",
                "paymentCurrency": "USD",
                "multilingual": {"isMultiLingual": False, "supportedLanguages": []},
            },
        }

    def expire_all(self) -> int:
        now = self._clock()
        self._tokens = {token: (instance, now) for token, (instance, _) in self._tokens.items()}
        return len(self._tokens)

    def remove(self, site: Site) -> None:
        site.installed = False
        self._tokens = {t: issued for t, issued in self._tokens.items() if issued[0] != site.instance_id}
        self.stats.removed.append(site.instance_id)

    def add_site(self, name: str) -> Site:
        store = self.primary.store.model_copy(
            update={
                "store_id": f"site-{len(self.sites) + 1}",
                "credentials": {"instance_id": str(uuid.uuid4()), "site_id": str(uuid.uuid4())},
            }
        )
        creds = store.credentials
        site = Site(creds["instance_id"], creds["site_id"], name, SandboxState(store=store))
        self.sites[site.instance_id] = site
        return site

    def _refuse(self, status: int, error: str, description: str) -> tuple[int, dict[str, Any]]:
        self.stats.refused.append(f"{error}: {description}")
        return status, {"error": error, "error_description": description}


def _same(given: object, expected: str) -> bool:
    return isinstance(given, str) and hmac.compare_digest(given.encode(), expected.encode())
