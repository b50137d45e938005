"""The AgentUp ``security:`` configuration: models, YAML loading, env substitution, validation.

``validate_security_config(mapping)`` accepts either a whole ``agentup.yml`` document (with a
``security:`` key and top-level ``middleware:``, ``plugins:``, ``tenants:``) or the ``security``
block alone, normalizes the placements the AgentUp docs leave ambiguous, and either returns a
``SecurityConfig`` or raises one ``ConfigError`` listing every problem with its dotted path.

Inside: ``models`` (the pydantic models), ``loading`` (files, ``.env``, ``${VAR}``), ``placement`` and
``agentup`` (where things were written), one module of checks per concern (``keys``, ``introspection``,
``scope_names``, ``urls``, ``middleware``, ``plugins``, ``sections``), ``messages`` (pydantic's errors in
the user's words) and ``problems`` (the collector every check writes to).
"""

from __future__ import annotations

from ..algorithms import ALL as ALGORITHMS
from ..errors import ConfigError
from .loading import load_config, validate_security_config
from .models import (
    AuditConfig,
    CapabilitySpec,
    McpServerSpec,
    MiddlewareSpec,
    OAuth2Config,
    PluginSpec,
    PushConfig,
    SecurityConfig,
    StateConfig,
    TenantConfig,
)

__all__ = [
    "ALGORITHMS",
    "AuditConfig",
    "CapabilitySpec",
    "ConfigError",
    "McpServerSpec",
    "MiddlewareSpec",
    "OAuth2Config",
    "PluginSpec",
    "PushConfig",
    "SecurityConfig",
    "StateConfig",
    "TenantConfig",
    "load_config",
    "validate_security_config",
]
