"""``create_app(config)``: the sample agent, every route behind ``labkit.guard.OAuth2Guard`` (deny by default).

Endpoints: ``POST /`` (A2A JSON-RPC through the a2a-sdk, v1.0 and v0.3 names, plus the seed's
``capabilities`` and ``execute``), ``/mcp`` (MCP Streamable HTTP through the mcp SDK: real sessions for
SDK clients, sessionless JSON for a bare curl), the agent card, RFC 9728 metadata, the agent's JWKS
(public), and a loopback stub service that ``external_api.write_operation`` calls (public, with its own
key). ``Mount("/t/{tenant}", ...)`` serves each tenant: Starlette routes, and the guard judges the route
Starlette will run (``labkit.guard.routing``). About 400 lines on purpose: the whole wiring of one agent (routes,
SDK handlers, guard, state) in one place a reader can follow; policy, plugins, quotas, cards and MCP live beside it.
"""

from __future__ import annotations

import contextlib
import hmac
import secrets
import tempfile
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import httpx
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.request_handlers.response_helpers import agent_card_to_dict
from a2a.server.routes.jsonrpc_dispatcher import JsonRpcDispatcher
from a2a.server.tasks import InMemoryPushNotificationConfigStore, InMemoryTaskStore
from a2a.types import AgentCard
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import Message, Receive, Scope, Send

from labkit import rpc
from labkit.a2a.push import AgentSigner, PushPolicy, SignedPushSender, load_signing_key
from labkit.audit import AuditLog
from labkit.auth import Principal
from labkit.config import ConfigError, OAuth2Config, SecurityConfig, load_config
from labkit.guard import (
    Endpoint,
    GuardContext,
    OAuth2Guard,
    Requirement,
    bearer_token,
    principal_key,
)
from labkit.guard.build import gate_for
from labkit.guard.jsonrpc import parse_json
from labkit.hosts import HostCheck
from labkit.middleware import CapabilityMiddleware
from labkit.state import SharedState, StateUnavailableError

from .cards import build_card, protected_resource_metadata, scopes_supported
from .executor import EchoExecutor
from .mcp_server import build_mcp
from .params import invalid_params
from .plugins import CAPABILITIES, CallContext, CapabilityError, endpoint_policy
from .policy import LabUser
from .quotas import MAX_PUSH_CONFIGS, MAX_TASKS, CappedPushConfigStore, CountingTaskStore

__all__ = ["STUB_KEY_HEADER", "Agent", "AgentApp", "create_app", "default_config_path"]

STUB_KEY_HEADER = "x-lab-stub-key"
_CREATES_TASK = ("SendMessage", "message/send", "SendStreamingMessage", "message/stream")


def default_config_path() -> Path:
    """``sample_agent/agentup.yml``: the lab's default configuration (points at the lab provider)."""
    return Path(__file__).with_name("agentup.yml")


def _issuer_of(oauth2: OAuth2Config) -> str:
    """The authorization server the card and metadata advertise."""
    if oauth2.issuers:
        return oauth2.issuers[0].rstrip("/")
    for url, suffix in ((oauth2.jwks_url, "/jwks"), (oauth2.introspection_endpoint, "/introspect")):
        if url:
            return url.removesuffix(suffix).rstrip("/")
    return "http://127.0.0.1"


def _signing_keys(cfg: SecurityConfig) -> tuple[Any, ...]:
    """``(key, previous)`` from ``state.push_signing_key`` (one key for every replica), or ``()``: a fresh key.

    Raises ``ConfigError`` naming the setting when a file is not a usable key.
    """
    state = cfg.state
    if state.push_signing_key is None:
        return ()
    try:
        key = load_signing_key(state.push_signing_key)
        previous = tuple(load_signing_key(p, private=False) for p in state.push_previous_keys)
    except ValueError as exc:
        raise ConfigError([("state.push_signing_key", str(exc))]) from None
    return key, previous


