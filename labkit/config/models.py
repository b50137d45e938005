"""The models of an AgentUp ``security:`` configuration and the sections around it (frozen, strict pydantic)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cached_property
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from ..scopes import ScopeHierarchy
from .delegation import DelegationSpec
from .env import Substitution, Substitutions

__all__ = [
    "STRATEGIES",
    "AuditConfig",
    "CapabilitySpec",
    "McpServerSpec",
    "MiddlewareName",
    "MiddlewareSpec",
    "OAuth2Config",
    "OAuth2PluginSettings",
    "PluginSpec",
    "PushConfig",
    "SecurityConfig",
    "StateConfig",
    "Strategy",
    "TenantConfig",
    "as_tuple",
]

Strategy = Literal["jwt", "introspection", "both"]
STRATEGIES: tuple[Strategy, ...] = ("jwt", "introspection", "both")
_GITHUB_PATH = re.compile(r"/applications/[^/]+/token")

_STRICT = ConfigDict(extra="forbid", frozen=True, strict=True, hide_input_in_errors=True)


class OAuth2Config(BaseModel):
    """``security.oauth2``: how tokens are validated (SEED.md keys plus DESIGN.md's additions)."""

    model_config = _STRICT

    validation_strategy: Strategy = "jwt"
    # JWT
    jwt_secret: SecretStr | None = None
    jwks_url: str | None = None
    jwks: dict[str, Any] | None = Field(default=None, repr=False)
    jwt_algorithm: str | None = None
    jwt_algorithms: list[str] | None = None
    jwt_issuer: str | list[str] | None = None
    jwt_audience: str | list[str] | None = None
    leeway: int = Field(default=0, ge=0, le=300)
    required_claims: list[str] | None = None
    scope_claims: list[str] = Field(default_factory=lambda: ["scope", "scp"], min_length=1)
    jwt_cache_ttl: int = Field(default=300, ge=0)
    jwks_cache_ttl: int = Field(default=300, ge=0, le=86_400)
    jwks_refresh_cooldown: float = Field(default=10, ge=0, le=300)  # min seconds between unknown-kid refetches
    # Introspection
    client_id: str | None = None
    client_secret: SecretStr | None = None
    introspection_endpoint: str | None = None
    introspection_dialect: Literal["rfc7662", "github", "jupyterhub"] | None = None
    introspection_auth_method: Literal["client_secret_basic", "client_secret_post"] = "client_secret_basic"
    introspection_cache_ttl: int = Field(default=300, ge=0)
    introspection_timeout: float = Field(default=5.0, gt=0, le=60)
    max_cache_size: int = Field(default=10_000, ge=1, le=10_000_000)
    max_response_bytes: int = Field(default=1 << 20, ge=1024, le=64 << 20)
    # The client registration (AgentUp's auth.oauth2 client-side keys): kept for the authorization-code flow
    authorization_url: str | None = None
    token_url: str | None = None
    redirect_uri: str | None = None
    scopes: list[str] | None = None
    # RFC 9449 (DPoP): opt-in; a DPoP-bound token always needs its proof, whatever these say
    require_dpop: bool = False  # refuse Bearer presentations: every token must come with a DPoP proof
    dpop_nonce: bool = False  # demand a server nonce in proofs (RFC 9449 §8: use_dpop_nonce + DPoP-Nonce)
    dpop_algorithms: list[str] | None = None  # proof algorithms (default: every asymmetric one in the table)
    dpop_max_age: int = Field(default=60, ge=1, le=300)  # seconds a proof's iat may be from now
    # Authorization
    required_scopes: list[str] = Field(default_factory=list)
    allowed_scopes: list[str] | None = None
    # Normalized here from either placement (security.scope_hierarchy or security.oauth2.scope_hierarchy).
    scope_hierarchy: dict[str, list[str]] = Field(default_factory=dict)

    @property
    def algorithms(self) -> tuple[str, ...]:
        """The pinned algorithm allow-list (RFC 8725 §3.1), defaulted from the key source."""
        if self.jwt_algorithms:
            return tuple(self.jwt_algorithms)
        if self.jwt_algorithm:
            return (self.jwt_algorithm,)
        if self.jwks_url or self.jwks:
            return ("RS256",)
        if self.jwt_secret is not None:
            return ("HS256",)
        return ()

    @property
    def issuers(self) -> tuple[str, ...]:
        """Accepted ``iss`` values (exact match)."""
        return as_tuple(self.jwt_issuer)

    @property
    def audiences(self) -> tuple[str, ...]:
        """Accepted audiences; a token's ``aud`` must contain one of them."""
        return as_tuple(self.jwt_audience)

    @property
    def claims_required(self) -> tuple[str, ...]:
        """Claims that must be present: ``exp`` by default, plus ``iss``/``aud`` when configured."""
        if self.required_claims is not None:
            base = list(self.required_claims)
        else:
            base = ["exp"]
        if self.jwt_issuer and "iss" not in base:
            base.append("iss")
        if self.jwt_audience and "aud" not in base:
            base.append("aud")
        return tuple(base)

    @property
    def dialect(self) -> Literal["rfc7662", "github", "jupyterhub"]:
        """The introspection dialect: explicit, or ``github`` for a GitHub-style endpoint."""
        if self.introspection_dialect:
            return self.introspection_dialect
        if self.introspection_endpoint:
            parts = urlsplit(self.introspection_endpoint)
            if parts.hostname == "api.github.com" or _GITHUB_PATH.fullmatch(parts.path or ""):
                return "github"
        return "rfc7662"

    @cached_property
    def hierarchy(self) -> ScopeHierarchy:
        """The scope hierarchy as an object (built once: ``cfg.hierarchy is cfg.hierarchy``)."""
        return ScopeHierarchy(self.scope_hierarchy)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> OAuth2Config:
        """A copy with ``update`` applied; the cached hierarchy is rebuilt from the copy's own mapping."""
        copied = super().model_copy(update=update, deep=deep)
        copied.__dict__.pop("hierarchy", None)
        return copied


MiddlewareName = Literal["timed", "cached", "rate_limited", "retryable", "oauth2_introspection_cache"]


class MiddlewareSpec(BaseModel):
    """One middleware: an entry of ``middleware:``, ``plugin_override``/``capability_override`` or
    ``plugin_defaults.middleware`` (``params`` normalised: AgentUp's ``config``, ``default_ttl``, ``burst_size``)."""

    model_config = _STRICT

    name: MiddlewareName
    params: dict[str, Any] = Field(default_factory=dict)


class OAuth2PluginSettings(BaseModel):
    """``plugins[].oauth2_specific``."""

    model_config = _STRICT

    introspection_required: bool = False
    cache_override: bool = False


class CapabilitySpec(BaseModel):
    """A named capability of a plugin, with its own scopes (e.g. ``write_operation``).

    ``required_scopes`` None: the plugin's built-in default applies; a list (even empty) replaces it.
    ``middleware``: AgentUp's ``capability_override`` (replaces the plugin's middleware for this capability).
    """

    model_config = _STRICT

    capability_id: str = Field(min_length=1)
    required_scopes: list[str] | None = None
    enabled: bool = True
    middleware: list[MiddlewareSpec] | None = None
    config: dict[str, Any] = Field(default_factory=dict, repr=False)


class PluginSpec(BaseModel):
    """One plugin, from the seed's list form or AgentUp's mapping keyed by package.

    ``middleware``: the seed's ``middleware`` list or AgentUp's ``plugin_override`` (complete replacement).
    """

    model_config = _STRICT

    plugin_id: str = Field(min_length=1)
    package: str | None = None
    name: str | None = None
    description: str | None = None
    enabled: bool = True
    plugin_type: Literal["local", "network", "hybrid"] = "local"
    required_scopes: list[str] = Field(default_factory=list)
    oauth2_specific: OAuth2PluginSettings = Field(default_factory=OAuth2PluginSettings)
    capabilities: list[CapabilitySpec] = Field(default_factory=list)
    middleware: list[MiddlewareSpec] | None = None
    delegation: DelegationSpec | None = None  # RFC 8693: delegated callers, and the downstream it calls
    keywords: list[str] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list)
    priority: int = 100
    config: dict[str, Any] = Field(default_factory=dict, repr=False)

    def capability(self, capability_id: str) -> CapabilitySpec | None:
        """The configured capability with this id, or None."""
        return next((c for c in self.capabilities if c.capability_id == capability_id), None)


