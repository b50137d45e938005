"""Rendering helpers for widgets: escaped HTML fragments and a layered SVG drawing of a scope hierarchy.

Every value shown in a notebook is escaped here (``html.escape``): lessons render what a learner or a
provider typed, and an ``<img onerror>`` in a scope name must stay text.
"""

from __future__ import annotations

import html
from collections import defaultdict, deque
from typing import Any

from ..scopes import WILDCARD, EffectiveScopes, ScopeHierarchy

__all__ = ["hierarchy_svg", "html_list", "html_pre", "html_text", "show_with_fallback", "snapshot_html"]


def html_text(value: object, *, color: str | None = None, bold: str | None = None) -> str:
    """``value`` as escaped HTML text, optionally coloured, optionally after a bold (escaped) label."""
    text = html.escape(str(value))
    if bold is not None:
        text = f"<b>{html.escape(bold)}</b> {text}"
    return f"<span style='color:{color}'>{text}</span>" if color else f"<span>{text}</span>"


def html_pre(text: str) -> str:
    """Preformatted, escaped text (for YAML and other listings)."""
    return f"<pre>{html.escape(text)}</pre>"


def html_list(title: str, items: list[tuple[str, str]]) -> str:
    """A bold title over a list of ``(code, message)`` items, every part escaped."""
    lines = "".join(f"<li><code>{html.escape(code)}</code>: {html.escape(message)}</li>" for code, message in items)
    return f"<p><b>{html.escape(title)}</b></p><ul>{lines}</ul>"


def snapshot_html(outputs: tuple[dict[str, Any], ...] | list[dict[str, Any]], title: str) -> str:
    """A static picture of a widget's output area: its HTML outputs, or its text ones escaped."""
    parts = [f"<p><b>{html.escape(title)}</b> <i>(a snapshot: run the notebook for the live widget)</i></p>"]
    for output in outputs:
        data = output.get("data", {}) if isinstance(output, dict) else {}
        if "text/html" in data:
            parts.append(str(data["text/html"]))  # produced by our own escaped renderers or pandas
        elif "image/svg+xml" in data:
            parts.append(str(data["image/svg+xml"]))
        elif "text/plain" in data:
            parts.append(html_pre(str(data["text/plain"])))
        elif output.get("output_type") == "stream":
            parts.append(html_pre(str(output.get("text", ""))))
    return "".join(parts)


def show_with_fallback(view: Any, out: Any, title: str) -> None:
    """Display ``view`` (a live widget) with a static fallback: a text line and an HTML snapshot of ``out``, so a
    committed notebook opened before running (or on a static viewer) shows a picture, not ``VBox(children=...)``."""
    from IPython.display import display

    bundle = dict(view._repr_mimebundle_() or {})
    bundle["text/plain"] = f"{title} (a live widget: run the notebook to use it)"
    bundle["text/html"] = snapshot_html(list(getattr(out, "outputs", ())), title)
    display(bundle, raw=True)


def _layers(hierarchy: ScopeHierarchy) -> list[list[str]]:
    graph = hierarchy.graph()
    children: dict[str, list[str]] = defaultdict(list)
    indegree = {n: 0 for n in graph.nodes}
    for parent, child in graph.edges:
        children[parent].append(child)
        indegree[child] += 1
    depth: dict[str, int] = {}
    queue = deque(sorted(n for n, d in indegree.items() if d == 0) or sorted(graph.nodes)[:1])
    for root in queue:
        depth[root] = 0
    while queue:
        node = queue.popleft()
        for child in children[node]:
            if child not in depth or depth[child] < depth[node] + 1 <= len(graph.nodes):
                if child not in depth:
                    queue.append(child)
                depth[child] = max(depth.get(child, 0), depth[node] + 1)
    for node in graph.nodes:
        depth.setdefault(node, 0)
    layers: dict[int, list[str]] = defaultdict(list)
    for node, level in depth.items():
        layers[level].append(node)
    return [sorted(layers[level]) for level in sorted(layers)]


def hierarchy_svg(hierarchy: ScopeHierarchy, granted: set[str] | frozenset[str] = frozenset(),
                  effective: EffectiveScopes | None = None) -> str:
    """An SVG of the hierarchy: granted scopes bold, effective ones green, the wildcard orange."""
    layers = _layers(hierarchy)
    if not layers:
        empty = '<text x="10" y="25">(empty hierarchy)</text>'
        return f'<svg xmlns="http://www.w3.org/2000/svg" width="300" height="40">{empty}</svg>'
    width_per, height_per = 150, 60
    width = max(len(layer) for layer in layers) * width_per + 20
    height = len(layers) * height_per + 20
    position: dict[str, tuple[int, int]] = {}
    for row, layer in enumerate(layers):
        offset = (width - len(layer) * width_per) // 2
        for column, node in enumerate(layer):
            position[node] = (offset + column * width_per + width_per // 2, 20 + row * height_per + 15)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="labkit-scope-graph" width="{width}" height="{height}" '
             f'font-family="sans-serif" '
             'font-size="12">', '<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="8" refY="4" '
             'orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#888"/></marker></defs>']
    for parent, child in hierarchy.graph().edges:
        (x1, y1), (x2, y2) = position[parent], position[child]
        parts.append(f'<line x1="{x1}" y1="{y1 + 12}" x2="{x2}" y2="{y2 - 14}" stroke="#888" '
                     f'marker-end="url(#arrow)"/>')
    for node, (x, y) in position.items():
        covered = effective is not None and (node in effective or (effective.wildcard and node != WILDCARD))
        fill = "#f6c177" if node == WILDCARD else "#a6e3a1" if covered else "#eeeeee"
        weight = "bold" if node in granted else "normal"
        parts.append(f'<rect x="{x - 65}" y="{y - 13}" width="130" height="26" rx="6" fill="{fill}" stroke="#555"/>')
        parts.append(f'<text x="{x}" y="{y + 4}" text-anchor="middle" font-weight="{weight}">'
                     f"{html.escape(node)}</text>")
    parts.append("</svg>")
    return "".join(parts)
