"""AgentUp's own format: ``security.auth.{oauth2, bearer, api_key}`` and its other top-level sections.

``security.auth.oauth2`` is the lab's ``oauth2`` block written elsewhere; ``auth.bearer`` (a JWT signed with a
shared secret) is read as a jwt-strategy block with AgentUp's key names. Problems name what the user wrote.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .problems import Place, Problems, did_you_mean, type_name

__all__ = ["AuthSource", "normalize_auth", "top_level_sections"]

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
# Top-level sections: the ones the lab models, and AgentUp's others (accepted, not modelled).
_LAB_SECTIONS = ("security", "middleware", "plugins", "plugin_defaults", "tenants", "push", "audit", "mcp", "state")
_AGENTUP_SECTIONS = (
    "apiVersion", "name", "description", "version", "url", "provider_organization", "provider_url", "icon_url",
    "documentation_url", "agent_type", "memory_config", "iterative_config", "cors", "ai_provider", "ai",
    "global_defaults", "push_notifications", "state_management", "logging", "development", "api", "environment",
)


@dataclass(frozen=True)
class AuthSource:
    """Where an ``oauth2`` block taken from ``security.auth`` was written, and the keys the user wrote."""

    path: str | None = None  # e.g. security.auth.bearer; None: no block was taken
    renames: Mapping[str, str] = field(default_factory=dict)  # lab key -> the key the user wrote
    reported: bool = False  # the one api_key message says it all: no "missing oauth2" besides

    def relocate(self, problems: Problems, mark: int, moved: str) -> None:
        """Problems found at ``moved`` (the normalised place) name this source and the keys the user wrote."""
        source = self.path
        if source is None:
            return

        def rewrite(path: str) -> str:
            if not (path == moved or path.startswith((moved + ".", moved + "["))):
                return path
            rest = path[len(moved):]
            key = rest[1:].split(".")[0].split("[")[0]
            if key in self.renames:
                rest = "." + self.renames[key] + rest[1 + len(key):]
            return source + rest

        problems.relocate(mark, rewrite)


def normalize_auth(security: dict[str, Any], place: Place) -> AuthSource:
    """``security.auth`` -> ``security.oauth2`` (in place); ``place`` is where ``auth`` was written."""
    auth = security.pop("auth")
    if not isinstance(auth, Mapping) or not auth:
        place.add("expected a mapping with one of oauth2, bearer (JWT with a secret) or api_key")
        return AuthSource()
    place.unknown_keys(auth, _AUTH_KINDS)
    if "api_key" in auth:
        # One clear message, not a list of unknown keys: the lab does not model static API keys.
        place.at("api_key").add(_API_KEY_MESSAGE)
    given = [kind for kind in ("oauth2", "bearer", "jwt") if kind in auth]
    if len(given) > 1:
        place.add(f"{' and '.join(given)} are both given: the lab validates one kind of bearer token; keep one")
        return AuthSource()
    if not given:
        return AuthSource(reported="api_key" in auth)
    kind = given[0]
    at_kind = place.at(kind)
    if "oauth2" in security:
        at_kind.add(f"oauth2 is given twice: keep either security.oauth2 or auth.{kind}")
        return AuthSource()
    written = auth[kind]
    if written is None:
        written = {}
    if not isinstance(written, Mapping):
        at_kind.add(f"expected a mapping, got {type_name(written)}")
        return AuthSource()
    block = dict(written)
    enabled = block.pop("enabled", True)
    if enabled is not True:
        at_kind.at("enabled").add("the lab runs the agent behind this block: remove 'enabled' or set it to true")
    renames: dict[str, str] = {}
    if kind != "oauth2":
        block, renames = _bearer_to_oauth2(block, at_kind)
    security["oauth2"] = block
    return AuthSource(at_kind.path, renames)


def _bearer_to_oauth2(block: dict[str, Any], place: Place) -> tuple[dict[str, Any], dict[str, str]]:
    """AgentUp's ``bearer`` (JWT signed with a shared secret) as a jwt-strategy oauth2 block."""
    out: dict[str, Any] = {"validation_strategy": "jwt"}
    renames: dict[str, str] = {}  # lab key -> the key the user wrote
    for key, value in block.items():
        at_key = place.at(str(key))
        if key in _BEARER_KEYS:
            target = _BEARER_KEYS[key]
            if target in out and target != "validation_strategy":
                at_key.add(f"given twice (as {renames.get(target, target)!r} and {key!r}); keep one")
            out[target] = value
            renames[target] = str(key)
        elif key == "scope_claim":
            out["scope_claims"] = [value]
            renames["scope_claims"] = "scope_claim"
        elif key == "header_name":
            if value != "Authorization":
                at_key.add("the lab reads bearer tokens from the Authorization header (RFC 6750 §2.1)")
        elif key == "user_claim":
            if value != "sub":
                at_key.add("the lab reads the subject from the 'sub' claim (RFC 7519 §4.1.2)")
        elif key in ("tokens", "bearer_token"):
            at_key.add("static bearer tokens are not covered by this lab; sign JWTs with jwt_secret "
                       "(or use auth.oauth2) and mint them with `labkit mint`")
        else:
            known = [*_BEARER_KEYS, "scope_claim", "header_name", "user_claim"]
            at_key.add(f"unknown key {key!r}" + did_you_mean(str(key), known))
    return out, renames


def top_level_sections(extras: Mapping[str, Any], problems: Problems) -> tuple[str, ...]:
    """AgentUp's other sections are accepted (and returned); a near-miss of a modelled section is a typo."""
    ignored: list[str] = []
    for key in extras:
        name = str(key)
        if name in _LAB_SECTIONS:
            continue
        close = difflib.get_close_matches(name, _LAB_SECTIONS, n=1, cutoff=0.8)
        if close and name not in _AGENTUP_SECTIONS:
            problems.add(name, f"unknown section {name!r} (did you mean {close[0]!r}?)")
        else:
            ignored.append(name)
    return tuple(ignored)