class McpServerSpec(BaseModel):
    """One entry of ``mcp.servers``: the parts the lab uses (its tools' scopes and card exposure)."""

    model_config = ConfigDict(frozen=True)

    name: str
    enabled: bool = True
    expose_as_skills: bool = False
    tool_scopes: dict[str, tuple[str, ...]] = Field(default_factory=dict)  # "server:tool" -> scopes
    url: str | None = None  # http transports: where the agent connects


class TenantConfig(BaseModel):
    """One tenant: its own ``oauth2`` block (standalone, nothing inherited) and scope hierarchy."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str
    oauth2: OAuth2Config

    @property
    def scope_hierarchy(self) -> ScopeHierarchy:
        """This tenant's hierarchy (applies to this tenant only)."""
        return self.oauth2.hierarchy


class PushConfig(BaseModel):
    """Top-level ``push:``: where the agent may deliver A2A push notifications, and how."""

    model_config = _STRICT

    allowed_hosts: list[str] = Field(default_factory=list)  # exact "host:port" entries
    allow_loopback: bool = False  # 127.0.0.0/8 and ::1 (the lab's receiver lives there)
    allow_private_networks: bool = False  # 10/8, 172.16/12, 192.168/16, fc00::/7
    timeout: float = Field(default=5.0, gt=0, le=60)  # seconds for one whole delivery attempt, answer included
    max_retries: int = Field(default=3, ge=0, le=10)
    token_lifetime: int = Field(default=60, ge=5, le=3600)


