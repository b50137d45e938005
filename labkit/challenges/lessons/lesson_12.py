"""Lesson 12's challenge, "A web app of your own", and its check."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..base import Challenge, CheckResult
from ..evidence import audiences
from ..mark import Mark

if TYPE_CHECKING:
    from ...lab import Lab

__all__ = ["CHALLENGES", "check"]


def check(lab: Lab, mark: Mark) -> CheckResult:
    """A confidential client registered by RFC 7591 got a user's token for ``/mcp`` by the code flow; it was
    accepted on ``/mcp``."""
    resource = f"{lab.agent_url}/mcp"
    registered = {
        c.client_id
        for c in mark.new_clients(lab).values()
        if c.registered_at is not None and c.client_secret is not None
    }
    issued = {
        h[:12]
        for h, r in mark.new_tokens(lab).items()
        if r.kind == "access" and r.client_id in registered and r.user is not None and resource in audiences(r.audience)
    }
    if not registered:
        return CheckResult(
            False, "no confidential client registered at /register yet (token_endpoint_auth_method client_secret_basic)"
        )
    if not issued:
        return CheckResult(
            False,
            "your registered client has no user's token for the resource {agent}/mcp yet "
            "(authorization code + PKCE, with resource)",
        )
    if any(e.fingerprint in issued and e.endpoint == "/mcp" and e.decision == "allow" for e in mark.events(lab)):
        return CheckResult(
            True, "a client you registered went through the code flow and its token was accepted on /mcp"
        )
    return CheckResult(False, "a token was issued to your client but has not been accepted on /mcp yet")


CHALLENGES = (
    Challenge(
        "12",
        "A web app of your own",
        "Register a confidential client (`client_secret_basic`) at the provider's "
        "`/register` (RFC 7591), take it through the authorization code flow with PKCE for the agent's `/mcp` "
        "resource, and get a 200 from `tools/list` on `/mcp` with the user's token it receives.",
        (
            "The policy accepts an `http` redirect URI on a loopback IP literal (127.0.0.1), any port.",
            "`/authorize` approves the lab user at once and redirects with `code`; send `code_challenge` (S256) and "
            "`resource` there, `code_verifier` and the same `resource` to `/token`.",
            "The reference solution below does it with httpx in nine lines; `lab.call('tools/list', {}, token=..., "
            "path='/mcp')` is the last one.",
        ),
        check,
    ),
)
