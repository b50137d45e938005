"""The agent's MCP server (mcp SDK): one tool per capability; ``tools/list`` shows only what the token may call.

Tools are generated from the capability table (``plugins.CAPABILITIES``: name, arguments, description) and
the configured policy (a disabled capability has no tool; the description names the scopes the configuration
requires). ``tools/list`` is filtered per caller by a ``ServerMiddleware``, the SDK's public extension point.

Two session managers serve ``/mcp``: a stateful one (SSE, sessions bound to their principal) for SDK
clients, and a stateless JSON one so that the seed's bare ``curl`` of ``tools/list`` answers 200.
Replicas (``state.redis_url``, or ``state.mcp_stateless: true``) serve every request statelessly: a session
made on one replica would be unknown to the next (the SDK keeps sessions in process memory). There the
per-principal quota counts requests in flight, in the shared ``Quota``, instead of sessions.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import types
import typing
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from mcp.server.auth.middleware.bearer_auth import authorization_context
from mcp.server.caching import CacheHint
from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import BaseModel
from starlette.responses import JSONResponse
from starlette.types import Message, Receive, Scope, Send

from labkit.guard import Capability, EndpointPolicy, GuardContext
from labkit.state import Quota, StateUnavailableError

from .plugins import CAPABILITIES, CapabilityDef, CapabilityError, dumps
from .policy import LabUser

if TYPE_CHECKING:
    from .agent import Agent

__all__ = ["AgentMCP", "CapabilityTool", "ToolCall", "ToolsForCaller", "build_mcp"]


class ToolsForCaller(ServerMiddleware[Any]):
    """``tools/list`` lists only the tools the caller's scopes allow (least privilege, and a lesson).

    The guard has already authorized the request and left its ``LabUser`` on the HTTP request; anything
    else (no HTTP request, another user type) sees no tool. ``tools/call`` is judged by the guard itself.
    """

    def __init__(self, policy: EndpointPolicy) -> None:
        self.policy = policy

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        result = await call_next(ctx)
        if ctx.method != "tools/list":
            return result
        wire = result.model_dump(by_alias=True, mode="json", exclude_none=True) if isinstance(result, BaseModel) \
            else result
        user = _caller(ctx.request)
        allowed = {c.tool for c in self.policy.allowed(user.effective)} if user is not None else set()
        tools = wire.get("tools") if isinstance(wire, dict) else None
        if not isinstance(wire, dict) or not isinstance(tools, list):
            return {"tools": []}  # a shape this filter does not know lists nothing (fail closed)
        return {**wire, "tools": [t for t in tools if isinstance(t, dict) and t.get("name") in allowed]}


def _caller(request: Any) -> LabUser | None:
    """The guard's user on the HTTP request (None without one: stdio, or a route the guard did not judge)."""
    scope = getattr(request, "scope", None)
    user = scope.get("user") if isinstance(scope, dict) else None
    return user if isinstance(user, LabUser) else None


class AgentMCP:
    """The MCP server, its two session managers and the ASGI switch between them."""

    def __init__(self, server: MCPServer[Any], max_sessions: int = 16, *, stateless: bool = False,
                 quota: Quota | None = None) -> None:
        self.max_sessions = max_sessions  # per principal; the SDK's global cap stays
        self.stateless = stateless
        self.quota = quota
        # DNS rebinding: Host and Origin are checked by labkit.hosts in front of the guard (the one home of the rule)
        security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
        self.server = server
        self._stateful = server.streamable_http_app(streamable_http_path="/mcp", transport_security=security)
        self._stateful_manager = server.session_manager
        self._stateless = server.streamable_http_app(
            streamable_http_path="/mcp", stateless_http=True, json_response=True, transport_security=security
        )
        self._stateless_manager = server.session_manager
        self.endpoint = _Switch(self)

    @contextlib.asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        """Run both session managers (entered by the agent's lifespan)."""
        async with self._stateful_manager.run(), self._stateless_manager.run():
            yield


