"""What a configuration amounts to: the effective policy per endpoint and capability, and its weak spots.

``explain(cfg, policy, plugins)`` takes a validated ``SecurityConfig`` and the endpoint policy an agent
builds from it (the sample agent's: ``sample_agent.plugins.endpoint_policy``) and returns rows (who needs
what, and which scopes of the hierarchy grant it) and weaknesses: settings that validate but leave the
agent weaker than it looks, each with the config path to change. Every pass is linear in the hierarchy.
"""

from __future__ import annotations

import functools
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from . import algorithms
from .config import OAuth2Config, PluginSpec, SecurityConfig
from .middleware import select_middleware
from .scopes import WILDCARD, ScopeHierarchy
from .secret_strength import secret_problem

if TYPE_CHECKING:
    from .guard import EndpointPolicy

__all__ = [
    "LONG_INTROSPECTION_TTL",
    "Explanation",
    "PolicyRow",
    "Weakness",
    "explain",
    "explain_config",
    "find_weaknesses",
]

_SHOWN = 6  # scope names listed in a cell before "(+N more)"
LONG_INTROSPECTION_TTL = 300  # seconds a revoked token may still pass (RFC 7662 §4: cache with care)


@dataclass(frozen=True)
class PolicyRow:
    """One call of one endpoint: the scopes it requires and the scopes that grant it through the hierarchy."""

    endpoint: str
    call: str
    plugin: str | None
    required: tuple[str, ...]
    granted_by: tuple[str, ...]  # single scopes whose expansion covers every required one


@dataclass(frozen=True)
class Weakness:
    """A setting that validates but weakens the agent, with the config path to change."""

    path: str
    message: str


@dataclass(frozen=True)
class Explanation:
    """The effective policy and the weaknesses of one configuration."""

    rows: tuple[PolicyRow, ...]
    weaknesses: tuple[Weakness, ...]
    notes: tuple[str, ...] = field(default=())

    def cells(self) -> list[tuple[str, str, str, str, str]]:
        """A header and one row per policy row, as text (``table()`` and the CLI's JSON and TSV read these)."""
        return [("endpoint", "call", "plugin", "requires", "granted by (after the hierarchy)")] + [
            (r.endpoint, r.call, r.plugin or "-", " ".join(r.required) or "(a valid token)", _names(r.granted_by)
             if r.required else "any valid token")
            for r in self.rows
        ]

    def table(self) -> str:
        """The rows as a fixed-width text table."""
        cells = self.cells()
        header = cells[0]
        widths = [max(len(c[i]) for c in cells) for i in range(len(header) - 1)]
        return "\n".join(
            "  ".join(c[i].ljust(widths[i]) for i in range(len(widths))) + "  " + c[-1] for c in cells
        )


def explain(cfg: SecurityConfig, policy: EndpointPolicy, plugins: Mapping[str, PluginSpec],
            notes: Iterable[str] = ()) -> Explanation:
    """The effective policy of ``cfg`` as the agent enforces it, and its weaknesses."""
    from .guard import PluginScopes

    hierarchy = cfg.scope_hierarchy
    grants = _Granters(hierarchy)
    base = tuple(cfg.oauth2.required_scopes)  # every request needs these first
    rows: list[PolicyRow] = []

    def add(endpoint: str, call: str, plugin: str | None, scopes: Iterable[str]) -> None:
        required = tuple(dict.fromkeys([*base, *scopes]))
        rows.append(PolicyRow(endpoint, call, plugin, required, grants.of(required)))

    for method, need in policy.method_scopes.items():
        if "/" not in method:
            continue  # the v1.0 alias of a v0.3 method: same requirement, listed once
        if isinstance(need, PluginScopes):
            add("POST /", method, need.plugin_id, policy.plugin_scopes.get(need.plugin_id, ()))
        else:
            add("POST /", method, None, need or ())
    add("POST /", "capabilities", None, ())
    for capability in sorted(policy.capabilities.values(), key=lambda c: (c.plugin_id, c.capability_id)):
        add("POST /", f"execute {capability.capability_id}", capability.plugin_id, capability.scopes)
    add("POST /mcp", "initialize, tools/list", None, ())
    for capability in sorted(policy.capabilities.values(), key=lambda c: (c.plugin_id, c.capability_id)):
        if capability.tool:
            add("POST /mcp", f"tools/call {capability.tool}", capability.plugin_id, capability.scopes)
    return Explanation(tuple(rows), tuple(find_weaknesses(cfg, plugins, grants)), tuple(notes))


