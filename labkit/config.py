"""The AgentUp ``security:`` configuration: models, YAML loading, env substitution, validation.

``validate_security_config(mapping)`` accepts either a whole ``agentup.yml`` document (with a
``security:`` key and top-level ``middleware:``, ``plugins:``, ``tenants:``) or the ``security``
block alone, normalizes the placements the AgentUp docs leave ambiguous, and either returns a
``SecurityConfig`` or raises one ``ConfigError`` listing every problem with its dotted path.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from ._env import substitute_env
from ._yaml import MAX_BYTES, check_shape, parse_yaml
from .errors import ConfigError
from .scopes import ScopeHierarchy, is_scope_token

__all__ = [
    "ALGORITHMS",
    "AuditConfig",
    "CapabilitySpec",
    "McpServerSpec",
    "MiddlewareSpec",
    "OAuth2Config",
    "PluginSpec",
    "PushConfig",
    "SecurityConfig",
    "TenantConfig",
    "load_config",
    "validate_security_config",
]

HMAC_ALGORITHMS = {"HS256": 32, "HS384": 48, "HS512": 64}  # RFC 7518 §3.2: key >= hash size (bytes)
ASYMMETRIC_ALGORITHMS = (
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519",
)
ALGORITHMS = (*HMAC_ALGORITHMS, *ASYMMETRIC_ALGORITHMS)
STRATEGIES = ("jwt", "introspection", "both")
_GITHUB_PATH = re.compile(r"/applications/[^/]+/token")
_TENANT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_PRIVATE_JWK_MEMBERS = ("d", "p", "q", "dp", "dq", "qi")

_STRICT = ConfigDict(extra="forbid", frozen=True, strict=True, hide_input_in_errors=True)


class OAuth2Config(BaseModel):
    """``security.oauth2``: how tokens are validated (SEED.md keys plus DESIGN.md's additions)."""

    model_config = _STRICT

    validation_strategy: str = "jwt"
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
    introspection_dialect: Literal["rfc7662", "github"] | None = None
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
        return _as_tuple(self.jwt_issuer)

    @property
    def audiences(self) -> tuple[str, ...]:
        """Accepted audiences; a token's ``aud`` must contain one of them."""
        return _as_tuple(self.jwt_audience)

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
    def dialect(self) -> Literal["rfc7662", "github"]:
        """The introspection dialect: explicit, or ``github`` for a GitHub-style endpoint."""
        if self.introspection_dialect:
            return self.introspection_dialect
        if self.introspection_endpoint:
            parts = urlsplit(self.introspection_endpoint)
            if parts.hostname == "api.github.com" or _GITHUB_PATH.fullmatch(parts.path or ""):
                return "github"
        return "rfc7662"

    @property
    def hierarchy(self) -> ScopeHierarchy:
        """The scope hierarchy as an object."""
        return ScopeHierarchy(self.scope_hierarchy)


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
    timeout: float = Field(default=5.0, gt=0, le=60)
    max_retries: int = Field(default=3, ge=0, le=10)
    token_lifetime: int = Field(default=60, ge=5, le=3600)


class AuditConfig(BaseModel):
    """Top-level ``audit:``: where the audit log goes (``$LABKIT_AUDIT_LOG`` when ``path`` is unset)."""

    model_config = _STRICT

    path: str | None = None  # a JSONL file, appended to
    capacity: int = Field(default=10_000, ge=1, le=10_000_000)  # events kept in memory


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

    def path_of(self, what: str, key: str | None = None) -> str:
        """The config path the user wrote for ``what`` (and ``key`` inside it), for messages."""
        if what == "oauth2" and key is not None:
            return self.config_paths.get(f"oauth2:{key}", f"{self.path_of('oauth2')}.{key}")
        default = {"oauth2": "security.oauth2", "scope_hierarchy": "security.scope_hierarchy"}.get(what, what)
        return self.config_paths.get(what, default)
    tenants: dict[str, TenantConfig] = Field(default_factory=dict)
    push: PushConfig = Field(default_factory=PushConfig)
    audit: AuditConfig = Field(default_factory=AuditConfig)

    @property
    def scope_hierarchy(self) -> ScopeHierarchy:
        """The (default tenant's) scope hierarchy."""
        return self.oauth2.hierarchy

    def plugin(self, plugin_id: str) -> PluginSpec | None:
        """The plugin with this id, or None."""
        return next((p for p in self.plugins if p.plugin_id == plugin_id), None)


# ---------------------------------------------------------------------------------------------
# Loading


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> SecurityConfig:
    """Read an ``agentup.yml``-style file, with a ``.env`` beside it, and validate it.

    The process environment wins over ``.env``. Raises ``ConfigError`` (file missing, malformed
    YAML with line and column, or every validation problem with its path).
    """
    file = Path(path)
    try:
        with file.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)  # never more than the cap, whatever the file's size
    except OSError as exc:
        raise ConfigError([(str(file), f"cannot read the file: {exc.__class__.__name__}")]) from None
    if len(data) > MAX_BYTES:
        raise ConfigError([(str(file), f"the file is larger than {MAX_BYTES:,} bytes, the limit for a "
                            "configuration file; refused unread")])
    document, errors = parse_yaml(data, str(file))
    if errors:
        raise ConfigError(errors)
    merged: dict[str, str] = {}
    dotenv = file.parent / ".env"
    if dotenv.is_file():
        if dotenv.stat().st_size > MAX_BYTES:
            raise ConfigError([(str(dotenv), f"larger than {MAX_BYTES:,} bytes; refused unread")])
        merged.update({k: v for k, v in dotenv_values(dotenv).items() if v is not None})
    merged.update(os.environ if env is None else env)
    return validate_security_config(document, env=merged)


