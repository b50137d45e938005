"""The config package's parts on their own: the problems collector, the models, the placements."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from labkit.config import OAuth2Config, validate_security_config
from labkit.config.placement import place_document
from labkit.config.problems import Problems

SECRET = "s" * 40


def test_problems_collector_builds_paths() -> None:
    problems = Problems()
    at = problems.at("security").at("oauth2")
    at.at("leeway").add("too big")
    at.at("scopes").item(2).add("bad")
    problems.at("").at("top").add("root key")
    problems.at("").item(0).add("root item")
    at.unknown_keys({"jwt_audiance": 1, "leeway": 2}, ("jwt_audience", "leeway"))
    assert problems.errors == [
        ("security.oauth2.leeway", "too big"),
        ("security.oauth2.scopes[2]", "bad"),
        ("top", "root key"),
        ("[0]", "root item"),
        ("security.oauth2.jwt_audiance", "unknown key 'jwt_audiance' (did you mean 'jwt_audience'?)"),
    ]
    mark = problems.mark()
    at.add("moved")
    problems.relocate(mark, lambda path: path.replace("security.oauth2", "security.auth.oauth2"))
    assert problems.since(mark) == [("security.auth.oauth2", "moved")]


def test_hierarchy_is_built_once_and_rebuilt_on_copy() -> None:
    cfg = validate_security_config({"security": {"oauth2": {"jwt_secret": SECRET}, "scope_hierarchy": {"a": ["b"]}}})
    assert cfg.scope_hierarchy is cfg.scope_hierarchy
    assert cfg.scope_hierarchy is cfg.oauth2.hierarchy
    changed = cfg.oauth2.model_copy(update={"scope_hierarchy": {"x": ["y"]}})
    assert changed.hierarchy.satisfies({"x"}, {"y"}) and not changed.hierarchy.satisfies({"a"}, {"b"})
    assert cfg.oauth2.hierarchy.satisfies({"a"}, {"b"})


def test_strategy_is_a_closed_set() -> None:
    with pytest.raises(ValidationError):
        OAuth2Config(validation_strategy="jwks")  # type: ignore[arg-type]
    assert OAuth2Config(validation_strategy="both").validation_strategy == "both"


def test_placement_keeps_the_users_data_clean() -> None:
    document = {"security": {"oauth2": {"jwt_secret": SECRET}, "scope_hierarchy": {"a": ["b"]}, "plugins": []}}
    problems = Problems()
    placement = place_document(document, problems)
    assert not problems
    assert placement.hierarchy_at == "security.scope_hierarchy"
    assert placement.oauth2_at == "security.oauth2"
    assert set(placement.security) == {"oauth2"}  # nothing of ours is carried inside the user's data
    assert placement.security["oauth2"]["scope_hierarchy"] == {"a": ["b"]}
    assert placement.sections == {"plugins": []}
    assert document["security"]["scope_hierarchy"] == {"a": ["b"]}  # the input is not changed


def test_agentup_bearer_placement_names_what_was_written() -> None:
    problems = Problems()
    placement = place_document({"security": {"auth": {"bearer": {"secret_key": SECRET}}}}, problems)
    assert placement.oauth2_at == "security.auth.bearer"
    assert dict(placement.auth.renames) == {"jwt_secret": "secret_key"}
    cfg = validate_security_config({"security": {"auth": {"bearer": {"secret_key": SECRET}}}})
    assert cfg.path_of("oauth2", "jwt_secret") == "security.auth.bearer.secret_key"