def explain_config(cfg: SecurityConfig) -> Explanation:
    """The policy ``cfg`` itself declares, for any app that uses it (no agent assumed): each enabled plugin, its
    capabilities and MCP tools with the scopes they require after the global ``required_scopes``, the single
    scopes of the hierarchy that grant them, and the weaknesses."""
    grants = _Granters(cfg.scope_hierarchy)
    base = tuple(cfg.oauth2.required_scopes)
    rows: list[PolicyRow] = []

    def add(kind: str, name: str, plugin: str | None, scopes: Iterable[str]) -> None:
        required = tuple(dict.fromkeys([*base, *scopes]))
        rows.append(PolicyRow(kind, name, plugin, required, grants.of(required)))

    add("any request", "(global required_scopes)", None, ())
    for plugin in cfg.plugins:
        if not plugin.enabled:
            continue
        add("plugin", plugin.plugin_id, plugin.plugin_id, plugin.required_scopes)
        for capability in plugin.capabilities:
            if capability.enabled:
                own = capability.required_scopes
                add("capability", capability.capability_id, plugin.plugin_id,
                    plugin.required_scopes if own is None else own)
    for server in cfg.mcp_servers:
        if server.enabled:
            for tool, scopes in sorted(server.tool_scopes.items()):
                add("mcp tool", tool, server.name, scopes)
    plugins = {p.plugin_id: p for p in cfg.plugins if p.enabled}
    return Explanation(tuple(rows), tuple(find_weaknesses(cfg, plugins, grants)))


class _Granters:
    """Which single scopes imply a given scope: reverse reachability, memoised per scope (linear each)."""

    def __init__(self, hierarchy: ScopeHierarchy) -> None:
        self._reverse: dict[str, list[str]] = defaultdict(list)
        for parent, children in hierarchy.mapping.items():
            for child in children:
                self._reverse[child].append(parent)
        self._memo: dict[str, frozenset[str]] = {}
        self.wildcard = self._ancestors(WILDCARD) - {WILDCARD}

    def _ancestors(self, scope: str) -> frozenset[str]:
        found = self._memo.get(scope)
        if found is None:
            seen = {scope}
            queue = deque([scope])
            while queue:
                for parent in self._reverse.get(queue.popleft(), ()):
                    if parent not in seen:
                        seen.add(parent)
                        queue.append(parent)
            found = self._memo[scope] = frozenset(seen)
        return found

    def of(self, required: tuple[str, ...]) -> tuple[str, ...]:
        """Scopes that alone satisfy every scope of ``required``, sorted."""
        if not required:
            return ()
        common = set.intersection(*(set(self._ancestors(s)) for s in required))
        return tuple(sorted(common | self.wildcard))


