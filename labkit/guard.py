"""The Starlette guard: bearer tokens on every protected endpoint, scopes per method, tool and capability.

A plain ASGI middleware (not ``BaseHTTPMiddleware``): it reads the JSON-RPC body up to a cap, works out
what the call needs (``EndpointPolicy``), validates the token once, checks scopes after hierarchy
expansion, applies the plugin's rate limit, then hands the request on with the body replayed and
``request.user`` set. Every decision is one audit event. Responses follow RFC 6750 §3:

- no credentials: 401, ``WWW-Authenticate: Bearer realm="..."`` (no error code);
- bad token: 401, ``error="invalid_token"``; valid token without the scope: 403,
  ``error="insufficient_scope", scope="..."``; on ``/mcp`` both also carry ``resource_metadata``
  (RFC 9728 §5.1); rate limited: 429 with ``Retry-After``.

Bodies say only Unauthorized / Forbidden / Too Many Requests, inside a JSON-RPC error envelope.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from starlette.authentication import AuthCredentials
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .audit import AuditEvent, AuditLog
from .auth import Principal
from .auth._compact import b64url_decode, strict_json
from .auth.cache import TTLCache, token_key
from .errors import AuthError, Reason
from .middleware import CapabilityMiddleware
from .scopes import EffectiveScopes, ScopeHierarchy

__all__ = [
    "A2A_METHOD_SCOPES",
    "Capability",
    "EndpointPolicy",
    "GuardContext",
    "LabUser",
    "OAuth2Guard",
    "Requirement",
    "TenantAuth",
]

MAX_BODY = 1 << 20
_TENANT_PREFIX = re.compile(r"^/t/([a-z0-9][a-z0-9_-]{0,63})(/.*)?$")
_BEARER = re.compile(r"^[Bb][Ee][Aa][Rr][Ee][Rr] +([\x21-\x7e]+) *$")

# A2A methods (v1.0 and v0.3 names) and what they need. None: any valid token; "plugin:<id>": that plugin's scopes.
A2A_METHOD_SCOPES: dict[str, tuple[str, ...] | str | None] = {
    "SendMessage": "plugin:system_tools",
    "message/send": "plugin:system_tools",
    "SendStreamingMessage": "plugin:system_tools",
    "message/stream": "plugin:system_tools",
    "GetTask": ("api:read",),
    "tasks/get": ("api:read",),
    "ListTasks": ("api:read",),
    "tasks/list": ("api:read",),
    "CancelTask": ("api:write",),
    "tasks/cancel": ("api:write",),
    "SubscribeToTask": ("api:read",),
    "tasks/resubscribe": ("api:read",),
    "CreateTaskPushNotificationConfig": ("push:write",),
    "tasks/pushNotificationConfig/set": ("push:write",),
    "GetTaskPushNotificationConfig": ("push:read",),
    "tasks/pushNotificationConfig/get": ("push:read",),
    "ListTaskPushNotificationConfigs": ("push:read",),
    "tasks/pushNotificationConfig/list": ("push:read",),
    "DeleteTaskPushNotificationConfig": ("push:write",),
    "tasks/pushNotificationConfig/delete": ("push:write",),
    "GetExtendedAgentCard": None,
    "agent/getAuthenticatedExtendedCard": None,
    "capabilities": None,
}
_ERRORS = {
    401: (-32001, "Unauthorized"),
    403: (-32003, "Forbidden"),
    413: (-32600, "Payload Too Large"),
    429: (-32029, "Too Many Requests"),
}
MCP_OPEN_METHODS = ("initialize", "ping", "tools/list", "notifications/initialized", "notifications/cancelled")


@dataclass(frozen=True)
class Capability:
    """A plugin capability and the scopes it needs (plugin scopes plus its own)."""

    capability_id: str
    plugin_id: str
    scopes: tuple[str, ...]
    fresh: bool = False  # oauth2_specific.introspection_required
    tool: str | None = None  # its MCP tool name


@dataclass(frozen=True)
class Requirement:
    """What one call needs."""

    scopes: tuple[str, ...] = ()
    label: str = ""
    plugin: str | None = None
    capability: str | None = None
    fresh: bool = False


@dataclass
class EndpointPolicy:
    """Maps A2A methods, MCP tools and capabilities to the scopes they need."""

    capabilities: dict[str, Capability]
    plugin_scopes: dict[str, tuple[str, ...]]
    method_scopes: Mapping[str, tuple[str, ...] | str | None] = field(default_factory=lambda: dict(A2A_METHOD_SCOPES))

    def __post_init__(self) -> None:
        self.tools = {c.tool: c for c in self.capabilities.values() if c.tool}

    def for_a2a(self, method: str | None, params: Any) -> Requirement:
        """The requirement of an A2A JSON-RPC call (unknown methods need only a valid token)."""
        if method == "execute":
            capability = params.get("capability") if isinstance(params, dict) else None
            found = self.capabilities.get(capability) if isinstance(capability, str) else None
            if found is None:
                return Requirement(label="execute")
            return self._of(found, f"execute:{found.capability_id}")
        need = self.method_scopes.get(method or "")
        if isinstance(need, str):
            plugin = need.removeprefix("plugin:")
            return Requirement(self.plugin_scopes.get(plugin, ()), str(method), plugin=plugin)
        return Requirement(need or (), str(method or ""))

    def for_mcp(self, method: str | None, params: Any) -> Requirement:
        """The requirement of an MCP call: ``tools/call`` needs the tool's capability scopes."""
        if method == "tools/call":
            name = params.get("name") if isinstance(params, dict) else None
            found = self.tools.get(name) if isinstance(name, str) else None
            if found is None:
                return Requirement(label="tools/call")
            return self._of(found, f"tools/call:{name}")
        return Requirement(label=str(method or ""))

    @staticmethod
    def _of(capability: Capability, label: str) -> Requirement:
        return Requirement(capability.scopes, label, capability.plugin_id, capability.capability_id, capability.fresh)

    def allowed(self, effective: EffectiveScopes) -> list[Capability]:
        """The capabilities a grant may use."""
        return [c for c in self.capabilities.values() if all(effective.covers(s) for s in c.scopes)]


