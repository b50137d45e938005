"""``create_app(config)``: the sample agent, every endpoint behind ``labkit.guard.OAuth2Guard``.

Endpoints: ``POST /`` (A2A JSON-RPC through the a2a-sdk, v1.0 and v0.3 names, plus the seed's
``capabilities`` and ``execute``), ``/mcp`` (MCP Streamable HTTP through the mcp SDK: real sessions for
SDK clients, sessionless JSON for a bare curl), the agent card, RFC 9728 metadata, and a loopback
stub service that ``external_api.write_operation`` calls. ``/t/{tenant}/...`` serves each tenant.
"""

from __future__ import annotations

import contextlib
import json
import logging
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.request_handlers.response_helpers import agent_card_to_dict
from a2a.server.routes.jsonrpc_dispatcher import JsonRpcDispatcher
from a2a.server.tasks import InMemoryPushNotificationConfigStore, InMemoryTaskStore
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from labkit.audit import AuditLog
from labkit.auth import build_validator
from labkit.config import OAuth2Config, SecurityConfig, load_config
from labkit.guard import Capability, EndpointPolicy, GuardContext, LabUser, OAuth2Guard, TenantAuth
from labkit.middleware import CapabilityMiddleware
from labkit.push import AgentSigner, PushPolicy, SignedPushSender

from .cards import build_card, protected_resource_metadata, scopes_supported
from .executor import EchoExecutor
from .mcp_server import build_mcp
from .plugins import CAPABILITIES, CallContext, CapabilityError, capability_scopes, merge_plugins

__all__ = ["Agent", "create_app", "default_config_path"]

for _name in ("mcp", "mcp.server", "httpx", "httpx2"):
    logging.getLogger(_name).setLevel(logging.WARNING)


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