def validate_security_config(
    mapping: Mapping[str, Any] | Any, *, env: Mapping[str, str] | None = None
) -> SecurityConfig:
    """Validate a configuration mapping; raises ``ConfigError`` listing every problem at once."""
    if not isinstance(mapping, Mapping):
        raise ConfigError([("", f"expected a mapping of settings, got {_type_name(mapping)}")])
    # Hostile input: bounded depth and size before any recursive pass (load_config's parser checks too).
    refused = check_shape(mapping)
    if refused:
        raise ConfigError(refused)
    errors: list[tuple[str, str]] = []
    document = substitute_env(dict(mapping), os.environ if env is None else env, "", errors)
    from_env = len(errors)
    unresolved = {path for path, _ in errors}
    security, extras, prefix = _normalize(document, errors)
    result = _build(security, extras, prefix, errors)
    if errors or result is None:
        # An unresolved ${VAR} is reported once, not again as the empty value it left behind.
        later = [error for error in errors[from_env:] if error[0] not in unresolved]
        raise ConfigError(errors[:from_env] + later)
    return result


# ---------------------------------------------------------------------------------------------
# Normalization of placements (DESIGN.md: the seed's YAML lost its indentation)

_SECURITY_KEYS = (
    "enabled", "type", "oauth2", "scope_hierarchy", "auth", "sanitization_enabled", "max_string_length",
)
_DOCUMENT_KEYS = ("middleware", "plugins", "tenants", "push", "audit")
_OAUTH2_KEYS = tuple(OAuth2Config.model_fields)


def _normalize(
    document: dict[str, Any], errors: list[tuple[str, str]]
) -> tuple[dict[str, Any], dict[str, Any], str]:
    # After this, oauth2.scope_hierarchy holds the hierarchy; "_hierarchy_path" remembers where it was
    # written so that errors name the place the user wrote.
    """Split a document into (security block, document-level extras, path prefix of security)."""
    if "security" in document:
        security = document.get("security")
        prefix = "security"
        if security is None:
            security = {}
        if not isinstance(security, Mapping):
            errors.append(("security", f"expected a mapping, got {_type_name(security)}"))
            security = {}
        security = dict(security)
        extras = {k: v for k, v in document.items() if k != "security"}
    else:
        security, extras, prefix = dict(document), {}, ""
    # middleware/plugins/tenants written inside security: move them up.
    for key in _DOCUMENT_KEYS:
        if key in security:
            if key in extras:
                errors.append((_join(prefix, key), f"'{key}' is given twice (inside and outside security)"))
            extras[key] = security.pop(key)
    # AgentUp's on-disk shape: security.auth.{oauth2, bearer, api_key}
    if "auth" in security:
        _normalize_auth(security, prefix, errors)
    oauth2 = security.get("oauth2")
    if oauth2 is None and "oauth2" in security:
        oauth2 = {}
    if isinstance(oauth2, Mapping):
        oauth2 = dict(oauth2)
        # scope_hierarchy may sit in security or in oauth2; normalize to oauth2, refuse both.
        if "scope_hierarchy" in security and "scope_hierarchy" in oauth2:
            message = "scope_hierarchy is given twice (in security and in oauth2); keep one"
            errors.append((_join(prefix, "scope_hierarchy"), message))
        elif "scope_hierarchy" in security:
            oauth2["scope_hierarchy"] = security.pop("scope_hierarchy")
            security["_hierarchy_path"] = _join(prefix, "scope_hierarchy")
        # oauth2 settings pasted one level too high (e.g. introspection_cache_ttl after scope_hierarchy)
        for key in [k for k in security if k in _OAUTH2_KEYS and k != "scope_hierarchy"]:
            if key in oauth2:
                errors.append((_join(prefix, key), f"'{key}' is given twice (in security and in oauth2); keep one"))
            else:
                oauth2[key] = security.pop(key)
        security["oauth2"] = oauth2
    return security, extras, prefix


_AUTH_KINDS = ("oauth2", "bearer", "jwt", "api_key")
# AgentUp's auth.bearer (JWT with a shared secret) -> the lab's oauth2 keys; written key -> lab key.
_BEARER_KEYS = {
    "jwt_secret": "jwt_secret", "secret_key": "jwt_secret", "algorithm": "jwt_algorithm",
    "jwt_algorithm": "jwt_algorithm", "issuer": "jwt_issuer", "jwt_issuer": "jwt_issuer", "audience": "jwt_audience",
    "jwt_audience": "jwt_audience", "scope_hierarchy": "scope_hierarchy", "leeway": "leeway",
}
_API_KEY_MESSAGE = (
    "API keys are not covered by this lab: it teaches OAuth2 bearer tokens. Switch to auth.oauth2 "
    "(agentup init with the oauth2 auth type: validation_strategy jwt with jwks_url, or introspection), or to "
    "auth.bearer with a jwt_secret of at least 32 random bytes; then mint tokens with `labkit mint`"
)


def _normalize_auth(security: dict[str, Any], prefix: str, errors: list[tuple[str, str]]) -> None:
    """``security.auth`` -> ``security.oauth2``; remembers where it was written for error paths."""
    where = _join(prefix, "auth")
    auth = security.pop("auth")
    if not isinstance(auth, Mapping) or not auth:
        errors.append((where, "expected a mapping with one of oauth2, bearer (JWT with a secret) or api_key"))
        return
    _unknown_keys(auth, _AUTH_KINDS, where, errors)
    if "api_key" in auth:
        # One clear message, not a list of unknown keys: the lab does not model static API keys.
        errors.append((_join(where, "api_key"), _API_KEY_MESSAGE))
    given = [kind for kind in ("oauth2", "bearer", "jwt") if kind in auth]
    if len(given) > 1:
        errors.append((where, f"{' and '.join(given)} are both given: the lab validates one kind of bearer token; "
                       "keep one"))
        return
    if not given:
        security["_auth_reported"] = "api_key" in auth  # the one message says it all
        return
    kind = given[0]
    if "oauth2" in security:
        errors.append((_join(where, kind), f"oauth2 is given twice: keep either security.oauth2 or auth.{kind}"))
        return
    block = auth[kind]
    source = _join(where, kind)
    if block is None:
        block = {}
    if not isinstance(block, Mapping):
        errors.append((source, f"expected a mapping, got {_type_name(block)}"))
        return
    block = dict(block)
    enabled = block.pop("enabled", True)
    if enabled is not True:
        errors.append((_join(source, "enabled"), "the lab runs the agent behind this block: remove 'enabled' or "
                       "set it to true"))
    renames: dict[str, str] = {}
    if kind != "oauth2":
        block, renames = _bearer_to_oauth2(block, source, errors)
    security["oauth2"] = block
    security["_oauth2_source"] = (source, renames)


