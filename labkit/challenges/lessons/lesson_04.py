"""Lesson 04's challenge, "A token for acme's MCP server", and its check."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..base import Challenge, CheckResult
from ..evidence import audiences
from ..mark import Mark
from .lesson_03 import least_privilege, shipped_rules

if TYPE_CHECKING:
    from ...lab.runner import Lab
    from ...provider.models import TokenRecord

__all__ = ["CHALLENGES", "TENANT", "check"]

TENANT = "acme"
_PATH = f"/t/{TENANT}/mcp"
_LIST: dict[str, tuple[str, ...]] = {"tools/list": ("api:read",)}  # the job: read acme's tool list


def _record(lab: Lab, fingerprint: str) -> TokenRecord | None:
    """The record acme's authorization server keeps of the token with this audit fingerprint, if it issued it."""
    store = lab.provider.server(TENANT).store
    with store.lock:
        return next((r for h, r in store.tokens.items() if h[:12] == fingerprint and r.kind == "access"), None)


def _verdict(lab: Lab, record: TokenRecord | None, resource: str, scopes: set[str]) -> str | None:
    """Why a token accepted at acme's /mcp is not the answer, or None when it is."""
    if record is None:
        return f"the token accepted on {_PATH} was not issued by {TENANT}'s authorization server, the one its " \
               "metadata names in authorization_servers: a resource trusts only its own issuer"
    aud = audiences(record.audience)
    # RFC 8707 §2 / RFC 9728 §3: the audience is exactly the one resource asked for, nothing broader
    if aud != [resource]:
        return f"the token's audience is {', '.join(aud) or 'empty'}, not exactly the resource {TENANT} advertises " \
               f"for {_PATH}: a token valid at other resources can be replayed there (RFC 8707: one resource, one " \
               "audience)"
    # the learner's own request: a grant at the token endpoint (the admin mint skips RFC 8707's checks)
    if not record.family:
        return "that token was minted directly by the provider (its admin mint), not obtained by your own " \
               "request to the token endpoint with RFC 8707's resource parameter"
    # least privilege: the audience narrows where a token works, its scope what it may do there
    why = least_privilege(scopes, tuple(_LIST), shipped_rules(lab, TENANT)[0], _LIST)
    if why is not None:
        return f"{why} (reading acme's tool list needs api:read at most)"
    return None


def check(lab: Lab, mark: Mark) -> CheckResult:
    """``tools/list`` on /t/acme/mcp allowed, since start(), for a token acme's authorization server issued at its
    token endpoint with ``aud`` exactly the resource acme's RFC 9728 metadata advertises."""
    resource = f"{lab.agent_url}{_PATH}"
    refusals: list[str] = []
    for event in mark.events(lab):
        # the guard records the MCP endpoint as "/mcp" and the tenant the path (or the issuer) chose
        seen = (event.endpoint, event.method, event.tenant, event.decision)
        if seen != ("/mcp", "tools/list", TENANT, "allow") or not event.fingerprint:
            continue
        why = _verdict(lab, _record(lab, event.fingerprint), resource, set(event.scopes))
        if why is None:
            return CheckResult(True, f"a token from {TENANT}'s authorization server, for exactly {TENANT}'s MCP "
                                     "resource, was accepted on its /mcp")
        refusals.append(why)
    if refusals:
        return CheckResult(False, refusals[-1])
    return CheckResult(False, f"no 200 on {_PATH} since start(): read {TENANT}'s protected-resource metadata, ask "
                              "its authorization server for a token for that resource, then call tools/list there")


CHALLENGES = (
    Challenge(
        "04",
        "A token for acme's MCP server",
        "Tenant `acme` serves MCP at `/t/acme/mcp`. Discover what it advertises (RFC 9728), get a token from the "
        "authorization server it names whose audience is **exactly** its `resource` (RFC 8707), and get a 200 from "
        "`tools/list` there.",
        (
            "RFC 9728 §3.1: the metadata of a resource at path P is at `/.well-known/oauth-protected-resource` + P.",
            "`authorization_servers` names acme's issuer, not the default one: `lab.token` takes a `tenant`.",
            "`lab.token(..., resource=...)` sends RFC 8707's `resource` parameter; check `aud` with "
            "`inspect_token` before you call.",
        ),
        check,
    ),
)
