"""The public API is deliberate: every name in ``__all__`` exists, and the stable interfaces are there."""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    "labkit", "labkit.config", "labkit.scopes", "labkit.errors", "labkit.auth", "labkit.auth.jwt", "labkit.audit",
    "labkit.guard", "labkit.middleware", "labkit.provider", "labkit.lab", "labkit.probe", "labkit.a2a", "labkit.a2a.push",
    "labkit.a2a.webhook", "labkit.widgets", "labkit.lessons", "labkit.servers", "labkit.observability", "labkit.tracing",
    "labkit.state", "labkit.cluster", "labkit.challenges", "labkit.vulnerable", "labkit.tls", "labkit.ssrf",
    "labkit.provider.cimd",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_names_exist(name: str) -> None:
    module = importlib.import_module(name)
    assert len(set(module.__all__)) == len(module.__all__)
    for member in module.__all__:
        assert hasattr(module, member), f"{name}.{member}"


def test_stable_interfaces() -> None:
    from labkit import ScopeHierarchy, SecurityConfig, load_config, validate_security_config  # noqa: F401
    from labkit.auth import Principal, build_validator  # noqa: F401
    from labkit.auth.jwt import verify_signature  # noqa: F401
    from labkit.errors import AuthError, ConfigError, Reason  # noqa: F401
    from labkit.lab import Lab  # noqa: F401

    assert set(importlib.import_module("labkit").__all__) >= {
        "load_config", "validate_security_config", "SecurityConfig", "ScopeHierarchy"}
