"""The ASGI guard: deny by default, judged on the route the app will run, one audited ``Decision`` per request.

Each request takes four steps: **authenticate** (the bearer token, before any body is read: unauthenticated
requests cost O(1)), **authorize** (the route's requirement; for JSON-RPC routes, from the one strict parse
of the bounded body, which the app then reuses), **admit** (rate limits), **respond** (pass on, or answer
with the RFC 6750 table). The route comes from the app's own router (``routing.resolve``) on the scope the
app receives, so the guard and the router cannot disagree about the path. Routes the app declares public
pass; every other route, known or not, any method, needs a valid token.

Refusals say only Unauthorized / Forbidden / Too Many Requests (inside a JSON-RPC envelope on JSON-RPC
routes); the audit event says why.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from starlette.authentication import AuthCredentials, BaseUser
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..audit import AuditLog
from ..auth import Principal
from ..errors import AuthError, Reason
from ..scopes import EffectiveScopes
from ..tracing import trace_id
from .decision import Decision, GuardUser
from .dpop import Presentation, presented
from .gate import Gate
from .jsonrpc import MAX_BODY, BodyError, RpcCall, content_length, error_envelope, parse_call, read_body, replay
from .policy import Endpoint, Requirement
from .rfc6750 import credentials
from .routing import resolve

__all__ = ["GuardContext", "OAuth2Guard", "UserFactory"]

UserFactory = Callable[[Principal, EffectiveScopes], BaseUser]
_MESSAGES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 413: "Payload Too Large",
             429: "Too Many Requests"}
_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:\-]{1,64}")
_ANY_TOKEN = Requirement()  # immutable: one shared instance


class _Headers:
    """What the guard reads from the request headers, in one pass: ``Authorization`` values, whether a ``DPoP``
    header came, the ``Content-Length`` headers and the ``X-Request-ID`` values."""

    __slots__ = ("authorization", "dpop", "lengths", "request_ids")

    def __init__(self, headers: Sequence[tuple[bytes, bytes]]) -> None:
        self.authorization: list[bytes] = []
        self.lengths: list[tuple[bytes, bytes]] = []
        self.request_ids: list[bytes] = []
        self.dpop = False
        for key, value in headers:
            if key == b"authorization":
                self.authorization.append(value)
            elif key == b"content-length":
                self.lengths.append((key, value))
            elif key == b"dpop":
                self.dpop = True
            elif len(key) == 12 and key.lower() == b"x-request-id":
                self.request_ids.append(value)

    def presented(self, scope: Scope, public_url: str | None) -> tuple[str | None, Presentation | None]:
        """``dpop.presented``'s token, and its presentation unless it is Bearer without a proof (None then: what
        ``Gate.authenticate`` takes None to mean), which saves building the URL a proof would name."""
        found = credentials(self.authorization)
        if self.dpop or (found is not None and found[0] != "bearer"):
            return presented(scope, public_url)  # RFC 9449: the proof names the method and URL
        return (found[1] if found is not None else None), None

    def request_id(self) -> str | None:
        """The caller's ``X-Request-ID`` for the audit event (correlation only), or None when absent or malformed.

        Exactly one header of 1-64 characters from ``[A-Za-z0-9._:-]``; anything else is not recorded.
        """
        values = self.request_ids
        return values[0].decode("ascii") if len(values) == 1 and _REQUEST_ID.fullmatch(values[0]) else None


class GuardContext:
    """Per-request facts the guard shares with the app (``scope["labkit"]``).

    A slotted class (one is made per request): ``tenant``, ``route``, ``principal``, ``requirement``,
    ``timings`` (the app's per-step timings, noted in the audit event) and ``rpc`` (the parsed JSON-RPC message:
    the app reuses it instead of parsing again).
    """

    __slots__ = ("principal", "requirement", "route", "rpc", "tenant", "timings")

    def __init__(self, tenant: str | None, route: str | None = None, principal: Principal | None = None,
                 requirement: Requirement = _ANY_TOKEN, timings: dict[str, float] | None = None,
                 rpc: RpcCall | None = None) -> None:
        self.tenant = tenant
        self.route = route
        self.principal = principal
        self.requirement = requirement
        self.timings: dict[str, float] = {} if timings is None else timings
        self.rpc = rpc

    @property
    def rpc_method(self) -> str | None:
        """The JSON-RPC method of the call, if any."""
        return self.rpc.method if self.rpc else None

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in
                           ("tenant", "route", "principal", "requirement", "timings", "rpc"))
        return f"GuardContext({fields})"


class OAuth2Guard:
    """ASGI middleware: every route needs a valid token unless ``endpoints`` declares it public.

    ``routes``: the app's routes (``app.routes``), used to find the route a request reaches exactly as the
    router will; ``endpoints``: how each named route is judged; ``tenant_param``: the path parameter that
    names the tenant (``Mount("/t/{tenant}", ...)``); ``public_url``: the app's public origin
    (``https://agent.example``), against which DPoP proofs' ``htu`` is checked (``labkit.guard.dpop.request_url``:
    default the scheme and the server address of the ASGI scope, never the Host header); ``realm``: the RFC 6750
    §3 ``realm`` of the challenges (None: none is sent).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        gate: Gate,
        routes: Sequence[BaseRoute],
        endpoints: Mapping[str, Endpoint],
        audit: AuditLog,
        realm: str | None = None,
        tenant_param: str = "tenant",
        user_factory: UserFactory = GuardUser,
        max_body: int = MAX_BODY,
        public_url: str | None = None,
    ) -> None:
        self.app = app
        self.gate = gate
        self.routes = routes
        self.endpoints = dict(endpoints)
        self.audit = audit
        self.realm = realm
        self.tenant_param = tenant_param
        self.user_factory = user_factory
        self.max_body = max_body
        self.public_url = public_url.rstrip("/") if public_url else None
        self._undeclared: dict[str, Endpoint] = {}  # the deny-by-default endpoint of each undeclared route name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self.app(scope, receive, send)
            return
        if kind != "http" and kind != "websocket":
            return  # deny by default: an interface the guard does not know never reaches the app
        resolved = resolve(self.routes, scope)  # the route the app will run, as it stands now
        if resolved is None:
            endpoint, tenant, route = self._endpoint(None), None, None
        else:
            route = resolved.name
            endpoint = self._endpoint(route)
            tenant = resolved.path_params.get(self.tenant_param)
            if tenant is not None:
                tenant = str(tenant)
        context = GuardContext(tenant, route)
        scope = {**scope, "labkit": context}
        if endpoint.public and (tenant is None or tenant in self.gate.tenants):
            await self.app(scope, receive, send)
            return
        await _Request(self, scope, receive, send, endpoint, context).run()

    def _endpoint(self, name: str | None) -> Endpoint:
        found = self.endpoints.get(name) if name else None
        if found is not None:
            return found
        # Deny by default: unknown paths and undeclared routes need a valid token and nothing more.
        label = name or "unknown route"
        undeclared = self._undeclared.get(label)  # one per route name of the app's tree: bounded
        if undeclared is None:
            undeclared = self._undeclared[label] = Endpoint(label=label)
        return undeclared


