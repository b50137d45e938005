"""Lesson 08's challenge, "Files at globex, on globex's word", and its check."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..base import Challenge, CheckResult
from ..evidence import fingerprints
from ..mark import Mark
from .lesson_03 import POLICY_CHANGED, least_privilege, policy_changed, shipped_rules

if TYPE_CHECKING:
    from ...lab.runner import Lab

__all__ = ["CHALLENGES", "JOB", "TENANT", "check"]

TENANT = "globex"
JOB = ("write_file", "read_file")  # write a file, then read it back


def _issuer_of(lab: Lab, fingerprint: str) -> str | None:
    """The tenant ("default" for the root one) whose authorization server issued the token with this fingerprint."""
    for tenant in (None, *lab.provider.tenants):
        store = lab.provider.server(tenant).store
        with store.lock:
            if any(h[:12] == fingerprint for h in store.tokens):
                return tenant or "default"
    return None


def check(lab: Lab, mark: Mark) -> CheckResult:
    """One token, issued by globex's authorization server, allowed ``write_file`` and ``read_file`` as tenant globex
    since start(), with the narrowest grant globex's own hierarchy (as shipped) allows."""
    hierarchy, needs = shipped_rules(lab, TENANT)
    # tenant isolation: globex trusts its own issuer only; a changed globex tenant is not the lesson's agent
    tenant = lab.config.tenants.get(TENANT)
    if tenant is None or tenant.scope_hierarchy.mapping != hierarchy.mapping:
        return CheckResult(False, f"the agent's {TENANT} tenant has another hierarchy than the lesson's: "
                                  f"{POLICY_CHANGED}")
    refusals: list[str] = []
    for fingerprint, events in fingerprints(e for e in mark.events(lab) if e.tenant == TENANT).items():
        allowed = {e.method for e in events if e.decision == "allow"}
        if not allowed:
            continue
        issuer = _issuer_of(lab, fingerprint)
        # cross-tenant confusion: a token another tenant's issuer signed must never authorize anything at globex
        if issuer != TENANT:
            refusals.append(f"a token issued by {issuer or 'no lab authorization server'} was accepted as {TENANT}: "
                            "that is cross-tenant confusion (another tenant's issuer speaking for globex); each "
                            "tenant trusts only its own issuer and keys")
            continue
        why = least_privilege({s for e in events for s in e.scopes}, JOB, hierarchy, needs)
        if why is not None:
            refusals.append(f"{why} (at {TENANT}, by {TENANT}'s own hierarchy)")
            continue
        if {f"execute:{c}" for c in JOB} <= allowed:
            grant = " ".join(sorted({s for e in events for s in e.scopes}))
            changed = policy_changed(grant, JOB, hierarchy, needs, f"{TENANT}'s hierarchy")
            if changed:
                refusals.append(changed)
                continue
            return CheckResult(True, f"{grant} from {TENANT}'s own authorization server wrote and read a file at "
                                     f"{TENANT}, and nothing more")
    if refusals:
        return CheckResult(False, refusals[-1])
    # tenant isolation: a tenant trusts its own issuer alone, and its own hierarchy decides what a grant reaches
    return CheckResult(False, f"no token from {TENANT}'s authorization server has a 200 from write_file and from "
                              f"read_file as tenant {TENANT} since start(): {TENANT} accepts tokens from its own "
                              "issuer only (another tenant's, or the root's, are refused: tenant isolation), and its "
                              "own hierarchy, not the default tenant's, decides what a grant reaches")


CHALLENGES = (
    Challenge(
        "08",
        "Files at globex, on globex's word",
        "With **one** token from `globex`'s authorization server, get a 200 from `write_file` and from `read_file` "
        "at `/t/globex/`, with the narrowest grant that does it there (no `admin`, nothing the job does not need). "
        "Change nothing in the agent's configuration.",
        (
            "Lesson 03's hierarchy is the default tenant's: globex has its own (the first cell shows it).",
            "At the default tenant `files:write` implies `files:read`. Does it at globex? Try, and read the 403.",
            "A scope granted by name needs no hierarchy; `lab.token` takes a `tenant`.",
        ),
        check,
    ),
)
