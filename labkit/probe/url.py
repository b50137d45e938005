"""``labkit probe URL``: what any A2A or MCP endpoint advertises, and whether it refuses what it must.

Discovery reads the A2A card (``/.well-known/agent-card.json``, then ``agent.json``) and the RFC 9728 metadata
(from the 401 challenge's ``resource_metadata``, else the well-known URL). Then every token kind the given
``TokenSource`` can build (``labkit.probe.tokens``) is sent to every advertised endpoint: refused kinds must get 401, a
token without the endpoint's scope 403, a good one neither (nor a 5xx). Kinds that cannot be built are listed as
skipped, never as passed.

The probe binds to what the user named (DESIGN "A tool binds to what the user named"): it calls only endpoints on
the named origin (others are listed "not probed: other origin"); each endpoint's metadata must name that very
endpoint as its ``resource`` (RFC 9728 §3.3), or no token is requested at all; tokens are asked for that resource
only; every fetch goes through ``labkit.probe.fetch.Fetcher`` (deadline, size cap, same-origin redirects). What the
probe refused, and why, is in the report, and any refusal makes it not ok.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from .. import rpc
from .._text import safe_text
from ..lab.calls import parse_challenge
from .fetch import Fetcher, FetchRefused, joined, origin_of, same_resource, well_known
from .tokens import KINDS, TokenSource, build_tokens, checked_scopes, issuer_metadata, jwks_of

__all__ = ["MAX_TARGETS", "Advertised", "ProbeResult", "ProbeTarget", "Refusal", "UrlProbeReport", "discover",
           "probe_url"]

MAX_TARGETS = 8  # endpoints probed per run; the rest are listed, not called
_MAX_LISTED = 64  # advertised names kept per list (scopes, schemes, servers)


def _path(url: str) -> str:
    """The path of ``url`` as httpx (the client that connects) reads it; "" when it cannot be parsed."""
    try:
        return httpx.URL(url).path
    except (httpx.InvalidURL, TypeError, ValueError):
        return ""


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
        return f"{self.protocol}{' ' + self.version if self.version else ''} {_path(self.url) or '/'}"


@dataclass(frozen=True)
class Refusal:
    """Something the probe refused to use or do, and why (the agent advertised it, or the user's setup)."""

    what: str
    why: str


@dataclass
class Advertised:
    """What the agent advertises: card, schemes, scopes, resources, authorization servers, endpoints.

    ``token_endpoint`` and ``authorization_servers`` are what the target says: shown, never sent a secret.
    """

    url: str
    origin: str = ""
    card_name: str | None = None
    schemes: dict[str, str] = field(default_factory=dict)  # scheme name -> type (and flows)
    scopes: list[str] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)
    authorization_servers: list[str] = field(default_factory=list)
    token_endpoint: str | None = None
    jwks_uri: str | None = None
    targets: list[ProbeTarget] = field(default_factory=list)
    not_probed: list[str] = field(default_factory=list)  # "URL: why"
    notes: list[str] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    bound: bool = True  # False once a metadata document named another resource: then no token is requested


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
    refused: list[Refusal] = field(default_factory=list)  # discovery's, then the token source's

    @property
    def ok(self) -> bool:
        """True when every probed answer is right (skipped kinds aside), at least one call ran, nothing refused."""
        ran = [r for r in self.results if r.ok is not None]
        return bool(ran) and all(r.ok for r in ran) and not self.refused

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready mapping (``labkit probe --json``)."""
        advertised = asdict(self.advertised)
        del advertised["refused"]  # the report's own list holds them, with the token source's
        return {"ok": self.ok, "advertised": advertised, "refused": [asdict(r) for r in self.refused],
                "results": [asdict(r) for r in self.results]}

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
                  f"  token endpoint (advertised, never sent a secret): {shown(adv.token_endpoint or '-')}"]
        lines += [f"  note: {shown(note)}" for note in adv.notes]
        lines += [f"  {shown(entry)}" for entry in adv.not_probed]
        lines += [f"REFUSED {shown(r.what)}: {shown(r.why)}" for r in self.refused]
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



def _strings(value: object) -> list[str]:
    """The strings of a JSON list (anything else: none): a hostile document cannot smuggle other types."""
    return [v[:512] for v in value[:_MAX_LISTED] if isinstance(v, str)] if isinstance(value, list) else []


def _add(found: list[str], more: list[str]) -> None:
    found += [m for m in more if m not in found][: max(0, _MAX_LISTED - len(found))]


def _card_scopes(card: dict[str, Any]) -> tuple[str, ...]:
    """The scopes of the card's first OAuth2 security requirement (A2A v0.3 ``security``)."""
    requirements = card.get("security")
    for requirement in requirements if isinstance(requirements, list) else []:
        if isinstance(requirement, dict):
            for scopes in requirement.values():
                if isinstance(scopes, list):
                    return tuple(_strings(scopes))
    return ()


