"""OAuth Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document-00, MCP 2025-11-25).

A ``client_id`` that is an ``https`` URL names a JSON document the provider fetches: the client needs no
registration. Fetching a URL a stranger chose is server-side request forgery by design (draft §6, MCP "Client ID
Metadata Document Security"), so the fetch is fenced like push webhooks: https only; the URL's exact
``host:port`` on ``CimdPolicy.allowed_hosts``; its resolved addresses checked by ``labkit.ssrf``, again on the
address connected to (DNS rebinding); one fetch per URL at a time and ``MAX_FETCHES`` in all; no redirects;
a size cap, a total time cap, ``application/json`` only; TLS verified against the configured CA only. The
document's ``client_id`` must equal the URL; its members are type-checked like an RFC 7591 registration; the
authorization request's ``redirect_uri`` is then matched against its ``redirect_uris``. Resolved clients are kept
in a bounded LRU cache for ``Cache-Control: max-age`` (at most ``cache_ttl``). Every refusal is an RFC 6749
``invalid_client`` error saying what was wrong, never echoing the URL.
"""

from __future__ import annotations

import re
import ssl
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
from authlib.oauth2.rfc6749.errors import InvalidClientError, OAuth2Error

from .._json import BodyTooLargeError, loads_bounded, read_bounded
from ..auth.cache import SingleFlight
from ..ssrf import guarded_transport, resolution_refused
from .models import Client, loopback_redirect_key
from .rfc7591 import RegistrationPolicy, check_client_metadata

__all__ = ["MAX_FETCHES", "MAX_URL", "CimdError", "CimdPolicy", "CimdResolver", "OnFetch", "is_url_client_id"]

MAX_URL = 2048
MAX_FETCHES = 8  # documents fetched at once, across every tenant (more: refused at once, never queued)
# draft §3: https, a host, an optional port (no leading zero), a non-root path; here also no query, no
# percent-encoding, no user info, no fragment: one spelling per client, so "equal to the URL" means one thing
_URL = re.compile(
    r"https://(?P<host>[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:.]+\])(?::(?P<port>[1-9][0-9]{0,4}))?"
    r"(?P<path>(?:/[A-Za-z0-9._~!$&'()*+,;=:@-]+)+/?)"
)
_HOST_PORT = re.compile(r"(?:[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:.]+\]):[1-9][0-9]{0,4}")
_LOCALHOST_REDIRECT = re.compile(r"http://localhost(?::[1-9][0-9]{0,4})?/[^#\s]*")  # exact match only
_GRANTS = frozenset({"authorization_code", "refresh_token"})
_AUTH_METHODS = frozenset({"none", "private_key_jwt"})  # draft §4.1: no shared secret with a URL client


class CimdError(InvalidClientError):  # type: ignore[misc]
    """A client ID metadata document was refused (RFC 6749 §5.2 ``invalid_client``)."""


def is_url_client_id(client_id: object) -> bool:
    """Whether ``client_id`` is meant as a metadata document URL (it starts with ``https://``)."""
    return isinstance(client_id, str) and client_id.startswith("https://")


@dataclass(frozen=True)
class CimdPolicy:
    """Where the provider may fetch client metadata documents from, and how much it will take.

    Keys: ``allowed_hosts`` (exact ``host:port`` entries; empty: every URL client is refused),
    ``allow_loopback`` / ``allow_private_networks`` (addresses the hosts may resolve to), ``max_bytes``,
    ``timeout`` (seconds for the whole fetch), ``cache_size`` (entries), ``cache_ttl`` (seconds, the most a
    ``max-age`` can ask), ``ssl_context`` (the CAs trusted for the fetch; None: the system's). Raises
    ``ValueError`` naming the key (``cimd.allowed_hosts[0]: ...``) for a bad value.
    """

    allowed_hosts: tuple[str, ...] = ()
    allow_loopback: bool = False
    allow_private_networks: bool = False
    max_bytes: int = 5 * 1024
    timeout: float = 3.0
    cache_size: int = 64
    cache_ttl: int = 300
    ssl_context: ssl.SSLContext | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.allowed_hosts, str):
            raise ValueError("cimd.allowed_hosts: a list of host:port entries, not a string")
        for i, entry in enumerate(self.allowed_hosts):
            if not isinstance(entry, str) or not _HOST_PORT.fullmatch(entry) or int(entry.rsplit(":", 1)[1]) > 65535:
                raise ValueError(f"cimd.allowed_hosts[{i}]: use exact lowercase host:port entries, e.g. "
                                 "client.example.com:443")
        for name, low, high in (("max_bytes", 256, 1 << 20), ("cache_size", 0, 10_000), ("cache_ttl", 0, 86_400)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"cimd.{name}: an integer from {low} to {high}")
        if isinstance(self.timeout, bool) or not isinstance(self.timeout, int | float) or not 0 < self.timeout <= 30:
            raise ValueError("cimd.timeout: seconds, more than 0 and at most 30")
        if self.ssl_context is not None and not isinstance(self.ssl_context, ssl.SSLContext):
            raise ValueError("cimd.ssl_context: an ssl.SSLContext")


