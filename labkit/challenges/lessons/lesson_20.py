"""Lesson 20's sub-challenges (the MCP client of 2025-11-25, completed): step-up on a 403, reuse of a rotated
refresh token, and a headless agent that signs its own client assertions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..base import Challenge, CheckResult
from ..evidence import audiences
from ..mark import Mark

if TYPE_CHECKING:
    from ...lab.runner import Lab
    from ...provider.models import TokenRecord

__all__ = ["CHALLENGES", "check_headless", "check_refresh_reuse", "check_step_up"]

_IDENTITY = frozenset({"openid", "email", "profile"})  # scopes that grant no API access
_WIDE = frozenset({"*", "admin", "api:admin"})  # never what a tool call needs
TOOL = "write_file"  # the agent's tool whose scope (agentup.yml) a read-only client lacks


def _user_tokens(lab: Lab, mark: Mark) -> dict[str, TokenRecord]:
    """The users' access tokens for ``/mcp`` issued by a grant (code flow or refresh) since the mark, by fingerprint."""
    resource = f"{lab.agent_url}/mcp"
    return {h[:12]: r for h, r in mark.new_tokens(lab).items()
            if r.kind == "access" and r.user is not None and r.family and resource in audiences(r.audience)}


def _asked(lab: Lab, family: str) -> set[str]:
    """What ``/authorize`` was asked for in the grant ``family`` (before the client's scopes bounded it)."""
    store = lab.provider.server(None).store
    with store.lock:
        return {s for c in store.codes.values() if c.family == family for s in c.requested_scope.split()}


def check_step_up(lab: Lab, mark: Mark) -> CheckResult:
    """Since the mark: a user's read-only token for ``/mcp`` got 403 ``insufficient_scope`` from ``write_file``; the
    same client re-authorized for what the challenge named (plus what it held, nothing more); the retry succeeded."""
    tool = lab.agent.policy.capabilities.get(TOOL)
    if tool is None:
        return CheckResult(False, f"the agent's configuration has no {TOOL} tool: reload sample_agent/agentup.yml")
    needed = set(tool.scopes)  # the agent's configuration (agentup.yml): the one home of the rule
    tokens = _user_tokens(lab, mark)
    calls = [e for e in mark.events(lab) if e.endpoint == "/mcp" and e.method == f"tools/call:{TOOL}"
             and e.fingerprint in tokens]
    # MCP 2025-11-25 "Scope Selection Strategy": least privilege; * and admin are never what a call needs
    for record in tokens.values():
        wide = sorted((_asked(lab, record.family) | set(record.scope.split())) & _WIDE)
        if wide:
            return CheckResult(False, f"your client asked for {' '.join(wide)}: a client asks for what the call in "
                                      "hand needs, and for more only when a 403 names it (scope=); a token for "
                                      "everything is worth everything to whoever steals it")
    denied = [(i, e) for i, e in enumerate(calls) if e.decision == "deny" and e.reason == "insufficient_scope"]
    allowed = [(i, e) for i, e in enumerate(calls) if e.decision == "allow"]
    if not denied:
        if allowed:
            held = tokens[str(allowed[0][1].fingerprint)]
            return CheckResult(False, f"your client held {held.scope!r} before any call needed it: it asked for "
                                      f"everything up front, so {TOOL} never answered 403. Start with api:read (what "
                                      "tools/list needs) and widen only when the agent's challenge says so")
        return CheckResult(False, f"no 403 insufficient_scope from {TOOL} since the challenge started: call it first "
                                  "with a user's token that holds api:read only")
    for i, refusal in denied:
        first = tokens[str(refusal.fingerprint)]
        later = [tokens[str(e.fingerprint)] for j, e in allowed if j > i
                 and tokens[str(e.fingerprint)].client_id == first.client_id]
        if not later:
            continue
        allowed_scope = set(first.scope.split()) | needed | _IDENTITY
        for second in later:
            extra = sorted(set(second.scope.split()) - allowed_scope)
            if extra:
                return CheckResult(False, f"after the 403 your client got {second.scope!r}: the challenge named "
                                          f"scope={' '.join(sorted(needed))!r}, and {' '.join(extra)} is more than it "
                                          "asked for. Step up to what you held plus what the challenge names")
        return CheckResult(True, f"{TOOL} refused {first.scope!r} with 403 insufficient_scope "
                                 f"(scope={' '.join(sorted(needed))}); your client re-authorized for "
                                 f"{later[0].scope!r} and the retry succeeded")
    return CheckResult(False, f"{TOOL} answered 403 with scope={' '.join(sorted(needed))!r} (RFC 6750 §3.1); your "
                              "client has not retried successfully with a token of the same client since: re-authorize "
                              "(the code flow again) for what it held plus what the challenge names, then retry")