def _interfaces(card: dict[str, Any]) -> list[tuple[object, object]]:
    """(url, protocol version) of the card's JSON-RPC interfaces: v1.0 ``supportedInterfaces``, v0.3
    ``additionalInterfaces`` and ``url``."""
    found: list[tuple[object, object]] = []
    for key, binding in (("supportedInterfaces", "protocolBinding"), ("additionalInterfaces", "transport")):
        listed = card.get(key)
        found += [(i.get("url"), i.get("protocolVersion", card.get("protocolVersion")))
                  for i in (listed[:_MAX_LISTED] if isinstance(listed, list) else [])
                  if isinstance(i, dict) and str(i.get(binding, "JSONRPC")).upper() == "JSONRPC"]
    if card.get("url"):
        found.append((card["url"], card.get("protocolVersion")))
    return found


def _read_card(adv: Advertised, card: dict[str, Any], base: str) -> None:
    adv.card_name = safe_text(card.get("name", ""), 120) or None
    schemes = card.get("securitySchemes")
    for name, scheme in list(schemes.items() if isinstance(schemes, dict) else ())[:_MAX_LISTED]:
        if isinstance(scheme, dict):
            inner = scheme.get("oauth2SecurityScheme")
            flows = scheme.get("flows") or (inner.get("flows") if isinstance(inner, dict) else None)
            flows = flows if isinstance(flows, dict) else {}
            kind = safe_text(scheme.get("type") or next(iter(scheme), "?"), 64)
            adv.schemes[safe_text(name, 64)] = f"{kind} ({safe_text(', '.join(sorted(map(str, flows))), 200)})" \
                if flows else kind
            for flow in flows.values():
                if isinstance(flow, dict):
                    found = flow.get("scopes")
                    _add(adv.scopes, [s[:512] for s in (found if isinstance(found, dict) else {})])
                    token_url = flow.get("tokenUrl")  # shown only: a secret never goes where the target says
                    adv.token_endpoint = adv.token_endpoint or (token_url[:512] if isinstance(token_url, str)
                                                                else None)
    scopes = _card_scopes(card)
    for url, version in _interfaces(card):
        if not isinstance(url, str):
            continue
        absolute = joined(base, url[:2048])
        # the user named an origin: an interface elsewhere is listed, never called
        if origin_of(absolute) != adv.origin:
            entry = f"{absolute}: not probed: other origin"
            if entry not in adv.not_probed:
                adv.not_probed.append(entry)
            continue
        target = ProbeTarget(absolute, "a2a", scopes, version="1.0" if version == "1.0" else "0.3", required=scopes)
        if target not in adv.targets:
            adv.targets.append(target)


def _challenge(fetcher: Fetcher, adv: Advertised, target: ProbeTarget) -> dict[str, str]:
    """The auth-params of the endpoint's 401 challenge to an anonymous call."""
    try:
        response = _send(fetcher, target, None)
    except FetchRefused as exc:
        adv.refused.append(Refusal(f"anonymous call to {target.url}", str(exc)))
        return {}
    except httpx.HTTPError:
        return {}
    challenge = parse_challenge(response.headers.get("www-authenticate"))
    return dict(challenge.params) if challenge is not None else {}


