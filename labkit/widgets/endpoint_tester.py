"""EndpointTester: run the tokens x endpoints matrix with a progress bar; the result is a DataFrame."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..probe import ProbeEndpoint, ProbeToken, default_endpoints, default_tokens, run_probe

if TYPE_CHECKING:
    import pandas as pd

    from ..lab import Lab

__all__ = ["EndpointTester", "EndpointTesterState"]


@dataclass
class EndpointTesterState:
    """The last matrix and its summary."""

    result: pd.DataFrame | None = None
    done: int = 0
    total: int = 0

    @property
    def all_ok(self) -> bool:
        """True when every status was the expected one."""
        return self.result is not None and bool(self.result["ok"].all())

    def matrix(self) -> pd.DataFrame:
        """Statuses pivoted: tokens as rows, endpoints as columns (in probe order)."""
        assert self.result is not None  # noqa: S101 - call run() first
        order = list(dict.fromkeys(self.result["endpoint"]))
        tokens = list(dict.fromkeys(self.result["token"]))
        table = self.result.pivot(index="token", columns="endpoint", values="actual")
        return table.loc[tokens, order]


class EndpointTester:
    """The widget: a Run button, a progress bar, and the matrix."""

    def __init__(self, lab: Lab, tokens: list[ProbeToken] | None = None,
                 endpoints: list[ProbeEndpoint] | None = None) -> None:
        import ipywidgets as w

        self.lab = lab
        self.tokens = tokens
        self.endpoints = endpoints
        self.state = EndpointTesterState()
        self.progress = w.IntProgress(value=0, min=0, max=1, description="probe")
        self.button = w.Button(description="Run the matrix", button_style="primary")
        self.button.on_click(lambda _: self.run())
        self.out = w.Output()
        self.view = w.VBox([w.HBox([self.button, self.progress]), self.out])

    def run(self) -> EndpointTesterState:
        """Probe every token against every endpoint."""
        tokens = self.tokens if self.tokens is not None else default_tokens(self.lab)
        endpoints = self.endpoints if self.endpoints is not None else default_endpoints()
        self.state.total = len(tokens) * len(endpoints)
        self.progress.max = self.state.total

        def advance(done: int) -> None:
            self.state.done = done
            self.progress.value = done

        self.state.result = run_probe(self.lab, tokens, endpoints, progress=advance)
        self.out.outputs = ()
        self.out.append_display_data(self.state.matrix())
        return self.state

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.view)