def _bearer_to_oauth2(
    block: dict[str, Any], source: str, errors: list[tuple[str, str]]
) -> tuple[dict[str, Any], dict[str, str]]:
    """AgentUp's ``bearer`` (JWT signed with a shared secret) as a jwt-strategy oauth2 block."""
    out: dict[str, Any] = {"validation_strategy": "jwt"}
    renames: dict[str, str] = {}  # lab key -> the key the user wrote
    for key, value in block.items():
        path = _join(source, str(key))
        if key in _BEARER_KEYS:
            target = _BEARER_KEYS[key]
            if target in out and target != "validation_strategy":
                errors.append((path, f"given twice (as {renames.get(target, target)!r} and {key!r}); keep one"))
            out[target] = value
            renames[target] = str(key)
        elif key == "scope_claim":
            out["scope_claims"] = [value]
            renames["scope_claims"] = "scope_claim"
        elif key == "header_name":
            if value != "Authorization":
                errors.append((path, "the lab reads bearer tokens from the Authorization header (RFC 6750 §2.1)"))
        elif key == "user_claim":
            if value != "sub":
                errors.append((path, "the lab reads the subject from the 'sub' claim (RFC 7519 §4.1.2)"))
        elif key in ("tokens", "bearer_token"):
            errors.append((path, "static bearer tokens are not covered by this lab; sign JWTs with jwt_secret "
                           "(or use auth.oauth2) and mint them with `labkit mint`"))
        else:
            known = [*_BEARER_KEYS, "scope_claim", "header_name", "user_claim"]
            errors.append((path, f"unknown key {key!r}" + _did_you_mean(str(key), known)))
    return out, renames


def _rewrite_paths(errors: list[tuple[str, str]], start: int, moved: str, source: str,
                   renames: Mapping[str, str]) -> None:
    """Errors found at ``moved`` (the normalised place) name ``source`` and the keys the user wrote."""
    for i in range(start, len(errors)):
        path, message = errors[i]
        if path == moved or path.startswith((moved + ".", moved + "[")):
            rest = path[len(moved):]
            key = rest[1:].split(".")[0].split("[")[0]
            if key in renames:
                rest = "." + renames[key] + rest[1 + len(key):]
            errors[i] = (source + rest, message)


# ---------------------------------------------------------------------------------------------
# Building and checking


def _build(
    security: dict[str, Any], extras: dict[str, Any], prefix: str, errors: list[tuple[str, str]]
) -> SecurityConfig | None:
    hierarchy_path = security.pop("_hierarchy_path", None)
    source: tuple[str, dict[str, str]] | None = security.pop("_oauth2_source", None)
    reported = security.pop("_auth_reported", False)
    _unknown_keys(security, _SECURITY_KEYS, prefix, errors)
    enabled = security.get("enabled", True)
    if not isinstance(enabled, bool):
        errors.append((_join(prefix, "enabled"), f"expected true or false, got {_type_name(enabled)}"))
    kind = security.get("type", "oauth2")
    if kind not in ("oauth2", "bearer", "jwt"):
        errors.append((_join(prefix, "type"), f"{kind!r} is not supported by this lab; use type: \"oauth2\""))
    sanitization = security.get("sanitization_enabled", True)
    if not isinstance(sanitization, bool):
        errors.append((_join(prefix, "sanitization_enabled"), "expected true or false"))
    max_length = security.get("max_string_length", 100_000)
    if not isinstance(max_length, int) or isinstance(max_length, bool) or not (max_length == -1 or max_length >= 1):
        errors.append((_join(prefix, "max_string_length"), "expected a whole number of characters (-1: unlimited)"))
    oauth2_path = _join(prefix, "oauth2")
    if "oauth2" not in security:
        if not reported:
            errors.append((oauth2_path, "missing: add an oauth2 block with at least validation_strategy"))
        oauth2 = None
    else:
        before = len(errors)
        oauth2 = _build_oauth2(security["oauth2"], oauth2_path, errors, hierarchy_path)
        if source is not None:
            _rewrite_paths(errors, before, oauth2_path, source[0], source[1])
    ignored = _top_level_keys(extras, errors)
    middleware = _build_middleware(extras.get("middleware"), "middleware", errors)
    plugin_defaults = _build_plugin_defaults(extras.get("plugin_defaults"), "plugin_defaults", errors)
    if plugin_defaults is not None and middleware:
        errors.append(("plugin_defaults", "give either plugin_defaults.middleware (AgentUp) or a top-level "
                       "middleware list (seed), not both: they decide the same thing"))
    plugins = _build_plugins(extras.get("plugins"), "plugins", errors)
    mcp_servers = _build_mcp(extras.get("mcp"), "mcp", errors)
    tenants = _build_tenants(extras.get("tenants"), "tenants", errors)
    push = _build_push(extras.get("push"), "push", errors)
    audit_raw = extras.get("audit")
    audit: AuditConfig | None = AuditConfig() if audit_raw is None else _model(AuditConfig, audit_raw, "audit", errors)
    if oauth2 is None or errors:
        return None
    return SecurityConfig(
        enabled=enabled, oauth2=oauth2, middleware=middleware, plugins=plugins, tenants=tenants, push=push,
        audit=audit or AuditConfig(), plugin_defaults=plugin_defaults, mcp_servers=mcp_servers,
        sanitization_enabled=sanitization, max_string_length=max_length, ignored_sections=ignored,
        config_paths=_paths(prefix, source, hierarchy_path, extras.get("plugins")),
    )