def _metadata(fetcher: Fetcher, adv: Advertised, target: ProbeTarget, pointer: str | None) -> dict[str, Any] | None:
    """The target's RFC 9728 metadata (from the challenge's pointer, else the well-known URL), or None."""
    candidates = []
    if pointer:
        if origin_of(pointer) == adv.origin:
            candidates.append(pointer)
        else:  # the user named an origin: metadata elsewhere is not fetched
            adv.refused.append(Refusal("resource_metadata", f"{safe_text(pointer, 200)} is on another origin: "
                                                            "not fetched"))
    candidates.append(well_known(target.url, "oauth-protected-resource") or target.url)
    for url in dict.fromkeys(candidates):
        try:
            document = fetcher.json(url)
        except FetchRefused as exc:
            adv.refused.append(Refusal(f"metadata {safe_text(url, 200)}", str(exc)))
            continue
        except httpx.HTTPError:
            continue
        if document is not None:
            return document
    return None


def _resolve(fetcher: Fetcher, adv: Advertised, target: ProbeTarget) -> ProbeTarget:
    """The target with its resource and scopes, from its challenge and its metadata (checked)."""
    params = _challenge(fetcher, adv, target)
    metadata = _metadata(fetcher, adv, target, params.get("resource_metadata"))
    resource, supported = target.url, []
    if metadata is None:
        adv.notes.append(f"no RFC 9728 metadata for {safe_text(target.url, 200)}: tokens are asked for its URL")
    else:
        named = metadata.get("resource")
        # RFC 9728 §3.3: the metadata's resource is the endpoint it describes, or the document is not used
        if not isinstance(named, str) or not same_resource(named, target.url):
            adv.bound = False
            adv.refused.append(Refusal(
                f"metadata for {safe_text(target.url, 200)}",
                f"names resource {safe_text(named, 200)!r}, not the endpoint probed (RFC 9728 §3.3): "
                "no token is requested"))
        else:
            resource, supported = named, _strings(metadata.get("scopes_supported"))
            _add(adv.scopes, supported)
            _add(adv.authorization_servers, _strings(metadata.get("authorization_servers")))
            _add(adv.resources, [named])
    # MCP 2025-11-25: the challenge's scope= is what the call needs; scopes_supported only what exists
    required, note = checked_scopes(target.required or tuple(params.get("scope", "").split()))
    scopes, note2 = checked_scopes(required or tuple(supported))
    for text in dict.fromkeys(n for n in (note, note2) if n):
        adv.notes.append(f"{safe_text(target.url, 200)}: {text}")
    return ProbeTarget(target.url, target.protocol, scopes, resource, required, target.version)


def discover(url: str, fetcher: Fetcher) -> Advertised:
    """Read the card and the RFC 9728 metadata of the agent at ``url``; raises ``ValueError`` when ``url`` is not
    an http(s) URL or nothing at it advertises an endpoint. What it refused is in ``Advertised.refused``."""
    origin = origin_of(url)
    if origin is None or "#" in url:
        raise ValueError(f"{safe_text(url, 200)!r} is not an http(s) URL")
    path = _path(url)
    adv = Advertised(url, origin)
    card = None
    reads_card = path in ("", "/") or "/.well-known/" in path  # a named endpoint is probed as it is
    for name in ("agent-card.json", "agent.json") if reads_card else ():
        try:
            card = fetcher.json(f"{origin}/.well-known/{name}")
        except FetchRefused as exc:
            adv.refused.append(Refusal(f"card /.well-known/{name}", str(exc)))
        except httpx.HTTPError:
            pass
        if card is not None:
            break
    if card is not None:
        _read_card(adv, card, url)
    if not adv.targets or path not in ("", "/"):
        adv.targets.append(ProbeTarget(url, "mcp" if card is None or path not in ("", "/") else "a2a"))
    for extra in adv.targets[MAX_TARGETS:]:
        adv.not_probed.append(f"{extra.url}: not probed: more than {MAX_TARGETS} endpoints")
    adv.targets = [_resolve(fetcher, adv, target) for target in adv.targets[:MAX_TARGETS]]
    if not adv.targets:
        raise ValueError(f"nothing at {safe_text(url, 200)!r} advertises an endpoint")
    return adv


