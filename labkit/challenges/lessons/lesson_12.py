"""Lesson 12's challenge, "A web app of your own", and its check."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..base import Challenge, CheckResult
from ..evidence import audiences
from ..mark import Mark

if TYPE_CHECKING:
    from ...lab.runner import Lab
    from ...provider.models import TokenRecord

__all__ = ["CHALLENGES", "check"]

_READ_ONLY = ("api:read",)  # what tools/list needs: a token asking for more is worth more to a thief


def _surplus(record: TokenRecord) -> list[str]:
    """The scopes ``record`` holds beyond what ``tools/list`` needs (identity scopes aside)."""
    return [s for s in record.scope.split() if s not in _READ_ONLY and s not in ("openid", "email", "profile")]


def check(lab: Lab, mark: Mark) -> CheckResult:
    """A confidential client registered by RFC 7591 since the mark got a user's read-only token for ``/mcp`` by the
    code flow (PKCE and ``resource``: the provider refuses a code flow without PKCE), accepted by ``tools/list``."""
    resource = f"{lab.agent_url}/mcp"
    new = [c for c in mark.new_clients(lab).values() if c.registered_at is not None]
    registered = {c.client_id for c in new if c.client_secret is not None}
    if not registered:
        if new:
            return CheckResult(False, "the clients you registered since the challenge started are public "
                                      "(token_endpoint_auth_method none): a web app keeps a secret on its server and "
                                      "proves it at /token (client_secret_basic); a public client's id proves nothing")
        return CheckResult(False, "no confidential client registered at /register since the challenge started "
                                  "(token_endpoint_auth_method client_secret_basic; the provider registers only http "
                                  "redirect URIs on a loopback IP, RFC 8252 §7.3)")
    issued = {h[:12]: r for h, r in mark.new_tokens(lab).items() if r.kind == "access" and r.client_id in registered}
    tokens = list(issued.values())
    # the user's token comes from the code flow at /token (a grant family), never from the provider's admin mint
    minted = [r for r in tokens if r.user is not None and not r.family]
    users = [r for r in tokens if r.user is not None and r.family]
    if minted and not users:
        return CheckResult(False, "your client's user token was made by the provider's admin mint, not by the "
                                  "authorization code flow: no user approved it and no PKCE verifier proved who "
                                  "redeemed the code (RFC 6749 §4.1, RFC 7636); go through /authorize and /token")
    if not users:
        return CheckResult(False, "your client has no user's token yet: the authorization code flow with PKCE "
                                  "(S256; the provider refuses a code flow without it, RFC 9700 §2.1.1) gives one"
                           + ("; a client_credentials token acts for no user" if tokens else ""))
    aimed = [r for r in users if resource in audiences(r.audience)]
    if not aimed:
        return CheckResult(False, f"your client's token was issued without resource={resource} (RFC 8707): a token "
                                  "that names no resource is good at every server sharing the agent's audience. "
                                  "Send the same resource to /authorize and /token")
    narrow = {f for f, r in issued.items() if r.user is not None and resource in audiences(r.audience)
              and not _surplus(r)}
    if not narrow:
        extra = sorted({s for r in aimed for s in _surplus(r)})
        return CheckResult(False, f"your token holds {' '.join(extra)}, but tools/list needs only api:read: ask for "
                                  "the least you need (a stolen token is worth what it holds)")
    if any(e.fingerprint in narrow and e.endpoint == "/mcp" and e.method == "tools/list"
           and e.decision == "allow" for e in mark.events(lab)):
        return CheckResult(True, "a confidential client you registered went through the code flow with PKCE for "
                                 "/mcp, and its read-only token was accepted by tools/list")
    return CheckResult(False, f"a read-only token for {resource} was issued to your client, but tools/list on /mcp "
                              "has not accepted it yet")


CHALLENGES = (
    Challenge(
        "12",
        "A web app of your own",
        "Be a web app: register a **confidential** client (`client_secret_basic`) at the provider's `/register` "
        "(RFC 7591), take it through the authorization code flow with PKCE for the agent's `/mcp` resource, asking "
        "only for what `tools/list` needs, and get a 200 from `tools/list` on `/mcp` with the user's token it "
        "receives.",
        (
            "Section 3's registration cell shows the policy: an `http` redirect URI on a loopback IP literal "
            "(127.0.0.1), any port. Nothing needs to listen there: `/authorize` approves the lab user at once and "
            "answers with a redirect whose `Location` carries the `code`.",
            "PKCE (RFC 7636): keep a random `code_verifier`; send its S256 hash as `code_challenge` to `/authorize`, "
            "the verifier itself to `/token`. RFC 8707: the same `resource` to both.",
            "At `/token` the client authenticates with HTTP Basic (its id and secret): that is what makes it "
            "confidential. Then call `tools/list` with `lab.call(..., path='/mcp')`.",
        ),
        check,
    ),
)
