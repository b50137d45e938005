"""The sections beside ``security``: ``tenants`` (each with its own oauth2 block), ``push`` and ``audit``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .messages import validate_model
from .models import AuditConfig, PushConfig, TenantConfig
from .oauth2 import build_oauth2
from .problems import Place, type_name

__all__ = ["build_audit", "build_push", "build_tenants"]

_TENANT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_HOST_PORT = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})")


def build_tenants(raw: Any, place: Place) -> dict[str, TenantConfig]:
    """``tenants``: name -> a standalone oauth2 block (nothing inherited) and its scope hierarchy."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        place.add(f"expected a mapping of tenant name to settings, got {type_name(raw)}")
        return {}
    tenants: dict[str, TenantConfig] = {}
    for name, body in raw.items():
        at_tenant = place.at(str(name))
        if not isinstance(name, str) or not _TENANT_NAME.fullmatch(name):
            at_tenant.add("tenant names use lowercase letters, digits, '-' and '_' (at most 64)")
            continue
        if not isinstance(body, Mapping):
            at_tenant.add(f"expected a mapping with an oauth2 block, got {type_name(body)}")
            continue
        at_tenant.unknown_keys(body, ("oauth2", "scope_hierarchy"))
        written = body.get("oauth2")
        if not isinstance(written, Mapping):
            at_tenant.at("oauth2").add("each tenant needs its own oauth2 block")
            continue
        block = dict(written)
        if "scope_hierarchy" in body:
            if "scope_hierarchy" in block:
                at_tenant.at("scope_hierarchy").add("scope_hierarchy is given twice; keep one")
            block["scope_hierarchy"] = body["scope_hierarchy"]
        oauth2 = build_oauth2(block, at_tenant.at("oauth2"))
        if oauth2 is not None:
            tenants[name] = TenantConfig(name=name, oauth2=oauth2)
    return tenants


def build_push(raw: Any, place: Place) -> PushConfig:
    """``push``: where the agent may deliver notifications (exact ``host:port`` entries), and how."""
    if raw is None:
        return PushConfig()
    push = validate_model(PushConfig, raw, place)
    if push is None:
        return PushConfig()
    for i, entry in enumerate(push.allowed_hosts):
        match = _HOST_PORT.fullmatch(entry)
        if not match or not 0 < int(match.group(2)) < 65536:
            place.at("allowed_hosts").item(i).add("use exact host:port entries, e.g. hooks.example.com:443")
    return push


def build_audit(raw: Any, place: Place) -> AuditConfig | None:
    """``audit``: the JSONL path and in-memory capacity (defaults when absent; None when invalid)."""
    return AuditConfig() if raw is None else validate_model(AuditConfig, raw, place)