def check_refresh_reuse(lab: Lab, mark: Mark) -> CheckResult:
    """Since the mark: a rotated refresh token was presented again, the provider revoked its family (RFC 9700
    §4.14.2), and the client re-authorized (a new grant after the revocation) and called ``/mcp`` with it."""
    new = mark.new_tokens(lab)
    reused = [r for r in new.values() if r.revoked_reason == "refresh reuse" and r.revoked_at is not None]
    if not reused:
        reasons = {r.revoked_reason for r in new.values() if r.revoked}
        if "revoked" in reasons:
            return CheckResult(False, "you revoked a family at /revoke (RFC 7009): that is the client logging out, not "
                                      "the provider detecting theft. Present a refresh token that was already rotated "
                                      "again, as a thief holding a copy of the client's storage would")
        if "code reuse" in reasons:
            return CheckResult(False, "a code was redeemed twice, which revokes its grant too (RFC 6749 §4.1.2); the "
                                      "challenge is a stolen refresh token: refresh once, then present the old one")
        if any(r.kind == "refresh" and r.rotated for r in new.values()):
            return CheckResult(False, "your client's refresh token rotated, but nobody presented the old one again: be "
                                      "the thief and send the stolen (rotated) refresh token to /token")
        return CheckResult(False, "no refresh token was rotated or reused since the challenge started: authorize a "
                                  "client (the code flow gives it a refresh token), refresh once, then reuse the old "
                                  "one")
    events = mark.events(lab)
    for record in reused:
        # a new grant for the same client after the revocation: the client noticed and started over
        fresh = {f for f, r in _user_tokens(lab, mark).items() if r.client_id == record.client_id
                 and r.family != record.family and r.issued_at >= float(record.revoked_at or 0) and not r.revoked}
        if any(e.fingerprint in fresh and e.endpoint == "/mcp" and e.decision == "allow" for e in events):
            return CheckResult(True, "the reused refresh token revoked its whole family (RFC 9700 §4.14.2); your "
                                     "client's next refresh was refused, it re-authorized, and /mcp accepted the new "
                                     "grant's token")
    stale = {h[:12] for h, r in new.items() if r.revoked_reason == "refresh reuse" and r.kind == "access"}
    if any(e.fingerprint in stale and e.decision == "allow" for e in events):
        return CheckResult(False, "the family was revoked for reuse, but your client still calls with the revoked "
                                  "family's access token: a JWT stays valid at the agent until it expires (the agent "
                                  "does not ask the provider). Your client notices at its next refresh (invalid_grant) "
                                  "and must re-authorize")
    return CheckResult(False, "the provider revoked the family for reuse (RFC 9700 §4.14.2); your client has not "
                              "re-authorized since: its refresh now fails with invalid_grant, which means 'start over' "
                              "(the code flow again), then call /mcp with the new token")


def _replayed(lab: Lab, client_id: str) -> bool:
    """Whether the provider logged a replayed client assertion of ``client_id``."""
    return lab.logs is not None and any("a client assertion was replayed" in m and f"client {client_id}:" in m
                                        for m in lab.logs.messages())


