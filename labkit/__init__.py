"""oauth2-lab's library: configuration, scopes, validators, guard, audit, provider and lab runner."""

from __future__ import annotations

from .config import OAuth2Config, SecurityConfig, load_config, validate_security_config
from .errors import AuthError, ConfigError, Reason
from .scopes import ScopeHierarchy

__all__ = [
    "AuthError",
    "ConfigError",
    "OAuth2Config",
    "Reason",
    "ScopeHierarchy",
    "SecurityConfig",
    "load_config",
    "validate_security_config",
]
__version__ = "0.1.0"
