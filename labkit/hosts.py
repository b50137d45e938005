"""DNS rebinding defence for the lab's servers: a request is served only when its ``Host`` (and ``Origin``) names us.

A web page whose name later resolves to 127.0.0.1 becomes same-origin with every loopback server and may send any
request; its ``Host`` header still carries the page's name. The MCP transports spec (Streamable HTTP, "Security
Warning") says servers MUST validate ``Origin`` and answer 403 to an invalid one; RFC 9110 §7.4 lets a server
answer 421 to a request for an authority it does not serve. ``HostCheck`` does both, in front of everything else
(routes, guards, SDK handlers): the one home of the rule for the provider, the agent, the webhook receiver, the
vulnerable agent and the cluster's replicas.

The addresses a server serves: the loopback names (``127.0.0.1``, ``localhost``, ``[::1]``) with the port of the
socket the request arrived on (``scope["server"]``, which the ASGI server takes from the bound socket, never from
the client), plus the authority of each public URL the app was given (``labkit serve --public-url``, the cluster's
nginx front, the provider's ``base_url``). Comparison is exact on the lower-cased ASCII value: no userinfo, no
trailing dot, no other spelling of the port or of the address. A request with no ``Origin`` (any non-browser
client) is not a browser's: only the ``Host`` check applies to it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from ._text import safe_text

__all__ = ["LOOPBACK_NAMES", "HostCheck", "Served", "refusal", "served_authorities"]

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_MAX_VALUE = 512  # longer Host/Origin values are not ours (and cost nothing to refuse)

_log = logging.getLogger("labkit.hosts")


def _places(scheme: str, name: str, port: int | None) -> Iterable[tuple[str, str]]:
    """``(scheme, authority)`` pairs naming ``name`` at ``port``: with the port, and without it when it is the
    scheme's default (browsers leave it out); a loopback name stands for all three loopback names."""
    port = port or _DEFAULT_PORTS.get(scheme)
    for each in LOOPBACK_NAMES if name in LOOPBACK_NAMES else (name,):
        yield scheme, f"{each}:{port}"
        if port == _DEFAULT_PORTS.get(scheme):
            yield scheme, each


def _url_places(url: str | None) -> Iterable[tuple[str, str]]:
    """The ``(scheme, authority)`` pairs naming a public URL's host and port; none for a URL that does not parse,
    is not http(s) or has user info."""
    if not url:
        return ()
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return ()
    host = parts.hostname
    if parts.scheme not in _DEFAULT_PORTS or not host or "@" in parts.netloc:
        return ()
    return _places(parts.scheme, f"[{host}]" if ":" in host else host.lower(), port)


def served_authorities(scheme: str, port: int | None, urls: Iterable[str | None] = ()) -> frozenset[tuple[str, str]]:
    """The ``(scheme, host[:port])`` pairs a server on ``port`` serves: loopback names, and each URL's authority.

    ``port`` None (an in-process call, no socket) means the scheme's default. A URL that does not parse (or has
    userinfo) adds nothing. Raises nothing.
    """
    return frozenset(_places(scheme, "127.0.0.1", port)).union(*(_url_places(url) for url in urls))


class Served:
    """What a server serves besides the loopback names at its socket's port: its public URLs' hosts and origins."""

    def __init__(self, urls: tuple[str | None, ...] = ()) -> None:
        self.urls = urls
        pairs = {pair for url in urls for pair in _url_places(url)}
        self.hosts = frozenset(authority for _, authority in pairs)
        self.origins = frozenset(f"{scheme}://{authority}" for scheme, authority in pairs)


def _loopback(authority: str, default: int, port: int) -> bool:
    """Whether ``authority`` (lower-cased) is a loopback name with exactly ``port`` (or none, for the default)."""
    if authority.startswith("["):
        end = authority.find("]") + 1
        name, rest = authority[:end], authority[end:]
    else:
        name, colon, given = authority.partition(":")
        rest = colon + given
    return name in LOOPBACK_NAMES and (rest == f":{port}" or (not rest and port == default))


def _single(values: list[bytes]) -> str | None:
    """The one value (lower-cased ASCII, bounded), or None when there are none, several, or it is not ASCII."""
    if len(values) != 1 or len(values[0]) > _MAX_VALUE or not values[0].isascii():
        return None
    return values[0].decode("ascii").lower()


def _given(name: str, values: list[bytes]) -> str:
    """What the log says of the ``name`` headers: the one value (escaped, bounded) or how many there were."""
    return f"{name} {safe_text(values[0].decode('latin-1'), 80) if len(values) == 1 else f'x{len(values)}'}"


def refusal(scope: Scope, served: Served | Iterable[str | None] = ()) -> tuple[int, str] | None:
    """None when the request names this server (``Host``, and ``Origin`` when present); else ``(status, why)``.

    ``served``: its public URLs (or a ``Served`` made of them). 421 for a ``Host`` that is missing, repeated or not
    served here; 403 for an ``Origin`` that is repeated or not served here. ``why`` is for the operator log
    (bounded, escaped). Raises nothing.
    """
    if not isinstance(served, Served):
        served = Served(tuple(served))
    hosts: list[bytes] = []
    origins: list[bytes] = []
    for key, value in scope.get("headers") or ():
        if key == b"host":
            hosts.append(value)
        elif key == b"origin":
            origins.append(value)
    scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
    default = _DEFAULT_PORTS[scheme]
    server = scope.get("server")
    port = server[1] if isinstance(server, (tuple, list)) and len(server) > 1 else None
    port = port if isinstance(port, int) and port > 0 else default
    host = _single(hosts)
    # RFC 9110 §7.2 / §7.4: exactly one Host, naming an authority this server serves; else 421
    if host is None or not (_loopback(host, default, port) or host in served.hosts):
        return 421, f"{_given('Host', hosts)} is not served here"
    if not origins:
        return None  # not a browser's request (or a same-origin GET): the Host check was the one to make
    origin = _single(origins)
    prefix = scheme + "://"
    # MCP transports: a present Origin that is not ours is a 403 (DNS rebinding, cross-site requests)
    if origin is None or not ((origin.startswith(prefix) and _loopback(origin[len(prefix):], default, port))
                              or origin in served.origins):
        return 403, f"{_given('Origin', origins)} is not this server's"
    return None


_BODIES = {421: b"misdirected request: this server does not serve that Host\n",
           403: b"forbidden: Origin not allowed\n"}


class HostCheck:
    """ASGI middleware: ``refusal`` on every HTTP request before ``app`` sees it; a 421 or 403 with a short body.

    ``urls``: returns the public URLs the app is reached at besides loopback (read per request, so an app whose URL
    is set after it was built, as the provider's ``base_url``, is covered; parsed again whenever they change).
    ``name``: the server, for the log. Raises nothing of its own.
    """

    def __init__(self, app: ASGIApp, *, urls: Callable[[], Iterable[str | None]] = tuple, name: str = "server") -> None:
        self.app = app
        self.urls = urls
        self.name = name
        self._served = Served()  # replaced whole (one assignment) when the URLs differ: never half-updated

    def served(self) -> Served:
        """What the app serves besides loopback, for the URLs it names now."""
        urls = tuple(self.urls())
        served = self._served
        if served.urls != urls:
            served = self._served = Served(urls)
        return served

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refused = refusal(scope, self.served())
        if refused is None:
            await self.app(scope, receive, send)
            return
        status, why = refused
        path = safe_text(scope.get("path", ""), 120)
        _log.warning("%s refused %s %s: %s (DNS rebinding defence)", self.name, status, path, why)
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        body = _BODIES[status]
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
