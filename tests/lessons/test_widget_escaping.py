"""Every value a widget renders as HTML or SVG is escaped (issue #20.6): a hostile-string table."""

from __future__ import annotations

from typing import Any

import pytest

from labkit.scopes import ScopeHierarchy
from labkit.widgets import ConfigBuilder, ScopeExplorer
from labkit.widgets._render import hierarchy_svg, html_list, html_pre, html_text

HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "`</code><img src=x onerror=alert(1)>",
    "```\n<img src=x onerror=alert(1)>\n```",
    "\"'><svg onload=alert(1)>",
    "!<tag:%3Cimg%20src=x%20onerror=alert(1)%3E>",
    "[x](javascript:alert(1))",
    "&lt;img src=x onerror=alert(1)&gt;",
]
RAW = ("<img", "<script", "<svg onload", "onerror=alert(1)>")


def rendered(outputs: Any) -> str:
    """Every text/html and text/markdown payload of an Output widget."""
    parts = []
    for output in outputs:
        data = output.get("data", {})
        parts += [data.get("text/html", ""), data.get("text/markdown", "")]
    return "".join(parts)


def assert_inert(html: str) -> None:
    for raw in RAW:
        assert raw not in html, html


@pytest.mark.parametrize("value", HOSTILE)
def test_render_helpers_escape(value: str) -> None:
    assert_inert(html_text(value, color="#b00", bold=value))
    assert_inert(html_pre(value))
    assert_inert(html_list(value, [(value, value)]))
    assert_inert(hierarchy_svg(ScopeHierarchy({"ok:scope": []}), frozenset({value})))


@pytest.mark.parametrize("value", HOSTILE)
def test_scope_explorer_status_and_graph_are_escaped(value: str) -> None:
    explorer = ScopeExplorer({"api:write": ["api:read"]})
    explorer.set(hierarchy_text=f"{value!r}: []\n")  # an invalid scope name: its error echoes the name
    explorer.set(hierarchy_text=value)  # not even YAML
    assert_inert(explorer.status.value)
    assert_inert(rendered(explorer.out.outputs))


@pytest.mark.parametrize("value", HOSTILE)
def test_config_builder_errors_and_yaml_are_escaped(value: str) -> None:
    builder = ConfigBuilder()
    builder.set(hierarchy=f"{value!r}: []\n", jwt_algorithms=value, jwt_issuer=value, jwks_url=value)
    assert builder.state.errors  # every hostile value is invalid somewhere
    assert_inert(rendered(builder.out.outputs))
    builder.set(hierarchy=value)
    assert_inert(rendered(builder.out.outputs))
