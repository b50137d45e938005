"""The agent's MCP server (mcp SDK): one tool per capability; ``tools/list`` shows only what the token may call.

Two session managers serve ``/mcp``: a stateful one (SSE, sessions bound to their principal) for SDK
clients, and a stateless JSON one so that the seed's bare ``curl`` of ``tools/list`` answers 200.
Replicas (``state.redis_url``, or ``state.mcp_stateless: true``) serve every request statelessly: a session
made on one replica would be unknown to the next (the SDK keeps sessions in process memory). There the
per-principal quota counts requests in flight, in the shared ``Quota``, instead of sessions.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from mcp.server.auth.middleware.bearer_auth import authorization_context
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import ListToolsResult, PaginatedRequestParams
from starlette.responses import JSONResponse
from starlette.types import Message, Receive, Scope, Send

from labkit.guard import GuardContext
from labkit.state import Quota

from .plugins import CapabilityError, dumps
from .policy import LabUser

__all__ = ["AgentMCP", "build_mcp"]


class _FilteredMCPServer(MCPServer):
    """``tools/list`` lists only the tools the caller's scopes allow (least privilege, and a lesson)."""

    agent: Any = None

    async def _handle_list_tools(
        self, ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
    ) -> ListToolsResult:
        result = await super()._handle_list_tools(ctx, params)
        request = ctx.request
        user = getattr(request, "user", None) if request is not None else None
        if not isinstance(user, LabUser):
            return ListToolsResult(tools=[])
        allowed = {c.tool for c in self.agent.policy.allowed(user.effective)}
        return ListToolsResult(tools=[t for t in result.tools if t.name in allowed])


class AgentMCP:
    """The MCP server, its two session managers and the ASGI switch between them."""

    def __init__(self, server: _FilteredMCPServer, max_sessions: int = 16, *, stateless: bool = False,
                 quota: Quota | None = None) -> None:
        self.max_sessions = max_sessions  # per principal; the SDK's global cap stays
        self.stateless = stateless
        self.quota = quota
        security = TransportSecuritySettings(enable_dns_rebinding_protection=False)  # the guard checks tokens
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
                         user: Any) -> None:
        """Replicas: every request alone; at most ``max_sessions`` in flight per principal, on all replicas."""
        quota = self.mcp.quota
        if quota is None or not isinstance(user, LabUser):
            await self.mcp._stateless(scope, receive, send)
            return
        slot = await quota.reserve("mcp", user.key, self.mcp.max_sessions)
        if slot is None:
            error = {"code": -32600, "message": f"request quota reached ({self.mcp.max_sessions} per principal)"}
            await JSONResponse({"jsonrpc": "2.0", "id": context.rpc.id if context and context.rpc else None,
                                "error": error}, 429, headers={"Retry-After": "1"})(scope, receive, send)
            return
        try:
            await self.mcp._stateless(scope, receive, send)
        finally:
            await quota.release("mcp", user.key, slot)

    def _sessions_of(self, user: Any) -> int:
        """How many live stateful sessions ``user`` holds (the SDK binds each to its creator)."""
        if not isinstance(user, LabUser):
            return 0
        manager = self.mcp._stateful_manager
        requestor = authorization_context(user)
        live = manager._server_instances
        return sum(1 for sid, owner in manager._session_owners.items() if owner == requestor and sid in live)


def build_mcp(agent: Any, *, max_sessions: int = 16, stateless: bool = False, quota: Quota | None = None) -> AgentMCP:
    """The agent's MCP server with one tool per capability (``stateless``: no sessions, for replicas)."""
    server = _FilteredMCPServer(name="oauth2-lab-agent", instructions="Tools of the oauth2-lab sample agent.",
                                log_level="WARNING")  # the SDK configures the root logger; keep it quiet
    server.agent = agent

    async def call(ctx: Context[Any, Any], capability: str, arguments: dict[str, Any]) -> str:
        request = ctx.request_context.request
        user = getattr(request, "user", None)
        context = request.scope.get("labkit") if request is not None else None
        if not isinstance(user, LabUser) or not isinstance(context, GuardContext):
            raise ToolError("Unauthorized")
        try:
            return dumps(await agent.run_capability(capability, arguments, user, context, request.scope["headers"]))
        except CapabilityError as exc:
            raise ToolError(str(exc)) from None

    @server.tool(description="The agent's current time (UTC, ISO 8601). Needs api:read.")
    async def get_time(ctx: Context[Any, Any]) -> str:
        return await call(ctx, "get_time", {})

    @server.tool(description="Echo a text back. Needs api:read.")
    async def echo(text: str, ctx: Context[Any, Any]) -> str:
        return await call(ctx, "echo", {"text": text})

    @server.tool(description="List the files in the sandbox. Needs files:read.")
    async def list_files(ctx: Context[Any, Any]) -> str:
        return await call(ctx, "list_files", {})

    @server.tool(description="Read a file from the sandbox. Needs files:read.")
    async def read_file(path: str, ctx: Context[Any, Any]) -> str:
        return await call(ctx, "read_file", {"path": path})

    @server.tool(description="Write a file in the sandbox. Needs files:write.")
    async def write_file(path: str, content: str, ctx: Context[Any, Any]) -> str:
        return await call(ctx, "write_file", {"path": path, "content": content})

    @server.tool(description="Store a record in the external API. Needs api:write.")
    async def write_operation(ctx: Context[Any, Any], record: dict[str, Any] | None = None) -> str:
        return await call(ctx, "write_operation", {"record": record or {"note": "hello"}})

    @server.tool(description="Operational status of the agent. Needs admin.")
    async def admin_status(ctx: Context[Any, Any]) -> str:
        return await call(ctx, "admin_status", {})

    return AgentMCP(server, max_sessions, stateless=stateless, quota=quota)
