"""The sample agent's plugins and their capabilities (each also an MCP tool).

| plugin | type | capabilities (scopes) |
|---|---|---|
| system_tools | local | get_time, echo (api:read) |
| files | local | list_files, read_file (files:read), write_file (files:write) — confined to a sandbox |
| external_api | network | write_operation (api:write) — calls a loopback stub service, or, with
  ``delegation.downstream`` configured, another agent on the caller's behalf (RFC 8693 token exchange) |
| admin | local | admin_status (admin) |
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from labkit.config import CapabilitySpec, McpServerSpec, PluginSpec, SecurityConfig
from labkit.config.delegation import DownstreamSpec
from labkit.delegation import DelegationError, call_downstream, exchange_token
from labkit.guard import Capability

from .policy import AgentPolicy

__all__ = [
    "CAPABILITIES",
    "DEFAULT_PLUGINS",
    "MAX_NAME",
    "CallContext",
    "CapabilityDef",
    "CapabilityError",
    "PluginMapping",
    "Run",
    "capability_enabled",
    "capability_scopes",
    "dumps",
    "endpoint_policy",
    "map_plugins",
    "merge_plugins",
    "plugin_key",
]


class CapabilityError(Exception):
    """A capability refused its arguments (a client error, never a server error)."""


@dataclass
class CallContext:
    """What a capability may use: who calls, where the sandbox is, how to reach the stub service.

    ``token``: the caller's own bearer token, only for a plugin that delegates (``downstream`` set); ``actors``:
    who acts for the caller (RFC 8693 ``act``); ``hooks``: httpx event hooks for outgoing calls (flow traces).
    """

    user_key: str
    subject: str | None
    tenant: str | None
    sandbox: Path
    base_url: str
    clock: Callable[[], float]
    stats: Callable[[], dict[str, Any]]
    stub_key: str = ""
    actors: tuple[str, ...] = ()
    token: str | None = field(default=None, repr=False)
    downstream: DownstreamSpec | None = None
    hooks: dict[str, list[Any]] = field(default_factory=dict)


Run = Callable[[CallContext, dict[str, Any]], Awaitable[Any]]


@dataclass(frozen=True)
class CapabilityDef:
    """A capability: its plugin, MCP tool name, description, own scopes, implementation and arguments.

    ``arguments``: ``(name, type)`` pairs, the MCP tool's input schema; a type that admits None is optional.
    """

    capability_id: str
    plugin_id: str
    description: str
    scopes: tuple[str, ...]
    run: Run
    arguments: tuple[tuple[str, Any], ...] = ()


async def _get_time(ctx: CallContext, args: dict[str, Any]) -> str:
    return dt.datetime.fromtimestamp(ctx.clock(), dt.UTC).isoformat()


async def _echo(ctx: CallContext, args: dict[str, Any]) -> str:
    return f"echo: {_text(args, 'text')}"


MAX_NAME = 255  # bytes per path component, as most file systems allow


def _sandboxed(ctx: CallContext, path: str) -> Path:
    root = ctx.sandbox.resolve()
    # Names the file system would refuse are a client error, not a server error: NUL, over-long components.
    if "\x00" in path or any(len(part.encode("utf-8", "surrogatepass")) > MAX_NAME for part in path.split("/")):
        raise CapabilityError("invalid file name")
    try:
        target = (root / path).resolve()
    except (OSError, ValueError, RuntimeError):  # a symlink loop, an unencodable name
        raise CapabilityError("invalid file name") from None
    # Path traversal: anything that resolves outside the sandbox is refused (.., absolute paths, symlinks).
    if not target.is_relative_to(root) or target == root:
        raise CapabilityError("path outside the sandbox")
    return target


async def _list_files(ctx: CallContext, args: dict[str, Any]) -> list[str]:
    root = ctx.sandbox.resolve()
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


async def _read_file(ctx: CallContext, args: dict[str, Any]) -> str:
    target = _sandboxed(ctx, _text(args, "path"))
    try:
        with target.open("rb") as file:
            return file.read(65536 * 4).decode("utf-8", errors="replace")[:65536]
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise CapabilityError("no such file") from None
    except (OSError, UnicodeError):
        raise CapabilityError("the file cannot be read") from None


async def _write_file(ctx: CallContext, args: dict[str, Any]) -> str:
    target = _sandboxed(ctx, _text(args, "path"))
    content = _text(args, "content", limit=65536)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode("utf-8", errors="replace"))
    except IsADirectoryError:
        raise CapabilityError("the path is a directory") from None
    except (FileExistsError, NotADirectoryError):
        raise CapabilityError("a parent of the path is a file") from None
    except (OSError, UnicodeError):
        raise CapabilityError("the file cannot be written") from None
    written = len(content.encode("utf-8", errors="replace"))
    return f"wrote {written} bytes to {target.relative_to(ctx.sandbox.resolve())}"


async def _write_operation(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    record = args.get("record", {"note": "hello"})
    if ctx.downstream is not None:
        return await _delegate(ctx, ctx.downstream, record)
    stored = {"record": record, "by": ctx.subject, **({"via": list(ctx.actors)} if ctx.actors else {})}
    async with httpx.AsyncClient(timeout=5, trust_env=False) as client:
        response = await client.post(
            f"{ctx.base_url}/stub/external-api/records", json=stored, headers={"x-lab-stub-key": ctx.stub_key},
        )
    if response.status_code != 201:
        raise CapabilityError(f"external API answered {response.status_code}")
    return dict(response.json())


async def _delegate(ctx: CallContext, downstream: DownstreamSpec, record: Any) -> dict[str, Any]:
    """The record written by the downstream agent, on the caller's behalf, with an exchanged token (RFC 8693)."""
    if not ctx.token:
        raise CapabilityError("no bearer token to delegate")  # e.g. a DPoP-bound token: never exchanged here
    async with httpx.AsyncClient(trust_env=False, follow_redirects=False, event_hooks=ctx.hooks) as http:
        try:
            token = await exchange_token(http, downstream, ctx.token)
            result = await call_downstream(http, downstream, token, {"record": record})
        except DelegationError as exc:
            raise CapabilityError(f"delegation failed: {exc}") from None
    return {"delegated_to": downstream.audience, "result": result}