def _paths(prefix: str, source: tuple[str, dict[str, str]] | None, hierarchy_path: str | None,
           plugins: Any) -> dict[str, str]:
    """Where the user wrote the normalised parts (for messages that name a config path)."""
    where = source[0] if source else _join(prefix, "oauth2")
    paths = {"oauth2": where, "scope_hierarchy": hierarchy_path or _join(where, "scope_hierarchy")}
    for key, written in (source[1] if source else {}).items():
        paths[f"oauth2:{key}"] = _join(where, written)
    if isinstance(plugins, Mapping):
        paths.update({f"plugin:{key}": _join("plugins", str(key)) for key in plugins})
    elif isinstance(plugins, list):
        paths.update({f"plugin:{p.get('plugin_id')}": f"plugins[{i}]" for i, p in enumerate(plugins)
                      if isinstance(p, Mapping)})
    return paths


# Top-level sections: the ones the lab models, and AgentUp's others (accepted, not modelled).
_LAB_SECTIONS = ("security", "middleware", "plugins", "plugin_defaults", "tenants", "push", "audit", "mcp")
_AGENTUP_SECTIONS = (
    "apiVersion", "name", "description", "version", "url", "provider_organization", "provider_url", "icon_url",
    "documentation_url", "agent_type", "memory_config", "iterative_config", "cors", "ai_provider", "ai",
    "global_defaults", "push_notifications", "state_management", "logging", "development", "api", "environment",
)


def _top_level_keys(extras: Mapping[str, Any], errors: list[tuple[str, str]]) -> tuple[str, ...]:
    """AgentUp's other sections are accepted; a near-miss of a modelled section is an error (a typo)."""
    ignored: list[str] = []
    for key in extras:
        name = str(key)
        if name in _LAB_SECTIONS:
            continue
        close = difflib.get_close_matches(name, _LAB_SECTIONS, n=1, cutoff=0.8)
        if close and name not in _AGENTUP_SECTIONS:
            errors.append((name, f"unknown section {name!r} (did you mean {close[0]!r}?)"))
        else:
            ignored.append(name)
    return tuple(ignored)


def _build_oauth2(
    raw: Any, path: str, errors: list[tuple[str, str]], hierarchy_path: str | None = None
) -> OAuth2Config | None:
    """Validate one oauth2 block; errors about a hierarchy moved here name ``hierarchy_path``."""
    before = len(errors)
    model = _build_oauth2_at(raw, path, errors)
    if hierarchy_path:
        moved = _join(path, "scope_hierarchy")
        errors[before:] = [
            (hierarchy_path + p[len(moved):] if p.startswith(moved) else p, m) for p, m in errors[before:]
        ]
    return model


def _build_oauth2_at(raw: Any, path: str, errors: list[tuple[str, str]]) -> OAuth2Config | None:
    if not isinstance(raw, Mapping):
        errors.append((path, f"expected a mapping, got {_type_name(raw)}"))
        return None
    raw = dict(raw)
    if raw.get("scope_hierarchy") is None and "scope_hierarchy" in raw:
        raw["scope_hierarchy"] = {}
    hierarchy = raw.get("scope_hierarchy")
    if isinstance(hierarchy, Mapping):
        raw["scope_hierarchy"] = {k: ([] if v is None else v) for k, v in hierarchy.items()}
    before = len(errors)
    model = _model(OAuth2Config, raw, path, errors)
    if model is not None:
        _check_oauth2(model, path, errors)
        return model if len(errors) == before else None
    # Structure is wrong somewhere: check the rest anyway, so that every problem is listed at once.
    bad = {p[len(path) + 1:].split(".")[0].split("[")[0] for p, _ in errors[before:] if p.startswith(path + ".")}
    partial = _model(OAuth2Config, {k: v for k, v in raw.items() if k not in bad}, path, [])
    if partial is not None:
        semantic: list[tuple[str, str]] = []
        _check_oauth2(partial, path, semantic)
        errors.extend(e for e in semantic if not any(e[0].startswith(_join(path, k)) for k in bad))
    return None


