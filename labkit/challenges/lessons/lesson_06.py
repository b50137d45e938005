"""Lesson 06's challenge, "Accept Auth0, pin its issuer, keep the audience", its check, and ``refusals``: the
probe lessons 05 and 07 reuse to show a reloaded agent still refuses tokens of another audience or issuer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..base import Challenge, CheckResult
from ..evidence import result
from ..mark import Mark

if TYPE_CHECKING:
    from ...lab.runner import Lab

__all__ = ["CHALLENGES", "check", "refusals"]

_ELSEWHERE = "https://issuer.elsewhere.example"  # an issuer nobody configured, signing with the lab's keys


def refusals(lab: Lab, persona: str | None = None) -> list[str]:
    """What the running agent wrongly accepts: a ``persona`` token for another audience, or one naming another issuer
    (both signed with the keys the agent trusts), each probed live; empty when both get 401."""
    client = f"{persona}-client" if persona and persona != "default" else "lab-client"
    other_audience = lab.provider.mint(["api:read"], persona=persona, client_id=client,
                                       audience="api://another-service")
    other_issuer = lab.provider.mint(["api:read"], persona=persona, client_id=client, claims={"iss": _ELSEWHERE})
    found = []
    # RFC 8725 §3.9 / RFC 9068 §4: a token minted for another service must not pass here
    if (code := lab.call("capabilities", token=other_audience).status) != 401:
        found.append(f"a token for another audience answered {code}, not 401: a token the issuer minted for any other "
                     "service would work here (jwt_audience; RFC 8725 §3.9)")
    # RFC 8725 §3.8 / RFC 9068 §4: the issuer must be the one expected, not any that signs with known keys
    if (code := lab.call("capabilities", token=other_issuer).status) != 401:
        found.append(f"a token from another issuer answered {code}, not 401: any issuer whose keys validate is "
                     "trusted (jwt_issuer; RFC 8725 §3.8)")
    return found


def check(lab: Lab, mark: Mark) -> CheckResult:
    """Auth0 persona tokens pass; the issuer is pinned and the audience checked: probed live."""
    oauth2 = lab.config.oauth2
    missing = []
    if not oauth2.issuers:
        missing.append("the running configuration pins no issuer (jwt_issuer): every persona of this provider signs "
                       "with the same keys, so each one's tokens would pass (RFC 8725 §3.8)")
    if not oauth2.audiences:
        missing.append("the running configuration checks no audience (jwt_audience): a token the issuer minted for "
                       "any other service would pass (RFC 8725 §3.9)")
    if missing:
        return CheckResult(False, "; ".join(missing))
    ok = lab.call("capabilities", token=lab.token(["api:read"], persona="auth0")).status
    lab_issuer = lab.call("capabilities", token=lab.token(["api:read"])).status  # the lab's own issuer, same keys
    return result(
        [f"an Auth0 token answered {ok}, not 200"] * (ok != 200)
        + [f"a token from the lab's default issuer (same keys, another iss) answered {lab_issuer}, not 401: pin "
           "Auth0's issuer alone (RFC 8725 §3.8)"] * (lab_issuer != 401)
        + refusals(lab, "auth0"),
        "Auth0 tokens for this agent pass; tokens of another issuer (the lab's own, or one nobody configured) and "
        "Auth0 tokens for another service get 401",
    )


CHALLENGES = (
    Challenge(
        "06",
        "Accept Auth0, pin its issuer, keep the audience",
        "Reload the agent so that tokens from the Auth0 persona pass, while tokens of any other issuer (the lab's "
        "own default persona included: it signs with the same keys) and tokens minted for another service (another "
        "`aud`) get 401.",
        (
            "Read the Auth0 token's `iss` and `aud` with `inspect_token`: note the trailing slash.",
            "`persona_oauth2('auth0', lab.provider_url, audience)` writes the block; check what it pins.",
            "Keep `jwt_issuer` to Auth0's issuer alone and `jwt_audience` set: without either, tokens from elsewhere "
            "pass (RFC 8725 §3.8, §3.9).",
        ),
        check,
    ),
)
