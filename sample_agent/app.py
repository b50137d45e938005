"""``create_app(config)``: the sample agent, every route behind ``labkit.guard.OAuth2Guard`` (deny by default).

Endpoints: ``POST /`` (A2A JSON-RPC through the a2a-sdk, v1.0 and v0.3 names, plus the seed's
``capabilities`` and ``execute``), ``/mcp`` (MCP Streamable HTTP through the mcp SDK: real sessions for
SDK clients, sessionless JSON for a bare curl), the agent card, RFC 9728 metadata, the agent's JWKS
(public), and a loopback stub service that ``external_api.write_operation`` calls (public, with its own
key). ``Mount("/t/{tenant}", ...)`` serves each tenant: Starlette routes, and the guard judges the route
Starlette will run (``labkit.guard.routing``). This module holds the routes, the guard's endpoint table and the
handlers (``Handlers``); the state they use is ``sample_agent.agent.Agent``.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from a2a.server.request_handlers.response_helpers import agent_card_to_dict
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import Message, Receive, Scope, Send

from labkit import rpc
from labkit.audit import AuditLog
from labkit.config import SecurityConfig, load_config
from labkit.guard import Endpoint, GuardContext, OAuth2Guard, Requirement
from labkit.guard.jsonrpc import parse_json
from labkit.hosts import HostCheck
from labkit.state import StateUnavailableError

from .agent import Agent
from .cards import protected_resource_metadata
from .params import invalid_params
from .plugins import CAPABILITIES, CapabilityError
from .policy import LabUser

__all__ = ["STUB_KEY_HEADER", "Agent", "AgentApp", "Handlers", "create_app", "default_config_path"]

STUB_KEY_HEADER = "x-lab-stub-key"
_CREATES_TASK = ("SendMessage", "message/send", "SendStreamingMessage", "message/stream")


def default_config_path() -> Path:
    """``sample_agent/agentup.yml``: the lab's default configuration (points at the lab provider)."""
    return Path(__file__).with_name("agentup.yml")


class Handlers:
    """The agent's HTTP handlers, its routes and how the guard judges each (``endpoints``)."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent

    async def rpc(self, request: Request) -> Response:
        """``POST /``: the seed's ``capabilities`` and ``execute``; everything else to the a2a-sdk.

        The guard has parsed the body strictly (``GuardContext.rpc``) and judged that call; it is used here.
        """
        context: GuardContext = request.scope["labkit"]
        call = context.rpc
        if call is None:  # the guard parses every POST to this route; nothing else reaches it
            return JSONResponse(rpc.error(None, -32600, "Invalid Request"), 400)
        user: LabUser = request.user
        present = isinstance(call.body, dict) and "params" in call.body
        problem = invalid_params(call.method or "", call.params, present=present)  # A2A v1.0 §9.5
        if problem is not None:
            return JSONResponse(rpc.error(call.id, -32602, problem))
        if call.method in _CREATES_TASK:
            # Per-principal task cap: the slot is taken before the SDK runs and kept until the answer is sent.
            try:
                slot = await self.agent.tasks.reserve(user.key)
            except StateUnavailableError as exc:  # Redis down: say so, never "quota reached"
                return JSONResponse(exc.answer(call.id))
            if slot is None:
                message = f"task quota reached ({self.agent.tasks.cap} per principal)"
                return JSONResponse(rpc.error(call.id, -32600, message))
            try:
                answer = await self.agent.dispatcher.handle_requests(request)
            except BaseException:
                await self.agent.tasks.release(user.key, slot)
                raise
            return _ThenRelease(answer, lambda: self.agent.tasks.release(user.key, slot))
        if call.method not in ("capabilities", "execute"):
            return await self.agent.dispatcher.handle_requests(request)
        if call.method == "capabilities":
            allowed = self.agent.policy.allowed(user.effective)
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
        if not isinstance(capability, str) or capability not in self.agent.policy.capabilities:
            return JSONResponse(rpc.error(call.id, -32602, "unknown capability"))
        given = params.get("arguments")
        arguments: dict[str, Any] = given if isinstance(given, dict) else {}
        try:
            output = await self.agent.run_capability(capability, arguments, user, context, request.scope["headers"])
        except CapabilityError as exc:
            return JSONResponse(rpc.error(call.id, -32602, str(exc)))
        result = {"capability": capability, "plugin": CAPABILITIES[capability].plugin_id, "result": output}
        return JSONResponse(rpc.result(call.id, result))

    async def agent_card(self, request: Request) -> Response:
        tenant = request.path_params.get("tenant")
        return JSONResponse(agent_card_to_dict(self.agent.card(tenant, extended=False)))

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
        resource = self.agent.base_url(tenant) + suffix
        return JSONResponse(
            protected_resource_metadata(
                resource=resource,
                issuer=self.agent.issuer(tenant),
                scopes=self.agent.scopes(tenant),
            )
        )

    async def jwks(self, request: Request) -> Response:
        """The agent's own public keys (push notification signatures)."""
        return JSONResponse(self.agent.signer.jwks())

    async def stub_records(self, request: Request) -> Response:
        """The simulated external API: public to the guard, so it checks its own key (only the agent has it)."""
        key = request.headers.get(STUB_KEY_HEADER, "")
        if not hmac.compare_digest(key.encode("utf-8", "surrogateescape"), self.agent.stub_key.encode()):
            return JSONResponse({"error": "Unauthorized"}, 401)
        try:
            record = parse_json(await request.body())
        except ValueError:
            return JSONResponse({"error": "invalid JSON"}, 400)
        self.agent.records.append(record)  # a bounded ring
        return JSONResponse({"id": len(self.agent.records), "stored": True}, 201)

    def routes(self) -> list[BaseRoute]:
        """The agent's routes, the same under ``/`` and ``/t/{tenant}/``; the stub only at the root."""
        per_tenant: list[BaseRoute] = [
            Route("/", self.rpc, methods=["POST"], name="a2a"),
            Route("/mcp", self.agent.mcp.endpoint, methods=["GET", "POST", "DELETE"], name="mcp"),
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
            "a2a": Endpoint(label="/", rpc=self.agent.policy.a2a_call, requirement=Requirement(label="/"),
                            metadata=self.agent.metadata_url, malformed_status=200),  # the a2a-sdk answers in-band
            "mcp": Endpoint(label="/mcp", rpc=self.agent.policy.mcp_call, requirement=Requirement(label="/mcp"),
                            metadata=lambda tenant: self.agent.metadata_url(tenant, "/mcp")),
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
        handlers = Handlers(agent)
        self.starlette = Starlette(routes=handlers.routes(), lifespan=agent.lifespan)
        self.guard = OAuth2Guard(self.starlette, gate=agent.gate, routes=self.starlette.routes,
                                 endpoints=handlers.endpoints(), audit=agent.audit, user_factory=LabUser,
                                 public_url=agent.public_url, realm="oauth2-lab")
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