def _check_oauth2(cfg: OAuth2Config, path: str, errors: list[tuple[str, str]]) -> None:
    def err(key: str, message: str) -> None:
        errors.append((_join(path, key), message))

    strategy = cfg.validation_strategy
    if strategy not in STRATEGIES:
        err("validation_strategy", f"{strategy!r} is not a strategy; use one of jwt, introspection, both"
            + _did_you_mean(strategy, STRATEGIES))
    uses_jwt = strategy in ("jwt", "both")
    uses_introspection = strategy in ("introspection", "both")

    if cfg.jwt_algorithm is not None and cfg.jwt_algorithms is not None:
        err("jwt_algorithms", "give either jwt_algorithm or jwt_algorithms, not both")
    algorithm_key = "jwt_algorithms" if cfg.jwt_algorithms is not None else "jwt_algorithm"
    for alg in cfg.algorithms:
        if alg.lower() == "none":
            err(algorithm_key, "'none' is never allowed: unsigned tokens would authenticate (RFC 8725 §3.1)")
        elif alg not in ALGORITHMS:
            err(algorithm_key, f"unknown algorithm {alg!r}; use one of {', '.join(ALGORITHMS)}"
                + _did_you_mean(alg, ALGORITHMS, case_insensitive=True))
    if cfg.jwt_algorithms is not None and not cfg.jwt_algorithms:
        err("jwt_algorithms", "empty list; name at least one algorithm")

    secret = cfg.jwt_secret.get_secret_value() if cfg.jwt_secret is not None else None
    if secret is not None and not secret:
        err("jwt_secret", "empty secret; set a random value of at least 32 bytes")
    if uses_jwt:
        hmac_algs = [a for a in cfg.algorithms if a in HMAC_ALGORITHMS]
        asym_algs = [a for a in cfg.algorithms if a in ASYMMETRIC_ALGORITHMS]
        if not cfg.algorithms:
            err("jwt_secret", "strategy jwt needs a key source: jwt_secret (HS*), jwks_url or jwks (RS/PS/ES/EdDSA)")
        if hmac_algs and secret is None and cfg.jwks is None:
            err(algorithm_key, f"{hmac_algs[0]} needs jwt_secret (or oct keys in an inline jwks)")
        if asym_algs and not cfg.jwks_url and cfg.jwks is None:
            err(algorithm_key, f"{asym_algs[0]} needs jwks_url or an inline jwks with public keys")
        if secret:
            size = len(secret.encode("utf-8"))
            for alg in hmac_algs:
                if size < HMAC_ALGORITHMS[alg]:
                    err("jwt_secret", f"the secret is {size} bytes; {alg} needs at least "
                        f"{HMAC_ALGORITHMS[alg]} (RFC 7518 §3.2): use a longer random secret")
    if cfg.jwks_url is not None:
        _check_url(cfg.jwks_url, _join(path, "jwks_url"), errors)
    if cfg.jwks is not None:
        _check_inline_jwks(cfg.jwks, _join(path, "jwks"), errors)
    if cfg.introspection_endpoint is not None:
        _check_url(cfg.introspection_endpoint, _join(path, "introspection_endpoint"), errors)
    # The client registration: RFC 6749 §3.1/§3.1.2.1 endpoints over TLS (loopback excepted), RFC 8252 §7.3
    for key in ("authorization_url", "token_url", "redirect_uri"):
        value = getattr(cfg, key)
        if value is not None:
            _check_url(value, _join(path, key), errors)
    if cfg.redirect_uri and urlsplit(cfg.redirect_uri).fragment:
        err("redirect_uri", "must not contain a fragment (RFC 6749 §3.1.2)")
    for i, scope in enumerate(cfg.scopes or ()):
        if not is_scope_token(scope):
            err(f"scopes[{i}]", f"{scope!r} is not a valid scope name (RFC 6749 §3.3: no spaces or quotes)")
    if uses_introspection:
        if not cfg.introspection_endpoint:
            err("introspection_endpoint", f"strategy {strategy} needs the provider's introspection endpoint URL")
        if not cfg.client_id:
            err("client_id", f"strategy {strategy} needs client_id (the resource server's own client)")
        if cfg.client_secret is None or not cfg.client_secret.get_secret_value():
            err("client_secret", f"strategy {strategy} needs client_secret")
    for key in ("jwt_issuer", "jwt_audience"):
        for i, value in enumerate(_as_tuple(getattr(cfg, key))):
            if not value:
                err(key if isinstance(getattr(cfg, key), str) else f"{key}[{i}]", "empty value")
    for key in ("required_scopes", "allowed_scopes"):
        for i, scope in enumerate(getattr(cfg, key) or ()):
            if not is_scope_token(scope):
                err(f"{key}[{i}]", f"{scope!r} is not a valid scope name (RFC 6749 §3.3: no spaces or quotes)")
    if cfg.allowed_scopes is not None:
        allowed = set(cfg.allowed_scopes)  # a set: this check stays linear for long lists
        outside = [s for s in cfg.required_scopes if s not in allowed]
        if outside:
            err("required_scopes", f"{', '.join(outside)} not within allowed_scopes: no token could ever pass")
    for i, claim in enumerate(cfg.scope_claims):
        if not claim:
            err(f"scope_claims[{i}]", "empty claim name")
    _check_hierarchy(cfg.scope_hierarchy, _join(path, "scope_hierarchy"), errors)


def _check_hierarchy(hierarchy: Mapping[str, list[str]], path: str, errors: list[tuple[str, str]]) -> None:
    for parent, children in hierarchy.items():
        try:
            ScopeHierarchy({parent: children})
        except ValueError as exc:
            errors.append((_join(path, parent), str(exc)))


def _check_url(url: str, path: str, errors: list[tuple[str, str]]) -> None:
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        errors.append((path, "not a valid URL"))
        return
    if parts.scheme not in ("https", "http") or not host:
        errors.append((path, "expected an https:// URL with a host"))
    elif parts.scheme == "http" and not _is_loopback(host):
        errors.append((path, "must use https:// (plain http is allowed only for localhost, 127.0.0.0/8 and ::1)"))
    elif parts.username or parts.password:
        errors.append((path, "credentials in the URL are not allowed; use client_id/client_secret"))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_inline_jwks(jwks: Mapping[str, Any], path: str, errors: list[tuple[str, str]]) -> None:
    # Structure only: key policy (sizes, use, mixing) is applied to every key set at validation time,
    # the same for inline keys and fetched ones, and reported in the audit log.
    keys = jwks.get("keys")
    if not isinstance(keys, list) or not keys:
        errors.append((_join(path, "keys"), "an inline JWK Set needs a non-empty 'keys' list"))
        return
    for i, key in enumerate(keys):
        where = f"{path}.keys[{i}]"
        if not isinstance(key, Mapping) or not isinstance(key.get("kty"), str):
            errors.append((where, "each key must be a JWK mapping with a 'kty'"))
        elif key["kty"] != "oct" and any(m in key for m in _PRIVATE_JWK_MEMBERS):
            errors.append((where, "private key material: a resource server holds only public keys"))


# Middleware parameters: name -> parameter -> rule ("int"/"number", low, high) | ("choice", options) | ("url",)
_MIDDLEWARE_PARAMS: dict[str, dict[str, tuple[Any, ...]]] = {
    "timed": {},
    "cached": {"ttl": ("int", 0, 86_400), "max_size": ("int", 1, 1_000_000),
               "backend_type": ("choice", ("memory", "valkey")), "valkey_url": ("url",),
               "valkey_db": ("int", 0, 1000), "key_prefix": ("str",)},
    "rate_limited": {"requests_per_minute": ("int", 1, 1_000_000), "burst": ("int", 1, 1_000_000)},
    "retryable": {"max_attempts": ("int", 1, 100), "initial_delay": ("number", 0, 3600),
                  "max_delay": ("number", 0, 86_400), "backoff_factor": ("number", 1, 100)},
    "oauth2_introspection_cache": {"cache_ttl": ("int", 0, 86_400), "max_cache_size": ("int", 1, 10_000_000)},
}
# AgentUp's spellings of the same parameters.
_PARAM_ALIASES = {"default_ttl": "ttl", "burst_size": "burst", "max_retries": "max_attempts"}
_VALKEY_SCHEMES = ("valkey", "valkeys", "redis", "rediss")


