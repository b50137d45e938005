"""Where things were written: the placements AgentUp's docs leave ambiguous, normalized (DESIGN.md).

The seed's YAML lost its indentation, so ``middleware``/``plugins``/``tenants`` may sit inside ``security``,
``scope_hierarchy`` in ``security`` or in ``oauth2``, oauth2 settings one level too high; AgentUp writes
``security.auth.oauth2``. ``place_document`` moves each part to one place and remembers where it was written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .agentup import AuthSource, normalize_auth
from .models import OAuth2Config
from .problems import Problems, join, type_name

__all__ = ["DOCUMENT_KEYS", "Placement", "place_document"]

DOCUMENT_KEYS = ("middleware", "plugins", "tenants", "push", "audit")
_OAUTH2_KEYS = tuple(OAuth2Config.model_fields)


@dataclass
class Placement:
    """A document split into its security block (oauth2 normalized) and the sections around it."""

    security: dict[str, Any]
    sections: dict[str, Any]
    prefix: str  # the path of the security block: "security", or "" when the document is the block itself
    hierarchy_at: str | None = None  # where a scope_hierarchy moved into oauth2 was written
    auth: AuthSource = field(default_factory=AuthSource)

    @property
    def oauth2_at(self) -> str:
        """Where the user wrote the oauth2 block."""
        return self.auth.path or join(self.prefix, "oauth2")


def place_document(document: dict[str, Any], problems: Problems) -> Placement:
    """Split a document into (security block, document-level sections), everything in its normal place."""
    if "security" in document:
        written = document.get("security")
        prefix = "security"
        if written is None:
            written = {}
        if not isinstance(written, Mapping):
            problems.add("security", f"expected a mapping, got {type_name(written)}")
            written = {}
        security = dict(written)
        sections = {k: v for k, v in document.items() if k != "security"}
    else:
        security, sections, prefix = dict(document), {}, ""
    placement = Placement(security, sections, prefix)
    # middleware/plugins/tenants written inside security: move them up.
    for key in DOCUMENT_KEYS:
        if key in security:
            if key in sections:
                problems.add(join(prefix, key), f"'{key}' is given twice (inside and outside security)")
            sections[key] = security.pop(key)
    # AgentUp's on-disk shape: security.auth.{oauth2, bearer, api_key}
    if "auth" in security:
        placement.auth = normalize_auth(security, problems.at(join(prefix, "auth")))
    oauth2 = security.get("oauth2")
    if oauth2 is None and "oauth2" in security:
        oauth2 = {}
    if isinstance(oauth2, Mapping):
        block = dict(oauth2)
        # scope_hierarchy may sit in security or in oauth2; normalize to oauth2, refuse both.
        if "scope_hierarchy" in security and "scope_hierarchy" in block:
            problems.add(join(prefix, "scope_hierarchy"),
                         "scope_hierarchy is given twice (in security and in oauth2); keep one")
        elif "scope_hierarchy" in security:
            block["scope_hierarchy"] = security.pop("scope_hierarchy")
            placement.hierarchy_at = join(prefix, "scope_hierarchy")
        # oauth2 settings pasted one level too high (e.g. introspection_cache_ttl after scope_hierarchy)
        for key in [k for k in security if k in _OAUTH2_KEYS and k != "scope_hierarchy"]:
            if key in block:
                problems.add(join(prefix, key), f"'{key}' is given twice (in security and in oauth2); keep one")
            else:
                block[key] = security.pop(key)
        security["oauth2"] = block
    return placement