@dataclass
class TenantAuth:
    """One tenant's validator and hierarchy (the default tenant has name None)."""

    name: str | None
    validator: Any  # a labkit.auth validator: ``await validate(token, fresh=...)``
    hierarchy: ScopeHierarchy
    issuers: tuple[str, ...] = ()


class LabUser(AuthenticatedUser):
    """The Starlette user of a guarded request: what A2A (owner) and MCP (session binding) see."""

    def __init__(self, principal: Principal, effective: EffectiveScopes) -> None:
        # Not AuthenticatedUser.__init__: the MCP access token is built only when MCP asks for it.
        self.username = principal.client_id or principal.identity
        self.principal = principal
        self.effective = effective
        self.key = f"{principal.tenant or '-'}|{principal.issuer or '-'}|{principal.identity}"

    @functools.cached_property
    def access_token(self) -> AccessToken:  # type: ignore[override]
        principal = self.principal
        return AccessToken(
            token=principal.fingerprint,  # the SDKs compare principals; they never need the token itself
            client_id=principal.client_id or principal.identity,
            scopes=sorted(self.effective),
            expires_at=int(principal.expires_at) if principal.expires_at else None,
            subject=principal.subject,
            claims={"iss": principal.issuer} if principal.issuer else None,
        )

    @functools.cached_property
    def scopes(self) -> list[str]:  # type: ignore[override]
        return sorted(self.effective)

    @property
    def display_name(self) -> str:
        return self.key


@dataclass
class GuardContext:
    """Per-request facts the guard shares with the app (``scope["labkit"]``)."""

    tenant: str | None
    principal: Principal | None = None
    requirement: Requirement = field(default_factory=Requirement)
    timings: dict[str, float] = field(default_factory=dict)
    rpc_method: str | None = None
    rpc: Any = None  # the parsed JSON-RPC body (the app may reuse it instead of parsing again)


