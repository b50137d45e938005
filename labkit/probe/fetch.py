"""The probe's one way onto the network: every fetch ends by its deadline, reads at most a cap, stays on its origin.

``Fetcher`` owns an ``httpx.Client`` whose transport holds the rules, so every request the probe makes (card,
RFC 9728 and RFC 8414 metadata, JWKS, the calls with tokens, token requests through ``labkit.lab.calls``) obeys them:

- a total deadline per fetch, not per read: each socket operation may only use what is left of it, so a server
  dripping one byte at a time (headers or body) ends within ``timeout``; and one budget for the whole probe;
- a streamed size cap: a declared ``Content-Length`` over the cap is refused before a byte is read, an undeclared
  body is refused after at most cap + one chunk (64 KiB); compressed answers are refused (a small gzip body can
  inflate past any cap), the client asks for ``identity``;
- no redirects but same-origin ones, at most ``MAX_REDIRECTS``, and only where the caller asks (reads).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from http.cookiejar import CookieJar, DefaultCookiePolicy
from types import TracebackType
from typing import Any

import httpcore
import httpx

from .._json import loads_bounded
from .._text import safe_text

__all__ = ["BUDGET_FACTOR", "MAX_BYTES", "MAX_REDIRECTS", "FetchRefused", "Fetcher", "joined", "origin_of",
           "same_resource", "well_known"]

MAX_BYTES = 1 << 20
MAX_REDIRECTS = 3
BUDGET_FACTOR = 20  # the whole probe ends within this many fetch timeouts
_DEADLINE = threading.local()  # the deadline of the fetch this thread is reading now


class FetchRefused(httpx.TransportError):
    """A fetch the rules stopped: past its deadline, over the size cap, redirected off its origin, compressed."""


def _parsed(url: str) -> httpx.URL | None:
    """``url`` parsed by httpx, the parser that connects (no second parser to disagree with it), or None."""
    try:
        return httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return None


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of an http(s) URL, lower-cased, default port dropped (RFC 6454); None otherwise."""
    parts = _parsed(url)
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.host:
        return None
    scheme = parts.scheme.lower()
    host = f"[{parts.host}]" if ":" in parts.host else parts.host.lower()
    port = parts.port
    shown = "" if port is None or port == {"http": 80, "https": 443}[scheme] else f":{port}"
    return f"{scheme}://{host}{shown}"


def joined(base: str, url: str) -> str:
    """``url`` resolved against ``base`` (RFC 3986 §5) by httpx; ``url`` itself when either cannot be parsed."""
    parts = _parsed(base)
    try:
        return str(parts.join(url)) if parts is not None else url
    except (httpx.InvalidURL, TypeError, ValueError):
        return url


def well_known(url: str, name: str) -> str | None:
    """The well-known URL ``name`` of ``url`` (RFC 8615; RFC 9728 §3.1, RFC 8414 §3.1: between the host and the
    path), or None when ``url`` is not an http(s) URL. The path is kept as written (percent-encoded): a decoded one
    names another document, or no URL at all (``%0a``)."""
    parts, origin = _parsed(url), origin_of(url)
    if parts is None or origin is None:
        return None
    path = parts.raw_path.decode("ascii").split("?", 1)[0].rstrip("/")
    return f"{origin}/.well-known/{name}{path}"


# host[:port] as every URL parser reads it alike: no user info, no backslash, no escapes, no non-ASCII, no leading 0
_PLAIN_ORIGIN = re.compile(r"https?://(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::[1-9][0-9]{0,4})?(?=[/?]|$)", re.IGNORECASE)


def _resource_key(url: str) -> tuple[str, str, str | None] | None:
    parts, origin = _parsed(url), origin_of(url)
    plain = _PLAIN_ORIGIN.match(url) if isinstance(url, str) else None
    # RFC 9728 §3.3: a resource another parser (the authorization server's, WHATWG's) could read as another origin
    # or path is no resource: printable ASCII, host[:port] plain, the path as written (httpx would drop dot
    # segments and decode escapes: that would be a second reading); MCP "Canonical Server URI": no fragment
    if parts is None or origin is None or plain is None or "#" in url or "\\" in url:
        return None
    if not (url.isascii() and url.isprintable()):
        return None
    written, asks, query = url[plain.end():].partition("?")
    if (written or "/") != parts.raw_path.decode("ascii").partition("?")[0]:
        return None
    return origin, written.removesuffix("/"), query if asks else None