def _with_middleware(cfg: SecurityConfig, oauth2: OAuth2Config) -> OAuth2Config:
    """Apply ``oauth2_introspection_cache`` middleware settings to an oauth2 block."""
    for mw in cfg.middleware:
        if mw.name == "oauth2_introspection_cache":
            update: dict[str, Any] = {}
            if "cache_ttl" in mw.params:
                update["introspection_cache_ttl"] = mw.params["cache_ttl"]
            if "max_cache_size" in mw.params:
                update["max_cache_size"] = mw.params["max_cache_size"]
            return oauth2.model_copy(update=update)
    return oauth2


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
    ) -> None:
        self.cfg = cfg
        self.public_url = public_url.rstrip("/")
        self.clock = clock or time.time
        self.audit = audit if audit is not None else AuditLog(cfg.audit.capacity, cfg.audit.path)
        self._tmp = None if sandbox else tempfile.TemporaryDirectory(prefix="labkit-sandbox-")
        self.sandbox = sandbox or Path(self._tmp.name if self._tmp else ".")
        self.plugins = merge_plugins(cfg.plugins)
        capabilities = {
            c.capability_id: Capability(
                c.capability_id,
                c.plugin_id,
                capability_scopes(self.plugins.get(c.plugin_id), c),
                fresh=bool(
                    self.plugins.get(c.plugin_id) and self.plugins[c.plugin_id].oauth2_specific.introspection_required
                ),
                tool=c.capability_id,
            )
            for c in CAPABILITIES.values()
        }
        self.policy = EndpointPolicy(capabilities, {p: tuple(s.required_scopes) for p, s in self.plugins.items()})
        # An injected clock drives the rate limiter too: a frozen lab clock makes budgets exact.
        self.middleware = CapabilityMiddleware(cfg, self.plugins.values(), clock=self.clock,
                                               monotonic=clock or time.monotonic)
        self.tenants: dict[str | None, TenantAuth] = {
            None: TenantAuth(
                None,
                build_validator(_with_middleware(cfg, cfg.oauth2), clock=clock, http=http),
                cfg.scope_hierarchy,
                cfg.oauth2.issuers,
            ),
        }
        for name, tenant in cfg.tenants.items():
            validator = build_validator(_with_middleware(cfg, tenant.oauth2), clock=clock, http=http, tenant=name)
            self.tenants[name] = TenantAuth(name, validator, tenant.scope_hierarchy, tenant.oauth2.issuers)
        self.records: list[dict[str, Any]] = []
        self.signer = AgentSigner(self.public_url, self.clock)
        self.push_policy = PushPolicy(cfg.push)
        push_store = InMemoryPushNotificationConfigStore()
        self.push = SignedPushSender(push_store, self.push_policy, self.signer, config=cfg.push)
        card = self.card(None, extended=False)
        self.handler = DefaultRequestHandler(
            agent_executor=EchoExecutor(self),
            task_store=InMemoryTaskStore(),
            agent_card=card,
            extended_agent_card=self.card(None, extended=True),
            push_config_store=push_store,
            push_sender=self.push,
            push_url_validator=self.push_policy.allows,
        )
        self.dispatcher = JsonRpcDispatcher(request_handler=self.handler, enable_v0_3_compat=True)
        self.mcp = build_mcp(self)

    # -- facts per tenant ---------------------------------------------------------------------
    def oauth2(self, tenant: str | None) -> OAuth2Config:
        return self.cfg.tenants[tenant].oauth2 if tenant else self.cfg.oauth2

    def base_url(self, tenant: str | None) -> str:
        return f"{self.public_url}/t/{tenant}" if tenant else self.public_url

    def scopes(self, tenant: str | None) -> list[str]:
        return scopes_supported(self.policy, self.tenants[tenant].hierarchy.scopes())

    def card(self, tenant: str | None, *, extended: bool) -> Any:
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
        self, capability_id: str, arguments: dict[str, Any], user: LabUser, context: GuardContext
    ) -> Any:
        """Run a capability for ``user`` through its plugin's middleware; raises ``CapabilityError``."""
        definition = CAPABILITIES[capability_id]
        call_context = CallContext(
            user_key=user.key,
            subject=user.principal.subject,
            tenant=context.tenant,
            sandbox=self.sandbox,
            base_url=self.public_url,
            clock=self.clock,
            stats=self.stats,
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
        """``POST /``: the seed's ``capabilities`` and ``execute``; everything else to the a2a-sdk."""
        parsed = getattr(request.scope.get("labkit"), "rpc", None)  # the guard already parsed it
        try:
            body = parsed if isinstance(parsed, (dict, list)) else json.loads(await request.body())
        except (ValueError, RecursionError):  # includes bodies that are not UTF-8
            error = {"code": -32700, "message": "Parse error"}
            return JSONResponse({"jsonrpc": "2.0", "id": None, "error": error})
        method = body.get("method") if isinstance(body, dict) else None
        if method not in ("capabilities", "execute"):
            return await self.dispatcher.handle_requests(request)
        assert isinstance(body, dict)  # noqa: S101 - method was read from it
        rpc_id = body.get("id")
        user: LabUser = request.user
        context: GuardContext = request.scope["labkit"]
        if method == "capabilities":
            allowed = self.policy.allowed(user.effective)
            result = {
                "capabilities": [
                    {"capability": c.capability_id, "plugin": c.plugin_id, "scopes": list(c.scopes)}
                    for c in sorted(allowed, key=lambda c: c.capability_id)
                ],
                "granted_scopes": sorted(user.principal.scopes),
                "effective_scopes": sorted(user.effective) + (["*"] if user.effective.wildcard else []),
            }
            return JSONResponse({"jsonrpc": "2.0", "id": rpc_id, "result": result})
        params = body.get("params") if isinstance(body.get("params"), dict) else {}
        capability = params.get("capability")
        if not isinstance(capability, str) or capability not in CAPABILITIES:
            error = {"code": -32602, "message": "unknown capability"}
            return JSONResponse({"jsonrpc": "2.0", "id": rpc_id, "error": error})
        arguments = params.get("arguments") if isinstance(params.get("arguments"), dict) else {}
        try:
            output = await self.run_capability(capability, arguments, user, context)
        except CapabilityError as exc:
            return JSONResponse({"jsonrpc": "2.0", "id": rpc_id, "error": {"code": -32602, "message": str(exc)}})
        result = {"capability": capability, "plugin": CAPABILITIES[capability].plugin_id, "result": output}
        return JSONResponse({"jsonrpc": "2.0", "id": rpc_id, "result": result})

    async def agent_card(self, request: Request) -> Response:
        tenant = request.scope["labkit"].tenant
        return JSONResponse(agent_card_to_dict(self.card(tenant, extended=False)))

    async def resource_metadata(self, request: Request) -> Response:
        tenant = request.scope["labkit"].tenant
        suffix = "/mcp" if request.url.path.endswith("/mcp") else "/"
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
        """The simulated external API (loopback only)."""
        client = request.client.host if request.client else ""
        if client not in ("127.0.0.1", "::1", "localhost"):
            return JSONResponse({"error": "loopback only"}, 403)
        try:
            record = json.loads(await request.body())
        except ValueError:
            return JSONResponse({"error": "invalid JSON"}, 400)
        self.records.append(record)
        return JSONResponse({"id": len(self.records), "stored": True}, 201)

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        async with self.mcp.run():
            try:
                yield
            finally:
                await self.push.aclose()
                for auth in self.tenants.values():
                    close = getattr(auth.validator, "aclose", None)
                    if close is not None:
                        await close()
                if self._tmp is not None:
                    self._tmp.cleanup()


def create_app(
    config: SecurityConfig | str | Path | None = None,
    *,
    public_url: str = "http://127.0.0.1:8000",
    clock: Callable[[], float] | None = None,
    audit: AuditLog | None = None,
    http: httpx.AsyncClient | None = None,
    sandbox: Path | None = None,
) -> OAuth2Guard:
    """The sample agent as an ASGI app, protected by the guard. ``config``: a SecurityConfig or a YAML path.

    Raises ``ConfigError`` for an invalid configuration file.
    """
    cfg = config if isinstance(config, SecurityConfig) else load_config(config or default_config_path())
    agent = Agent(cfg, public_url=public_url, clock=clock, audit=audit, http=http, sandbox=sandbox)
    routes = [
        Route("/", agent.rpc, methods=["POST"]),
        Route("/mcp", agent.mcp.endpoint, methods=["GET", "POST", "DELETE"]),
        Route("/.well-known/agent-card.json", agent.agent_card, methods=["GET"]),
        Route("/.well-known/agent.json", agent.agent_card, methods=["GET"]),
        Route("/.well-known/oauth-protected-resource", agent.resource_metadata, methods=["GET"]),
        Route("/.well-known/oauth-protected-resource/mcp", agent.resource_metadata, methods=["GET"]),
        Route("/.well-known/jwks.json", agent.jwks, methods=["GET"]),
        Route("/stub/external-api/records", agent.stub_records, methods=["POST"]),
    ]
    app = Starlette(routes=routes, lifespan=agent.lifespan)
    guard = OAuth2Guard(app, tenants=agent.tenants, policy=agent.policy, audit=agent.audit, middleware=agent.middleware)
    guard.agent = agent  # type: ignore[attr-defined]
    return guard
