"""``plugins`` (the seed's list or AgentUp's mapping keyed by package, with capabilities) and ``mcp.servers``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .delegation import DelegationSpec
from .messages import validate_model
from .middleware import middleware_list
from .models import CapabilitySpec, McpServerSpec, PluginSpec
from .problems import Place, type_name
from .scope_names import check_scope_names
from .urls import check_url

__all__ = ["build_mcp", "build_plugins"]

_MCP_KEYS = ("enabled", "client_enabled", "client_timeout", "server_enabled", "server_host", "server_port", "servers")
_MCP_SERVER_KEYS = ("name", "enabled", "transport", "type", "command", "args", "env", "url", "headers", "timeout",
                    "expose_as_skills", "tool_scopes", "working_dir")


def _entries(raw: Any, id_key: str, place: Place) -> list[tuple[Place, dict[str, Any]]]:
    """Both shapes as (place, body with ``id_key``): the seed's list, or AgentUp's mapping keyed by id."""
    out: list[tuple[Place, dict[str, Any]]] = []
    if isinstance(raw, Mapping):
        for key, body in raw.items():
            at_entry = place.at(str(key))
            body = {} if body is None else body
            if not isinstance(body, Mapping):
                at_entry.add(f"expected a mapping, got {type_name(body)}")
                continue
            if id_key in body and body[id_key] != key:
                at_entry.at(id_key).add(f"differs from the key {key!r} it is listed under")
                continue
            out.append((at_entry, {**body, id_key: str(key)}))
    elif isinstance(raw, list):
        for i, body in enumerate(raw):
            at_entry = place.item(i)
            if not isinstance(body, Mapping):
                at_entry.add(f"expected a mapping, got {type_name(body)}")
                continue
            out.append((at_entry, dict(body)))
    else:
        place.add(f"expected a list, or a mapping keyed by {id_key.removesuffix('_id')} id, got {type_name(raw)}")
    return out


def _override(body: dict[str, Any], agentup_key: str, place: Place) -> None:
    """``plugin_override``/``capability_override`` (AgentUp) and ``middleware`` (seed) -> ``middleware``."""
    if agentup_key in body and "middleware" in body:
        place.at(agentup_key).add(f"give either {agentup_key} or middleware (the same thing)")
    key = agentup_key if agentup_key in body else "middleware"
    if key in body:  # an empty list is given (no middleware at all); absent means inherit
        written = body.pop(agentup_key, body.pop("middleware", None))
        body["middleware"] = middleware_list(written, place.at(key))


def build_plugins(raw: Any, place: Place) -> tuple[PluginSpec, ...]:
    """``plugins``: the seed's list of ``plugin_id`` entries, or AgentUp's mapping keyed by package."""
    if raw is None:
        return ()
    plugins: list[PluginSpec] = []
    seen: set[str] = set()
    for at_plugin, body in _entries(raw, "plugin_id", place):
        if isinstance(raw, Mapping):
            body.setdefault("package", body["plugin_id"])
        _override(body, "plugin_override", at_plugin)
        capabilities: list[CapabilitySpec] = []
        if body.get("capabilities") is not None:
            for at_cap, cap in _entries(body["capabilities"], "capability_id", at_plugin.at("capabilities")):
                _override(cap, "capability_override", at_cap)
                spec = validate_model(CapabilitySpec, cap, at_cap)
                if spec is not None:
                    check_scope_names(spec.required_scopes, at_cap.at("required_scopes"))
                    capabilities.append(spec)
        if "capabilities" in body:
            body["capabilities"] = capabilities
        plugin = validate_model(PluginSpec, body, at_plugin)
        if plugin is None:
            continue
        if plugin.plugin_id in seen:
            at_plugin.at("plugin_id").add(f"duplicate plugin_id {plugin.plugin_id!r}")
        seen.add(plugin.plugin_id)
        check_scope_names(plugin.required_scopes, at_plugin.at("required_scopes"))
        if plugin.delegation is not None:
            _check_delegation(plugin.delegation, at_plugin.at("delegation"))
        plugins.append(plugin)
    return tuple(plugins)


def _check_delegation(spec: DelegationSpec, place: Place) -> None:
    """What the model's types cannot say: a rule that refuses everything, actors' names, downstream URLs."""
    if spec.required and spec.max_delegation_depth == 0:
        place.at("max_delegation_depth").add("0 refuses delegated tokens, but required: true accepts only those")
    for i, actor in enumerate(spec.allowed_actors or ()):
        if not actor or actor != actor.strip():
            place.at("allowed_actors").item(i).add("expected a client id (non-empty, no surrounding spaces)")
    if spec.allowed_actors == [] and spec.required:
        place.at("allowed_actors").add("an empty list allows no actor, yet required: true wants delegated tokens")
    downstream = spec.downstream
    if downstream is not None:
        # the caller's token is exchanged here and the new one sent there: TLS, loopback excepted
        check_url(downstream.url, place.at("downstream").at("url"))
        check_url(downstream.token_endpoint, place.at("downstream").at("token_endpoint"))
        if downstream.scope is not None:
            check_scope_names(downstream.scope.split(), place.at("downstream").at("scope"))
            if not downstream.scope.split():
                place.at("downstream").at("scope").add("expected space-delimited scopes (or leave it out)")


def build_mcp(raw: Any, place: Place) -> tuple[McpServerSpec, ...]:
    """``mcp.servers[]``: each server's ``tool_scopes`` (keys as ``server:tool``) and ``expose_as_skills``."""
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        place.add(f"expected a mapping, got {type_name(raw)}")
        return ()
    place.unknown_keys(raw, _MCP_KEYS)
    servers = raw.get("servers") or []
    if not isinstance(servers, list):
        place.at("servers").add(f"expected a list of servers, got {type_name(servers)}")
        return ()
    out: list[McpServerSpec] = []
    names: set[str] = set()
    for i, server in enumerate(servers):
        at_server = place.at("servers").item(i)
        if not isinstance(server, Mapping):
            at_server.add(f"expected a mapping, got {type_name(server)}")
            continue
        at_server.unknown_keys(server, _MCP_SERVER_KEYS)
        name = server.get("name")
        if not isinstance(name, str) or not name or ":" in name:
            at_server.at("name").add("each server needs a name (without ':')")
            continue
        if name in names:
            at_server.at("name").add(f"duplicate server name {name!r}")
        names.add(name)
        flags = {}
        for flag in ("enabled", "expose_as_skills"):
            value = server.get(flag, flag == "enabled")
            if not isinstance(value, bool):
                at_server.at(flag).add("expected true or false")
            flags[flag] = value is True
        tool_scopes = _tool_scopes(server.get("tool_scopes"), name, at_server.at("tool_scopes"))
        url = server.get("url")
        if url is not None and not isinstance(url, str):
            at_server.at("url").add("expected a URL")
            url = None
        out.append(McpServerSpec(name=name, tool_scopes=tool_scopes, url=url, **flags))
    return tuple(out)


def _tool_scopes(raw: Any, server: str, place: Place) -> dict[str, tuple[str, ...]]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        place.add("expected a mapping of \"server:tool\" to a list of scopes")
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for key, scopes in raw.items():
        at_tool = Place(place.problems, f'{place.path}."{key}"')
        prefix, _, tool = str(key).rpartition(":")
        # AgentUp: "server:tool" (a bare tool name is read as this server's)
        if prefix and prefix != server:
            at_tool.add(f"names server {prefix!r}, but this is server {server!r}; use \"{server}:{tool}\"")
            continue
        if not tool:
            at_tool.add("expected \"server:tool\"")
            continue
        if scopes is None:
            scopes = []
        if not isinstance(scopes, list):
            at_tool.add("expected a list of scopes")
            continue
        mark = place.problems.mark()
        check_scope_names(scopes, at_tool)
        if f"{server}:{tool}" in out:
            at_tool.add("given twice (with and without the server prefix)")
        elif place.problems.mark() == mark:
            out[f"{server}:{tool}"] = tuple(scopes)
    return out