def find_weaknesses(cfg: SecurityConfig, plugins: Mapping[str, PluginSpec],
                    grants: _Granters | None = None) -> list[Weakness]:
    """Settings that validate but leave the agent weaker than it looks, each with its config path."""
    out: list[Weakness] = []
    _oauth2_weaknesses(cfg.oauth2, lambda key: cfg.path_of("oauth2", key), out)
    for name, tenant in sorted(cfg.tenants.items()):
        _oauth2_weaknesses(tenant.oauth2, functools.partial("tenants.{}.oauth2.{}".format, name), out)
    grants = grants or _Granters(cfg.scope_hierarchy)
    hierarchy_path = cfg.path_of("scope_hierarchy")
    mapping = cfg.scope_hierarchy.mapping
    for scope in sorted(grants.wildcard):
        if WILDCARD in mapping.get(scope, ()):
            indirect = sorted(grants.wildcard - {scope})
            via = f"; {_names(tuple(indirect))} reach it too" if indirect else ""
            out.append(Weakness(f"{hierarchy_path}.{scope}", f"'{scope}: [\"*\"]' grants every scope, including "
                                f"ones added later{via}: prefer listing what {scope} implies"))
    for plugin_id, plugin in sorted(plugins.items()):
        chosen = {m.name for m in select_middleware(cfg, plugin)}
        if plugin.plugin_type == "network" and "rate_limited" not in chosen:
            where = cfg.config_paths.get(f"plugin:{plugin_id}") or (
                "plugin_defaults.middleware" if cfg.plugin_defaults is not None else "middleware")
            out.append(Weakness(where, f"network plugin {plugin_id} has no "
                                "rate_limited middleware: one token can drive the remote API without limit"))
    for server in cfg.mcp_servers:
        if server.url and _plain_http_outside_loopback(server.url):
            out.append(Weakness("mcp.servers", f"server {server.name} is reached over plain http outside "
                                "loopback: its headers and results travel in clear"))
    for spec in [*(cfg.plugin_defaults or ()), *cfg.middleware]:
        if spec.name == "oauth2_introspection_cache" and int(spec.params.get("cache_ttl", 0)) > LONG_INTROSPECTION_TTL:
            out.append(Weakness("middleware", f"oauth2_introspection_cache keeps results {spec.params['cache_ttl']} s: "
                                "a revoked token passes that long"))
    if not cfg.sanitization_enabled:
        out.append(Weakness("security.sanitization_enabled", "argument sanitization is off"))
    if cfg.max_string_length == -1:
        out.append(Weakness("security.max_string_length", "no limit on argument strings (-1)"))
    return out


def _oauth2_weaknesses(cfg: OAuth2Config, where: Callable[[str], str], out: list[Weakness]) -> None:
    strategy = cfg.validation_strategy
    if strategy in ("jwt", "both"):
        secret = cfg.jwt_secret.get_secret_value() if cfg.jwt_secret is not None else None
        hmac = [a for a in cfg.algorithms if a in algorithms.HMAC]
        if secret and hmac:
            # RFC 7518 §3.2 / RFC 8725 §3.5: a key of the hash's size, from a random generator (what a string can show)
            problem = secret_problem(secret, max(algorithms.TABLE[a].min_key_bytes for a in hmac))
            if problem is not None:
                out.append(Weakness(where("jwt_secret"), f"{hmac[0]} secret: {problem}; guessable offline from any "
                                    "one token"))
        if not cfg.audiences:
            out.append(Weakness(where("jwt_audience"), "no audience: a token the issuer minted for any other "
                                "service is accepted here (RFC 8725 §3.9)"))
        if not cfg.issuers:
            out.append(Weakness(where("jwt_issuer"), "no issuer: any issuer whose keys validate is accepted"))
    if strategy in ("introspection", "both") and cfg.introspection_cache_ttl > LONG_INTROSPECTION_TTL:
        out.append(Weakness(where("introspection_cache_ttl"), f"introspection results are cached "
                            f"{cfg.introspection_cache_ttl} s: a revoked token passes that long"))
    if cfg.leeway > 60:
        out.append(Weakness(where("leeway"), f"{cfg.leeway} s of clock skew accepted: expired tokens live longer"))
    for key in ("jwks_url", "introspection_endpoint", "authorization_url", "token_url", "redirect_uri"):
        value = getattr(cfg, key)
        if value and _plain_http_outside_loopback(value):
            out.append(Weakness(where(key), "plain http outside loopback"))


def _plain_http_outside_loopback(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    host = (parts.hostname or "").lower()
    return parts.scheme in ("http", "ws") and not (host == "localhost" or host.startswith("127.") or host == "::1")


def _names(scopes: tuple[str, ...]) -> str:
    if not scopes:
        return "(no single scope: needs several)"
    shown = " ".join(scopes[:_SHOWN])
    return shown + (f" (+{len(scopes) - _SHOWN} more)" if len(scopes) > _SHOWN else "")
