"""TokenMinter, jwt.io-like: mint a real token, decode it (times as dates), edit a claim, re-sign it (with the
issuer's key, an attacker's key, or the old signature kept) and see what the agent says."""

from __future__ import annotations

import json
import pprint
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..lab.lessons import inspect_token
from ._render import html_text, show_with_fallback

if TYPE_CHECKING:
    from ..lab.runner import Lab

__all__ = ["DEFAULT_LIFETIME", "SIGNERS", "TokenMinter", "TokenMinterState", "readable_times"]

DEFAULT_LIFETIME = 3600
# how an edited token is signed -> what that stands for
SIGNERS = {
    "issuer key": "the provider's own signing key: only the issuer holds it, so only the issuer can do this",
    "old signature": "keep the original signature: the claims changed, the signature no longer matches",
    "attacker key": "a key of your own, with the issuer's kid: the agent only trusts the issuer's published keys",
}
_TIMES = ("iat", "nbf", "exp", "auth_time")


def readable_times(claims: dict[str, Any]) -> dict[str, str]:
    """The time claims as UTC dates (``exp: 2026-01-01T01:00:00Z``); non-numbers are shown as they are."""
    out = {}
    for name in _TIMES:
        value = claims.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) < 1e11:
            out[name] = datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        elif name in claims:
            out[name] = repr(value)
    return out


@dataclass
class TokenMinterState:
    """The request, the token it produced, its edited twin, and what the agent said to each."""

    scopes: list[str] = field(default_factory=lambda: ["api:read"])
    persona: str = "default"
    lifetime: int | None = None
    tenant: str | None = None
    token: str | None = None
    claims: dict[str, Any] | None = None
    times: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    status: int | None = None
    reason: str | None = None
    edited: str | None = None
    edited_claims: dict[str, Any] | None = None
    edited_status: int | None = None
    edited_reason: str | None = None

    def mint(self, lab: Lab) -> None:
        """A token from the provider (its token endpoint; a non-default lifetime is minted by the provider for the
        same client), decoded, and tried on the agent's ``capabilities``. Errors land in ``error``."""
        from ..provider.personas import PERSONA_CLIENTS

        self.token = self.claims = self.error = self.reason = self.status = None
        self.edited = self.edited_claims = self.edited_status = self.edited_reason = None
        try:
            if self.lifetime in (None, DEFAULT_LIFETIME):
                self.token = lab.token(self.scopes, persona=self.persona, tenant=self.tenant)
            else:
                client_id = PERSONA_CLIENTS[self.persona][0]
                client = lab.provider.server(self.tenant).store.clients[client_id]
                extra = sorted(set(self.scopes) - set(client.scopes))
                if client.scopes and extra:
                    raise ValueError(f"invalid_scope: {client_id} may not ask for {' '.join(extra)}")
                self.token = lab.provider.mint(self.scopes, client_id=client_id, lifetime=int(self.lifetime or 0),
                                               tenant=self.tenant)
        except (RuntimeError, ValueError, KeyError) as exc:
            self.error = str(exc).strip("'\"")
            return
        if self.token.count(".") == 2:
            self.claims = inspect_token(self.token, lab, keep_times=True)
            self.times = readable_times(self.claims["claims"])
        else:
            self.claims, self.times = {"opaque": True}, {}
        self.status, self.reason = _try(lab, self.token, self.tenant)

    def edit(self, lab: Lab, claim: str, value: str, sign_with: str = "issuer key") -> None:
        """Set ``claim`` to ``value`` (JSON, else a string; ``null`` removes it), sign as ``sign_with`` says
        (one of ``SIGNERS``) and try the result. Errors land in ``error``."""
        from joserfc import jwt
        from joserfc.jwk import RSAKey

        from ..auth.jws import parse_compact
        from ..provider import unsafe

        self.error = None
        self.edited = self.edited_claims = self.edited_status = self.edited_reason = None
        if self.token is None or self.token.count(".") != 2:
            self.error = "mint a JWT first: an opaque token has no claims to edit"
            return
        if not claim.strip() or sign_with not in SIGNERS:
            self.error = f"name a claim, and sign with one of: {', '.join(SIGNERS)}"
            return
        try:
            new_value: Any = json.loads(value)
        except ValueError:
            new_value = value
        jws = parse_compact(self.token)
        claims = json.loads(jws.payload)
        if new_value is None:
            claims.pop(claim.strip(), None)
        else:
            claims[claim.strip()] = new_value
        header = dict(jws.header)
        if sign_with == "old signature":
            self.edited = unsafe.unsafe_tamper_payload(self.token, **{claim.strip(): new_value})
        else:
            key = (lab.provider.server(self.tenant).keys.active(header["alg"]) if sign_with == "issuer key"
                   else RSAKey.generate_key(2048))
            if sign_with == "attacker key":
                header["alg"] = "RS256"
            self.edited = jwt.encode(header, claims, key, algorithms=[header["alg"]])
        self.edited_claims = inspect_token(self.edited, lab, keep_times=True)
        self.edited_status, self.edited_reason = _try(lab, self.edited, self.tenant)