@functools.lru_cache(maxsize=256)
def _sorted_scopes(effective: frozenset[str]) -> tuple[str, ...]:
    """``tuple(sorted(effective))``: a handful of grants repeat, so the few answers are kept (bounded, by value)."""
    return tuple(sorted(effective))


class _Request:
    """One guarded request: authenticate, authorize, admit, respond; for an allowed request it is also the ``send``
    the app gets (it notes the status and audits once, before the last byte)."""

    __slots__ = (
        "context",
        "decision",
        "endpoint",
        "guard",
        "headers",
        "latency",
        "receive",
        "recorded",
        "rpc_code",
        "rpc_id",
        "scope",
        "send",
        "status",
    )

    def __init__(self, guard: OAuth2Guard, scope: Scope, receive: Receive, send: Send, endpoint: Endpoint,
                 context: GuardContext) -> None:
        self.guard, self.scope, self.receive, self.send = guard, scope, receive, send
        self.endpoint = endpoint
        self.context = context
        self.latency: float | None = None  # ms to the allowed decision (the app's time is not the guard's)
        self.rpc_code: int | None = None
        self.rpc_id: str | int | None = None  # a malformed body's id, when it could be read
        self.headers = _Headers(scope.get("headers") or ())
        self.decision: Decision | None = None  # the allowed decision, once the app runs
        self.status: int | None = None
        self.recorded = False

    async def run(self) -> None:
        guard, scope, context, endpoint = self.guard, self.scope, self.context, self.endpoint
        gate = guard.gate
        token, presentation = self.headers.presented(scope, guard.public_url)
        if context.tenant is not None and context.tenant not in gate.tenants:
            decision = Decision(Requirement(), context.tenant, error=AuthError(Reason.TENANT, "unknown tenant"),
                                started=time.perf_counter())
            await self.respond(decision)
            return
        found = await gate.authenticate(token, context.tenant, presentation=presentation)
        if found.error is not None:
            await self.respond(found)  # before the body is read: unauthenticated requests cost O(1)
            return
        body = b""
        requirement = endpoint.requirement
        receive = self.receive
        if endpoint.rpc is not None and scope["type"] == "http" and scope["method"] == "POST":
            try:
                declared = content_length(self.headers.lengths)
                if declared is not None and (declared < 0 or declared > guard.max_body):
                    raise BodyError(-32092 if declared > 0 else -32600, "Content-Length over the cap or malformed")
                body = await read_body(receive, guard.max_body)
                context.rpc = call = parse_call(body)
            except BodyError as error:
                self.rpc_code, self.rpc_id = error.code, error.rpc_id
                reason = Reason.SIZE if error.code == -32092 else Reason.INVALID_REQUEST
                await self.respond(found.refuse(AuthError(reason, str(error))))
                return
            requirement = endpoint.rpc(call, found.tenant)
            receive = replay(body, receive)  # the app reads the very bytes the guard judged
        context.requirement = requirement
        decision = await gate.decide(token, requirement, found.tenant, authenticated=found)
        if decision.error is not None:
            await self.respond(decision)
            return
        # allowed: the app runs with the user set; the request is its send, and audits when it answers
        principal, effective = decision.principal, decision.effective
        assert principal is not None and effective is not None  # noqa: S101 - allowed
        self.decision = decision
        self.latency = decision.latency_ms()
        context.principal = principal
        scope["user"] = guard.user_factory(principal, effective)
        scope["auth"] = AuthCredentials(_sorted_scopes(effective))
        try:
            await guard.app(scope, receive, self.answer)
        finally:
            self.record()  # the app failed or sent nothing: the decision is still logged

    def event(self, decision: Decision, status: int | None) -> dict[str, Any]:
        """The audit event's request part: endpoint, method, plugin, tenant, status, latency, request id."""
        requirement = decision.requirement
        rpc = self.context.rpc
        return {
            "endpoint": self.endpoint.label,
            "method": requirement.label or (rpc.method if rpc else None) or self.scope.get("method", "WEBSOCKET"),
            "plugin": requirement.plugin,
            "tenant": decision.tenant,
            "status": status,
            "latency_ms": self.latency if self.latency is not None else decision.latency_ms(),
            # the active trace joins the event to its spans; else the caller's X-Request-ID
            "request_id": trace_id() or self.headers.request_id(),
        }

    async def respond(self, decision: Decision) -> None:
        """Answer a refusal from the table and audit it."""
        assert decision.error is not None  # noqa: S101 - only refusals come here
        status = decision.status
        metadata = self.endpoint.metadata(decision.tenant) if self.endpoint.metadata else None
        headers = decision.headers(self.guard.realm, metadata)
        if self.rpc_code in (-32600, -32700) and self.endpoint.malformed_status != status:
            # a malformed body from a valid token: answered as the SDK behind the route would (same status)
            status = self.endpoint.malformed_status
            headers.pop("WWW-Authenticate", None)  # not an RFC 6750 refusal: the token was valid
        self.guard.audit.record(decision.audit_event(**self.event(decision, status)))
        if self.scope["type"] == "websocket":
            await self.send({"type": "websocket.close", "code": 1008})  # RFC 6455 §7.4.1: policy violation
            return
        if self.endpoint.rpc is not None:
            rpc_id = self.context.rpc.id if self.context.rpc else self.rpc_id
            body = error_envelope(rpc_id, status)
            if self.rpc_code is not None:
                body["error"]["code"] = self.rpc_code
                if self.rpc_code == -32700:
                    body["error"]["message"] = "Parse error"
        else:
            body = {"error": _MESSAGES.get(status, "Unauthorized")}
        await JSONResponse(body, status, headers=headers)(self.scope, self.receive, self.send)

    async def answer(self, message: Message) -> None:
        """The ``send`` of an allowed request: notes the status, audits once before the last byte leaves."""
        kind = message["type"]
        if kind == "http.response.start":
            self.status = message["status"]
        elif kind == "http.response.body" and not message.get("more_body", False):
            self.record()  # before the last byte leaves: a client that reads the log next finds its event
        await self.send(message)

    def record(self) -> None:
        """Audit the allowed decision, once."""
        if self.recorded:
            return
        self.recorded = True
        decision = self.decision
        assert decision is not None and decision.principal is not None  # noqa: S101 - an allowed decision
        timings = self.context.timings
        if not timings:
            # Decision.audit_event's allow event, built when the log is read (unless a sink needs it now)
            self.guard.audit.note_allow(decision.principal, self.event(decision, self.status))
            return
        allowed = decision.audit_event(**self.event(decision, self.status))
        joined = "; ".join(f"{k}={v:.3f}" for k, v in sorted(timings.items()))
        allowed = replace(allowed, detail="; ".join(filter(None, (allowed.detail, joined))))
        self.guard.audit.record(allowed)
