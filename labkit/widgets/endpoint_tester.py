"""EndpointTester: run the tokens x endpoints matrix with a progress bar; the result is a DataFrame."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..probe.matrix import ProbeEndpoint, ProbeToken, default_endpoints, default_tokens, run_probe
from ._render import show_with_fallback

if TYPE_CHECKING:
    import pandas as pd

    from ..lab.runner import Lab

__all__ = ["EndpointTester", "EndpointTesterState"]


@dataclass
class EndpointTesterState:
    """The last matrix and its summary."""

    result: pd.DataFrame | None = None
    done: int = 0
    total: int = 0
    predictions: dict[tuple[str, str], int] = field(default_factory=dict)

    def predict(self, token: str, endpoint: str, status: int) -> None:
        """Write down the status you expect for one cell, before running. Raises ``ValueError`` for a status
        the agent never answers with a token problem (use 200, 401, 403 or 429)."""
        if status not in (200, 401, 403, 429):
            raise ValueError(f"predict 200, 401, 403 or 429, not {status}")
        self.predictions[(token, endpoint)] = status

    def score(self) -> pd.DataFrame:
        """Each prediction beside the status the agent gave (after ``run``) and whether it was right."""
        import pandas as pd

        rows = []
        for (token, endpoint), predicted in self.predictions.items():
            actual = None
            if self.result is not None:
                hits = self.result[(self.result["token"] == token) & (self.result["endpoint"] == endpoint)]
                actual = int(hits["actual"].iloc[0]) if len(hits) else None
            rows.append({"token": token, "endpoint": endpoint, "predicted": predicted,
                         "actual": actual if actual is not None else "(no such cell)" if self.result is not None
                         else "(run first)", "right": actual == predicted})
        return pd.DataFrame(rows, columns=["token", "endpoint", "predicted", "actual", "right"])

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
        token_names = [t.name for t in (tokens or default_tokens(lab))]
        endpoint_names = [e.name for e in (endpoints or default_endpoints())]
        # nothing pre-filled: the learner picks every part of a prediction (value None until chosen)
        self.guess_token = w.Dropdown(options=token_names, value=None, description="token")
        self.guess_endpoint = w.Dropdown(options=endpoint_names, value=None, description="endpoint")
        self.guess_status = w.Dropdown(options=[200, 401, 403, 429], value=None, description="I predict")
        self.guess_button = w.Button(description="Write it down")
        self.guess_button.on_click(lambda _: self.predict())
        self.out = w.Output(layout=w.Layout(width="900px"))
        self.view = w.VBox([w.HBox([self.guess_token, self.guess_endpoint, self.guess_status, self.guess_button]),
                            w.HBox([self.button, self.progress]), self.out])

    def predict(self, token: str | None = None, endpoint: str | None = None,
                status: int | None = None) -> EndpointTesterState:
        """Write down a prediction (from the arguments, else the form) and show the list so far; with a part not
        chosen yet, nothing is written and the form says which."""
        chosen = (token or self.guess_token.value, endpoint or self.guess_endpoint.value,
                  status or self.guess_status.value)
        self.out.outputs = ()
        missing = [name for name, value in zip(("a token", "an endpoint", "a status"), chosen, strict=True)
                   if value is None]
        if missing:
            self.out.append_stdout(f"choose {', '.join(missing)} first: nothing is predicted for you\n")
            return self.state
        self.state.predict(str(chosen[0]), str(chosen[1]), int(chosen[2]))
        self.out.append_display_data(self.state.score())
        return self.state

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
        if self.state.predictions:
            self.out.append_display_data(self.state.score())
        self.out.append_display_data(self.state.matrix())
        return self.state

    def _ipython_display_(self) -> None:
        show_with_fallback(self.view, self.out, "EndpointTester: predict, then run the tokens x endpoints matrix")
