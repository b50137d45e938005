"""Lesson 06's challenge, "Accept Auth0, pin its issuer, keep the audience", its check, and ``refusals``: the
probe lessons 05 and 07 reuse to show a reloaded agent still refuses tokens of another audience or issuer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...provider.clients import AGENT_AUDIENCE
from ..base import Challenge, CheckResult
from ..evidence import EXPIRED_AGO, other_issuers, result
from ..mark import Mark

if TYPE_CHECKING:
    from ...lab.runner import Lab

__all__ = ["CHALLENGES", "check", "refusals"]



def refusals(lab: Lab, persona: str | None = None) -> list[str]:
    """What the running agent wrongly accepts: a ``persona`` token for another audience, one naming any other issuer,
    one expired a minute ago (all signed with the keys the agent trusts), each probed live; an audience list naming
    other services or ``exp`` not required, read from its configuration. Empty when it refuses them all."""
    client = f"{persona}-client" if persona and persona != "default" else "lab-client"
    oauth2 = lab.config.oauth2
    other_audience = lab.provider.mint(["api:read"], persona=persona, client_id=client,
                                       audience="api://another-service")
    found = []
    # RFC 8725 §3.9 / RFC 9068 §4: a token minted for another service must not pass here
    if (code := lab.call("capabilities", token=other_audience).status) != 401:
        found.append(f"a token for another audience answered {code}, not 401: a token the issuer minted for any other "
                     "service would work here (jwt_audience; RFC 8725 §3.9)")
    elif extra := sorted(set(oauth2.audiences) - {AGENT_AUDIENCE}):
        found.append(f"jwt_audience also names {', '.join(extra)}: a token the issuer minted for that service would "
                     f"work here; the audience names this agent alone, {AGENT_AUDIENCE} (RFC 8725 §3.9)")
    # RFC 8725 §3.8 / RFC 9068 §4: the issuer must be the one expected, not any that signs with known keys
    passed = [iss for iss in other_issuers(lab.provider_url, persona or "default")
              if lab.call("capabilities", token=lab.provider.mint(["api:read"], persona=persona, client_id=client,
                                                                  claims={"iss": iss})).status != 401]
    if passed:
        shown = ", ".join("the lab's default issuer" if i == lab.provider_url else i.replace(lab.provider_url,
                                                                                               "{provider}")
                          for i in passed)
        found.append(f"tokens naming another issuer ({shown}) were not refused with 401: any issuer whose keys "
                     "validate is trusted; pin the one issuer you expect (jwt_issuer; RFC 8725 §3.8)")
    # RFC 7519 §4.1.4: an expired token is refused; leeway forgives clock skew of seconds, not a minute
    expired = lab.expired_token(["api:read"], ago=EXPIRED_AGO, persona=persona or "default")
    if (code := lab.call("capabilities", token=expired).status) != 401:
        found.append(f"a token that expired {EXPIRED_AGO} s ago answered {code}, not 401: a leeway of minutes keeps "
                     "a stolen token usable after its exp; leeway is for seconds of clock skew (RFC 7519 §4.1.4)")
    if "exp" not in oauth2.claims_required:
        found.append("exp is not among the required claims: a token minted without exp never expires here "
                     "(required_claims; RFC 7519 §4.1.4, RFC 9068 §2.2)")
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
    from .lesson_05 import widened  # lesson 05 imports this module's refusals

    ok = lab.call("capabilities", token=lab.token(["api:read"], persona="auth0")).status
    return result(
        [f"an Auth0 token answered {ok}, not 200"] * (ok != 200) + refusals(lab, "auth0")
        + widened(lab, None, "the trusted issuer"),
        "Auth0 tokens for this agent pass; tokens naming any other issuer (the lab's other personas, or one nobody "
        "configured), Auth0 tokens for another service and one expired a minute ago get 401",
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