def _shown(decoded: dict[str, Any]) -> dict[str, Any]:
    """What the widget prints: everything, except the random ``jti`` (so a saved notebook is reproducible)."""
    claims = decoded.get("claims")
    if not isinstance(claims, dict) or "jti" not in claims:
        return decoded
    return {**decoded, "claims": {**claims, "jti": "(random, unique per token)"}}


def _try(lab: Lab, token: str, tenant: str | None) -> tuple[int, str | None]:
    answer = lab.call("capabilities", token=token, path=f"/t/{tenant}/" if tenant else "/")
    return answer.status, answer.reason or None


class TokenMinter:
    """The widget around ``TokenMinterState``: a mint form, the decoded token, a claim editor."""

    def __init__(self, lab: Lab, scopes: list[str] | None = None) -> None:
        import ipywidgets as w

        from ..provider import LAB_SCOPES
        from ..provider.personas import PERSONA_CLIENTS

        self.lab = lab
        self.state = TokenMinterState(scopes=list(scopes or ["api:read"]))
        narrow = w.Layout(width="300px")
        self.scopes = w.SelectMultiple(options=list(LAB_SCOPES), value=tuple(self.state.scopes), description="scopes",
                                       rows=6, layout=narrow)
        self.persona = w.Dropdown(options=list(PERSONA_CLIENTS), value="default", description="persona", layout=narrow)
        self.lifetime = w.IntText(value=DEFAULT_LIFETIME, description="lifetime (s)", layout=narrow)
        self.tenant = w.Dropdown(options=["(default)", *lab.provider.tenants], value="(default)",
                                 description="tenant", layout=narrow)
        self.button = w.Button(description="Mint and try", button_style="primary")
        self.button.on_click(lambda _: self._safe(self.mint))
        self.claim = w.Text(value="scope", description="claim", layout=narrow)
        self.value = w.Text(value='"admin"', description="value (JSON)", layout=narrow)
        self.sign_with = w.Dropdown(options=list(SIGNERS), value="old signature", description="sign with",
                                    layout=narrow)
        self.edit_button = w.Button(description="Edit, sign, try")
        self.edit_button.on_click(lambda _: self._safe(self.edit))
        self.out = w.Output(layout=w.Layout(width="760px"))
        self.view = w.VBox([w.HBox([self.scopes, w.VBox([self.persona, self.lifetime, self.tenant, self.button]),
                                    w.VBox([self.claim, self.value, self.sign_with, self.edit_button])]), self.out])

    def mint(self) -> TokenMinterState:
        """Mint with the current form values; shows the decoded token and the agent's answer."""
        self.state.scopes = list(self.scopes.value)
        self.state.persona = self.persona.value
        self.state.lifetime = int(self.lifetime.value)
        self.state.tenant = None if self.tenant.value == "(default)" else self.tenant.value
        self.state.mint(self.lab)
        self._redraw()
        return self.state

    def edit(self) -> TokenMinterState:
        """Edit the claim named in the form, sign as chosen, try it."""
        self.state.edit(self.lab, self.claim.value, self.value.value, self.sign_with.value)
        self._redraw()
        return self.state

    def _safe(self, action: Any) -> None:
        try:
            action()
        except Exception as exc:  # a widget shows its errors inside itself, never a traceback
            self.state.error = f"{type(exc).__name__}: {exc}"
            self._redraw()

    def _redraw(self) -> None:
        from IPython.display import HTML, Pretty

        self.out.outputs = ()
        state = self.state
        if state.claims is not None:
            self.out.append_display_data(Pretty(pprint.pformat(_shown(state.claims), sort_dicts=True)))
            if state.times:
                self.out.append_display_data(HTML(html_text(", ".join(f"{k} {v}" for k, v in state.times.items()),
                                                            bold="times (UTC):")))
            verdict = f"agent answered {state.status}" + (f" (audit reason: {state.reason})" if state.reason else "")
            self.out.append_display_data(HTML(html_text(verdict)))
        if state.edited_claims is not None:
            self.out.append_display_data(HTML(html_text(SIGNERS[self.sign_with.value], bold="edited, signed with "
                                                        f"{self.sign_with.value}:")))
            self.out.append_display_data(Pretty(pprint.pformat(_shown(state.edited_claims)["claims"], sort_dicts=True)))
            verdict = f"agent answered {state.edited_status}" + (
                f" (audit reason: {state.edited_reason})" if state.edited_reason else "")
            self.out.append_display_data(HTML(html_text(verdict, bold="edited token:")))
        if state.error:
            self.out.append_display_data(HTML(html_text(state.error, color="#a00", bold="refused:")))

    def _ipython_display_(self) -> None:
        show_with_fallback(self.view, self.out, "TokenMinter: mint, decode, edit a claim, re-sign, try")