class Agent:
    """The sample agent's state: config, policy, validators, middleware, audit, A2A and MCP servers."""

    def __init__(
        self,
        cfg: SecurityConfig,
        *,
        public_url: str = "http://127.0.0.1:8000",
        clock: Callable[[], float] | None = None,
        audit: AuditLog | None = None,
        http: httpx.AsyncClient | None = None,
        sandbox: Path | None = None,
        max_tasks: int = MAX_TASKS,
        max_push_configs: int = MAX_PUSH_CONFIGS,
        max_sessions: int = 16,
    ) -> None:
        signing_keys = _signing_keys(cfg)  # a bad key file is a ConfigError before anything is allocated
        self.cfg = cfg
        self.public_url = public_url.rstrip("/")
        self.clock = clock or time.time
        self.audit = audit if audit is not None else AuditLog(cfg.audit.capacity, cfg.audit.path)
        self._tmp = None if sandbox else tempfile.TemporaryDirectory(prefix="labkit-sandbox-")
        self.sandbox = sandbox or Path(self._tmp.name if self._tmp else ".")
        self.policy, self.plugins = endpoint_policy(cfg)
        # An injected clock drives the rate limiter too: a frozen lab clock makes budgets exact.
        # state: in memory by default; Redis and a SQL database when the agent runs as replicas (``state:``)
        self.state = SharedState(cfg.state, clock=self.clock)
        self.middleware = CapabilityMiddleware(cfg, self.plugins.values(), clock=self.clock,
                                               monotonic=clock or time.monotonic, state=self.state)
        # When an audience is configured, the resources this agent advertises (RFC 9728) are accepted too.
        # DPoP proofs' jti values are spent in Redis when replicas share state (RFC 9449 §11.1 on every replica)
        self.gate = gate_for(cfg, resources=self.resources, clock=clock, http=http, admit=self._admit,
                             replay=self.state.replay if self.state.shared else None,
                             plugins=self.plugins, shared=self.state.verdicts)
        self.tenants = self.gate.tenants
        self.records: deque[Any] = deque(maxlen=1000)
        self.stub_key = secrets.token_urlsafe(32)  # the stub service is public to the guard, private to us
        self.outgoing_hooks: dict[str, list[Any]] = {}  # httpx event hooks for delegated calls (flow traces)
        self.signer = AgentSigner(self.public_url, self.clock, *signing_keys)
        self.push_policy = PushPolicy(cfg.push)
        sql = self.state.sql
        push_store = CappedPushConfigStore(sql.push_configs if sql else InMemoryPushNotificationConfigStore(),
                                           max_push_configs, self.state.quota)
        self.push = SignedPushSender(push_store, self.push_policy, self.signer, config=cfg.push)
        self.tasks = CountingTaskStore(sql.tasks if sql else InMemoryTaskStore(), max_tasks, self.state.quota)
        card = self.card(None, extended=False)
        self.handler = DefaultRequestHandler(
            agent_executor=EchoExecutor(self),
            task_store=self.tasks,
            agent_card=card,
            extended_agent_card=self.card(None, extended=True),
            push_config_store=push_store,
            push_sender=self.push,
            push_url_validator=self.push_policy.allows,
        )
        self.dispatcher = JsonRpcDispatcher(request_handler=self.handler, enable_v0_3_compat=True)
        self.mcp = build_mcp(self, max_sessions=max_sessions, stateless=cfg.state.stateless_mcp, quota=self.state.quota)

    def _admit(self, principal: Principal, requirement: Requirement) -> Awaitable[float | None] | None:
        """The plugin's rate limit for a capability call: None (admitted) at once when no limit applies, else the
        limiter's answer to await (shared by replicas with Redis)."""
        if requirement.capability is None:
            return None  # not a capability call: no plugin's limit applies (for_capability is a lookup)
        live = self.middleware.for_capability(requirement.plugin, requirement.capability)
        if live is None or live.limiter is None:
            return None
        return live.limiter.acquire(principal_key(principal))

    # -- facts per tenant ---------------------------------------------------------------------
    def oauth2(self, tenant: str | None) -> OAuth2Config:
        return self.cfg.tenants[tenant].oauth2 if tenant else self.cfg.oauth2

    def base_url(self, tenant: str | None) -> str:
        return f"{self.public_url}/t/{tenant}" if tenant else self.public_url

    def resources(self, tenant: str | None) -> list[str]:
        """The RFC 9728 resources advertised for ``tenant`` (``/`` and ``/mcp``, with and without the slash)."""
        base = self.base_url(tenant)
        return [base, base + "/", base + "/mcp"]

    def metadata_url(self, tenant: str | None, suffix: str = "") -> str:
        """The RFC 9728 metadata URL of ``/`` (suffix "") or ``/mcp`` (suffix "/mcp")."""
        return f"{self.base_url(tenant)}/.well-known/oauth-protected-resource{suffix}"

    def scopes(self, tenant: str | None) -> list[str]:
        return scopes_supported(self.policy, self.tenants[tenant].hierarchy.scopes())

    def card(self, tenant: str | None, *, extended: bool) -> AgentCard:
        return build_card(
            url=self.base_url(tenant),
            issuer=_issuer_of(self.oauth2(tenant)),
            policy=self.policy,
            scopes=self.scopes(tenant),
            extended=extended,
        )

    def stats(self) -> dict[str, Any]:
        return {"audit_events": self.audit.total, "records": len(self.records), "plugins": sorted(self.plugins)}

    # -- capabilities -------------------------------------------------------------------------
    async def run_capability(
        self, capability_id: str, arguments: dict[str, Any], user: LabUser, context: GuardContext,
        headers: Iterable[tuple[bytes, bytes]] = (),
    ) -> Any:
        """Run a capability for ``user`` through its plugin's middleware; raises ``CapabilityError``.

        ``headers``: the request's; a plugin that delegates (``delegation.downstream``) exchanges its bearer token.
        """
        if capability_id not in self.policy.capabilities:  # turned off by the configuration
            raise CapabilityError("unknown capability")
        definition = CAPABILITIES[capability_id]
        plugin = self.plugins.get(definition.plugin_id)
        downstream = plugin.delegation.downstream if plugin is not None and plugin.delegation else None
        token = bearer_token(v for k, v in headers if k == b"authorization") if downstream is not None else None
        call_context = CallContext(
            user_key=user.key,
            subject=user.principal.subject,
            tenant=context.tenant,
            sandbox=self.sandbox,
            base_url=self.public_url,
            clock=self.clock,
            stats=self.stats,
            stub_key=self.stub_key,
            actors=user.principal.actors,
            token=token,
            downstream=downstream,
            hooks=self.outgoing_hooks,
        )
        return await self.middleware.run(
            definition.plugin_id,
            capability_id,
            tenant=context.tenant,
            principal=user.key,
            arguments=arguments,
            call=lambda: definition.run(call_context, arguments),
            timings=context.timings,
        )

    # -- endpoints ----------------------------------------------------------------------------
    async def rpc(self, request: Request) -> Response:
        """``POST /``: the seed's ``capabilities`` and ``execute``; everything else to the a2a-sdk.

        The guard has parsed the body strictly (``GuardContext.rpc``) and judged that call; it is used here.
        """
        context: GuardContext = request.scope["labkit"]
        call = context.rpc
        if call is None:  # the guard parses every POST to this route; nothing else reaches it
            return JSONResponse(rpc.error(None, -32600, "Invalid Request"), 400)
        user: LabUser = request.user
        problem = invalid_params(call.method or "", call.params)  # A2A v1.0 §9.5: what the SDK would drop
        if problem is not None:
            return JSONResponse(rpc.error(call.id, -32602, problem))
        if call.method in _CREATES_TASK:
            # Per-principal task cap: the slot is taken before the SDK runs and kept until the answer is sent.
            try:
                slot = await self.tasks.reserve(user.key)
            except StateUnavailableError:  # Redis down: say so (503), never "quota reached"
                return JSONResponse(rpc.error(call.id, -32603, "state unavailable; try again shortly"), 503,
                                    headers={"Retry-After": "1"})
            if slot is None:
                message = f"task quota reached ({self.tasks.cap} per principal)"
                return JSONResponse(rpc.error(call.id, -32600, message))
            try:
                answer = await self.dispatcher.handle_requests(request)
            except BaseException:
                await self.tasks.release(user.key, slot)
                raise
            return _ThenRelease(answer, lambda: self.tasks.release(user.key, slot))
        if call.method not in ("capabilities", "execute"):
            return await self.dispatcher.handle_requests(request)
        if call.method == "capabilities":
            allowed = self.policy.allowed(user.effective)
            result = {
                "capabilities": [
                    {"capability": c.capability_id, "plugin": c.plugin_id, "scopes": list(c.scopes)}
                    for c in sorted(allowed, key=lambda c: c.capability_id)
                ],
                "granted_scopes": sorted(user.principal.scopes),
                "effective_scopes": sorted(user.effective) + (["*"] if user.effective.wildcard else []),
            }
            return JSONResponse(rpc.result(call.id, result))
        params = call.params if isinstance(call.params, dict) else {}
        capability = params.get("capability")
        if not isinstance(capability, str) or capability not in self.policy.capabilities:
            return JSONResponse(rpc.error(call.id, -32602, "unknown capability"))
        given = params.get("arguments")
        arguments: dict[str, Any] = given if isinstance(given, dict) else {}
        try:
            output = await self.run_capability(capability, arguments, user, context, request.scope["headers"])
        except CapabilityError as exc:
            return JSONResponse(rpc.error(call.id, -32602, str(exc)))
        result = {"capability": capability, "plugin": CAPABILITIES[capability].plugin_id, "result": output}
        return JSONResponse(rpc.result(call.id, result))

    async def agent_card(self, request: Request) -> Response:
        tenant = request.path_params.get("tenant")
        return JSONResponse(agent_card_to_dict(self.card(tenant, extended=False)))

    async def resource_metadata(self, request: Request) -> Response:
        return self._metadata(request.path_params.get("tenant"), "/")

    async def resource_metadata_mcp(self, request: Request) -> Response:
        return self._metadata(request.path_params.get("tenant"), "/mcp")

    def resource_metadata_at(self, suffix: str) -> Callable[[Request], Awaitable[Response]]:
        """RFC 9728 §3.1: the metadata of ``base_url(tenant) + suffix``, served at the host's well-known path."""
        async def endpoint(request: Request) -> Response:
            return self._metadata(request.path_params.get("tenant"), suffix)

        return endpoint

    def _metadata(self, tenant: str | None, suffix: str) -> Response:
        resource = self.base_url(tenant) + suffix
        return JSONResponse(
            protected_resource_metadata(
                resource=resource,
                issuer=_issuer_of(self.oauth2(tenant)),
                scopes=self.scopes(tenant),
            )
        )

    async def jwks(self, request: Request) -> Response:
        """The agent's own public keys (push notification signatures)."""
        return JSONResponse(self.signer.jwks())

    async def stub_records(self, request: Request) -> Response:
        """The simulated external API: public to the guard, so it checks its own key (only the agent has it)."""
        key = request.headers.get(STUB_KEY_HEADER, "")
        if not hmac.compare_digest(key.encode("utf-8", "surrogateescape"), self.stub_key.encode()):
            return JSONResponse({"error": "Unauthorized"}, 401)
        try:
            record = parse_json(await request.body())
        except ValueError:
            return JSONResponse({"error": "invalid JSON"}, 400)
        self.records.append(record)  # a bounded ring
        return JSONResponse({"id": len(self.records), "stored": True}, 201)

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        await self.state.start()
        async with self.mcp.run():
            try:
                yield
            finally:
                await self.push.aclose()
                await self.gate.aclose()
                await self.state.aclose()
                if self._tmp is not None:
                    self._tmp.cleanup()

    # -- routes and the guard -----------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        """The agent's routes, the same under ``/`` and ``/t/{tenant}/``; the stub only at the root."""
        per_tenant: list[BaseRoute] = [
            Route("/", self.rpc, methods=["POST"], name="a2a"),
            Route("/mcp", self.mcp.endpoint, methods=["GET", "POST", "DELETE"], name="mcp"),
            Route("/.well-known/agent-card.json", self.agent_card, methods=["GET"], name="agent_card"),
            Route("/.well-known/agent.json", self.agent_card, methods=["GET"], name="agent_card_v03"),
            Route("/.well-known/oauth-protected-resource", self.resource_metadata, methods=["GET"],
                  name="resource_metadata"),
            Route("/.well-known/oauth-protected-resource/mcp", self.resource_metadata_mcp, methods=["GET"],
                  name="resource_metadata_mcp"),
            Route("/.well-known/jwks.json", self.jwks, methods=["GET"], name="jwks"),
        ]
        stub = Route("/stub/external-api/records", self.stub_records, methods=["POST"], name="stub")
        # RFC 9728 §3.1: the well-known suffix goes between the host and the resource's path (the routes above
        # under /t/{tenant}/ stay for clients that learnt them from WWW-Authenticate)
        well_known = "/.well-known/oauth-protected-resource"
        inserted = [Route(well_known + path, self.resource_metadata_at(suffix), methods=["GET"], name=name)
                    for path, suffix, name in (("/", "/", "resource_metadata"),
                                               ("/t/{tenant}", "", "resource_metadata"),
                                               ("/t/{tenant}/", "/", "resource_metadata"),
                                               ("/t/{tenant}/mcp", "/mcp", "resource_metadata_mcp"))]
        return [*per_tenant, stub, *inserted, Mount("/t/{tenant}", routes=per_tenant)]

    def endpoints(self) -> dict[str, Endpoint]:
        """How the guard judges each route; routes not named here need a valid token (deny by default)."""
        public = {name: Endpoint(label=name, public=True) for name in
                  ("agent_card", "agent_card_v03", "resource_metadata", "resource_metadata_mcp", "jwks", "stub")}
        return {
            **public,
            "a2a": Endpoint(label="/", rpc=self.policy.a2a_call, requirement=Requirement(label="/"),
                            metadata=self.metadata_url, malformed_status=200),  # the a2a-sdk answers in-band
            "mcp": Endpoint(label="/mcp", rpc=self.policy.mcp_call, requirement=Requirement(label="/mcp"),
                            metadata=lambda tenant: self.metadata_url(tenant, "/mcp")),
        }