def _check_param(rule: tuple[Any, ...], value: Any) -> str | None:
    kind = rule[0]
    if kind in ("int", "number"):
        ok_type = isinstance(value, int) if kind == "int" else isinstance(value, (int, float))
        if not ok_type or isinstance(value, bool) or not rule[1] <= value <= rule[2]:
            return f"expected {'a whole number' if kind == 'int' else 'a number'} from {rule[1]} to {rule[2]}"
    elif kind == "choice":
        if value not in rule[1]:
            return f"use one of {', '.join(rule[1])}"
    elif kind == "url":
        if not isinstance(value, str) or urlsplit(value).scheme not in _VALKEY_SCHEMES or not urlsplit(value).hostname:
            return f"expected a {'/'.join(_VALKEY_SCHEMES)}:// URL with a host"
    elif not isinstance(value, str):
        return "expected a string"
    return None


def _middleware_entry(name: Any, params: Any, where: str, errors: list[tuple[str, str]],
                      name_path: str | None = None) -> MiddlewareSpec | None:
    """One middleware by name with its parameters (aliases normalised); None when it is wrong."""
    if not isinstance(name, str) or name not in _MIDDLEWARE_PARAMS:
        errors.append((name_path or where,
                       f"unknown middleware {name!r}; use one of {', '.join(_MIDDLEWARE_PARAMS)}"
                       + _did_you_mean(str(name), _MIDDLEWARE_PARAMS)))
        return None
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        errors.append((where, f"expected a mapping of parameters, got {_type_name(params)}"))
        return None
    allowed = _MIDDLEWARE_PARAMS[name]
    normalised: dict[str, Any] = {}
    before = len(errors)
    for key, value in params.items():
        path = _join(where, str(key))
        target = _PARAM_ALIASES.get(str(key), str(key))
        if target not in allowed:
            hint = _did_you_mean(str(key), [*allowed, *(a for a, t in _PARAM_ALIASES.items() if t in allowed)])
            errors.append((path, f"unknown parameter for {name}" + hint
                           + (f"; it takes {', '.join(allowed)}" if allowed else "; it takes none")))
        elif target in normalised:
            errors.append((path, f"given twice (as {target!r} and an alias); keep one"))
        elif (problem := _check_param(allowed[target], value)) is not None:
            errors.append((path, problem))
        else:
            normalised[target] = value
    return MiddlewareSpec(name=name, params=normalised) if len(errors) == before else None


def _middleware_list(raw: Any, path: str, errors: list[tuple[str, str]]) -> list[MiddlewareSpec] | None:
    """A list of ``{name, params}`` (or AgentUp's ``{name, config}``) entries; None when not given."""
    if raw is None:
        return None
    if not isinstance(raw, list):
        errors.append((path, f"expected a list of {{name, params}} entries, got {_type_name(raw)}"))
        return []
    specs: list[MiddlewareSpec] = []
    for i, entry in enumerate(raw):
        where = f"{path}[{i}]"
        if not isinstance(entry, Mapping):
            errors.append((where, f"expected a mapping with name and params, got {_type_name(entry)}"))
            continue
        _unknown_keys(entry, ("name", "params", "config"), where, errors)
        if "params" in entry and "config" in entry:
            errors.append((where, "give either params or config (the same thing), not both"))
            continue
        key = "config" if "config" in entry else "params"
        if "name" not in entry:
            errors.append((f"{where}.name", "missing: this setting is required"))
            continue
        spec = _middleware_entry(entry["name"], entry.get(key), f"{where}.{key}", errors, f"{where}.name")
        if spec is not None:
            specs.append(spec)
    return specs


def _build_middleware(raw: Any, path: str, errors: list[tuple[str, str]]) -> tuple[MiddlewareSpec, ...]:
    """Top-level ``middleware``: the seed's list, or AgentUp's mapping (enabled, rate_limiting, caching, retry)."""
    if isinstance(raw, Mapping):
        return _middleware_mapping(raw, path, errors)
    return tuple(_middleware_list(raw, path, errors) or ())


_MIDDLEWARE_SECTIONS = {"caching": "cached", "rate_limiting": "rate_limited", "retry": "retryable"}


def _middleware_mapping(raw: Mapping[str, Any], path: str, errors: list[tuple[str, str]]) -> tuple[MiddlewareSpec, ...]:
    if "name" in raw:
        errors.append((path, "expected a list of {name, params} entries (a '- ' before name), or AgentUp's "
                       "mapping of enabled, rate_limiting, caching, retry"))
        return ()
    _unknown_keys(raw, ("enabled", *_MIDDLEWARE_SECTIONS), path, errors)
    if raw.get("enabled", True) is False:
        return ()
    specs: list[MiddlewareSpec] = []
    for section, name in _MIDDLEWARE_SECTIONS.items():
        body = raw.get(section)
        if body is None:
            continue
        where = _join(path, section)
        if not isinstance(body, Mapping):
            errors.append((where, f"expected a mapping, got {_type_name(body)}"))
            continue
        params = {("backend_type" if k == "backend" else k): v for k, v in body.items() if k != "enabled"}
        if body.get("enabled", True) is not False:
            spec = _middleware_entry(name, params, where, errors)
            if spec is not None:
                specs.append(spec)
    return tuple(specs)


