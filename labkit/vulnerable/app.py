"""UNSAFE: the vulnerable agent's ASGI app: a naive guard, a router that re-derives the path, a shared cache.

A small agent, separate from ``sample_agent``, that lesson 10 attacks. The real validator judges every token
first; a refused token gets a second chance from each switched-on weakness (``weaknesses.WEAK_CHECKS``), and
the audit event says which mistake let it in and which rule the real check applied. With every weakness
off, it answers as the real agent does.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from .. import rpc
from ..audit import AuditEvent, AuditLog
from ..auth import build_validator
from ..auth.build import claim_policy
from ..auth.claims import client_of, extract_scopes
from ..auth.principal import Principal, fingerprint
from ..config import OAuth2Config
from ..errors import AuthError, Reason
from ..hosts import HostCheck
from ..scopes import ScopeHierarchy
from .weaknesses import TOKEN_WEAKNESSES, WEAK_CHECKS, WeakContext, relaxes

__all__ = ["CAPABILITIES", "VulnerableApp", "VulnerableState", "admitted_by", "is_public", "raw_path", "route",
           "tried", "weakness_names"]

# capability -> the scope it needs
CAPABILITIES = {"echo": "api:read", "whoami": "api:read", "admin_status": "admin"}
_TENANT = re.compile(r"^/t/([a-z0-9-]{1,32})(/.*)?$")
_CHALLENGE = 'Bearer realm="oauth2-lab-vulnerable"'
# How its audit details name a weakness (read back by ``admitted_by`` and ``tried``, lesson 10's checks).
# A request's own text (a path, a subject) enters a detail only through ``_shown``: no space, colon or semicolon, so
# it can never read as one of these notes.
_ADMITTED = re.compile(r"^weakness ([a-z_]+):")
_TRIED = re.compile(r"^tried: ([a-z_,]+)$")
_PATH = re.compile(r"^path (/\S*)$")


@dataclass
class VulnerableState:
    """Switched-on weaknesses, the shared-or-not cache and the leaks it caused."""

    weaknesses: set[str]
    cache: dict[tuple[str, ...], dict[str, Any]] = field(default_factory=dict)
    leaks: list[tuple[str, str]] = field(default_factory=list)  # (served to, cached for)


def route(path: str) -> tuple[str | None, str]:
    """The router's one reading of a path: dot segments resolved, then ``/t/{tenant}`` split off."""
    normalized = posixpath.normpath(path) if path not in ("", "/") else "/"
    normalized = "/" + normalized.lstrip("/")
    match = _TENANT.match(normalized)
    if match:
        return match.group(1), match.group(2) or "/"
    return None, normalized


def is_public(path: str, state: VulnerableState) -> bool:
    """Whether the guard lets ``path`` through without a token."""
    if "path_differential" in state.weaknesses:
        # UNSAFE: the guard strips the tenant prefix its own way, on the raw path, and never resolves '..'.
        rest = re.sub(r"^/t/[^/]+", "", path)
        return rest.startswith("/.well-known/")
    # One parse: the guard decides on exactly the path the router will serve.
    return route(path)[1].startswith("/.well-known/")


