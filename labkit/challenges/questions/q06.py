"""Lesson 06's question: which tokens a validator configured for Auth0 accepts (all are signed by the same keys)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..predict import Question

if TYPE_CHECKING:
    from ...lab.runner import Lab

__all__ = ["QUESTIONS"]

_AUDIENCE = "api://oauth2-lab-agent"
_ITEMS = ("Auth0, for this agent", "Auth0, for another service", "the lab's default issuer, for this agent",
         "Okta, for this agent")


def _auth0_accepts(lab: Lab | None) -> dict[str, str]:
    """Each token validated by ``persona_oauth2('auth0', ...)``'s block (real signatures, the lab's keys)."""
    from ...lab.lessons import validator, verdict
    from ...provider import persona_oauth2

    if lab is None:
        raise ValueError("this question runs against the lab: predict('06', 'issuers', lab)")
    check = validator(lab, persona_oauth2("auth0", lab.provider_url, _AUDIENCE))
    tokens = (lab.token(["api:read"], persona="auth0"),
              lab.provider.mint(["api:read"], persona="auth0", client_id="auth0-client", audience="api://another"),
              lab.token(["api:read"]), lab.token(["api:read"], persona="okta"))
    return {item: verdict(lab, check, token).split(" ")[0].rstrip(":")
            for item, token in zip(_ITEMS, tokens, strict=True)}


QUESTIONS = (
    Question(
        "issuers",
        "the agent is configured with `persona_oauth2('auth0', ...)`. Every token below is signed with keys from "
        "the same JWKS. Which does it accept?",
        _ITEMS,
        ("accepted", "refused"),
        _auth0_accepts,
    ),
)
