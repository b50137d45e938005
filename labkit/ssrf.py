"""Server-side request forgery rules shared by every URL the lab's servers fetch on someone else's say-so.

Push webhooks (``labkit.a2a.push``) and client ID metadata documents (``labkit.provider.cimd``) both resolve the
allow-listed host and refuse it when any of its addresses is link-local (cloud metadata at 169.254.169.254),
multicast, unspecified or reserved, and — unless the caller allows them — loopback or private.

A check made before the request is not enough: the HTTP client would resolve the name again when it connects,
and a hostile DNS server answers a public address to the check and ``127.0.0.1`` to the connect (DNS
rebinding). ``guarded_transport`` closes that gap: its connections resolve the name once, judge every address
by the same rules and connect only to an address that passed (TLS still names the host: SNI and certificate).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import anyio
import httpcore
import httpx

__all__ = ["SsrfRefused", "address_refused", "checked_addresses", "guarded_transport", "resolution_refused"]


def address_refused(address: ipaddress.IPv4Address | ipaddress.IPv6Address, *, allow_loopback: bool,
                    allow_private: bool) -> str | None:
    """Why a server must not connect to ``address``, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:a.b.c.d is judged as a.b.c.d
    # Link-local covers the cloud metadata address 169.254.169.254; never allowed.
    if address.is_link_local or address.is_multicast or address.is_unspecified or address.is_reserved:
        return f"{address} is a link-local, multicast or reserved address"
    if address.is_loopback:
        return None if allow_loopback else f"{address} is a loopback address"
    if address.is_private:
        return None if allow_private else f"{address} is a private address"
    return None


async def checked_addresses(host: str, port: int, *, allow_loopback: bool,
                            allow_private: bool) -> tuple[tuple[str, ...], str | None]:
    """Resolve ``host`` once: ``(addresses, None)`` when every address passes, else ``((), why)``."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return (), "the host does not resolve"
    if not infos:
        return (), "the host does not resolve"
    addresses: list[str] = []
    for info in infos:
        try:
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        except ValueError:
            return (), "the host resolves to something that is not an IP address"
        reason = address_refused(address, allow_loopback=allow_loopback, allow_private=allow_private)
        if reason:
            return (), reason
        addresses.append(str(address))
    return tuple(dict.fromkeys(addresses)), None


async def resolution_refused(host: str, port: int, *, allow_loopback: bool, allow_private: bool) -> str | None:
    """Resolve ``host`` and say why one of its addresses is refused (or that it does not resolve); None if all pass."""
    return (await checked_addresses(host, port, allow_loopback=allow_loopback, allow_private=allow_private))[1]


class SsrfRefused(httpcore.ConnectError):
    """A connection the SSRF rules refused at connect time (httpx raises it as ``httpx.ConnectError``)."""


class _CheckedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses that pass ``address_refused``, resolved in the same step as the connect."""

    def __init__(self, *, allow_loopback: bool, allow_private: bool) -> None:
        self.rules = {"allow_loopback": allow_loopback, "allow_private": allow_private}
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                addresses, refused = await checked_addresses(host.strip("[]"), port, **self.rules)
        except TimeoutError:
            raise httpcore.ConnectTimeout("resolving the host took too long") from None
        # MCP 2025-11-25 "Authorization Server Abuse Protection", DNS rebinding: connect to what was checked
        if refused:
            raise SsrfRefused(f"refused by the SSRF rules: {refused}")
        failure: Exception = httpcore.ConnectError("no address")
        for address in addresses:
            try:
                return await self.inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        raise SsrfRefused("unix sockets are not reachable through the SSRF rules")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def guarded_transport(*, allow_loopback: bool, allow_private: bool,
                      verify: ssl.SSLContext | bool = True) -> httpx.AsyncHTTPTransport:
    """An httpx transport (no proxies, no environment) whose every connection obeys the SSRF rules above."""
    transport = httpx.AsyncHTTPTransport(verify=verify, trust_env=False)
    ssl_context = httpx.create_ssl_context(verify=verify, trust_env=False)
    # httpx has no public hook for the network backend: its pool is replaced by an identical one that has ours
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=ssl_context, max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0,
        network_backend=_CheckedBackend(allow_loopback=allow_loopback,
                                                                 allow_private=allow_private))
    return transport