def same_resource(a: str, b: str) -> bool:
    """Whether two resource identifiers name the same resource: scheme and host case-insensitive, default port
    and one trailing slash ignored (MCP 2025-11-25 "Canonical Server URI"); everything else exact. A URL that
    another parser could read otherwise (user info, backslash, escapes or non-ASCII in the host, a port with a
    leading zero, dot segments, controls) names nothing."""
    key = _resource_key(a)
    return key is not None and key == _resource_key(b)


def _left() -> float:
    """What is left of this thread's fetch deadline; raises the timeout when nothing is."""
    deadline: float | None = getattr(_DEADLINE, "value", None)
    if deadline is None:
        raise FetchRefused("a probe request outside a fetch")  # every request goes through _Transport
    left = deadline - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("the fetch's deadline passed")
    return left


def _clamped(timeout: float | None) -> float:
    left = _left()
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    """A socket whose every read, write and TLS handshake may use only what is left of the fetch's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self.inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.inner.read(max_bytes, _clamped(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, _clamped(timeout))

    def close(self) -> None:
        self.inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _Stream(self.inner.start_tls(ssl_context, server_hostname, _clamped(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)


class _Backend(httpcore.SyncBackend):
    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> httpcore.NetworkStream:
        return _Stream(super().connect_tcp(host, port, _clamped(timeout), local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Any = None) -> httpcore.NetworkStream:
        raise FetchRefused("the probe does not use unix sockets")


class _Body(httpx.SyncByteStream):
    """The raw body, read under the fetch's deadline and refused past the cap."""

    def __init__(self, inner: httpx.SyncByteStream, deadline: float, cap: int, fetcher: Fetcher) -> None:
        self.inner, self.deadline, self.cap, self.fetcher = inner, deadline, cap, fetcher

    def __iter__(self) -> Iterator[bytes]:
        chunks = iter(self.inner)
        size = 0
        while True:
            with self.fetcher.deadline(self.deadline):
                chunk = next(chunks, None)
            if chunk is None:
                return
            size += len(chunk)
            self.fetcher.count(size, len(chunk))
            if size > self.cap:
                raise FetchRefused(f"the answer is larger than {self.cap} bytes")
            yield chunk

    def close(self) -> None:
        self.inner.close()


class _Transport(httpx.BaseTransport):
    def __init__(self, fetcher: Fetcher, verify: bool) -> None:
        self.fetcher = fetcher
        self.inner = httpx.HTTPTransport(verify=verify, trust_env=False)
        # httpx has no public hook for the network backend: its pool is replaced by an identical one that has ours
        self.inner._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False), max_connections=10,
            max_keepalive_connections=5, keepalive_expiry=5.0, network_backend=_Backend())

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        deadline = request.extensions.get("labkit_deadline") or self.fetcher.next_deadline()
        with self.fetcher.deadline(deadline):
            response = self.inner.handle_request(request)
        declared = response.headers.get_list("content-length")
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        refused = None
        # RFC 9110 §8.6: one Content-Length of digits; over the cap is refused before a byte of the body is read
        value = declared[0] if declared else ""
        if declared and (len(declared) > 1 or not (value.isascii() and value.isdigit()) or len(value) > 19
                         or int(value) > self.fetcher.max_bytes):
            refused = f"the answer declares a Content-Length over {self.fetcher.max_bytes} bytes (or a bad one)"
        # a size cap counts what is read: an inflated body would pass it by orders of magnitude (a gzip bomb)
        elif encoding not in ("identity", ""):
            refused = f"the answer is compressed ({safe_text(encoding, 40)}); the probe asks for identity"
        if refused:
            response.close()
            raise FetchRefused(refused)
        assert isinstance(response.stream, httpx.SyncByteStream)  # noqa: S101 - HTTPTransport's own type
        response.stream = _Body(response.stream, deadline, self.fetcher.max_bytes, self.fetcher)
        return response

    def close(self) -> None:
        self.inner.close()


