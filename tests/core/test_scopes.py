from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labkit import ScopeHierarchy
from labkit.scopes import is_scope_token

SEED = ScopeHierarchy(
    {
        "admin": ["*"],
        "api:admin": ["api:write", "api:read"],
        "api:write": ["api:read"],
        "api:read": [],
        "files:write": ["files:read"],
        "files:read": [],
    }
)


@pytest.mark.parametrize(
    ("granted", "required", "ok"),
    [
        ({"api:write"}, {"api:read"}, True),
        ({"api:read"}, {"api:write"}, False),
        ({"api:admin"}, {"api:read", "api:write"}, True),
        ({"admin"}, {"files:write", "never:heard:of"}, True),
        ({"*"}, {"api:read"}, False),  # a literal '*' in a token is not a wildcard
        ({"API:WRITE"}, {"api:read"}, False),  # case-sensitive
        ({"api:readonly"}, {"api:read"}, False),  # no prefix matching
        ({"api"}, {"api:read"}, False),
        (set(), set(), True),
        ({"files:write"}, {"files:read", "api:read"}, False),
    ],
)
def test_satisfies(granted: set[str], required: set[str], ok: bool) -> None:
    assert SEED.satisfies(granted, required) is ok


def test_expand_and_wildcard() -> None:
    assert SEED.expand({"api:admin"}) == {"api:admin", "api:write", "api:read"}
    assert not SEED.expand({"api:admin"}).wildcard
    admin = SEED.expand({"admin"})
    assert admin.wildcard and "*" in admin and admin.covers("whatever")
    literal = SEED.expand({"*"})
    assert "*" in literal and not literal.wildcard and not literal.covers("api:read")


def test_cycles_terminate() -> None:
    h = ScopeHierarchy({"a": ["b"], "b": ["c"], "c": ["a"]})
    assert h.expand({"a"}) == {"a", "b", "c"}
    assert h.explain({"b"}, "a") == ["b", "c", "a"]


def test_explain() -> None:
    assert SEED.explain({"api:admin"}, "api:read") == ["api:admin", "api:read"]
    assert SEED.explain({"api:read"}, "api:read") == ["api:read"]
    assert SEED.explain({"admin"}, "files:read") == ["admin", "*", "files:read"]
    assert SEED.explain({"api:read"}, "api:write") is None
    assert SEED.explain({"*"}, "api:read") is None


def test_graph() -> None:
    g = ScopeHierarchy({"b": ["a"], "c": ["b", "*"]}).graph()
    assert g.nodes == ("*", "a", "b", "c")
    assert g.edges == (("b", "a"), ("c", "*"), ("c", "b"))


@pytest.mark.parametrize("bad", [{"a b": []}, {"a": ["b c"]}, {"*": []}, {"": []}, {'a"': []}, {"a\\b": []}])
def test_invalid_names(bad: dict[str, list[str]]) -> None:
    with pytest.raises(ValueError):
        ScopeHierarchy(bad)


def test_scope_token_charset() -> None:
    assert is_scope_token("api://app/Agent.Read")
    assert is_scope_token("read:items,write:items")  # a comma is a legal scope character
    for bad in ("", "a b", 'a"b', "a\\b", "é", "a\tb", None, 3):
        assert not is_scope_token(bad)


names = st.text(alphabet="abcdefgh:*", min_size=1, max_size=3).filter(lambda s: s != "*")
hierarchies = st.dictionaries(names, st.lists(st.one_of(names, st.just("*")), max_size=4), max_size=8)
grants = st.sets(names, max_size=5)


@given(hierarchies, grants)
def test_expand_contains_input(h: dict[str, list[str]], granted: set[str]) -> None:
    assert granted <= ScopeHierarchy(h).expand(granted)


@given(hierarchies, grants, grants)
def test_expand_is_monotone(h: dict[str, list[str]], a: set[str], b: set[str]) -> None:
    sh = ScopeHierarchy(h)
    small, big = sh.expand(a), sh.expand(a | b)
    assert small <= big and (not small.wildcard or big.wildcard)


@given(hierarchies, grants)
def test_expand_is_idempotent(h: dict[str, list[str]], granted: set[str]) -> None:
    sh = ScopeHierarchy(h)
    once = sh.expand(granted)
    twice = sh.expand(once)
    assert twice == once and twice.wildcard == once.wildcard


@given(hierarchies, grants, grants)
def test_satisfies_agrees_with_expand(h: dict[str, list[str]], granted: set[str], required: set[str]) -> None:
    sh = ScopeHierarchy(h)
    effective = sh.expand(granted)
    expected = effective.wildcard or required <= effective
    assert sh.satisfies(granted, required) is expected


@given(hierarchies, grants, names)
def test_explain_agrees_with_expand(h: dict[str, list[str]], granted: set[str], scope: str) -> None:
    sh = ScopeHierarchy(h)
    chain = sh.explain(granted, scope)
    assert (chain is not None) == sh.expand(granted).covers(scope)
    if chain is not None:
        assert chain[0] in granted and chain[-1] == scope
