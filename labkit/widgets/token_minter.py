"""TokenMinter: pick scopes, persona, lifetime and tenant; get a real token, read it, try it."""

from __future__ import annotations

import pprint
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..lessons import inspect_token
from ._render import html_text

if TYPE_CHECKING:
    from ..lab import Lab

__all__ = ["TokenMinter", "TokenMinterState"]


@dataclass
class TokenMinterState:
    """The request, the token it produced, and what the agent said to it."""

    scopes: list[str] = field(default_factory=lambda: ["api:read"])
    persona: str = "default"
    lifetime: int | None = None
    tenant: str | None = None
    token: str | None = None
    claims: dict[str, Any] | None = None
    error: str | None = None
    status: int | None = None
    reason: str | None = None

    def mint(self, lab: Lab) -> None:
        """Get a token through the provider's token endpoint and try it on the agent's ``capabilities``."""
        self.token = self.claims = self.error = self.reason = None
        self.status = None
        try:
            self.token = lab.token(self.scopes, persona=self.persona, lifetime=self.lifetime, tenant=self.tenant)
        except (RuntimeError, ValueError) as exc:
            self.error = str(exc)
            return
        self.claims = inspect_token(self.token, lab) if self.token.count(".") == 2 else {"opaque": True}
        before = lab.audit.total
        path = f"/t/{self.tenant}/" if self.tenant else "/"
        self.status = lab.rpc("capabilities", token=self.token, path=path).status_code
        events = lab.audit.events()
        self.reason = events[-1].reason if lab.audit.total > before and events else None


class TokenMinter:
    """The widget around ``TokenMinterState``."""

    def __init__(self, lab: Lab, scopes: list[str] | None = None) -> None:
        import ipywidgets as w

        from ..lab import PERSONA_CLIENTS
        from ..provider import LAB_SCOPES

        self.lab = lab
        self.state = TokenMinterState(scopes=list(scopes or ["api:read"]))
        self.scopes = w.SelectMultiple(options=list(LAB_SCOPES), value=tuple(self.state.scopes), description="scopes",
                                       rows=6)
        self.persona = w.Dropdown(options=list(PERSONA_CLIENTS), value="default", description="persona")
        self.lifetime = w.IntText(value=3600, description="lifetime (s)")
        self.tenant = w.Dropdown(options=["(default)", *lab.provider.tenants], value="(default)",
                                 description="tenant")
        self.button = w.Button(description="Mint and try", button_style="primary")
        self.button.on_click(lambda _: self.mint())
        self.out = w.Output()
        self.view = w.VBox([w.HBox([self.scopes, w.VBox([self.persona, self.lifetime, self.tenant, self.button])]),
                            self.out])

    def mint(self) -> TokenMinterState:
        """Mint with the current form values; shows claims and the agent's answer."""
        from IPython.display import HTML, Pretty

        self.state.scopes = list(self.scopes.value)
        self.state.persona = self.persona.value
        self.state.lifetime = int(self.lifetime.value)
        self.state.tenant = None if self.tenant.value == "(default)" else self.tenant.value
        self.state.mint(self.lab)
        self.out.outputs = ()
        if self.state.error:
            self.out.append_display_data(HTML(html_text(self.state.error, bold="refused by the provider:")))
        else:
            self.out.append_display_data(Pretty(pprint.pformat(self.state.claims, sort_dicts=True)))
            verdict = f"agent answered {self.state.status}"
            if self.state.reason:
                verdict += f" (audit reason: {self.state.reason})"
            self.out.append_display_data(HTML(html_text(verdict)))
        return self.state

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.view)
