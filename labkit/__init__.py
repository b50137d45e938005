"""oauth2-lab's library: configuration, scopes, validators, guard, audit, provider and lab runner."""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version

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

# A library logs and never prints: without the application's logging configuration, labkit.* records go
# nowhere (not to stderr through logging's last resort).
logging.getLogger(__name__).addHandler(logging.NullHandler())

try:  # the one version source: pyproject.toml, as installed
    __version__ = version("oauth2-lab")
except PackageNotFoundError:  # pragma: no cover - imported from a source tree that was never installed
    __version__ = "0+unknown"
