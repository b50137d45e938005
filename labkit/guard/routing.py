"""Which route the app will run for a request, found with the app's own router.

The guard must judge exactly the route the application dispatches to. Rather than re-deriving it from the
path (tenant prefixes, ``//``, ``%2F``, ``..``, trailing slashes, ``root_path``: any normalisation one side
does and the other does not is a bypass), it asks the app's Starlette routes the same question the router
asks, ``route.matches(scope)``, in the same order (the first full match, else the first partial match), and
descends into mounts the same way. The scope it asks with is the one the app receives, untouched.
``RouteMemo`` remembers the answers for route trees whose matching reads nothing but the scope's type,
method, ``root_path`` and path (plain ``Route``, ``WebSocketRoute`` and ``Mount`` of such routes).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from operator import is_
from typing import Any

from starlette.routing import BaseRoute, Match, Mount, Route, WebSocketRoute
from starlette.types import Scope

__all__ = ["MEMO_PATH", "MEMO_SIZE", "Resolved", "RouteMemo", "resolve"]

MEMO_SIZE = 1024
MEMO_PATH = 512  # longer paths are resolved every time: the memo holds at most MEMO_SIZE short keys


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


class RouteMemo:
    """``resolve`` for one route tree, remembered per (type, method, root_path, path) in a bounded LRU.

    Used only when every route in the tree is a plain ``Route``, ``WebSocketRoute`` or ``Mount`` (their
    ``matches`` read the scope's type, path, ``root_path`` and method, nothing else: no ``Host``, no custom
    route) and the request carries no ``path_params`` of its own; otherwise, and for paths over ``MEMO_PATH``
    characters, every call resolves afresh. A change to the tree's route lists forgets everything: routes are
    compared by identity (``Route.__eq__`` ignores the name the guard judges by) and a mount's list by the list
    its router holds now; a route object changed in place is not seen (replace it instead).
    """

    def __init__(self, routes: Sequence[BaseRoute], size: int = MEMO_SIZE) -> None:
        self.routes = routes
        self.size = size
        self._memo: OrderedDict[Hashable, Resolved | None] = OrderedDict()
        self._lists = _route_lists(routes)
        self._snapshot, self._mounts = _snapshot(self._lists)
        self._checked: list[Sequence[BaseRoute]] | None = None  # the lists _pairs pairs with their snapshots
        self._pairs: list[tuple[Sequence[BaseRoute], tuple[BaseRoute, ...]]] = []

    def resolve(self, scope: Scope) -> Resolved | None:
        """What ``resolve(routes, scope)`` answers (the same value, often the same object: never change it)."""
        path, root_path, method = scope.get("path"), scope.get("root_path", ""), scope.get("method")
        lists = self._lists
        if (type(path) is not str or type(root_path) is not str or (method is not None and type(method) is not str)
                or scope.get("path_params") or len(path) + len(root_path) > MEMO_PATH
                or not ((lists is not None and self._unchanged(lists)) or self._reread())):
            return resolve(self.routes, scope)
        key = (scope["type"], method, root_path, path)
        memo = self._memo
        found = memo.get(key, _MISSING)
        if found is _MISSING:
            found = resolve(self.routes, scope)
            memo[key] = found
            if len(memo) > self.size:
                memo.popitem(last=False)
            return found
        try:
            memo.move_to_end(key)
        except KeyError:  # evicted meanwhile by another thread: the answer stands
            pass
        return found  # type: ignore[return-value]

    def _unchanged(self, lists: list[Sequence[BaseRoute]]) -> bool:
        # the same route objects in every list, and every mount still routes with the list remembered
        if lists is not self._checked:
            self._checked = lists
            self._pairs = list(zip(lists, self._snapshot, strict=True)) if len(lists) == len(self._snapshot) else []
            if not self._pairs:
                return False
        for found, seen in self._pairs:
            if len(found) != len(seen) or not all(map(is_, found, seen)):
                return False
        for mount, inner in self._mounts:
            now = mount.routes  # a mount of an app without routes hands out a new empty list each time
            if now is not inner and (now or inner):
                return False
        return True

    def _reread(self) -> bool:
        """The tree changed (or was never memoizable): forget, re-read; True when it can be remembered now."""
        if self._lists is None and self._snapshot == []:
            return False  # never memoizable so far
        self._memo.clear()
        self._lists = _route_lists(self.routes)
        self._snapshot, self._mounts = _snapshot(self._lists)
        return self._lists is not None


_MISSING = object()
_PLAIN = (Route, WebSocketRoute)


def _snapshot(lists: list[Sequence[BaseRoute]] | None) -> tuple[list[tuple[BaseRoute, ...]],
                                                               list[tuple[Mount, Sequence[BaseRoute]]]]:
    """The routes of every list, and every mount with the route list it holds (what ``_unchanged`` compares)."""
    found = [tuple(routes) for routes in lists or ()]
    mounts: list[tuple[Mount, Sequence[BaseRoute]]] = [
        (route, route.routes) for routes in found for route in routes if type(route) is Mount]
    return found, mounts


def _route_lists(routes: Sequence[BaseRoute]) -> list[Sequence[BaseRoute]] | None:
    """Every route list of the tree (to notice changes), or None when a route may match on more than the path."""
    found: list[Sequence[BaseRoute]] = [routes]
    for route in routes:
        if type(route) in _PLAIN:
            continue
        if type(route) is not Mount:
            return None
        inner = route.routes
        if not isinstance(inner, list):
            return None
        nested = _route_lists(inner)
        if nested is None:
            return None
        found.extend(nested)
    return found
