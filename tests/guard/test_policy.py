"""``PluginScopes``: the one way a method table says "that plugin's scopes", written and read back in one place."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labkit.guard import EndpointPolicy, PluginScopes, Requirement
from labkit.guard.policy import Capability
from sample_agent.policy import A2A_METHOD_SCOPES

from ..helpers import examples


@settings(max_examples=examples(200))
@given(st.text(min_size=1, max_size=30).filter(lambda t: ":" not in t))
def test_a_plugin_rule_reads_back_as_written(plugin_id: str) -> None:
    rule = PluginScopes(plugin_id)
    assert str(rule) == f"plugin:{plugin_id}" and PluginScopes.parse(str(rule)) == rule


@pytest.mark.parametrize("text", ["", "plugin:", "system_tools", "Plugin:x", "plugin:a:b", " plugin:x"])
def test_other_text_is_not_a_plugin_rule(text: str) -> None:
    with pytest.raises(ValueError, match="plugin"):
        PluginScopes.parse(text)


@pytest.mark.parametrize("rule", ["plugin:system_tools", "api:read", ""])
def test_a_method_table_refuses_a_bare_string(rule: str) -> None:
    # a string is not a rule: read as scopes it would be one scope per character ("" none at all)
    with pytest.raises(TypeError, match="method_scopes\\['message/send'\\]"):
        EndpointPolicy({}, {}, {"message/send": rule})  # type: ignore[dict-item]


def test_a_plugin_rule_needs_that_plugins_scopes() -> None:
    policy = EndpointPolicy({"echo": Capability("echo", "system_tools", ("api:read",))},
                            {"system_tools": ("api:read", "tools:run")},
                            {"message/send": PluginScopes("system_tools"), "tasks/get": ("api:read",), "ping": None})
    assert policy.for_method("message/send", {}) == Requirement(("api:read", "tools:run"), "message/send",
                                                                 plugin="system_tools")
    assert policy.for_method("tasks/get", {}) == Requirement(("api:read",), "tasks/get")
    assert policy.for_method("ping", {}) == Requirement((), "ping")


def test_the_agents_table_holds_only_typed_rules() -> None:
    assert {type(rule) for rule in A2A_METHOD_SCOPES.values()} == {PluginScopes, tuple, type(None)}
    assert {str(r) for r in A2A_METHOD_SCOPES.values() if isinstance(r, PluginScopes)} == {"plugin:system_tools"}
