"""Server-side request forgery rules shared by every URL the lab's servers fetch on someone else's say-so.

Push webhooks (``labkit.a2a.push``) and client ID metadata documents (``labkit.provider.cimd``) both resolve the
allow-listed host and refuse it when any of its addresses is link-local (cloud metadata at 169.254.169.254),
multicast, unspecified or reserved, and — unless the caller allows them — loopback or private.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

__all__ = ["address_refused", "resolution_refused"]


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


async def resolution_refused(host: str, port: int, *, allow_loopback: bool, allow_private: bool) -> str | None:
    """Resolve ``host`` and say why one of its addresses is refused (or that it does not resolve); None if all pass."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return "the host does not resolve"
    if not infos:
        return "the host does not resolve"
    for info in infos:
        reason = address_refused(ipaddress.ip_address(info[4][0]), allow_loopback=allow_loopback,
                                 allow_private=allow_private)
        if reason:
            return reason
    return None
