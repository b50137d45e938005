"""``labkit probe URL``: what any A2A or MCP endpoint advertises, and whether it refuses what it must.

Discovery reads the A2A card (``/.well-known/agent-card.json``, then ``agent.json``), the RFC 9728 metadata
(from the 401 challenge's ``resource_metadata``, else the well-known URL) and the authorization server's
RFC 8414 metadata. Then every token kind the given ``TokenSource`` can build (``probe_tokens``) is sent to
every advertised endpoint: refused kinds must get 401, a token without the endpoint's scope 403, a good one
neither (nor a 5xx). Kinds that cannot be built are listed as skipped, never as passed.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from . import rpc
from ._text import safe_text
from .calls import parse_challenge
from .probe_tokens import KINDS, TokenSource, build_tokens

__all__ = ["Advertised", "ProbeResult", "ProbeTarget", "UrlProbeReport", "discover", "probe_url"]

_MAX_DOCUMENT = 1 << 20


@dataclass(frozen=True)
class ProbeTarget:
    """One advertised endpoint: its URL, protocol (``a2a`` JSON-RPC or ``mcp``) and the scopes it asks for."""

    url: str
    protocol: str
    scopes: tuple[str, ...] = ()  # what a good token asks for
    resource: str | None = None
    required: tuple[str, ...] = ()  # the scopes it says it needs (card security, challenge scope=)
    version: str | None = None  # A2A protocol version of the interface

    @property
    def name(self) -> str:
        """How the table names it."""
        return f"{self.protocol}{' ' + self.version if self.version else ''} {urlsplit(self.url).path or '/'}"


@dataclass
class Advertised:
    """What the agent advertises: card, schemes, scopes, resources, authorization servers, endpoints."""

    url: str
    card_name: str | None = None
    schemes: dict[str, str] = field(default_factory=dict)  # scheme name -> type (and flows)
    scopes: list[str] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)
    authorization_servers: list[str] = field(default_factory=list)
    token_endpoint: str | None = None
    jwks_uri: str | None = None
    targets: list[ProbeTarget] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ProbeResult:
    """One call: the endpoint, the token kind, what must come back and what did."""

    endpoint: str
    kind: str
    expected: str  # "401", "403", "accepted"
    actual: int | None  # None: skipped
    ok: bool | None  # None: skipped (the kind could not be built)
    note: str = ""


@dataclass
class UrlProbeReport:
    """Discovery and the results; ``ok`` when no answer is wrong."""

    advertised: Advertised
    results: list[ProbeResult]

    @property
    def ok(self) -> bool:
        """True when every probed answer is right (skipped kinds aside) and at least one call ran."""
        ran = [r for r in self.results if r.ok is not None]
        return bool(ran) and all(r.ok for r in ran)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready mapping (``labkit probe --json``)."""
        return {"ok": self.ok, "advertised": asdict(self.advertised), "results": [asdict(r) for r in self.results]}

    def table(self) -> str:
        """The advertised facts and the results as text."""
        adv = self.advertised

        def shown(value: object) -> str:  # the agent wrote it: bounded, control characters escaped
            return safe_text(value, 300)

        lines = [f"target: {shown(adv.url)}" + (f" ({shown(adv.card_name)})" if adv.card_name else "")]
        lines += [f"  scheme {shown(name)}: {shown(kind)}" for name, kind in sorted(adv.schemes.items())]
        lines += [f"  scopes: {shown(' '.join(adv.scopes)) or '-'}",
                  f"  resources: {shown(' '.join(adv.resources)) or '-'}",
                  f"  authorization servers: {shown(' '.join(adv.authorization_servers)) or '-'}",
                  f"  token endpoint: {shown(adv.token_endpoint or '-')}"]
        lines += [f"  note: {shown(note)}" for note in adv.notes]
        width = max([len(r.endpoint) for r in self.results] + [8])
        lines.append("")
        lines.append(f"{'endpoint':<{width}}  {'token':<16} {'expected':<9} {'actual':<7} ok")
        for r in self.results:
            verdict = "skip" if r.ok is None else ("yes" if r.ok else "NO")
            actual = "-" if r.actual is None else str(r.actual)
            lines.append(f"{shown(r.endpoint):<{width}}  {r.kind:<16} {r.expected:<9} {actual:<7} {verdict}"
                         + (f"  ({r.note})" if r.note else ""))
        ran = [r for r in self.results if r.ok is not None]
        lines.append(f"\n{sum(1 for r in ran if r.ok)}/{len(ran)} answers right, "
                     f"{len(self.results) - len(ran)} skipped")
        return "\n".join(lines)


