"""The store URL a merchant types to connect a WooCommerce store: checked, normalized, and its store id.

The connector will call this address with the store's keys from inside our network, so it is checked where it
enters (`GET /connect/woocommerce/start`) the way WordPress checks the URLs it calls (`wp_http_validate_url`):
`https://`, a host name or a public address, no user or password, no query or fragment. Plain `http://` and
loopback or private addresses are accepted only in dev, that is when our own public address
(PERSONALIZE_CONNECT_BASE_URL) is itself on loopback: then the store can only be on this machine too.

Normalized: scheme and host lower case, the default port dropped, no trailing `/` (WordPress's `home_url`
has none; the REST paths are appended to it). The store id is the site's address without its scheme:
`shop.example.com`, `example.com~shop` for a WordPress in `/shop`, `127.0.0.1_8443` with a port. It is stable
for a site (moving from http to https keeps it) and it is what the keys were verified against, never what the
store says of itself: a store cannot claim another's id.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from plumbing.config import is_loopback_host
from plumbing.limits import STORE_ID_MAX

MAX_LENGTH = 200
_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")
_PATH = re.compile(r"^(/[A-Za-z0-9._~-]+)*$")


class StoreUrlError(ValueError):
    """Why the store URL cannot be connected, in words for the merchant (the URL itself is not repeated)."""


@dataclass(frozen=True)
class StoreUrl:
    url: str  # normalized: `https://shop.example.com/shop`
    store_id: str


def normalized(given: str | None, *, dev: bool) -> StoreUrl:
    text = (given or "").strip()
    if not text:
        raise StoreUrlError("store_url is required: the address of your WooCommerce store, e.g. https://shop.example")
    if len(text) > MAX_LENGTH:
        raise StoreUrlError(f"store_url is longer than {MAX_LENGTH} characters")
    if "://" not in text:
        text = "https://" + text  # as WooCommerce itself reads a URL without a scheme
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise StoreUrlError("store_url is not a URL") from None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if parts.username is not None or parts.password is not None:
        raise StoreUrlError("store_url must not carry a user name or password")
    if parts.query or parts.fragment or "?" in text or "#" in text:
        raise StoreUrlError("store_url must be the store's address alone, without ? or #")
    if scheme not in ("https", "http"):
        raise StoreUrlError("store_url must start with https://")
    if scheme == "http" and not (dev and is_loopback_host(host)):
        raise StoreUrlError("store_url must start with https:// (WooCommerce sends its API keys only over https)")
    host = _host(host, dev=dev)
    path = parts.path.rstrip("/")
    if not _PATH.match(path):
        raise StoreUrlError("store_url's path may hold only letters, digits and . _ ~ -")
    default = {"https": 443, "http": 80}[scheme]
    netloc = host if port in (None, default) else f"{host}:{port}"
    if ":" in host:
        netloc = f"[{host}]" if port in (None, default) else f"[{host}]:{port}"
    store_id = host.replace(":", "-") + ("" if port in (None, default) else f"_{port}") + path.replace("/", "~")
    if len(store_id) > STORE_ID_MAX:
        raise StoreUrlError("store_url is too long to name a store")
    return StoreUrl(f"{scheme}://{netloc}{path}", store_id)


def _host(host: str, *, dev: bool) -> str:
    if not host:
        raise StoreUrlError("store_url has no host")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        if not (address.is_global or (dev and address.is_loopback)):
            raise StoreUrlError("store_url must be a public address")
        return str(address)
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise StoreUrlError("store_url's host is not a valid name") from None
    if not _HOST.match(ascii_host):
        raise StoreUrlError("store_url's host is not a valid name")
    if (ascii_host == "localhost" or ascii_host.endswith((".localhost", ".local", ".internal"))) and not dev:
        raise StoreUrlError("store_url must be a public address")
    if "." not in ascii_host and not dev:
        raise StoreUrlError("store_url must be a public address (a full host name, e.g. shop.example.com)")
    return ascii_host