def _send(fetcher: Fetcher, target: ProbeTarget, token: str | None) -> httpx.Response:
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
    body = rpc.request(method, params, rpc_id=uuid.uuid4().hex[:8])
    # the target was checked to be on the named origin; a call with a token follows no redirect
    return fetcher.request("POST", target.url, json=body, headers=headers)


def _verdict(expected: str, status: int) -> bool:
    if expected == "accepted":
        return status not in (401, 403) and status < 500
    return str(status) == expected


def _keys(source: TokenSource, adv: Advertised, fetcher: Fetcher) -> dict[str, Any] | None:
    """The JWKS for the key-confusion token: the named issuer's, else the advertised one's, read anonymously."""
    keys = source.keys()
    if keys is not None or not adv.authorization_servers:
        return keys
    try:
        metadata = issuer_metadata(fetcher, adv.authorization_servers[0])
    except ValueError:
        return None
    jwks_uri = metadata.get("jwks_uri")
    adv.jwks_uri = jwks_uri[:512] if isinstance(jwks_uri, str) else None
    return jwks_of(fetcher, metadata)


def probe_url(url: str, source: TokenSource | None = None, *, fetcher: Fetcher | None = None,
              timeout: float = 15) -> UrlProbeReport:
    """Discover what ``url`` advertises and run every token kind ``source`` can build against every endpoint.

    ``fetcher``: the bounded client to use (default: one of ``timeout`` seconds per fetch). Raises ``ValueError``
    when discovery finds nothing, ``httpx.HTTPError`` when the agent is unreachable.
    """
    own = fetcher is None
    client = fetcher or Fetcher(timeout)
    try:
        advertised = discover(url, client)
        refused = list(advertised.refused)
        why = source.ready() if source is not None else None
        if why is not None:
            shown = f" (the target advertises {advertised.token_endpoint})" if advertised.token_endpoint else ""
            refused.append(Refusal("token source", why + shown))
        usable = source if advertised.bound and why is None else None
        jwks = _keys(usable, advertised, client) if usable is not None else None
        results: list[ProbeResult] = []
        for target in advertised.targets:
            resource = target.resource or target.url
            tokens = build_tokens(usable, target.scopes, resource, jwks, required=target.required)
            # exit 0 means the good token was tried: an agent naming a scope the user's client cannot get would
            # otherwise pass having faced only none, garbage and missing scope (no signature check ran)
            if usable is not None and tokens["valid"][1] is None:
                refused.append(Refusal(f"tokens for {target.url}", f"no valid token ({tokens['valid'][2]}): "
                                       "the valid, alg none and key confusion kinds did not run"))
            for kind in KINDS:
                token, expected, note = tokens[kind]
                if expected is None:
                    if not advertised.bound and kind not in ("none", "garbage"):
                        note = "no token requested: the metadata names another resource"
                    results.append(ProbeResult(target.name, kind, "-", None, None, note))
                    continue
                try:
                    status = _send(client, target, token).status_code
                except httpx.ConnectError:
                    raise  # the agent cannot be reached: one clear error, not a table of them
                except httpx.HTTPError as exc:  # refused by the rules, or no answer (a hang-up): a wrong answer
                    results.append(ProbeResult(target.name, kind, expected, None, False,
                                               safe_text(str(exc) or exc.__class__.__name__, 200)))
                    continue
                results.append(ProbeResult(target.name, kind, expected, status, _verdict(expected, status), note))
        return UrlProbeReport(advertised, results, refused)
    finally:
        if own:
            client.close()