class _Switch:
    """Sessions for SDK clients (initialize, a session id, GET/DELETE); stateless JSON for everything else."""

    def __init__(self, mcp: AgentMCP) -> None:
        self.mcp = mcp
        self._opening: dict[str, int] = {}  # initialize requests in flight, per principal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        context: GuardContext | None = scope.get("labkit")
        has_session = any(k == b"mcp-session-id" for k, _ in scope["headers"])
        initialize = context is not None and context.rpc_method == "initialize"
        user = scope.get("user")
        if self.mcp.stateless:
            await self._stateless(scope, receive, send, context, user)
            return
        if initialize and not has_session and isinstance(user, LabUser):
            # Per-principal quota: one token cannot fill the session table for everyone else. Sessions being
            # opened count too, checked and taken in one step (no await between): concurrent opens cannot pass.
            opening = self._opening.get(user.key, 0)
            if self._sessions_of(user) + opening >= self.mcp.max_sessions:
                error = {"code": -32600, "message": f"session quota reached ({self.mcp.max_sessions} per principal)"}
                await JSONResponse({"jsonrpc": "2.0", "id": context.rpc.id if context and context.rpc else None,
                                    "error": error}, 429, headers={"Retry-After": "60"})(scope, receive, send)
                return
            self._opening[user.key] = opening + 1
            key, released = user.key, False

            def release() -> None:
                nonlocal released
                if not released:
                    released = True
                    left = self._opening.pop(key) - 1
                    if left:
                        self._opening[key] = left

            async def sending(message: Message) -> None:
                if message["type"] == "http.response.start":
                    release()  # the session, if any, is in the SDK's table by now: count it once, as live
                await send(message)

            try:
                await self.mcp._stateful(scope, receive, sending)
            finally:
                release()
            return
        if scope["method"] in ("GET", "DELETE") or has_session or initialize:
            await self.mcp._stateful(scope, receive, send)
        else:
            await self.mcp._stateless(scope, receive, send)


    async def _stateless(self, scope: Scope, receive: Receive, send: Send, context: GuardContext | None,
                         user: object) -> None:
        """Replicas: every request alone; at most ``max_sessions`` in flight per principal, on all replicas."""
        quota = self.mcp.quota
        if quota is None or not isinstance(user, LabUser):
            await self.mcp._stateless(scope, receive, send)
            return
        try:
            slot = await quota.reserve("mcp", user.key, self.mcp.max_sessions)
        except StateUnavailableError as exc:  # Redis down: say so, never "quota reached"
            await JSONResponse(exc.answer(context.rpc.id if context and context.rpc else None))(scope, receive, send)
            return
        if slot is None:
            error = {"code": -32600, "message": f"request quota reached ({self.mcp.max_sessions} per principal)"}
            await JSONResponse({"jsonrpc": "2.0", "id": context.rpc.id if context and context.rpc else None,
                                "error": error}, 429, headers={"Retry-After": "1"})(scope, receive, send)
            return
        try:
            await self.mcp._stateless(scope, receive, send)
        finally:
            await quota.release("mcp", user.key, slot)

    def _sessions_of(self, user: object) -> int:
        """How many live stateful sessions ``user`` holds (the SDK binds each to its creator)."""
        if not isinstance(user, LabUser):
            return 0
        manager = self.mcp._stateful_manager
        requestor = authorization_context(user)
        live = manager._server_instances
        return sum(1 for sid, owner in manager._session_owners.items() if owner == requestor and sid in live)


def _needs(scopes: tuple[str, ...]) -> str:
    return f"Needs {' and '.join(scopes)}." if scopes else "Needs any valid token."


ToolCall = Callable[[Context[Any, Any], str, dict[str, Any]], Awaitable[str]]


class CapabilityTool:
    """One capability as an MCP tool: its ``__signature__`` is the capability's arguments (the SDK builds the
    input schema from it and validates calls against it), and calling it runs the capability."""

    def __init__(self, definition: CapabilityDef, call: ToolCall) -> None:
        self.capability_id = definition.capability_id
        self.call = call
        parameters = [inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=Context[Any, Any])]
        for name, annotation in definition.arguments:
            optional = typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in \
                typing.get_args(annotation)
            parameters.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation,
                                                default=None if optional else inspect.Parameter.empty))
        self.__signature__ = inspect.Signature(parameters, return_annotation=str)
        self.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": str}
        self.__name__ = definition.capability_id

    async def __call__(self, ctx: Context[Any, Any], **arguments: Any) -> str:
        """Run the capability with the arguments given (an optional one left out or null is absent)."""
        return await self.call(ctx, self.capability_id, {k: v for k, v in arguments.items() if v is not None})


@functools.lru_cache(maxsize=256)
def _tool_record(capability_id: str, name: str, description: str) -> Tool:
    """The SDK's record of a capability's tool (input schema, argument model), built once a process: it depends
    only on the capability's signature, its name and its description. Each server gets a copy with its own ``fn``."""

    async def unbound(ctx: Context[Any, Any], capability: str, arguments: dict[str, Any]) -> str:
        raise ToolError("Unauthorized")  # never called: every server's copy carries its own agent's call

    return Tool.from_function(CapabilityTool(CAPABILITIES[capability_id], unbound), name=name, description=description)


def build_mcp(agent: Agent, *, max_sessions: int = 16, stateless: bool = False, quota: Quota | None = None) -> AgentMCP:
    """The agent's MCP server with one tool per enabled capability (``stateless``: no sessions, for replicas)."""
    async def call(ctx: Context[Any, Any], capability: str, arguments: dict[str, Any]) -> str:
        request = ctx.request_context.request
        user = _caller(request)
        context = request.scope.get("labkit") if user is not None and request is not None else None
        if user is None or request is None or not isinstance(context, GuardContext):
            raise ToolError("Unauthorized")
        try:
            return dumps(await agent.run_capability(capability, arguments, user, context, request.scope["headers"]))
        except CapabilityError as exc:
            raise ToolError(str(exc)) from None

    enabled: dict[str, Capability] = agent.policy.capabilities  # what the configuration leaves on, with its scopes
    tools = []
    for capability in sorted(enabled.values(), key=lambda c: c.capability_id):
        definition = CAPABILITIES[capability.capability_id]
        record = _tool_record(capability.capability_id, capability.tool or capability.capability_id,
                              f"{definition.description} {_needs(capability.scopes)}")
        tools.append(record.model_copy(update={"fn": CapabilityTool(definition, call)}))
    server: MCPServer[Any] = MCPServer(
        name="oauth2-lab-agent", instructions="Tools of the oauth2-lab sample agent.",
        log_level="WARNING",  # the SDK configures the root logger; keep it quiet
        middleware=[ToolsForCaller(agent.policy)], tools=tools,
        # a filtered list is one caller's answer: a shared cache must never hand it to another (SEP-2549)
        cache_hints={"tools/list": CacheHint(ttl_ms=0, scope="private")},
    )
    return AgentMCP(server, max_sessions, stateless=stateless, quota=quota)
