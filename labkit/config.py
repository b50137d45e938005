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


class MiddlewareSpec(BaseModel):
    """One entry of top-level ``middleware:``."""

    model_config = _STRICT

    name: Literal["timed", "cached", "rate_limited", "oauth2_introspection_cache"]
    params: dict[str, Any] = Field(default_factory=dict)


_MIDDLEWARE_PARAMS: dict[str, dict[str, tuple[type[int], int, int]]] = {
    "timed": {},
    "cached": {"ttl": (int, 0, 86_400), "max_size": (int, 1, 1_000_000)},
    "rate_limited": {"requests_per_minute": (int, 1, 1_000_000), "burst": (int, 1, 1_000_000)},
    "oauth2_introspection_cache": {"cache_ttl": (int, 0, 86_400), "max_cache_size": (int, 1, 10_000_000)},
}


class OAuth2PluginSettings(BaseModel):
    """``plugins[].oauth2_specific``."""

    model_config = _STRICT

    introspection_required: bool = False
    cache_override: bool = False


class CapabilitySpec(BaseModel):
    """A named capability of a plugin, with its own scopes (e.g. ``write_operation``)."""

    model_config = _STRICT

    capability_id: str
    required_scopes: list[str] = Field(default_factory=list)


class PluginSpec(BaseModel):
    """One entry of top-level ``plugins:``."""

    model_config = _STRICT

    plugin_id: str = Field(min_length=1)
    plugin_type: Literal["local", "network", "hybrid"] = "local"
    required_scopes: list[str] = Field(default_factory=list)
    oauth2_specific: OAuth2PluginSettings = Field(default_factory=OAuth2PluginSettings)
    capabilities: list[CapabilitySpec] = Field(default_factory=list)
    middleware: list[MiddlewareSpec] | None = None


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
    plugins: tuple[PluginSpec, ...] = ()
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

_SECURITY_KEYS = ("enabled", "type", "oauth2", "scope_hierarchy", "auth")
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
    # AgentUp's on-disk shape: security.auth.oauth2
    auth = security.pop("auth", None)
    if auth is not None:
        if not isinstance(auth, Mapping) or set(auth) - {"oauth2"}:
            errors.append((_join(prefix, "auth"), "only 'auth.oauth2' is supported (AgentUp's on-disk shape)"))
        elif "oauth2" in security:
            errors.append((_join(prefix, "auth.oauth2"), "oauth2 is given twice: keep either oauth2 or auth.oauth2"))
        else:
            security["oauth2"] = auth.get("oauth2")
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


# ---------------------------------------------------------------------------------------------
# Building and checking


def _build(
    security: dict[str, Any], extras: dict[str, Any], prefix: str, errors: list[tuple[str, str]]
) -> SecurityConfig | None:
    hierarchy_path = security.pop("_hierarchy_path", None)
    _unknown_keys(security, _SECURITY_KEYS, prefix, errors)
    enabled = security.get("enabled", True)
    if not isinstance(enabled, bool):
        errors.append((_join(prefix, "enabled"), f"expected true or false, got {_type_name(enabled)}"))
    kind = security.get("type", "oauth2")
    if kind != "oauth2":
        errors.append((_join(prefix, "type"), f"{kind!r} is not supported by this lab; use type: \"oauth2\""))
    oauth2_path = _join(prefix, "oauth2")
    if "oauth2" not in security:
        errors.append((oauth2_path, "missing: add an oauth2 block with at least validation_strategy"))
        oauth2 = None
    else:
        oauth2 = _build_oauth2(security["oauth2"], oauth2_path, errors, hierarchy_path)
    middleware = _build_middleware(extras.get("middleware"), "middleware", errors)
    plugins = _build_plugins(extras.get("plugins"), "plugins", errors)
    tenants = _build_tenants(extras.get("tenants"), "tenants", errors)
    push = _build_push(extras.get("push"), "push", errors)
    audit_raw = extras.get("audit")
    audit: AuditConfig | None = AuditConfig() if audit_raw is None else _model(AuditConfig, audit_raw, "audit", errors)
    if oauth2 is None or errors:
        return None
    return SecurityConfig(
        enabled=enabled, oauth2=oauth2, middleware=middleware, plugins=plugins, tenants=tenants, push=push,
        audit=audit or AuditConfig(),
    )


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


def _build_middleware(raw: Any, path: str, errors: list[tuple[str, str]]) -> tuple[MiddlewareSpec, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        errors.append((path, f"expected a list of {{name, params}} entries, got {_type_name(raw)}"))
        return ()
    specs: list[MiddlewareSpec] = []
    for i, entry in enumerate(raw):
        where = f"{path}[{i}]"
        if isinstance(entry, Mapping) and entry.get("params") is None and "params" in entry:
            entry = {**entry, "params": {}}
        if isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
            name = entry["name"]
            if name not in _MIDDLEWARE_PARAMS:
                errors.append((f"{where}.name", f"unknown middleware {name!r}; use one of "
                               f"{', '.join(_MIDDLEWARE_PARAMS)}" + _did_you_mean(name, _MIDDLEWARE_PARAMS)))
                continue
        spec = _model(MiddlewareSpec, entry, where, errors)
        if spec is not None and _check_middleware_params(spec, f"{where}.params", errors):
            specs.append(spec)
    return tuple(specs)


def _check_middleware_params(spec: MiddlewareSpec, path: str, errors: list[tuple[str, str]]) -> bool:
    allowed = _MIDDLEWARE_PARAMS[spec.name]
    ok = True
    for key, value in spec.params.items():
        if key not in allowed:
            hint = _did_you_mean(key, allowed) if allowed else ""
            errors.append((_join(path, key), f"unknown parameter for {spec.name}" + hint
                           + (f"; it takes {', '.join(allowed)}" if allowed else "; it takes none")))
            ok = False
            continue
        kind, low, high = allowed[key]
        if not isinstance(value, kind) or isinstance(value, bool) or not low <= int(value) <= high:
            errors.append((_join(path, key), f"expected a whole number from {low} to {high}"))
            ok = False
    return ok


def _build_plugins(raw: Any, path: str, errors: list[tuple[str, str]]) -> tuple[PluginSpec, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        errors.append((path, f"expected a list of plugins, got {_type_name(raw)}"))
        return ()
    plugins: list[PluginSpec] = []
    seen: set[str] = set()
    for i, entry in enumerate(raw):
        where = f"{path}[{i}]"
        spec = _model(PluginSpec, entry, where, errors)
        if spec is None:
            continue
        if spec.plugin_id in seen:
            errors.append((f"{where}.plugin_id", f"duplicate plugin_id {spec.plugin_id!r}"))
        seen.add(spec.plugin_id)
        scope_lists = [("required_scopes", spec.required_scopes)] + [
            (f"capabilities[{j}].required_scopes", c.required_scopes) for j, c in enumerate(spec.capabilities)
        ]
        for key, scopes in scope_lists:
            for j, scope in enumerate(scopes):
                if not is_scope_token(scope):
                    errors.append((f"{where}.{key}[{j}]", f"{scope!r} is not a valid scope name (RFC 6749 §3.3)"))
        for j, mw in enumerate(spec.middleware or ()):
            _check_middleware_params(mw, f"{where}.middleware[{j}].params", errors)
        plugins.append(spec)
    return tuple(plugins)


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
