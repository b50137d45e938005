"""ScopeExplorer: edit a hierarchy, pick granted scopes, see effective scopes, chains, a graph, and reach."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import yaml

from ..guard import EndpointPolicy
from ..scopes import ScopeHierarchy
from ._render import hierarchy_svg, html_text, show_with_fallback

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ScopeExplorer", "ScopeExplorerState"]


@dataclass
class ScopeExplorerState:
    """Everything the explorer shows, computed from a hierarchy and a grant (drivable without a UI)."""

    hierarchy_text: str
    granted: set[str] = field(default_factory=set)
    policy: EndpointPolicy | None = None
    error: str | None = None

    @property
    def hierarchy(self) -> ScopeHierarchy:
        """The parsed hierarchy (an empty one while the text is invalid; see ``error``)."""
        try:
            mapping = yaml.safe_load(self.hierarchy_text) or {}
            if not isinstance(mapping, dict):
                raise ValueError("the hierarchy is a mapping: scope: [implied, scopes]")
            hierarchy = ScopeHierarchy({str(k): [str(v) for v in (vals or [])] for k, vals in mapping.items()})
        except (yaml.YAMLError, ValueError, TypeError) as exc:
            self.error = str(exc).splitlines()[0]
            return ScopeHierarchy()
        self.error = None
        return hierarchy

    def known_scopes(self) -> list[str]:
        """Every scope the hierarchy or the policy names."""
        names = set(self.hierarchy.scopes())
        if self.policy is not None:
            for capability in self.policy.capabilities.values():
                names.update(capability.scopes)
        return sorted(names)

    def table(self) -> pd.DataFrame:
        """One row per known scope: granted? effective? the chain that grants it."""
        import pandas as pd

        hierarchy = self.hierarchy
        effective = hierarchy.expand(self.granted)
        rows = []
        for scope in self.known_scopes():
            chain = hierarchy.explain(self.granted, scope)
            rows.append({"scope": scope, "granted": scope in self.granted, "effective": effective.covers(scope),
                         "chain": " -> ".join(chain) if chain else ""})
        return pd.DataFrame(rows, columns=["scope", "granted", "effective", "chain"])

    def reachable(self) -> pd.DataFrame:
        """Capabilities (and their MCP tools) this grant can use, and the ones it cannot."""
        import pandas as pd

        if self.policy is None:
            return pd.DataFrame(columns=["capability", "plugin", "needs", "reachable"])
        effective = self.hierarchy.expand(self.granted)
        rows = [{"capability": c.capability_id, "plugin": c.plugin_id, "needs": " ".join(c.scopes),
                 "reachable": all(effective.covers(s) for s in c.scopes)}
                for c in sorted(self.policy.capabilities.values(), key=lambda c: c.capability_id)]
        return pd.DataFrame(rows)

    def svg(self) -> str:
        """The hierarchy drawn, with this grant highlighted."""
        hierarchy = self.hierarchy
        return hierarchy_svg(hierarchy, frozenset(self.granted), hierarchy.expand(self.granted))


class ScopeExplorer:
    """The widget: a YAML editor, a scope picker, and live tables and graph."""

    def __init__(self, hierarchy: dict[str, list[str]] | ScopeHierarchy, policy: EndpointPolicy | None = None,
                 granted: set[str] | None = None) -> None:
        import ipywidgets as w

        mapping = hierarchy.mapping if isinstance(hierarchy, ScopeHierarchy) else hierarchy
        self.state = ScopeExplorerState(yaml.safe_dump(mapping, sort_keys=True, default_flow_style=None),
                                        set(granted or ()), policy)
        self.editor = w.Textarea(value=self.state.hierarchy_text, description="hierarchy",
                                 layout=w.Layout(width="420px", height="180px"))
        self.picker = w.SelectMultiple(options=self.state.known_scopes(), value=tuple(sorted(self.state.granted)),
                                       description="granted", rows=8)
        self.apply = w.Button(description="Explore", button_style="primary")
        self.status = w.HTML()
        self.out = w.Output()
        self.apply.on_click(lambda _: self.refresh())
        self.picker.observe(lambda _: self.refresh(), names="value")
        self.view = w.VBox([w.HBox([self.editor, self.picker]), w.HBox([self.apply, self.status]), self.out])
        self.refresh()

    def set(self, *, hierarchy_text: str | None = None, granted: set[str] | None = None) -> None:
        """Drive the widget from code (tests, lessons)."""
        if hierarchy_text is not None:
            self.editor.value = hierarchy_text
        if granted is not None:
            self.picker.options = sorted(set(self.picker.options) | granted)
            self.picker.value = tuple(sorted(granted))
        self.refresh()

    def refresh(self) -> None:
        """Recompute from the editor and the picker, and redraw."""
        from IPython.display import HTML

        self.state.hierarchy_text = self.editor.value
        self.state.granted = set(self.picker.value)
        known = self.state.known_scopes()
        if self.state.error is None and set(known) != set(self.picker.options):
            keep = tuple(v for v in self.picker.value if v in known)
            self.picker.options = known
            self.picker.value = keep
            self.state.granted = set(keep)
        self.status.value = (html_text(self.state.error, color="#b00") if self.state.error
                             else html_text(f"{len(self.state.granted)} granted, "
                                            f"{int(self.state.table()['effective'].sum())} effective"))
        self.out.outputs = ()
        self.out.append_display_data(HTML(self.state.svg()))
        self.out.append_display_data(self.state.table())
        if self.state.policy is not None:
            self.out.append_display_data(self.state.reachable())

    def _ipython_display_(self) -> None:
        show_with_fallback(self.view, self.out, "ScopeExplorer: what a grant reaches through the hierarchy")
