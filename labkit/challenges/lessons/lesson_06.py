"""Lesson 06's challenge, "Accept Auth0, keep the audience", and its check."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..base import Challenge, CheckResult
from ..evidence import result
from ..mark import Mark

if TYPE_CHECKING:
    from ...lab import Lab

__all__ = ["CHALLENGES", "check"]


def check(lab: Lab, mark: Mark) -> CheckResult:
    """Auth0 persona tokens pass, with the audience still checked: probed live."""
    if not lab.config.oauth2.audiences:
        return CheckResult(
            False, "the running configuration checks no audience (jwt_audience): any token of the issuer would pass"
        )
    ok = lab.call("capabilities", token=lab.token(["api:read"], persona="auth0")).status
    other = lab.provider.mint(["api:read"], persona="auth0", client_id="auth0-client", audience="api://another-service")
    stranger = lab.call("capabilities", token=other).status
    return result(
        [f"an Auth0 token answered {ok}, not 200"] * (ok != 200)
        + [f"an Auth0 token for another audience answered {stranger}, not 401"] * (stranger != 401),
        "Auth0 tokens for this agent pass; Auth0 tokens for another service do not",
    )


CHALLENGES = (
    Challenge(
        "06",
        "Accept Auth0, keep the audience",
        "Reload the agent so that tokens from the Auth0 persona pass, "
        "while tokens minted for another service (another `aud`) are still refused.",
        (
            "Read the Auth0 token's `iss` and `aud` with `inspect_token`.",
            "`persona_oauth2('auth0', lab.provider_url, audience)` writes the block.",
            "Keep `jwt_audience` set: without it, any token of that issuer passes (RFC 8725 §3.9).",
        ),
        check,
    ),
)
