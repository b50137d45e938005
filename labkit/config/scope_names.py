"""Scope checks: names are RFC 6749 §3.3 scope-tokens, the hierarchy is well formed, required fits allowed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..scopes import ScopeHierarchy, is_scope_token
from .models import OAuth2Config
from .problems import Place

__all__ = ["check_hierarchy", "check_oauth2_scopes", "check_scope_names"]


def check_scope_names(scopes: Iterable[object] | None, place: Place, *, rule: str = "RFC 6749 §3.3") -> None:
    """One problem per item of ``scopes`` that is not a scope-token (at ``place[i]``)."""
    for i, scope in enumerate(scopes or ()):
        # RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
        if not is_scope_token(scope):
            place.item(i).add(f"{scope!r} is not a valid scope name ({rule})")


def check_oauth2_scopes(oauth2: OAuth2Config, place: Place) -> None:
    """``required_scopes`` and ``allowed_scopes``: valid names, and no requirement outside what is allowed."""
    for key in ("required_scopes", "allowed_scopes"):
        check_scope_names(getattr(oauth2, key), place.at(key), rule="RFC 6749 §3.3: no spaces or quotes")
    if oauth2.allowed_scopes is not None:
        allowed = set(oauth2.allowed_scopes)  # a set: this check stays linear for long lists
        outside = [s for s in oauth2.required_scopes if s not in allowed]
        if outside:
            place.at("required_scopes").add(
                f"{', '.join(outside)} not within allowed_scopes: no token could ever pass")


def check_hierarchy(hierarchy: Mapping[str, list[str]], place: Place) -> None:
    """Each entry of a scope hierarchy on its own (names, ``*`` only on the right)."""
    for parent, children in hierarchy.items():
        try:
            ScopeHierarchy({parent: children})
        except ValueError as exc:
            place.at(parent).add(str(exc))