class OAuth2Guard:
    """ASGI middleware protecting ``POST /`` (A2A) and ``/mcp`` (MCP), with ``/t/{tenant}/`` prefixes.

    Paths under ``/.well-known/`` and ``public_prefixes`` pass without a token.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        tenants: Mapping[str | None, TenantAuth],
        policy: EndpointPolicy,
        audit: AuditLog,
        middleware: CapabilityMiddleware | None = None,
        realm: str = "oauth2-lab",
        public_prefixes: tuple[str, ...] = ("/.well-known/", "/stub/"),
        max_body: int = MAX_BODY,
    ) -> None:
        self.app = app
        self.tenants = dict(tenants)
        self.policy = policy
        self.audit = audit
        self.middleware = middleware
        self.realm = realm
        self.public_prefixes = public_prefixes
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        tenant: str | None = None
        match = _TENANT_PREFIX.match(path)
        if match:
            tenant, rest = match.group(1), match.group(2) or "/"
            if tenant not in self.tenants:
                await JSONResponse({"error": "Not Found"}, 404)(scope, receive, send)
                return
            scope = {**scope, "path": rest, "root_path": scope.get("root_path", "") + f"/t/{tenant}"}
            path = rest
        context = GuardContext(tenant=tenant)
        scope = {**scope, "labkit": context}
        kind = "mcp" if path.rstrip("/") == "/mcp" else "a2a" if path == "/" else None
        if kind is None or path.startswith(self.public_prefixes) or (kind == "a2a" and scope["method"] != "POST"):
            await self.app(scope, receive, send)
            return
        await self._guard(kind, scope, receive, send, context)

    async def _guard(self, kind: str, scope: Scope, receive: Receive, send: Send, context: GuardContext) -> None:
        started = time.perf_counter()
        endpoint = "/mcp" if kind == "mcp" else "/"
        token = _bearer(scope)
        body, too_large = await _read_body(receive, self.max_body) if scope["method"] == "POST" else (b"", False)
        context.rpc = _loads(body)
        rpc_id, method, params = _parse_rpc(context.rpc)
        context.rpc_method = method
        requirement = (self.policy.for_mcp if kind == "mcp" else self.policy.for_a2a)(method, params)
        context.requirement = requirement
        event = {"endpoint": endpoint, "method": requirement.label or method or scope["method"],
                 "plugin": requirement.plugin, "tenant": context.tenant}

        async def deny(error: AuthError, status: int, extra_headers: dict[str, str] | None = None) -> None:
            headers = {"WWW-Authenticate": self._challenge(error, kind, scope, context.tenant), **(extra_headers or {})}
            if status == 429:
                headers.pop("WWW-Authenticate")
            code, message = _ERRORS[status]
            body_out = {"jsonrpc": "2.0", "id": rpc_id, "error": {"code": code, "message": message}}
            latency = (time.perf_counter() - started) * 1000
            self.audit.record(AuditEvent.deny(error, status=status, latency_ms=latency, **event, **_who(context)))
            await JSONResponse(body_out, status, headers=headers)(scope, receive, send)

        if too_large:
            await deny(AuthError(Reason.SIZE, f"request body over {self.max_body} bytes"), 413)
            return
        if token is None:
            await deny(AuthError(Reason.MISSING_TOKEN, "no Bearer credentials in Authorization"), 401)
            return
        tenant_auth = self._tenant_for(context.tenant, token)
        if tenant_auth is None:
            await deny(AuthError(Reason.TENANT, "the token's issuer belongs to no tenant here"), 401)
            return
        context.tenant = tenant_auth.name
        event["tenant"] = tenant_auth.name
        try:
            principal: Principal = await tenant_auth.validator.validate(token, fresh=requirement.fresh)
        except AuthError as error:
            status = 403 if error.reason is Reason.SCOPE else 401
            await deny(error, status)
            return
        context.principal = principal
        effective = tenant_auth.hierarchy.expand(principal.scopes)
        missing = [s for s in requirement.scopes if not effective.covers(s)]
        if missing:
            detail = f"{requirement.label} needs {' '.join(requirement.scopes)}; missing {' '.join(missing)}"
            await deny(AuthError(Reason.INSUFFICIENT_SCOPE, detail), 403)
            return
        live = self.middleware.for_plugin(requirement.plugin) if self.middleware else None
        if live is not None and live.limiter is not None and requirement.capability is not None:
            user_key = LabUser(principal, effective).key
            wait = live.limiter.acquire((user_key, requirement.plugin))
            if wait is not None:
                retry = str(max(1, int(wait + 0.999)))
                limited = AuthError(Reason.RATE_LIMITED, f"{requirement.plugin} rate limit")
                await deny(limited, 429, {"Retry-After": retry})
                return
        user = LabUser(principal, effective)
        scope["user"] = user
        scope["auth"] = AuthCredentials(sorted(effective))
        status_holder: dict[str, int] = {}
        recorded = False

        def record() -> None:
            nonlocal recorded
            if recorded:
                return
            recorded = True
            latency = (time.perf_counter() - started) * 1000
            allowed = AuditEvent.allow(principal, status=status_holder.get("status"), latency_ms=latency, **event)
            timings = "; ".join(f"{k}={v:.3f}" for k, v in sorted(context.timings.items()))
            if timings:
                allowed = replace(allowed, detail="; ".join(filter(None, (allowed.detail, timings))))
            self.audit.record(allowed)

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                record()  # before the last byte leaves: a client that reads the log next finds its event
            await send(message)

        try:
            await self.app(scope, _replay(body, receive), send_wrapper)
        finally:
            record()  # the app failed or sent nothing: the decision is still logged

    def _tenant_for(self, tenant: str | None, token: str) -> TenantAuth | None:
        if tenant is not None or len(self.tenants) == 1:
            return self.tenants.get(tenant)
        # Root endpoints with several tenants: pick the validator by the token's issuer, read unverified
        # only for this choice; that tenant's validator then checks everything, signature included.
        issuer = _unverified_issuer(token)
        for auth in self.tenants.values():
            if auth.name is not None and issuer is not None and issuer in auth.issuers:
                return auth
        return self.tenants.get(None)

    def _challenge(self, error: AuthError, kind: str, scope: Scope, tenant: str | None) -> str:
        parts = [f'Bearer realm="{self.realm}"']
        if error.reason is Reason.INSUFFICIENT_SCOPE or error.reason is Reason.SCOPE:
            needed = " ".join(_needed_scopes(scope)) or "*"
            parts.append('error="insufficient_scope"')
            parts.append(f'scope="{needed}"')
        elif error.reason is not Reason.MISSING_TOKEN:
            parts.append('error="invalid_token"')
        if kind == "mcp":
            parts.append(f'resource_metadata="{_resource_metadata_url(scope, tenant)}"')
        return ", ".join(parts)


def _who(context: GuardContext) -> dict[str, Any]:
    principal = context.principal
    if principal is None:
        return {}
    return {"subject": principal.subject, "client": principal.client_id, "scopes": tuple(sorted(principal.scopes)),
            "strategy": principal.strategy, "fingerprint": principal.fingerprint}


def _needed_scopes(scope: Scope) -> tuple[str, ...]:
    context: GuardContext = scope["labkit"]
    return context.requirement.scopes


def _resource_metadata_url(scope: Scope, tenant: str | None) -> str:
    host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "127.0.0.1")
    prefix = f"/t/{tenant}" if tenant else ""
    return f"{scope.get('scheme', 'http')}://{host}{prefix}/.well-known/oauth-protected-resource/mcp"


def _bearer(scope: Scope) -> str | None:
    """The token from ``Authorization: Bearer`` (scheme case-insensitive); never from the query string."""
    values = [v for k, v in scope["headers"] if k == b"authorization"]
    if len(values) != 1:
        return None
    try:
        header = values[0].decode("ascii")
    except UnicodeDecodeError:
        return None
    match = _BEARER.match(header)
    return match.group(1) if match else None


async def _read_body(receive: Receive, cap: int) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > cap:
            return b"", True
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks), False


_UNPARSED = object()


def _loads(body: bytes) -> Any:
    """The body as JSON, or ``_UNPARSED``."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return _UNPARSED


def _parse_rpc(data: Any) -> tuple[Any, str | None, Any]:
    """(id, method, params) of a JSON-RPC request; for a batch, the first element's (the SDKs refuse batches)."""
    if isinstance(data, list) and data:
        data = data[0]
    if isinstance(data, dict):
        rpc_id = data.get("id") if isinstance(data.get("id"), (str, int)) else None
        method = data.get("method") if isinstance(data.get("method"), str) else None
        return rpc_id, method, data.get("params")
    return None, None, None


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # later messages (disconnect) still reach streaming responses

    return replay


_ISSUERS: TTLCache[str | None] = TTLCache(4096, time.monotonic)


def _unverified_issuer(token: str) -> str | None:
    key = token_key(token)  # remembered by hash: repeated tokens skip the decoding
    cached = _ISSUERS.get(key)
    if cached is not None:
        return cached
    issuer: str | None = None
    with contextlib.suppress(ValueError, IndexError, AttributeError):
        payload = strict_json(b64url_decode(token.split(".")[1]))
        found = payload.get("iss")
        issuer = found if isinstance(found, str) else None
    if issuer is not None:
        _ISSUERS.put(key, issuer, time.monotonic() + 300)
    return issuer


