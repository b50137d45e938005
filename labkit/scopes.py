"""Scope hierarchy: which granted scopes imply which others (AgentUp's ``scope_hierarchy``).

A hierarchy maps a scope to the scopes it implies; implication is transitive, cycles terminate, and
``*`` on the right-hand side means "every scope"::

    admin ──► *                      (admin implies everything)
    api:admin ──► api:write ──► api:read
    files:write ──► files:read

Matching is exact and case-sensitive: ``api:read`` never matches ``api:readonly`` or ``API:READ``.
A literal ``*`` arriving in a token is just a scope named ``*``; only the hierarchy can grant the wildcard.
"""

from __future__ import annotations

import functools
import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["WILDCARD", "EffectiveScopes", "ScopeGraph", "ScopeHierarchy", "is_scope_token"]

WILDCARD = "*"

# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


def is_scope_token(value: object) -> bool:
    """True when ``value`` is a string made only of RFC 6749 §3.3 scope-token characters."""
    return isinstance(value, str) and _SCOPE_TOKEN.fullmatch(value) is not None


class EffectiveScopes(frozenset[str]):
    """The scopes a grant amounts to after expansion; ``wildcard`` is set only by the hierarchy."""

    wildcard: bool

    def __new__(cls, scopes: Iterable[str] = (), wildcard: bool = False) -> EffectiveScopes:
        obj = super().__new__(cls, scopes)
        obj.wildcard = wildcard
        return obj

    def covers(self, scope: str) -> bool:
        """True when ``scope`` is granted, directly, through the hierarchy or by the wildcard."""
        return self.wildcard or scope in self

    def __repr__(self) -> str:
        names = ", ".join(sorted(self))
        return f"EffectiveScopes({{{names}}}{', wildcard' if self.wildcard else ''})"


@dataclass(frozen=True)
class ScopeGraph:
    """Nodes and directed edges (scope → implied scope) of a hierarchy, for drawing."""

    nodes: tuple[str, ...]
    edges: tuple[tuple[str, str], ...]


class ScopeHierarchy:
    """Transitive scope implication with a ``*`` wildcard.

    Raises ``ValueError`` for a name outside RFC 6749's scope-token set or ``*`` used as a key;
    the config loader turns that into a ``ConfigError`` with the offending path.
    """

    def __init__(self, hierarchy: Mapping[str, Iterable[str]] | None = None) -> None:
        edges: dict[str, tuple[str, ...]] = {}
        for parent, children in (hierarchy or {}).items():
            if parent == WILDCARD:
                raise ValueError("'*' cannot be a key: it only appears in the list of implied scopes")
            if not is_scope_token(parent):
                raise ValueError(f"{parent!r} is not a valid scope name (RFC 6749 §3.3)")
            kids = tuple(dict.fromkeys(children))
            for child in kids:
                if not is_scope_token(child):
                    raise ValueError(f"{child!r} is not a valid scope name (RFC 6749 §3.3)")
            edges[parent] = kids
        self._edges = edges
        # grants repeat: expand each once (bounded: a grant is a small set, and there are few distinct ones)
        self._memo = functools.lru_cache(maxsize=4096)(self._expand)

    @property
    def mapping(self) -> dict[str, list[str]]:
        """The hierarchy as a plain mapping (a copy)."""
        return {parent: list(kids) for parent, kids in self._edges.items()}

    def __bool__(self) -> bool:
        return bool(self._edges)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ScopeHierarchy) and self._edges == other._edges

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._edges.items())))

    def __repr__(self) -> str:
        return f"ScopeHierarchy({self.mapping!r})"

    def expand(self, granted: Iterable[str]) -> EffectiveScopes:
        """Every scope ``granted`` amounts to, following implications transitively."""
        return self._memo(granted if isinstance(granted, frozenset) else frozenset(granted))

    def _expand(self, granted: frozenset[str]) -> EffectiveScopes:
        seen: set[str] = set()
        wildcard = False
        queue = deque(granted)
        seen.update(queue)
        while queue:
            scope = queue.popleft()
            for implied in self._edges.get(scope, ()):
                if implied == WILDCARD:
                    wildcard = True
                if implied not in seen:
                    seen.add(implied)
                    queue.append(implied)
        return EffectiveScopes(seen, wildcard=wildcard)

    def satisfies(self, granted: Iterable[str], required: Iterable[str]) -> bool:
        """True when every scope in ``required`` is granted after expansion."""
        effective = self.expand(granted)
        return all(effective.covers(scope) for scope in required)

    def missing(self, granted: Iterable[str], required: Iterable[str]) -> list[str]:
        """The scopes of ``required`` that ``granted`` does not cover, in order."""
        if not isinstance(granted, (set, frozenset)):
            granted = frozenset(granted)
        required = list(required)
        if all(scope in granted for scope in required):
            return []  # granted directly: no expansion needed
        effective = self.expand(granted)
        return [scope for scope in required if not effective.covers(scope)]

    def explain(self, granted: Iterable[str], scope: str) -> list[str] | None:
        """The chain from a granted scope to ``scope`` (e.g. ``["admin", "*", "files:read"]``), or None."""
        granted = list(granted)
        parents: dict[str, str | None] = {g: None for g in granted}
        queue = deque(granted)
        wildcard_from: str | None = None
        while queue:
            current = queue.popleft()
            if current == scope:
                return _chain(parents, current)
            for implied in self._edges.get(current, ()):
                if implied == WILDCARD and wildcard_from is None:
                    wildcard_from = current
                if implied not in parents:
                    parents[implied] = current
                    queue.append(implied)
        if wildcard_from is not None:
            return [*_chain(parents, wildcard_from), WILDCARD, scope]
        return None

    def graph(self) -> ScopeGraph:
        """Nodes and edges of the hierarchy, sorted, for drawing."""
        nodes = set(self._edges)
        for kids in self._edges.values():
            nodes.update(kids)
        edges = sorted((parent, kid) for parent, kids in self._edges.items() for kid in kids)
        return ScopeGraph(nodes=tuple(sorted(nodes)), edges=tuple(edges))

    def scopes(self) -> frozenset[str]:
        """Every named scope of the hierarchy (without ``*``)."""
        return frozenset(n for n in self.graph().nodes if n != WILDCARD)


def _chain(parents: Mapping[str, str | None], end: str) -> list[str]:
    chain = [end]
    node = parents[end]
    while node is not None:
        chain.append(node)
        node = parents[node]
    return chain[::-1]