class _ThenRelease(Response):
    """A response that runs ``done`` once, when it starts (the SDK has stored the task by then) or fails."""

    def __init__(self, inner: Response, done: Callable[[], Awaitable[None]]) -> None:
        self.inner = inner
        self.done = done
        self.released = False

    async def _release(self) -> None:
        if not self.released:
            self.released = True
            await self.done()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                await self._release()
            await send(message)

        try:
            await self.inner(scope, receive, sending)
        finally:
            await self._release()


class AgentApp:
    """The sample agent as an ASGI app: the guard in front of the Starlette app; ``agent`` is its state."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.starlette = Starlette(routes=agent.routes(), lifespan=agent.lifespan)
        self.guard = OAuth2Guard(self.starlette, gate=agent.gate, routes=self.starlette.routes,
                                 endpoints=agent.endpoints(), audit=agent.audit, user_factory=LabUser,
                                 public_url=agent.public_url)
        self.front = HostCheck(self.guard, urls=lambda: (agent.public_url,), name="agent")  # DNS rebinding

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.front(scope, receive, send)


def create_app(
    config: SecurityConfig | str | Path | None = None,
    *,
    public_url: str = "http://127.0.0.1:8000",
    clock: Callable[[], float] | None = None,
    audit: AuditLog | None = None,
    http: httpx.AsyncClient | None = None,
    sandbox: Path | None = None,
    **limits: int,
) -> AgentApp:
    """The sample agent as an ASGI app, protected by the guard. ``config``: a SecurityConfig or a YAML path.

    ``limits``: ``max_tasks``, ``max_push_configs``, ``max_sessions`` per principal. Raises ``ConfigError``
    for an invalid configuration file.
    """
    cfg = config if isinstance(config, SecurityConfig) else load_config(config or default_config_path())
    return AgentApp(Agent(cfg, public_url=public_url, clock=clock, audit=audit, http=http, sandbox=sandbox, **limits))
