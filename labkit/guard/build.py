"""A ``Gate`` from a ``SecurityConfig``: one validator per tenant, advertised resources accepted as audiences.

The one place the guard reads the configuration model. The sample agent and every integration build their
gate here, so the audience rule (RFC 8707 / RFC 9728) and the introspection-cache middleware apply alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from ..auth import build_validator
from ..auth.cache import SharedVerdicts
from ..auth.dpop import DPOP_ALGORITHMS
from ..config import OAuth2Config, PluginSpec, SecurityConfig
from ..state.protocols import ReplayCache
from .dpop import DPoPPolicy
from .gate import Admit, Gate, TenantAuth

__all__ = ["Resources", "accepting", "dpop_policy", "gate_for", "with_introspection_cache"]

Resources = Sequence[str] | Mapping[str | None, Sequence[str]] | Callable[[str | None], Sequence[str]]


def accepting(oauth2: OAuth2Config, resources: Sequence[str]) -> OAuth2Config:
    """``oauth2`` with the RFC 9728 ``resources`` an app advertises accepted as audiences.

    A client following RFC 8707 (and the MCP authorization spec) asks for a token with ``resource`` set to
    the advertised value, which becomes its ``aud``. When no audience is configured nothing is checked, so
    nothing is added.
    """
    if not oauth2.audiences or not resources:
        return oauth2
    return oauth2.model_copy(update={"jwt_audience": list(dict.fromkeys([*oauth2.audiences, *resources]))})


def with_introspection_cache(cfg: SecurityConfig, oauth2: OAuth2Config) -> OAuth2Config:
    """``oauth2`` with the ``oauth2_introspection_cache`` middleware's ``cache_ttl`` / ``max_cache_size`` applied."""
    for middleware in cfg.middleware:
        if middleware.name == "oauth2_introspection_cache":
            update: dict[str, Any] = {}
            if "cache_ttl" in middleware.params:
                update["introspection_cache_ttl"] = middleware.params["cache_ttl"]
            if "max_cache_size" in middleware.params:
                update["max_cache_size"] = middleware.params["max_cache_size"]
            return oauth2.model_copy(update=update)
    return oauth2


def _resources_of(resources: Resources, tenant: str | None) -> Sequence[str]:
    if callable(resources):
        return resources(tenant)
    if isinstance(resources, Mapping):
        return resources.get(tenant, ())
    return resources if tenant is None else ()


def dpop_policy(oauth2: OAuth2Config, clock: Callable[[], float] | None = None,
                replay: ReplayCache | None = None) -> DPoPPolicy:
    """The RFC 9449 rules an ``oauth2`` block asks for (``require_dpop``, ``dpop_nonce``, algorithms, max age);
    ``replay``: a shared ``jti`` cache (``SharedState.replay`` when ``state.redis_url`` is set)."""
    return DPoPPolicy(clock=clock or time.time, required=oauth2.require_dpop, nonce=oauth2.dpop_nonce,
                      algorithms=tuple(oauth2.dpop_algorithms or DPOP_ALGORITHMS), window=oauth2.dpop_max_age,
                      shared=replay)


def gate_for(
    cfg: SecurityConfig,
    *,
    resources: Resources = (),
    clock: Callable[[], float] | None = None,
    http: httpx.AsyncClient | None = None,
    admit: Admit | None = None,
    replay: ReplayCache | None = None,
    plugins: Mapping[str, PluginSpec] | None = None,
    shared: SharedVerdicts | None = None,
) -> Gate:
    """A ``Gate`` for the config's default tenant and its ``tenants:``.

    ``resources``: the audiences each tenant advertises (a list for the default tenant, a mapping by tenant,
    or a function of the tenant name; see ``accepting``); ``replay``: where DPoP proofs' ``jti`` values are
    spent when replicas share state (default: in this process); ``shared``: the replicas' introspection cache
    (Redis), if any. ``plugins``: the app's plugins by the ids its requirements name (default: the config's
    ``plugins``), whose ``delegation`` rules the gate applies. Raises nothing: a bad config is refused when loaded.
    """
    def tenant_auth(name: str | None, oauth2: OAuth2Config, hierarchy: Any) -> TenantAuth:
        effective = accepting(with_introspection_cache(cfg, oauth2), _resources_of(resources, name))
        validator = build_validator(effective, clock=clock, http=http, tenant=name, shared=shared)
        return TenantAuth(name, validator, hierarchy, oauth2.issuers, dpop_policy(oauth2, clock, replay))

    tenants: dict[str | None, TenantAuth] = {None: tenant_auth(None, cfg.oauth2, cfg.scope_hierarchy)}
    for name, tenant in cfg.tenants.items():
        tenants[name] = tenant_auth(name, tenant.oauth2, tenant.scope_hierarchy)
    specs = plugins if plugins is not None else {p.plugin_id: p for p in cfg.plugins}
    rules = {name: spec.delegation for name, spec in specs.items() if spec.delegation is not None}
    return Gate(tenants, admit=admit, delegation=rules)