class Fetcher:
    """The probe's HTTP client: ``timeout`` seconds per fetch (all of it), ``max_bytes`` per answer, and the whole
    probe within ``budget`` seconds (default ``BUDGET_FACTOR`` x ``timeout``). Use as a context manager."""

    def __init__(self, timeout: float = 15, *, max_bytes: int = MAX_BYTES, budget: float | None = None,
                 verify: bool = True) -> None:
        self.timeout = max(0.1, min(float(timeout), 300.0))
        self.max_bytes = max_bytes
        self.ends = time.monotonic() + (budget if budget is not None else BUDGET_FACTOR * self.timeout)
        self.bytes_read = 0  # raw body bytes over every answer
        self.largest = 0  # the most raw body bytes read from one answer
        # no cookies kept: a cookie ignores ports, so one set by any server on a host would reach all the others
        self.http = httpx.Client(transport=_Transport(self, verify), follow_redirects=False, trust_env=False,
                                 timeout=self.timeout, headers={"Accept-Encoding": "identity"},
                                 cookies=CookieJar(DefaultCookiePolicy(allowed_domains=[])))

    def next_deadline(self) -> float:
        """The deadline of a fetch starting now; raises ``FetchRefused`` once the probe's budget is spent."""
        now = time.monotonic()
        if now >= self.ends:
            raise FetchRefused("the probe's time budget is spent")
        return min(now + self.timeout, self.ends)

    def deadline(self, value: float) -> _Deadline:
        """Context: socket operations in this thread may use only what is left until ``value``."""
        return _Deadline(value)

    def count(self, size: int, chunk: int) -> None:
        """Account for ``chunk`` more bytes of an answer now ``size`` bytes long."""
        self.bytes_read += chunk
        self.largest = max(self.largest, size)

    def request(self, method: str, url: str, *, redirects: int = 0, **options: Any) -> httpx.Response:
        """One fetch, read in full under one deadline; ``redirects``: same-origin redirects it may follow.

        Raises ``FetchRefused`` (deadline, cap, a redirect to another origin, compression) or ``httpx.HTTPError``.
        """
        deadline = self.next_deadline()
        start = origin_of(url)
        try:
            for _ in range(redirects + 1):
                try:
                    response = self.http.request(method, url, extensions={"labkit_deadline": deadline},
                                                 follow_redirects=False, **options)
                except httpx.InvalidURL:  # a URL built from what a server wrote: refused, never a traceback
                    raise FetchRefused(f"not a URL the probe can fetch ({safe_text(url, 120)})") from None
                try:
                    response.read()
                finally:
                    response.close()
                location = response.headers.get("location") if response.is_redirect else None
                if location is None or not redirects:
                    return response
                url = joined(url, location)
                # the user named an origin: a redirect may not carry the fetch to another
                if origin_of(url) != start:
                    raise FetchRefused(f"redirects to another origin ({safe_text(origin_of(url) or url, 120)})")
            raise FetchRefused(f"more than {redirects} redirects")
        except httpx.TimeoutException:
            raise FetchRefused(f"no complete answer within {self.timeout:g}s") from None

    def json(self, url: str) -> dict[str, Any] | None:
        """A JSON object read with ``request`` (GET, same-origin redirects); None when absent (not 200, not a JSON
        object). Raises ``FetchRefused`` or ``httpx.HTTPError`` as ``request`` does."""
        response = self.request("GET", url, redirects=MAX_REDIRECTS, headers={"Accept": "application/json"})
        if response.status_code != 200:
            return None
        try:
            document = loads_bounded(response.content)
        except ValueError:
            return None
        return document if isinstance(document, dict) else None

    def close(self) -> None:
        """Close the client."""
        self.http.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


class _Deadline:
    def __init__(self, value: float) -> None:
        self.value = value
        self.saved: float | None = None

    def __enter__(self) -> None:
        self.saved = getattr(_DEADLINE, "value", None)
        _DEADLINE.value = self.value

    def __exit__(self, *exc: object) -> None:
        _DEADLINE.value = self.saved
