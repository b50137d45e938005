"""Lesson 05's question: three rules that make ``echo`` need ``api:write``; what each does to ``get_time``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..predict import Question

if TYPE_CHECKING:
    from ...lab.runner import Lab

__all__ = ["QUESTIONS"]

_OAUTH2 = {"jwks_url": "https://provider.example/jwks", "jwt_algorithm": "RS256",
          "jwt_issuer": "https://provider.example", "jwt_audience": "api://oauth2-lab-agent"}
_RULES: dict[str, dict[str, Any]] = {
    "global required_scopes": {"security": {"oauth2": {**_OAUTH2, "required_scopes": ["api:write"]}}},
    "the system_tools plugin's required_scopes": {
        "security": {"oauth2": _OAUTH2},
        "plugins": [{"plugin_id": "system_tools", "required_scopes": ["api:write"]}]},
    "echo's own required_scopes": {
        "security": {"oauth2": _OAUTH2},
        "plugins": [{"plugin_id": "system_tools",
                     "capabilities": [{"capability_id": "echo", "required_scopes": ["api:write"]}]}]},
}


def _get_time_for_a_reader(lab: Lab | None) -> dict[str, str]:
    """The agent's own policy for ``execute get_time`` under each rule: 200 when ``api:read`` grants it."""
    from sample_agent.plugins import endpoint_policy

    from ...config import validate_security_config
    from ...explain import explain

    out = {}
    for name, document in _RULES.items():
        cfg = validate_security_config(document)
        rows = explain(cfg, *endpoint_policy(cfg)).rows
        row = next(r for r in rows if r.call == "execute get_time" and r.endpoint == "POST /")
        out[name] = "200" if not row.required or "api:read" in row.granted_by else "403"
    return out


QUESTIONS = (
    Question(
        "narrowest",
        "each rule below makes `echo` need `api:write`. With each, what does `get_time` (same plugin) answer to "
        "an `api:read` token?",
        tuple(_RULES),
        ("200", "403"),
        _get_time_for_a_reader,
    ),
)