def check_headless(lab: Lab, mark: Mark) -> CheckResult:
    """Since the mark: a client registered (RFC 7591) for ``client_credentials`` with ``private_key_jwt`` and a
    public JWKS got a token with fresh signed assertions (RFC 7523 §2.2), accepted on ``/mcp``."""
    new = [c for c in mark.new_clients(lab).values() if c.registered_at is not None
           and "client_credentials" in c.grant_types]
    keyed = [c for c in new if c.auth_method == "private_key_jwt" and c.jwks]
    if not keyed:
        if any(c.client_secret is not None for c in new):
            return CheckResult(False, "your headless client authenticates with a client_secret: with no user around, "
                                      "that secret lives in the agent's environment or config, where anything that "
                                      "reads them takes it, and it works from anywhere until someone rotates it. "
                                      "Register a public key (token_endpoint_auth_method private_key_jwt, jwks) and "
                                      "sign a short, one-time assertion per request")
        return CheckResult(False, "no client registered since the challenge started with grant_types "
                                  "['client_credentials'], token_endpoint_auth_method private_key_jwt and your "
                                  "public jwks (RFC 7591 §2)")
    ids = {c.client_id for c in keyed}
    replayed = sorted(i for i in ids if _replayed(lab, i))
    if replayed:
        return CheckResult(False, "your agent sent a client assertion the provider had already seen (same jti): it "
                                  "was refused (RFC 7523 §3 item 7), as a copied assertion would be. Sign a fresh "
                                  "assertion, with a new jti and a short exp, for every token request")
    issued = {h[:12] for h, r in mark.new_tokens(lab).items()
              if r.kind == "access" and r.client_id in ids and r.user is None}
    if not issued:
        return CheckResult(False, "the provider issued no token to your key-authenticated client: it refuses an "
                                  "assertion whose aud is not its issuer identifier (one string, "
                                  "draft-ietf-oauth-rfc7523bis), whose iss and sub are not the client_id, that is "
                                  "signed by another key or expired; the 401's error_description says which")
    if any(e.fingerprint in issued and e.endpoint == "/mcp" and e.decision == "allow" for e in mark.events(lab)):
        return CheckResult(True, "your agent registered a public key, authenticated with a signed one-time "
                                 "assertion (private_key_jwt, RFC 7523 §2.2) and its token was accepted on /mcp: no "
                                 "shared secret anywhere")
    return CheckResult(False, "a token was issued to your key-authenticated client; call tools/list on /mcp with it")


CHALLENGES = (
    Challenge(
        "20.step_up", "Step up, and no further",
        "With an `McpClient` holding only `api:read`, call the agent's `write_file` tool, read its 403 "
        "`insufficient_scope` challenge, re-authorize the same client for what the challenge names (keeping what "
        "it held, nothing more), and retry: the call succeeds.",
        ("`client.call_tool(...)` returns the agent's answer: `.status` and `.challenge` (the parsed "
         "`WWW-Authenticate`).",
         "`answer.challenge.get('scope')` names what the call needs; `client.scope` is what the client holds now.",
         "`client.authorize(scope)` runs the code flow again for the scope string you give it; the union of the two "
         "is the step-up (SEP-2350)."),
        check_step_up,
    ),
    Challenge(
        "20.refresh_reuse", "A stolen refresh token",
        "Authorize an `McpClient`, keep a copy of its refresh token (the thief's), let the client refresh once "
        "(rotation), then present the stolen copy to `/token`. The provider revokes the family; make your client "
        "notice (its next refresh fails) and re-authorize, then call `tools/list` with its new token.",
        ("`client.refresh_token` is what a thief reading the client's storage gets; `client.refresh()` rotates it.",
         "The thief needs no secret: this is a public client, so `client_id` and the token are the whole request.",
         "`client.refresh()` raises `ClientError` with `.error == 'invalid_grant'` when the family is gone: catch it "
         "and run `client.authorize(...)` again."),
        check_refresh_reuse,
    ),
    Challenge(
        "20.headless", "A headless agent with a key, not a secret",
        "Be an agent with no user: generate a key pair with joserfc, register a `client_credentials` client with "
        "`token_endpoint_auth_method` `private_key_jwt` and your public JWKS, get a token with a signed client "
        "assertion (RFC 7523 §2.2), and call `tools/list` on `/mcp` with it.",
        ("`ECKey.generate_key('P-256', parameters={'kid': ...})`; `key.as_dict(private=False)` is the public JWK to "
         "register in `jwks`.",
         "The assertion's claims: `iss` and `sub` your client_id, `aud` the provider's issuer identifier (not the "
         "token endpoint), a fresh `jti`, a short `exp`.",
         "At `/token`: `client_assertion_type` `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`, "
         "`client_assertion` your JWT, and `client_id`."),
        check_headless,
    ),
)