def _build_plugin_defaults(raw: Any, path: str, errors: list[tuple[str, str]]) -> tuple[MiddlewareSpec, ...] | None:
    """AgentUp's ``plugin_defaults.middleware``: a mapping of middleware name to its parameters."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        errors.append((path, f"expected a mapping with middleware, got {_type_name(raw)}"))
        return None
    _unknown_keys(raw, ("middleware",), path, errors)
    middleware = raw.get("middleware") or {}
    if not isinstance(middleware, Mapping):
        errors.append((_join(path, "middleware"), "expected a mapping of middleware name to its parameters"))
        return None
    specs = [_middleware_entry(name, params, _join(path, f"middleware.{name}"), errors)
             for name, params in middleware.items()]
    return tuple(spec for spec in specs if spec is not None)


def _entries(raw: Any, id_key: str, path: str, errors: list[tuple[str, str]]) -> list[tuple[str, dict[str, Any]]]:
    """Both shapes as (path, body with ``id_key``): the seed's list, or AgentUp's mapping keyed by id."""
    out: list[tuple[str, dict[str, Any]]] = []
    if isinstance(raw, Mapping):
        for key, body in raw.items():
            where = _join(path, str(key))
            body = {} if body is None else body
            if not isinstance(body, Mapping):
                errors.append((where, f"expected a mapping, got {_type_name(body)}"))
                continue
            if id_key in body and body[id_key] != key:
                errors.append((_join(where, id_key), f"differs from the key {key!r} it is listed under"))
                continue
            out.append((where, {**body, id_key: str(key)}))
    elif isinstance(raw, list):
        for i, body in enumerate(raw):
            where = f"{path}[{i}]"
            if not isinstance(body, Mapping):
                errors.append((where, f"expected a mapping, got {_type_name(body)}"))
                continue
            out.append((where, dict(body)))
    else:
        errors.append((path, f"expected a list, or a mapping keyed by {id_key.removesuffix('_id')} id, "
                       f"got {_type_name(raw)}"))
    return out


def _override(body: dict[str, Any], agentup_key: str, where: str, errors: list[tuple[str, str]]) -> None:
    """``plugin_override``/``capability_override`` (AgentUp) and ``middleware`` (seed) -> ``middleware``."""
    if agentup_key in body and "middleware" in body:
        errors.append((_join(where, agentup_key), f"give either {agentup_key} or middleware (the same thing)"))
    key = agentup_key if agentup_key in body else "middleware"
    if key in body:  # an empty list is given (no middleware at all); absent means inherit
        raw = body.pop(agentup_key, body.pop("middleware", None))
        body["middleware"] = _middleware_list(raw, _join(where, key), errors)


def _check_scopes(scopes: Any, path: str, errors: list[tuple[str, str]]) -> None:
    for j, scope in enumerate(scopes or ()):
        if not is_scope_token(scope):
            errors.append((f"{path}[{j}]", f"{scope!r} is not a valid scope name (RFC 6749 §3.3)"))


def _build_plugins(raw: Any, path: str, errors: list[tuple[str, str]]) -> tuple[PluginSpec, ...]:
    """``plugins``: the seed's list of ``plugin_id`` entries, or AgentUp's mapping keyed by package."""
    if raw is None:
        return ()
    plugins: list[PluginSpec] = []
    seen: set[str] = set()
    for where, body in _entries(raw, "plugin_id", path, errors):
        if isinstance(raw, Mapping):
            body.setdefault("package", body["plugin_id"])
        _override(body, "plugin_override", where, errors)
        capabilities: list[CapabilitySpec] = []
        if body.get("capabilities") is not None:
            for cap_where, cap in _entries(body["capabilities"], "capability_id", _join(where, "capabilities"), errors):
                _override(cap, "capability_override", cap_where, errors)
                spec = _model(CapabilitySpec, cap, cap_where, errors)
                if spec is not None:
                    _check_scopes(spec.required_scopes, _join(cap_where, "required_scopes"), errors)
                    capabilities.append(spec)
        if "capabilities" in body:
            body["capabilities"] = capabilities
        plugin: PluginSpec | None = _model(PluginSpec, body, where, errors)
        if plugin is None:
            continue
        if plugin.plugin_id in seen:
            errors.append((_join(where, "plugin_id"), f"duplicate plugin_id {plugin.plugin_id!r}"))
        seen.add(plugin.plugin_id)
        _check_scopes(plugin.required_scopes, _join(where, "required_scopes"), errors)
        plugins.append(plugin)
    return tuple(plugins)


_MCP_KEYS = ("enabled", "client_enabled", "client_timeout", "server_enabled", "server_host", "server_port", "servers")
_MCP_SERVER_KEYS = ("name", "enabled", "transport", "type", "command", "args", "env", "url", "headers", "timeout",
                    "expose_as_skills", "tool_scopes", "working_dir")


def _build_mcp(raw: Any, path: str, errors: list[tuple[str, str]]) -> tuple[McpServerSpec, ...]:
    """``mcp.servers[]``: each server's ``tool_scopes`` (keys as ``server:tool``) and ``expose_as_skills``."""
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        errors.append((path, f"expected a mapping, got {_type_name(raw)}"))
        return ()
    _unknown_keys(raw, _MCP_KEYS, path, errors)
    servers = raw.get("servers") or []
    if not isinstance(servers, list):
        errors.append((_join(path, "servers"), f"expected a list of servers, got {_type_name(servers)}"))
        return ()
    out: list[McpServerSpec] = []
    names: set[str] = set()
    for i, server in enumerate(servers):
        where = f"{path}.servers[{i}]"
        if not isinstance(server, Mapping):
            errors.append((where, f"expected a mapping, got {_type_name(server)}"))
            continue
        _unknown_keys(server, _MCP_SERVER_KEYS, where, errors)
        name = server.get("name")
        if not isinstance(name, str) or not name or ":" in name:
            errors.append((_join(where, "name"), "each server needs a name (without ':')"))
            continue
        if name in names:
            errors.append((_join(where, "name"), f"duplicate server name {name!r}"))
        names.add(name)
        flags = {}
        for flag in ("enabled", "expose_as_skills"):
            value = server.get(flag, flag == "enabled")
            if not isinstance(value, bool):
                errors.append((_join(where, flag), "expected true or false"))
            flags[flag] = value is True
        tool_scopes = _tool_scopes(server.get("tool_scopes"), name, _join(where, "tool_scopes"), errors)
        url = server.get("url")
        if url is not None and not isinstance(url, str):
            errors.append((_join(where, "url"), "expected a URL"))
            url = None
        out.append(McpServerSpec(name=name, tool_scopes=tool_scopes, url=url, **flags))
    return tuple(out)