async def _admin_status(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    return ctx.stats()


def _text(args: dict[str, Any], name: str, limit: int = 4096) -> str:
    value = args.get(name)
    if not isinstance(value, str) or len(value) > limit:
        raise CapabilityError(f"'{name}' must be a string of at most {limit} characters")
    return value


CAPABILITIES: dict[str, CapabilityDef] = {
    c.capability_id: c
    for c in (
        CapabilityDef("get_time", "system_tools", "The agent's current time (UTC, ISO 8601).", (), _get_time),
        CapabilityDef("echo", "system_tools", "Echo a text back.", (), _echo, (("text", str),)),
        CapabilityDef("list_files", "files", "List the files in the sandbox.", ("files:read",), _list_files),
        CapabilityDef("read_file", "files", "Read a file from the sandbox.", ("files:read",), _read_file,
                      (("path", str),)),
        CapabilityDef("write_file", "files", "Write a file in the sandbox.", ("files:write",), _write_file,
                      (("path", str), ("content", str))),
        CapabilityDef(
            "write_operation",
            "external_api",
            "Store a record in the external API (loopback stub).",
            ("api:write",),
            _write_operation,
            (("record", dict[str, Any] | None),),
        ),
        CapabilityDef("admin_status", "admin", "Operational status of the agent.", ("admin",), _admin_status),
    )
}

DEFAULT_PLUGINS: tuple[PluginSpec, ...] = (
    PluginSpec(plugin_id="system_tools", plugin_type="local", required_scopes=["api:read"]),
    PluginSpec(plugin_id="files", plugin_type="local"),
    PluginSpec(plugin_id="external_api", plugin_type="network", required_scopes=["api:write"]),
    PluginSpec(plugin_id="admin", plugin_type="local", required_scopes=["admin"]),
)


def plugin_key(plugin_id: str) -> str:
    """An id as the sample agent spells it: ``agentup-system-tools`` and ``System.Tools`` -> ``system_tools``."""
    key = re.sub(r"[^a-z0-9]+", "_", plugin_id.lower()).strip("_")
    return key.removeprefix("agentup_").removesuffix("_plugin")


_SAMPLE_PLUGINS = {p.plugin_id: p for p in DEFAULT_PLUGINS}


@dataclass(frozen=True)
class PluginMapping:
    """How a configuration's plugin, capability and MCP tool ids meet the sample agent's."""

    plugins: dict[str, str]  # the configuration's plugin id -> the sample agent's
    unmatched_plugins: tuple[str, ...]
    unmatched_capabilities: tuple[str, ...]  # "plugin.capability"
    tools: dict[str, str]  # "server:tool" -> the sample capability it protects
    unmatched_tools: tuple[str, ...]
    disabled: tuple[str, ...]  # sample plugins or capabilities the configuration turns off

    @property
    def complete(self) -> bool:
        """True when every id in the configuration found its sample counterpart."""
        return not (self.unmatched_plugins or self.unmatched_capabilities or self.unmatched_tools)

    def lines(self) -> list[str]:
        """The mapping as short lines for a terminal or a notebook."""
        out = [f"plugin {theirs} -> {ours}" for theirs, ours in sorted(self.plugins.items()) if theirs != ours]
        out += [f"mcp tool {tool} -> capability {ours}" for tool, ours in sorted(self.tools.items())]
        out += [f"not in the sample agent (ignored): plugin {p}" for p in self.unmatched_plugins]
        out += [f"not in the sample agent (ignored): capability {c}" for c in self.unmatched_capabilities]
        out += [f"not in the sample agent (ignored): mcp tool {t}" for t in self.unmatched_tools]
        out += [f"disabled by the configuration: {d}" for d in self.disabled]
        return out


def map_plugins(configured: Iterable[PluginSpec], mcp_servers: Iterable[McpServerSpec] = ()) -> PluginMapping:
    """Match the configuration's ids to the sample agent's (plugins by normalised id, capabilities and MCP
    tools by capability id)."""
    plugins: dict[str, str] = {}
    unmatched: list[str] = []
    unmatched_caps: list[str] = []
    disabled: list[str] = []
    for plugin in configured:
        ours = plugin_key(plugin.plugin_id)
        if ours not in _SAMPLE_PLUGINS:
            unmatched.append(plugin.plugin_id)
            continue
        plugins[plugin.plugin_id] = ours
        if not plugin.enabled:
            disabled.append(ours)
        for cap in plugin.capabilities:
            known = CAPABILITIES.get(cap.capability_id)
            if known is None or known.plugin_id != ours:
                unmatched_caps.append(f"{plugin.plugin_id}.{cap.capability_id}")
            elif not cap.enabled:
                disabled.append(f"{ours}.{cap.capability_id}")
    tools: dict[str, str] = {}
    unmatched_tools: list[str] = []
    for server in mcp_servers:
        for name in server.tool_scopes:
            tool = name.split(":", 1)[1]
            if tool in CAPABILITIES and server.enabled:
                tools[name] = tool
            else:
                unmatched_tools.append(name)
    return PluginMapping(plugins, tuple(unmatched), tuple(unmatched_caps), tools, tuple(unmatched_tools),
                         tuple(disabled))


def merge_plugins(
    configured: tuple[PluginSpec, ...], mcp_servers: Iterable[McpServerSpec] = ()
) -> dict[str, PluginSpec]:
    """The agent's plugins with the configuration's settings applied, keyed by the sample agent's ids.

    A configured plugin matching a sample plugin (see ``plugin_key``) updates it with the settings it
    writes (what it leaves out, e.g. ``plugin_type`` or the plugin's own scopes, stays as the plugin's code
    declares it, as in AgentUp); MCP ``tool_scopes`` naming a sample capability add to its scopes.
    Unmatched plugins are kept under their own id (they protect nothing here); ``map_plugins`` lists them.
    """
    merged = dict(_SAMPLE_PLUGINS)
    for plugin in configured:
        ours = plugin_key(plugin.plugin_id)
        if ours in merged and ours in _SAMPLE_PLUGINS:
            update = {k: getattr(plugin, k) for k in plugin.model_fields_set if k != "plugin_id"}
            merged[ours] = merged[ours].model_copy(update=update)
        else:
            merged[plugin.plugin_id] = plugin
    mapping = map_plugins(configured, mcp_servers := tuple(mcp_servers))
    for server in mcp_servers:
        if not server.enabled:
            continue
        for name, scopes in server.tool_scopes.items():
            capability = CAPABILITIES.get(mapping.tools.get(name, ""))
            if capability is None:
                continue
            spec = merged[capability.plugin_id]
            current = spec.capability(capability.capability_id)
            base = list(current.required_scopes if current and current.required_scopes is not None
                        else capability.scopes)
            entry = CapabilitySpec(capability_id=capability.capability_id,
                                   required_scopes=list(dict.fromkeys([*base, *scopes])),
                                   enabled=current.enabled if current else True,
                                   middleware=current.middleware if current else None)
            others = [c for c in spec.capabilities if c.capability_id != capability.capability_id]
            merged[capability.plugin_id] = spec.model_copy(update={"capabilities": [*others, entry]})
    return merged


def capability_enabled(plugin: PluginSpec | None, capability: CapabilityDef) -> bool:
    """False when the configuration turns the capability (or its plugin) off."""
    if plugin is None:
        return True
    configured = plugin.capability(capability.capability_id)
    return plugin.enabled and (configured is None or configured.enabled)


def capability_scopes(plugin: PluginSpec | None, capability: CapabilityDef) -> tuple[str, ...]:
    """Plugin scopes plus the capability's own (configured ones replace the built-in defaults, as in AgentUp)."""
    own: list[str] = list(capability.scopes)
    if plugin is not None:
        configured = plugin.capability(capability.capability_id)
        if configured is not None and configured.required_scopes is not None:
            own = list(configured.required_scopes)
    base = list(plugin.required_scopes) if plugin is not None else []
    return tuple(dict.fromkeys([*base, *own]))


def endpoint_policy(cfg: SecurityConfig) -> tuple[AgentPolicy, dict[str, PluginSpec]]:
    """The sample agent's endpoint policy under ``cfg``: every capability's scopes, plugins merged and mapped.

    Built as the agent builds it (``Agent.__init__``), for ``labkit explain`` and the lessons.
    """
    plugins = merge_plugins(cfg.plugins, cfg.mcp_servers)
    capabilities = {
        c.capability_id: Capability(
            c.capability_id, c.plugin_id, capability_scopes(plugins.get(c.plugin_id), c),
            fresh=bool(plugins.get(c.plugin_id) and plugins[c.plugin_id].oauth2_specific.introspection_required),
            tool=c.capability_id,
        )
        for c in CAPABILITIES.values()
        if capability_enabled(plugins.get(c.plugin_id), c)
    }
    return AgentPolicy(capabilities, {p: tuple(s.required_scopes) for p, s in plugins.items()}), plugins


def dumps(value: Any) -> str:
    """A capability result as text (for MCP and A2A text parts)."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)