OnFetch = Callable[[httpx.Request, httpx.Response, bytes], Any]


class CimdResolver:
    """Turns a URL ``client_id`` into a ``Client`` by fetching its document under ``policy`` (cached).

    ``on_fetch(request, response, body)`` sees every fetch that got an answer (a flow recorder, say); ``fetches``
    counts the fetches attempted.
    """

    def __init__(self, policy: CimdPolicy | None = None, *, clock: Callable[[], float],
                 registration: RegistrationPolicy | None = None) -> None:
        self.policy = policy or CimdPolicy()
        self.clock = clock
        self.registration = registration or RegistrationPolicy()
        self.on_fetch: OnFetch | None = None
        self.fetches = 0
        self._cache: OrderedDict[str, tuple[Client, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._flight: SingleFlight[Client] = SingleFlight()  # one fetch per URL, whoever else asks meanwhile
        self._fetching = 0  # fetches in flight, every URL and event loop (at most MAX_FETCHES)

    def configure(self, policy: CimdPolicy) -> None:
        """Replace the policy and forget every cached document."""
        self.policy = policy
        self.clear()

    def clear(self) -> None:
        """Forget every cached document."""
        with self._lock:
            self._cache.clear()

    def cached(self) -> list[Client]:
        """The clients cached now, least recently used first."""
        now = self.clock()
        with self._lock:
            return [client for client, expires in self._cache.values() if expires > now]

    async def resolve(self, client_id: str) -> Client:
        """The client whose metadata document is at ``client_id``; raises ``CimdError`` saying why not."""
        now = self.clock()
        with self._lock:
            hit = self._cache.get(client_id)
            if hit is not None and hit[1] > now:
                self._cache.move_to_end(client_id)
                return hit[0]
        try:
            return await self._flight.run(client_id, lambda: self._resolve(client_id, now))
        except CimdError as error:
            raise CimdError(error.description) from None  # each request its own error (authlib edits it)

    async def _resolve(self, client_id: str, now: float) -> Client:
        """Check, fetch, build and cache the client at ``client_id``; raises ``CimdError``."""
        host, port = self._check_url(client_id)
        # MCP 2025-11-25 "Authorization Server Abuse Protection": the resolved addresses, not only the name
        refused = await resolution_refused(host.strip("[]"), port, allow_loopback=self.policy.allow_loopback,
                                           allow_private=self.policy.allow_private_networks)
        if refused:
            raise CimdError(f"client metadata host refused: {refused}")
        document, max_age = await self._fetch(client_id)
        client = self._client_from(client_id, document)
        ttl = min(self.policy.cache_ttl, self.policy.cache_ttl if max_age is None else max_age)
        if ttl > 0 and self.policy.cache_size > 0:
            with self._lock:
                self._cache[client_id] = (client, now + ttl)
                self._cache.move_to_end(client_id)
                while len(self._cache) > self.policy.cache_size:
                    self._cache.popitem(last=False)
        return client

    def _check_url(self, url: str) -> tuple[str, int]:
        """``(host, port)`` of an acceptable document URL; raises ``CimdError``."""
        # draft §3: an https URL with a path; the lab allows one spelling of each (see _URL)
        match = _URL.fullmatch(url) if len(url) <= MAX_URL else None
        if match is None or any(seg in (".", "..") for seg in match["path"].split("/")):
            raise CimdError("client_id is not a client metadata URL (https, lowercase host, optional port, a path; "
                            "no user info, query, fragment, percent-encoding or dot segments)")
        port = int(match["port"] or 443)
        if port > 65535:
            raise CimdError("client_id is not a client metadata URL (port out of range)")
        # exact host:port allow-list: 0x7f.1, 2130706433 or [::ffff:127.0.0.1] are not 127.0.0.1
        if f"{match['host']}:{port}" not in self.policy.allowed_hosts:
            raise CimdError("client metadata host is not on the provider's allow-list (cimd.allowed_hosts)")
        return match["host"], port

    async def _fetch(self, url: str) -> tuple[Any, int | None]:
        """The parsed document and its ``max-age``; raises ``CimdError``."""
        # draft §6 (SSRF, denial of service): a bounded number of outbound fetches at once
        with self._lock:
            if self._fetching >= MAX_FETCHES:
                raise CimdError("too many client metadata documents are being fetched; try again shortly")
            self._fetching += 1
        try:
            return await self._fetch_one(url)
        finally:
            with self._lock:
                self._fetching -= 1

    async def _fetch_one(self, url: str) -> tuple[Any, int | None]:
        self.fetches += 1
        policy = self.policy
        verify: ssl.SSLContext | bool = policy.ssl_context if policy.ssl_context is not None else True
        try:
            with anyio.fail_after(policy.timeout):  # the whole fetch, however slowly the bytes drip
                # DNS rebinding: the connection is judged by the same rules, on the address it connects to
                transport = guarded_transport(allow_loopback=policy.allow_loopback,
                                              allow_private=policy.allow_private_networks, verify=verify)
                async with httpx.AsyncClient(transport=transport, follow_redirects=False, trust_env=False,
                                             timeout=policy.timeout) as http:
                    request = http.build_request("GET", url, headers={"Accept": "application/json"})
                    response = await http.send(request, stream=True)
                    try:
                        body = await self._read(response)
                    finally:
                        await response.aclose()
        except (TimeoutError, httpx.TimeoutException):
            raise CimdError(f"client metadata document took longer than {policy.timeout} s") from None
        except httpx.HTTPError as exc:
            raise CimdError(f"client metadata document could not be fetched ({exc.__class__.__name__})") from None
        if self.on_fetch is not None:
            try:
                self.on_fetch(request, response, body)
            except Exception:  # noqa: S110 - an observer (a lesson's recorder) never decides or breaks a request
                pass
        try:
            document = loads_bounded(body)
        except ValueError:
            raise CimdError("client metadata document is not valid JSON") from None
        return document, _max_age(response.headers.get("cache-control", ""))

    async def _read(self, response: httpx.Response) -> bytes:
        # draft §6: no redirects (the allow-list judged this URL, not another)
        if response.is_redirect:
            raise CimdError("client metadata document redirects; redirects are not followed")
        if response.status_code != 200:
            raise CimdError(f"client metadata document answered HTTP {response.status_code}")
        media = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/json":
            raise CimdError("client metadata document is not application/json")
        declared = response.headers.get("content-length", "")
        if declared and (not declared.isdigit() or int(declared) > self.policy.max_bytes):
            raise CimdError(f"client metadata document larger than {self.policy.max_bytes} bytes")
        try:
            return await read_bounded(response.aiter_raw(), self.policy.max_bytes)
        except BodyTooLargeError:
            raise CimdError(f"client metadata document larger than {self.policy.max_bytes} bytes") from None

    def _client_from(self, url: str, document: Any) -> Client:
        """The client the document describes; raises ``CimdError`` naming the member at fault."""
        if not isinstance(document, dict):
            raise CimdError("client metadata document must be a JSON object")
        # draft §4.1: the document's client_id is exactly the URL it was fetched from
        if document.get("client_id") != url:
            raise CimdError("client metadata document's client_id differs from its URL")
        # draft §4.1: no shared secret for a client anyone can name
        if "client_secret" in document or "client_secret_expires_at" in document:
            raise CimdError("client metadata document must not hold a client_secret")
        try:
            checked = check_client_metadata(document)
        except OAuth2Error as error:
            raise CimdError(f"client metadata document: {error.description}") from None
        name = checked.get("client_name")
        redirects = checked.get("redirect_uris")
        # MCP 2025-11-25: client_id, client_name and redirect_uris are required
        if not name or not redirects:
            raise CimdError("client metadata document needs client_name and redirect_uris")
        if not all(_redirect_ok(uri) for uri in redirects):
            raise CimdError("client metadata redirect_uris must be https, or http on a loopback host")
        # anti-phishing: a reserved name only from its own hosts, the document's host included (trust.TrustPolicy)
        refusal = self.registration.trust.name_refusal(str(name), redirects, client_id=url)
        if refusal:
            raise CimdError(f"client metadata document: {refusal}")
        grants = checked.get("grant_types") or ["authorization_code"]
        if not set(grants) <= _GRANTS or "authorization_code" not in grants:
            raise CimdError("client metadata grant_types must be authorization_code (and refresh_token)")
        if checked.get("response_types", ["code"]) != ["code"]:
            raise CimdError("client metadata response_types must be [\"code\"]")
        method = checked.get("token_endpoint_auth_method", "none")
        if method not in _AUTH_METHODS or (method == "private_key_jwt" and "jwks" not in checked):
            raise CimdError("client metadata token_endpoint_auth_method must be none, or private_key_jwt with jwks")
        allowed = self.registration.scopes
        scopes = tuple(s for s in dict.fromkeys(checked.get("scope", "").split()) if s in allowed) or allowed
        return Client(url, None, grant_types=tuple(grants), scopes=scopes, redirect_uris=tuple(redirects),
                      lifetime=self.registration.lifetime, loopback_resources=True, loopback_redirects=True,
                      auth_method="private_key_jwt" if method == "private_key_jwt" else None,
                      jwks=checked.get("jwks"), partial_scopes=True, name=str(name),
                      logo_uri=str(checked.get("logo_uri", "")))


def _redirect_ok(uri: str) -> bool:
    """https without a fragment, or http on a loopback host (RFC 8252 §7.3)."""
    if uri.startswith("https://") and "#" not in uri and _URL.fullmatch(uri.split("?")[0]) is not None:
        return True
    return loopback_redirect_key(uri) is not None or _LOCALHOST_REDIRECT.fullmatch(uri) is not None


def _max_age(cache_control: str) -> int | None:
    """RFC 9111 §5.2.2: ``no-store``/``no-cache`` mean 0; ``max-age=N`` means N; None when absent or malformed."""
    directives = [d.strip().lower() for d in cache_control.split(",")]
    if "no-store" in directives or "no-cache" in directives:
        return 0
    for directive in directives:
        name, _, value = directive.partition("=")
        if name == "max-age" and value.isdigit():
            return min(int(value), 1 << 31)
    return None
