"""Where an automation webhook may go: https to a public address; plain http to loopback only in dev and tests.

A store's endpoint is a URL an operator pasted from a merchant; the notifier
POSTs signed events to it from inside the operator's network. So:
- the scheme: `https`, always; `http` only to a loopback host, and only when
  `PERSONALIZE_HOOKS_ALLOW_LOCAL` is on (`personalize dev`, the tests);
- the address, checked when connecting, not when the config was read: the
  host is resolved, every address it resolves to must be public (no
  loopback, private, link-local such as a cloud's metadata service at
  169.254.169.254, shared, reserved or multicast, nor an IPv4 one of those
  wrapped in IPv6), and the connection goes to the very address checked, so
  a name that answers differently a moment later (DNS rebinding) gains
  nothing. With `PERSONALIZE_HOOKS_ALLOW_LOCAL` on, any address is allowed;
- no proxy from the environment (a proxy would resolve the name itself, out
  of reach of the check) and no redirects.
Logs name an endpoint by scheme and host alone (`where`): a Zapier catch URL
carries its secret in the path.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

import httpcore
import httpx

from plumbing.config import is_loopback_host

Resolve = Callable[[str, int], Awaitable[list[str]]]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class NotPublicError(httpcore.ConnectError):
    """The endpoint's host resolves to an address the notifier must not call in production."""


def where(url: str) -> str:
    """The URL as logs may show it: scheme and host, no port, path, query or user."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}"


def refused_url(url: str, allow_local: bool) -> str | None:
    """Why the notifier will not POST to `url`, or None (the address is checked when connecting)."""
    try:
        httpx.URL(url)
    except httpx.InvalidURL:
        return "not a URL httpx can call"  # its message would quote the URL
    parts = urlsplit(url)
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and allow_local and is_loopback_host(parts.hostname or ""):
        return None
    if parts.scheme == "http":
        return "plain http (allowed only to loopback with PERSONALIZE_HOOKS_ALLOW_LOCAL, in dev and tests)"
    return f"scheme {parts.scheme!r} (https only)"


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 scope id is not part of the address
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (_nat64(ip) if ip in _NAT64 else None)
        if embedded is not None:
            return is_public(str(embedded))
    return ip.is_global and not ip.is_multicast


def _nat64(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)


async def resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class PublicOnly(httpcore.AsyncNetworkBackend):
    """A network backend that connects only to public addresses, to the address it checked."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend | None = None, resolver: Resolve = resolve) -> None:
        self._inner = inner or httpcore.AnyIOBackend()
        self._resolve = resolver

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's signature; the delivery's deadline bounds it
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._resolve(host, port)
        refused = [address for address in addresses if not is_public(address)]
        if refused or not addresses:
            raise NotPublicError(f"{host} resolves to {', '.join(refused) or 'nothing'}: not a public address")
        failed: list[httpcore.ConnectError] = []
        for address in addresses:  # TLS still checks the certificate against `host` (httpcore passes it as SNI)
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as error:
                failed.append(error)
        raise failed[-1]

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's signature
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise NotPublicError("unix sockets are not webhook endpoints")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def transport(limits: httpx.Limits, allow_local: bool) -> httpx.AsyncHTTPTransport:
    """httpx's transport, its connections made through `PublicOnly` unless local addresses are allowed."""
    made = httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
    if not allow_local:
        # httpx takes no network backend; its pool, rebuilt with the same settings, does (httpcore's public API).
        made._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=PublicOnly(),
        )
    return made