class VulnerableApp:
    """The vulnerable agent (ASGI). ``oauth2`` is the lab's real configuration: its validator is the real check."""

    def __init__(self, oauth2: OAuth2Config, hierarchy: ScopeHierarchy, state: VulnerableState, audit: AuditLog,
                 *, clock: Callable[[], float], keys_dir: Path) -> None:
        self.oauth2, self.hierarchy, self.state, self.audit = oauth2, hierarchy, state, audit
        self.clock, self.keys_dir = clock, keys_dir
        self.validator: Any = None
        self._fetch: httpx.AsyncClient | None = None  # the provider's JWKS, fetched on each second look (no cache)
        # not one of its weaknesses: Host and Origin must name it (labkit.hosts) before anything runs
        self._checked = HostCheck(self._http, name="vulnerable agent")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        await self._checked(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self._handle(Request(scope, receive))
        await response(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.validator = build_validator(self.oauth2, clock=self.clock)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                close = getattr(self.validator, "aclose", None)
                if close is not None:
                    await close()
                if self._fetch is not None:
                    await self._fetch.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _handle(self, request: Request) -> Response:
        path = request.url.path
        tenant, rest = route(path)
        if is_public(path, self.state):
            if rest in ("/.well-known/agent.json", "/.well-known/agent-card.json"):
                return JSONResponse({"name": "oauth2-lab vulnerable agent", "capabilities": CAPABILITIES})
            if rest == "/admin/status":  # reached through the differential: the guard thought it was public
                detail = f"weakness path_differential: no token; path {_shown(path)}"
                self.audit.record(AuditEvent(decision="allow", detail=detail, endpoint=rest, method="GET",
                                             tenant=tenant, status=200))
                return JSONResponse({"admin": True, "tenant": tenant, "users": ["alice", "bob"]})
            return JSONResponse({"error": "not found"}, status_code=404)
        token = _bearer(request)
        context = {"endpoint": rest, "tenant": tenant}
        if token is None:
            # the guard's weakness had its chance at this path: say whether it was on, and which path it saw
            on = "path_differential" if "path_differential" in self.state.weaknesses else "none"
            note = f"tried: {on}" if path == rest else f"tried: {on}; path {_shown(path)}"
            error = AuthError(Reason.MISSING_TOKEN, note)
            return self._deny(error, context, method=request.method)
        try:
            principal, admitted_by = await self._authenticate(token)
        except AuthError as error:
            on = ",".join(n for n in TOKEN_WEAKNESSES if n in self.state.weaknesses) or "none"
            refused = AuthError(error.reason, f"tried: {on}")  # every switched-on mistake had its chance, and refused
            return self._deny(refused, {**context, "fingerprint": fingerprint(token)}, method=request.method)
        if rest == "/admin/status" and request.method == "GET":
            return self._answer(principal, admitted_by, "admin_status", context, {"admin": True, "tenant": tenant})
        if rest == "/" and request.method == "POST":
            return await self._rpc(request, principal, admitted_by, context)
        return JSONResponse({"error": "not found"}, status_code=404)

    async def _authenticate(self, token: str) -> tuple[Principal, str]:
        try:
            return await self.validator.validate(token), ""
        except AuthError as refused:
            context = WeakContext(jwks=await self._jwks(), policy=claim_policy(self.oauth2), now=self.clock(),
                                  algorithms=tuple(self.oauth2.algorithms), keys_dir=self.keys_dir)
            for name in TOKEN_WEAKNESSES:
                # a mistake re-judges only what the real check refused for the rule it breaks (weaknesses.DEFENCES)
                if name in self.state.weaknesses and relaxes(name, refused.reason.value):
                    claims = await WEAK_CHECKS[name](token, context)
                    if claims is not None:
                        principal = _principal(claims, token)
                        if principal is not None:
                            return principal, f"weakness {name}: the real check said {refused.reason.value}"
            raise

    async def _jwks(self) -> dict[str, Any]:
        if self.oauth2.jwks is not None:
            return dict(self.oauth2.jwks)
        if not self.oauth2.jwks_url:
            return {"keys": []}
        if self._fetch is None:
            self._fetch = httpx.AsyncClient(timeout=5)
        answer = await self._fetch.get(self.oauth2.jwks_url)
        keys = answer.json() if answer.status_code == 200 else {"keys": []}
        return keys if isinstance(keys, dict) else {"keys": []}

    async def _rpc(self, request: Request, principal: Principal, admitted_by: str,
                   context: dict[str, Any]) -> Response:
        try:
            body = await request.json()
            capability = str(body["params"]["capability"])
            request_id = body.get("id")
        except (ValueError, KeyError, TypeError):
            return JSONResponse(rpc.error(None, -32600, "bad request"),
                                status_code=400)
        if capability not in CAPABILITIES:
            return JSONResponse(rpc.error(request_id, -32601, "no such capability"), status_code=404)
        result = {"capability": capability, "subject": principal.subject}
        if capability == "whoami":
            result = self._cached(principal, capability, context.get("tenant"))
        return self._answer(principal, admitted_by, capability, context, result, request_id)

    def _cached(self, principal: Principal, capability: str, tenant: str | None) -> dict[str, Any]:
        shared = "shared_cache" in self.state.weaknesses
        # UNSAFE when shared: the key leaves out who is asking.
        key = (capability, tenant or "") if shared else (capability, tenant or "", principal.subject or "")
        if key not in self.state.cache:
            self.state.cache[key] = {"subject": principal.subject, "note": f"private note of {principal.subject}"}
        answer = self.state.cache[key]
        if answer["subject"] != principal.subject:
            self.state.leaks.append((str(principal.subject), str(answer["subject"])))
        return answer

    def _answer(self, principal: Principal, admitted_by: str, capability: str, context: dict[str, Any],
                result: dict[str, Any], request_id: Any = "lab") -> Response:
        method = f"execute:{capability}"
        # The scope check itself is right: the hierarchy decides.
        if not self.hierarchy.satisfies(principal.scopes, {CAPABILITIES[capability]}):
            error = AuthError(Reason.INSUFFICIENT_SCOPE, f"needs {CAPABILITIES[capability]}")
            self.audit.record(AuditEvent.deny(
                error, **context, method=method, status=403, subject=principal.subject,
                fingerprint=principal.fingerprint, scopes=tuple(sorted(principal.scopes))))
            return JSONResponse({"error": "forbidden"}, status_code=403, headers={
                "WWW-Authenticate": f'{_CHALLENGE}, error="insufficient_scope", scope="{CAPABILITIES[capability]}"'})
        notes = [admitted_by] if admitted_by else []
        if capability == "whoami":
            owner = result.get("subject", principal.subject)
            if owner != principal.subject:
                notes.append(f"weakness shared_cache: served the answer cached for {_shown(str(owner))}")
            else:
                notes.append("tried: shared_cache" if "shared_cache" in self.state.weaknesses else "tried: none")
        self.audit.record(AuditEvent.allow(principal, **context, method=method, status=200, detail="; ".join(notes)))
        return JSONResponse(rpc.result(request_id, result))

    def _deny(self, error: AuthError, context: dict[str, Any], *, method: str) -> Response:
        self.audit.record(AuditEvent.deny(error, **context, method=method, status=401))
        challenge = _CHALLENGE if error.reason is Reason.MISSING_TOKEN else f'{_CHALLENGE}, error="invalid_token"'
        return JSONResponse({"error": "unauthorized"}, status_code=401, headers={"WWW-Authenticate": challenge})


def _bearer(request: Request) -> str | None:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _principal(claims: dict[str, Any], token: str) -> Principal | None:
    try:
        scopes = extract_scopes(claims, ("scope", "scp"))
    except AuthError:
        return None
    subject = claims.get("sub")
    return Principal(subject=subject if isinstance(subject, str) else None, scopes=scopes,
                     client_id=client_of(claims), fingerprint=fingerprint(token), strategy="vulnerable")


def _shown(text: str) -> str:
    """A request's own text as a detail shows it: percent-encoded (no space, colon or semicolon), at most 80."""
    return quote(text, safe="/._-~%@")[:80]


def _notes(event: AuditEvent, pattern: re.Pattern[str]) -> list[str]:
    return [found.group(1) for note in event.detail.split("; ") if (found := pattern.match(note))]


def admitted_by(event: AuditEvent) -> list[str]:
    """The weaknesses this vulnerable agent's ``event`` says admitted the request (none for a real admission)."""
    return _notes(event, _ADMITTED) if event.decision == "allow" else []


def raw_path(event: AuditEvent) -> str | None:
    """The path as received (dot segments unresolved, percent-encoded as ``_shown``) when ``event`` records one:
    the guard's and the router's readings differed."""
    return next(iter(_notes(event, _PATH)), None)


def tried(event: AuditEvent) -> frozenset[str] | None:
    """The weaknesses that could have let the request of ``event`` in and were switched on at the time (for a
    refusal: each had its chance and said no); ``None`` when the event does not say."""
    found = _notes(event, _TRIED)
    return frozenset(found[0].split(",")) - {"none"} if found else None


def weakness_names(chosen: Iterable[str] | bool) -> set[str]:
    """The weaknesses to switch on: ``True`` for all. Raises ``ValueError`` naming an unknown one."""
    from .weaknesses import WEAKNESSES

    names = set(WEAKNESSES) if chosen is True else set() if chosen is False else set(chosen)
    unknown = sorted(names - set(WEAKNESSES))
    if unknown:
        raise ValueError(f"unknown weakness {', '.join(unknown)}; choose from {', '.join(WEAKNESSES)}")
    return names
