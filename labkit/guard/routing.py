"""Which route the app will run for a request, found with the app's own router.

The guard must judge exactly the route the application dispatches to. Rather than re-deriving it from the
path (tenant prefixes, ``//``, ``%2F``, ``..``, trailing slashes, ``root_path``: any normalisation one side
does and the other does not is a bypass), it asks the app's Starlette routes the same question the router
asks, ``route.matches(scope)``, in the same order (the first full match, else the first partial match), and
descends into mounts the same way. The scope it asks with is the one the app receives, untouched.
Nothing is remembered between requests: a route tree can change, and a stale answer would be a bypass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.routing import BaseRoute, Match
from starlette.types import Scope

__all__ = ["Resolved", "resolve"]


@dataclass(frozen=True)
class Resolved:
    """The route a request reaches: its name (None when unnamed), path parameters, whether the method fits."""

    name: str | None
    path_params: dict[str, Any] = field(default_factory=dict)
    method_allowed: bool = True


def resolve(routes: Sequence[BaseRoute], scope: Scope) -> Resolved | None:
    """The leaf route ``scope`` dispatches to, or None when no route matches (the app's 404)."""
    partial: tuple[BaseRoute, Scope] | None = None
    for route in routes:
        try:
            match, child = route.matches(scope)
        except ValueError:  # a convertor refused the value (e.g. {x:int} past int()'s digit limit): the app fails too
            return None  # deny by default: an unresolvable path needs a valid token, and is never a 5xx here
        if match is Match.FULL:
            return _descend(route, {**scope, **child}, True)
        if match is Match.PARTIAL and partial is None:
            partial = (route, child)
    if partial is not None:
        return _descend(partial[0], {**scope, **partial[1]}, False)
    return None


def _descend(route: BaseRoute, scope: Scope, full: bool) -> Resolved | None:
    inner = getattr(route, "routes", None)  # Mount and Host route again inside
    if inner:
        return resolve(inner, scope)
    return Resolved(getattr(route, "name", None), dict(scope.get("path_params", {})), full)