def _json(http: httpx.Client, url: str) -> dict[str, Any] | None:
    """A JSON object from ``url``, or None (not found, not JSON, too large, unreachable)."""
    try:
        response = http.get(url)
    except httpx.HTTPError:
        return None
    if response.status_code != 200 or len(response.content) > _MAX_DOCUMENT:
        return None
    try:
        document = response.json()
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def _challenge(http: httpx.Client, target: ProbeTarget) -> dict[str, str]:
    """The auth-params of the endpoint's 401 challenge to an anonymous call."""
    try:
        response = _send(http, target, None)
    except httpx.HTTPError:
        return {}
    challenge = parse_challenge(response.headers.get("www-authenticate"))
    return dict(challenge.params) if challenge is not None else {}


def _strings(value: object) -> list[str]:
    """The strings of a JSON list (anything else: none): a hostile document cannot smuggle other types."""
    return [v[:512] for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _card_scopes(card: dict[str, Any]) -> tuple[str, ...]:
    """The scopes of the card's first OAuth2 security requirement (A2A v0.3 ``security``)."""
    for requirement in card.get("security") or []:
        if isinstance(requirement, dict):
            for scopes in requirement.values():
                if isinstance(scopes, list):
                    return tuple(_strings(scopes))
    return ()


def _read_card(adv: Advertised, card: dict[str, Any], base: str) -> None:
    adv.card_name = str(card.get("name", ""))[:120] or None
    schemes = card.get("securitySchemes")
    for name, scheme in (schemes.items() if isinstance(schemes, dict) else ()):
        if isinstance(scheme, dict):
            inner = scheme.get("oauth2SecurityScheme")
            flows = scheme.get("flows") or (inner.get("flows") if isinstance(inner, dict) else None)
            flows = flows if isinstance(flows, dict) else {}
            kind = str(scheme.get("type") or next(iter(scheme), "?"))[:64]
            adv.schemes[str(name)[:64]] = f"{kind} ({', '.join(sorted(map(str, flows)))})" if flows else kind
            for flow in flows.values():
                if isinstance(flow, dict):
                    found = flow.get("scopes")
                    adv.scopes += [s for s in (found if isinstance(found, dict) else {}) if s not in adv.scopes]
                    token_url = flow.get("tokenUrl")
                    adv.token_endpoint = adv.token_endpoint or (token_url if isinstance(token_url, str) else None)
    scopes = _card_scopes(card)
    listed = card.get("supportedInterfaces")
    interfaces = [(i.get("url"), i.get("protocolVersion")) for i in (listed if isinstance(listed, list) else [])
                  if isinstance(i, dict) and str(i.get("protocolBinding", "JSONRPC")).upper() == "JSONRPC"]
    if card.get("url"):
        interfaces.append((card["url"], card.get("protocolVersion")))
    for url, version in interfaces:
        if isinstance(url, str):
            target = ProbeTarget(urljoin(base, url), "a2a", scopes, version="1.0" if version == "1.0" else "0.3",
                                 required=scopes)
            if target not in adv.targets:
                adv.targets.append(target)


def discover(url: str, http: httpx.Client) -> Advertised:
    """Read the card, RFC 9728 and RFC 8414 metadata of the agent at ``url``; raises ``ValueError`` when
    ``url`` is not an http(s) URL or nothing at it advertises an endpoint."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url[:200]!r} is not an http(s) URL")
    origin = f"{parts.scheme}://{parts.netloc}"
    adv = Advertised(url)
    card = _json(http, f"{origin}/.well-known/agent-card.json") or _json(http, f"{origin}/.well-known/agent.json")
    if card is not None and (parts.path in ("", "/") or "/.well-known/" in parts.path):
        _read_card(adv, card, url)
    if not adv.targets or parts.path not in ("", "/"):
        adv.targets.append(ProbeTarget(url, "mcp" if card is None or parts.path not in ("", "/") else "a2a"))
    resolved: list[ProbeTarget] = []
    for target in adv.targets:
        params = _challenge(http, target)
        metadata_url = params.get("resource_metadata") or (
            f"{origin}/.well-known/oauth-protected-resource{urlsplit(target.url).path.rstrip('/')}")
        metadata = _json(http, metadata_url) or _json(http, f"{origin}/.well-known/oauth-protected-resource") or {}
        resource = metadata.get("resource") if isinstance(metadata.get("resource"), str) else None
        supported = _strings(metadata.get("scopes_supported"))
        adv.scopes += [s for s in supported if s not in adv.scopes]
        adv.authorization_servers += [a for a in _strings(metadata.get("authorization_servers"))
                                      if a not in adv.authorization_servers]
        if resource and resource not in adv.resources:
            adv.resources.append(resource)
        # MCP 2025-11-25: the challenge's scope= is what the call needs; scopes_supported only what exists
        required = target.required or tuple(params.get("scope", "").split())
        scopes = required or tuple(supported)
        resolved.append(ProbeTarget(target.url, target.protocol, scopes, resource, required, target.version))
    adv.targets = resolved
    for issuer in adv.authorization_servers[:1]:
        found = urlsplit(issuer)
        candidates = [f"{found.scheme}://{found.netloc}/.well-known/oauth-authorization-server{found.path}",
                      f"{issuer.rstrip('/')}/.well-known/oauth-authorization-server",
                      f"{issuer.rstrip('/')}/.well-known/openid-configuration"]
        server = next((m for m in (_json(http, c) for c in candidates) if m), None)
        if server is None:
            adv.notes.append("no RFC 8414 metadata at the authorization server")
            continue
        token_endpoint, jwks_uri = server.get("token_endpoint"), server.get("jwks_uri")
        adv.token_endpoint = token_endpoint if isinstance(token_endpoint, str) else adv.token_endpoint
        adv.jwks_uri = jwks_uri if isinstance(jwks_uri, str) else None
    if not adv.targets:
        raise ValueError(f"nothing at {url[:200]!r} advertises an endpoint")
    return adv


def _send(http: httpx.Client, target: ProbeTarget, token: str | None) -> httpx.Response:
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if target.protocol == "mcp":
        method, params = "tools/list", {}
    elif target.version == "1.0":
        method, params = "GetTask", {"id": "labkit-probe-no-such-task"}
        headers["A2A-Version"] = "1.0"
    else:
        method, params = "tasks/get", {"id": "labkit-probe-no-such-task"}
    return http.post(target.url, json=rpc.request(method, params, rpc_id=uuid.uuid4().hex[:8]), headers=headers)


def _verdict(expected: str, status: int) -> bool:
    if expected == "accepted":
        return status not in (401, 403) and status < 500
    return str(status) == expected


def probe_url(url: str, source: TokenSource | None = None, *, http: httpx.Client | None = None) -> UrlProbeReport:
    """Discover what ``url`` advertises and run every token kind ``source`` can build against every endpoint.

    Raises ``ValueError`` when discovery finds nothing, ``httpx.HTTPError`` when the agent is unreachable.
    """
    client = http or httpx.Client(timeout=15, follow_redirects=False)
    try:
        advertised = discover(url, client)
        jwks = _json(client, advertised.jwks_uri) if advertised.jwks_uri else None
        results: list[ProbeResult] = []
        for target in advertised.targets:
            tokens = build_tokens(source, target.scopes, target.resource, jwks, required=target.required)
            for kind in KINDS:
                token, expected, note = tokens[kind]
                if expected is None:
                    results.append(ProbeResult(target.name, kind, "-", None, None, note))
                    continue
                status = _send(client, target, token).status_code
                results.append(ProbeResult(target.name, kind, expected, status, _verdict(expected, status), note))
        return UrlProbeReport(advertised, results)
    finally:
        if http is None:
            client.close()
