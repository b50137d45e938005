"""``Agent``: the sample agent's state, wired from its configuration: validators and gate, capability middleware,
shared state (memory, or Redis and SQL for replicas), the A2A task and push stores with their per-principal
quotas, the signed push sender, the a2a-sdk request handler and the MCP server. The routes, the guard's endpoint
table and the HTTP handlers that use this state are in ``sample_agent.app``.
"""

from __future__ import annotations

import contextlib
import secrets
import tempfile
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import httpx
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes.jsonrpc_dispatcher import JsonRpcDispatcher
from a2a.server.tasks import InMemoryPushNotificationConfigStore, InMemoryTaskStore
from a2a.types import AgentCard
from starlette.applications import Starlette

from labkit.a2a.push import AgentSigner, PushPolicy, SignedPushSender, load_signing_key
from labkit.audit import AuditLog
from labkit.auth import Principal
from labkit.config import ConfigError, OAuth2Config, SecurityConfig
from labkit.guard import GuardContext, Requirement, bearer_token, gate_for, principal_key
from labkit.middleware import CapabilityMiddleware
from labkit.state import SharedState

from .cards import build_card, scopes_supported
from .executor import EchoExecutor
from .mcp_server import build_mcp
from .plugins import CAPABILITIES, CallContext, CapabilityError, endpoint_policy
from .policy import LabUser
from .quotas import MAX_PUSH_CONFIGS, MAX_TASKS, CappedPushConfigStore, CountingTaskStore

__all__ = ["Agent"]


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

    def issuer(self, tenant: str | None) -> str:
        """The authorization server the card and the RFC 9728 metadata of ``tenant`` advertise."""
        return _issuer_of(self.oauth2(tenant))

    def card(self, tenant: str | None, *, extended: bool) -> AgentCard:
        return build_card(
            url=self.base_url(tenant),
            issuer=self.issuer(tenant),
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