class AuditConfig(BaseModel):
    """Top-level ``audit:``: where the audit log goes (``$LABKIT_AUDIT_LOG`` when ``path`` is unset)."""

    model_config = _STRICT

    path: str | None = None  # a JSONL file, appended to
    capacity: int = Field(default=10_000, ge=1, le=10_000_000)  # events kept in memory


class StateConfig(BaseModel):
    """Top-level ``state:``: the shared backends of a replicated agent (all optional; in-memory by default)."""

    model_config = _STRICT

    redis_url: str | None = Field(default=None, repr=False)  # may hold a password
    database_url: str | None = Field(default=None, repr=False)
    push_signing_key: str | None = None  # a PEM or JWK (JSON) file with an EC P-256 private key
    push_previous_keys: list[str] = Field(default_factory=list)  # still published (rotation grace), never used
    key_prefix: str = Field(default="labkit", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    redis_max_connections: int = Field(default=100, ge=1, le=10_000)  # per replica; more wait (5 s at most)
    database_pool_size: int = Field(default=20, ge=1, le=1_000)  # PostgreSQL connections per replica, all kept open
    mcp_stateless: bool | None = None  # None: stateless exactly when redis_url is set (replicas)

    @property
    def shared(self) -> bool:
        """True when the agent keeps its limits and caches in Redis (it runs as replicas)."""
        return self.redis_url is not None

    @property
    def stateless_mcp(self) -> bool:
        """Whether ``/mcp`` serves every request without a session (the SDK's stateless mode)."""
        return self.shared if self.mcp_stateless is None else self.mcp_stateless


class SecurityConfig(BaseModel):
    """A validated ``security:`` configuration plus the ``middleware``/``plugins``/``tenants`` around it."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    enabled: bool = True
    type: Literal["oauth2"] = "oauth2"
    oauth2: OAuth2Config
    middleware: tuple[MiddlewareSpec, ...] = ()
    plugin_defaults: tuple[MiddlewareSpec, ...] | None = None  # AgentUp's plugin_defaults.middleware
    plugins: tuple[PluginSpec, ...] = ()
    mcp_servers: tuple[McpServerSpec, ...] = ()
    sanitization_enabled: bool = True
    max_string_length: int = 100_000  # -1: unlimited (AgentUp's meaning)
    ignored_sections: tuple[str, ...] = ()  # top-level sections accepted but not modelled by the lab
    # Where things were written ("oauth2", "scope_hierarchy", "plugin:<id>", "oauth2:<key>" for renamed keys).
    config_paths: dict[str, str] = Field(default_factory=dict, repr=False)
    tenants: dict[str, TenantConfig] = Field(default_factory=dict)
    push: PushConfig = Field(default_factory=PushConfig)
    audit: AuditConfig = Field(default_factory=AuditConfig)
    state: StateConfig = Field(default_factory=StateConfig)  # shared backends; empty: everything in memory
    # every ${VAR} substituted while loading: output about this config names the variable, never the value
    env_values: tuple[Substitution, ...] = Field(default=(), repr=False, exclude=True)

    def path_of(self, what: str, key: str | None = None) -> str:
        """The config path the user wrote for ``what`` (and ``key`` inside it), for messages."""
        if what == "oauth2" and key is not None:
            return self.config_paths.get(f"oauth2:{key}", f"{self.path_of('oauth2')}.{key}")
        default = {"oauth2": "security.oauth2", "scope_hierarchy": "security.scope_hierarchy"}.get(what, what)
        return self.config_paths.get(what, default)

    @property
    def scope_hierarchy(self) -> ScopeHierarchy:
        """The (default tenant's) scope hierarchy."""
        return self.oauth2.hierarchy

    def redact(self, text: str) -> str:
        """``text`` (output about this config) with each value taken from the environment named ``${VAR}``."""
        return Substitutions(list(self.env_values)).redact_text(text) if self.env_values else text

    def plugin(self, plugin_id: str) -> PluginSpec | None:
        """The plugin with this id, or None."""
        return next((p for p in self.plugins if p.plugin_id == plugin_id), None)


def as_tuple(value: str | list[str] | None) -> tuple[str, ...]:
    """A one-or-many setting (``jwt_issuer: x`` or ``jwt_issuer: [x, y]``) as a tuple."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)
