"""The agent's MCP tools, in process: generated from the capability table under the configuration, and
``tools/list`` filtered per caller by a ``ServerMiddleware`` (the mcp SDK's public extension point)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from mcp.server.context import ServerRequestContext
from mcp_types import ListToolsResult, Tool

from labkit.auth import Principal
from labkit.config import validate_security_config
from labkit.scopes import EffectiveScopes
from sample_agent import create_app
from sample_agent.mcp_server import ToolsForCaller
from sample_agent.plugins import CAPABILITIES
from sample_agent.policy import LabUser

from ..helpers import ROOT

OAUTH2 = {"validation_strategy": "jwt", "jwt_secret": "s" * 40, "jwt_algorithm": "HS256"}


def tools_of(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    cfg = validate_security_config({"security": {"oauth2": OAUTH2}, **extra})
    app = create_app(cfg, sandbox=tmp_path)
    return {tool.name: tool for tool in asyncio.run(app.agent.mcp.server.list_tools())}


def test_one_tool_per_capability_with_its_arguments_and_configured_scopes(tmp_path: Path) -> None:
    tools = tools_of(tmp_path)
    assert set(tools) == set(CAPABILITIES)
    assert tools["echo"].description == "Echo a text back. Needs api:read."
    assert tools["admin_status"].description == "Operational status of the agent. Needs admin."
    assert tools["echo"].input_schema["required"] == ["text"]
    assert set(tools["write_file"].input_schema["required"]) == {"path", "content"}
    assert not tools["write_operation"].input_schema.get("required")  # record is optional
    assert "ctx" not in tools["get_time"].input_schema.get("properties", {})


def test_descriptions_follow_the_configuration(tmp_path: Path) -> None:
    plugins = [{"plugin_id": "files", "capabilities": [
        {"capability_id": "read_file", "required_scopes": ["files:read", "files:audited"]},
        {"capability_id": "write_file", "enabled": False}]},
        {"plugin_id": "admin", "enabled": False}]
    tools = tools_of(tmp_path, plugins=plugins)
    assert tools["read_file"].description == "Read a file from the sandbox. Needs files:read and files:audited."
    assert "write_file" not in tools and "admin_status" not in tools  # turned off: no tool at all


class _Request:
    def __init__(self, user: object) -> None:
        self.scope = {"user": user}


def context(user: object | None) -> ServerRequestContext[Any, Any]:
    return ServerRequestContext(session=None, lifespan_context={}, protocol_version="2025-11-25",  # type: ignore[arg-type]
                                method="tools/list", request=_Request(user) if user is not None else None)


def user_with(*scopes: str) -> LabUser:
    principal = Principal(subject="alice", scopes=frozenset(scopes), client_id="c")
    return LabUser(principal, EffectiveScopes(scopes))


@pytest.fixture(scope="module")
def middleware(tmp_path_factory: pytest.TempPathFactory) -> ToolsForCaller:
    cfg = validate_security_config({"security": {"oauth2": OAUTH2}})
    return ToolsForCaller(create_app(cfg, sandbox=tmp_path_factory.mktemp("sandbox")).agent.policy)


def listed(middleware: ToolsForCaller, ctx: ServerRequestContext[Any, Any], result: Any) -> Any:
    async def call_next(_: ServerRequestContext[Any, Any]) -> Any:
        return result
    return asyncio.run(middleware(ctx, call_next))


ALL = {"tools": [{"name": name, "inputSchema": {"type": "object"}} for name in CAPABILITIES], "ttlMs": 0}


def test_each_caller_sees_only_what_its_scopes_allow(middleware: ToolsForCaller) -> None:
    names = {t["name"] for t in listed(middleware, context(user_with("api:read", "files:read")), ALL)["tools"]}
    assert names == {"get_time", "echo", "list_files", "read_file"}
    assert listed(middleware, context(user_with("api:read", "files:read")), ALL)["ttlMs"] == 0  # the rest is kept
    assert listed(middleware, context(user_with("admin")), ALL)["tools"] == [
        {"name": "admin_status", "inputSchema": {"type": "object"}}]


@pytest.mark.parametrize("user", [None, object(), "alice"])
def test_no_guard_user_sees_no_tool(middleware: ToolsForCaller, user: object | None) -> None:
    assert listed(middleware, context(user), ALL)["tools"] == []


def test_unknown_shapes_list_nothing_and_models_are_filtered(middleware: ToolsForCaller) -> None:
    reader = context(user_with("api:read"))
    for odd in (None, [], {"tools": "all"}, {"tools": None}):
        assert listed(middleware, reader, odd) == {"tools": []}  # fail closed
    model = ListToolsResult(tools=[Tool(name=n, input_schema={"type": "object"}) for n in ("echo", "admin_status")])
    assert [t["name"] for t in listed(middleware, reader, model)["tools"]] == ["echo"]


def test_other_methods_pass_untouched(middleware: ToolsForCaller) -> None:
    ctx = context(None)
    ctx.method = "tools/call"
    assert listed(middleware, ctx, {"content": []}) == {"content": []}


def test_no_private_sdk_hook_for_the_filter() -> None:
    source = (ROOT / "sample_agent" / "mcp_server.py").read_text()
    assert "_handle_list_tools" not in source and "MCPServer)" not in source  # no subclass overriding internals


def test_the_tool_records_are_shared_and_each_servers_copy_calls_its_own_agent(tmp_path: Path) -> None:
    """The SDK's record of a tool (schema, argument model) is built once a process; each server's copy of it carries
    its own agent's call, and a configuration with other scopes gets a record with its own description."""
    cfg = validate_security_config({"security": {"oauth2": OAUTH2}})
    first, second = (create_app(cfg, sandbox=tmp_path / name) for name in ("a", "b"))
    records = [app.agent.mcp.server._tool_manager.get_tool("echo") for app in (first, second)]
    assert records[0] is not None and records[1] is not None
    assert records[0].fn_metadata is records[1].fn_metadata and records[0] is not records[1]
    assert records[0].fn.call is not records[1].fn.call
    plugins = [{"plugin_id": "system_tools", "capabilities": [{"capability_id": "echo", "required_scopes": ["x:echo"]}]}]
    assert tools_of(tmp_path, plugins=plugins)["echo"].description == "Echo a text back. Needs api:read and x:echo."
