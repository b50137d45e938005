"""AuditViewer: the audit log as a filterable table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..lab.lessons import AUDIT_COLUMNS
from ._render import show_with_fallback

if TYPE_CHECKING:
    import pandas as pd

    from ..audit import AuditLog

__all__ = ["AuditViewer", "AuditViewerState"]


@dataclass
class AuditViewerState:
    """Filters over an audit log ("" means any)."""

    decision: str = ""
    reason: str = ""
    endpoint: str = ""

    def filtered(self, log: AuditLog) -> pd.DataFrame:
        """The matching events, deterministic columns only."""
        frame = log.to_dataframe()
        for column in ("decision", "reason", "endpoint"):
            wanted = getattr(self, column)
            if wanted:
                frame = frame[frame[column] == wanted]
        frame = frame[AUDIT_COLUMNS].fillna("")
        return frame.assign(scopes=frame["scopes"].map(" ".join)).reset_index(drop=True)


class AuditViewer:
    """The widget: three filters and the table."""

    def __init__(self, log: AuditLog) -> None:
        import ipywidgets as w

        self.log = log
        self.state = AuditViewerState()
        self.decision = w.Dropdown(options=["", "allow", "deny"], description="decision")
        self.reason = w.Text(description="reason")
        self.endpoint = w.Dropdown(options=["", "/", "/mcp"], description="endpoint")
        for widget in (self.decision, self.reason, self.endpoint):
            widget.observe(lambda _: self.refresh(), names="value")
        self.out = w.Output()
        self.view = w.VBox([w.HBox([self.decision, self.reason, self.endpoint]), self.out])
        self.refresh()

    def refresh(self) -> None:
        """Apply the filters and redraw."""
        self.state.decision = self.decision.value
        self.state.reason = self.reason.value.strip()
        self.state.endpoint = self.endpoint.value
        self.out.outputs = ()
        self.out.append_display_data(self.state.filtered(self.log))

    def _ipython_display_(self) -> None:
        show_with_fallback(self.view, self.out, "AuditViewer: filter the audit log by decision, reason, endpoint")