def _tool_scopes(raw: Any, server: str, path: str, errors: list[tuple[str, str]]) -> dict[str, tuple[str, ...]]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        errors.append((path, "expected a mapping of \"server:tool\" to a list of scopes"))
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for key, scopes in raw.items():
        where = f'{path}."{key}"'
        prefix, _, tool = str(key).rpartition(":")
        # AgentUp: "server:tool" (a bare tool name is read as this server's)
        if prefix and prefix != server:
            errors.append((where, f"names server {prefix!r}, but this is server {server!r}; use \"{server}:{tool}\""))
            continue
        if not tool:
            errors.append((where, "expected \"server:tool\""))
            continue
        if scopes is None:
            scopes = []
        if not isinstance(scopes, list):
            errors.append((where, "expected a list of scopes"))
            continue
        before = len(errors)
        _check_scopes(scopes, where, errors)
        if f"{server}:{tool}" in out:
            errors.append((where, "given twice (with and without the server prefix)"))
        elif len(errors) == before:
            out[f"{server}:{tool}"] = tuple(scopes)
    return out



_HOST_PORT = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})")


def _build_push(raw: Any, path: str, errors: list[tuple[str, str]]) -> PushConfig:
    if raw is None:
        return PushConfig()
    model: PushConfig | None = _model(PushConfig, raw, path, errors)
    if model is None:
        return PushConfig()
    for i, entry in enumerate(model.allowed_hosts):
        match = _HOST_PORT.fullmatch(entry)
        if not match or not 0 < int(match.group(2)) < 65536:
            errors.append((f"{path}.allowed_hosts[{i}]", "use exact host:port entries, e.g. hooks.example.com:443"))
    return model


def _build_tenants(raw: Any, path: str, errors: list[tuple[str, str]]) -> dict[str, TenantConfig]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        errors.append((path, f"expected a mapping of tenant name to settings, got {_type_name(raw)}"))
        return {}
    tenants: dict[str, TenantConfig] = {}
    for name, body in raw.items():
        where = _join(path, str(name))
        if not isinstance(name, str) or not _TENANT_NAME.fullmatch(name):
            errors.append((where, "tenant names use lowercase letters, digits, '-' and '_' (at most 64)"))
            continue
        if not isinstance(body, Mapping):
            errors.append((where, f"expected a mapping with an oauth2 block, got {_type_name(body)}"))
            continue
        body = dict(body)
        _unknown_keys(body, ("oauth2", "scope_hierarchy"), where, errors)
        oauth2 = body.get("oauth2")
        if not isinstance(oauth2, Mapping):
            errors.append((_join(where, "oauth2"), "each tenant needs its own oauth2 block"))
            continue
        oauth2 = dict(oauth2)
        if "scope_hierarchy" in body:
            if "scope_hierarchy" in oauth2:
                errors.append((_join(where, "scope_hierarchy"), "scope_hierarchy is given twice; keep one"))
            oauth2["scope_hierarchy"] = body["scope_hierarchy"]
        model = _build_oauth2(oauth2, _join(where, "oauth2"), errors)
        if model is not None:
            tenants[name] = TenantConfig(name=name, oauth2=model)
    return tenants


# ---------------------------------------------------------------------------------------------
# Helpers


def _model(model: type[Any], raw: Any, path: str, errors: list[tuple[str, str]]) -> Any:
    """Validate ``raw`` into ``model``; translate pydantic's errors into (path, plain message)."""
    if not isinstance(raw, Mapping):
        errors.append((path, f"expected a mapping, got {_type_name(raw)}"))
        return None
    try:
        return model.model_validate(dict(raw))
    except ValidationError as exc:
        for error in exc.errors(include_input=False, include_url=False):
            loc = _loc_to_path(path, error["loc"])
            errors.append((loc, _message(error, model, raw)))
        return None


def _loc_to_path(path: str, loc: tuple[str | int, ...]) -> str:
    out = path
    for part in loc:
        if isinstance(part, int):
            out = f"{out}[{part}]"
        elif part in ("str", "list[str]", "int", "float", "bool", "dict[str,any]", "function-after[...]"):
            continue  # pydantic's union-branch labels
        else:
            out = _join(out, str(part))
    return out


def _message(error: Any, model: type[Any], raw: Mapping[str, Any]) -> str:
    kind = error["type"]
    loc = error["loc"]
    if kind == "extra_forbidden":
        name = str(loc[-1])
        known = _known_fields(model, loc[:-1])
        return f"unknown key {name!r}" + _did_you_mean(name, known)
    if kind == "missing":
        return "missing: this setting is required"
    if kind in ("string_type", "int_type", "float_type", "bool_type", "list_type", "dict_type", "model_type"):
        expected = {
            "string_type": "a string", "int_type": "a whole number", "float_type": "a number",
            "bool_type": "true or false", "list_type": "a list",
            "dict_type": "a mapping", "model_type": "a mapping",
        }[kind]
        return f"expected {expected}"
    if kind == "literal_error":
        return f"{error['msg'].replace('Input should be', 'use')}"
    return str(error["msg"])


def _known_fields(model: type[Any], loc: tuple[Any, ...]) -> list[str]:
    current: Any = model
    for part in loc:
        if isinstance(part, int) or current is None:
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        current = _inner_model(field.annotation)
    return list(getattr(current, "model_fields", {}) or [])


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _unknown_keys(
    mapping: Mapping[str, Any], known: tuple[str, ...], prefix: str, errors: list[tuple[str, str]]
) -> None:
    for key in mapping:
        if key not in known:
            errors.append((_join(prefix, str(key)), f"unknown key {key!r}" + _did_you_mean(str(key), known)))


def _did_you_mean(word: str, choices: Any, *, case_insensitive: bool = False) -> str:
    options = list(choices)
    if case_insensitive:
        for option in options:
            if option.lower() == word.lower():
                return f" (did you mean {option!r}? names are case-sensitive)"
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _type_name(value: Any) -> str:
    return {type(None): "nothing", str: "a string", int: "a number", float: "a number", bool: "a boolean",
            list: "a list", dict: "a mapping"}.get(type(value), type(value).__name__)


def _as_tuple(value: str | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key
