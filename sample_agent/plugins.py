"""The sample agent's plugins and their capabilities (each also an MCP tool).

| plugin | type | capabilities (scopes) |
|---|---|---|
| system_tools | local | get_time, echo (api:read) |
| files | local | list_files, read_file (files:read), write_file (files:write) — confined to a sandbox |
| external_api | network | write_operation (api:write) — calls a loopback stub service |
| admin | local | admin_status (admin) |
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from labkit.config import CapabilitySpec, PluginSpec

__all__ = ["CAPABILITIES", "DEFAULT_PLUGINS", "CallContext", "CapabilityDef", "CapabilityError", "merge_plugins"]


class CapabilityError(Exception):
    """A capability refused its arguments (a client error, never a server error)."""


@dataclass
class CallContext:
    """What a capability may use: who calls, where the sandbox is, how to reach the stub service."""

    user_key: str
    subject: str | None
    tenant: str | None
    sandbox: Path
    base_url: str
    clock: Callable[[], float]
    stats: Callable[[], dict[str, Any]]
    stub_key: str = ""


Run = Callable[[CallContext, dict[str, Any]], Awaitable[Any]]


@dataclass(frozen=True)
class CapabilityDef:
    """A capability: its plugin, MCP tool name, description, own scopes and implementation."""

    capability_id: str
    plugin_id: str
    description: str
    scopes: tuple[str, ...]
    run: Run


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
    async with httpx.AsyncClient(timeout=5, trust_env=False) as client:
        response = await client.post(
            f"{ctx.base_url}/stub/external-api/records", json={"record": record, "by": ctx.subject},
            headers={"x-lab-stub-key": ctx.stub_key},
        )
    if response.status_code != 201:
        raise CapabilityError(f"external API answered {response.status_code}")
    return dict(response.json())


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
        CapabilityDef("echo", "system_tools", "Echo a text back.", (), _echo),
        CapabilityDef("list_files", "files", "List the files in the sandbox.", ("files:read",), _list_files),
        CapabilityDef("read_file", "files", "Read a file from the sandbox.", ("files:read",), _read_file),
        CapabilityDef("write_file", "files", "Write a file in the sandbox.", ("files:write",), _write_file),
        CapabilityDef(
            "write_operation",
            "external_api",
            "Store a record in the external API (loopback stub).",
            ("api:write",),
            _write_operation,
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


def merge_plugins(configured: tuple[PluginSpec, ...]) -> dict[str, PluginSpec]:
    """The agent's plugins with the configuration's settings applied (config wins, by plugin_id)."""
    merged = {p.plugin_id: p for p in DEFAULT_PLUGINS}
    for plugin in configured:
        merged[plugin.plugin_id] = plugin
    return merged


def capability_scopes(plugin: PluginSpec | None, capability: CapabilityDef) -> tuple[str, ...]:
    """Plugin scopes plus the capability's own (configured ones replace the built-in defaults)."""
    own: list[str] = list(capability.scopes)
    if plugin is not None:
        configured: CapabilitySpec | None = next(
            (c for c in plugin.capabilities if c.capability_id == capability.capability_id), None
        )
        if configured is not None:
            own = list(configured.required_scopes)
    base = list(plugin.required_scopes) if plugin is not None else []
    return tuple(dict.fromkeys([*base, *own]))


def dumps(value: Any) -> str:
    """A capability result as text (for MCP and A2A text parts)."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)
