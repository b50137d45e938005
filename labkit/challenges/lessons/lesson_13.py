"""Lesson 13's check: the downstream agent accepts a direct delegation, refuses a deeper chain and an actor nobody
allowed, probed live with real exchanges and calls."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...delegation import DelegationError
from ...lab.downstream import AGENT_CLIENT
from ..base import Challenge, CheckResult
from ..mark import Mark

if TYPE_CHECKING:
    from ...audit import AuditEvent
    from ...lab.runner import Lab

__all__ = ["CHALLENGES", "check"]


def _refusal(events: list[AuditEvent]) -> AuditEvent | None:
    return next((e for e in events if e.decision == "deny"), None)


def check(lab: Lab, mark: Mark) -> CheckResult:
    """alice's token exchanged once (act = lab-agent) passes at the downstream; exchanged twice, it is refused for
    its delegation depth; a token whose current actor is not lab-agent is refused too (both 403, reason delegation:
    the token is valid, the plugin's rule refuses it)."""
    from ...flows.delegation import call_downstream_as, exchange_as_agent, user_token

    downstream = lab.downstream
    if downstream is None or not lab.running:
        return CheckResult(False, "start the lab with Lab(downstream=True)")
    try:
        once = exchange_as_agent(lab, user_token(lab, user="alice"))
        twice = exchange_as_agent(lab, once)
    except (DelegationError, RuntimeError) as exc:
        return CheckResult(False, f"the exchanges failed: {exc}")
    direct = call_downstream_as(lab, once, {"note": "challenge 13, act = lab-agent"}).status_code
    if direct != 200:
        return CheckResult(False, f"act = lab-agent got {direct}: your rule refuses the agent's own delegation, the "
                                  "flow this lesson built. Bound the chain's depth; do not forbid delegation")
    before = downstream.audit.total
    deeper = call_downstream_as(lab, twice, {"note": "challenge 13, two actors"}).status_code
    refusal = _refusal(downstream.audit.since(before))
    if deeper != 403 or refusal is None or refusal.reason != "delegation":
        return CheckResult(False, f"a chain of two actors got {deeper}: each hop is a party holding alice's "
                                  "authority that she never met; refuse chains longer than one actor (403, reason "
                                  "delegation)")
    audience = downstream.config.oauth2.audiences[0]
    # RFC 8693 §4.1: the current actor is the one access control judges; only lab-agent may act for alice here
    store = lab.provider.server(None).store
    with store.lock:
        actors = sorted(set(store.clients) - {AGENT_CLIENT[0]})
    admitted, other = [], None
    for actor in ["mallory", *actors]:  # mallory: a name nobody registered; the rest: every client of the provider
        stranger = lab.provider.mint(["api:write"], subject="alice", audience=audience, claims={"act": {"sub": actor}})
        before = downstream.audit.total
        status = call_downstream_as(lab, stranger, {"note": f"challenge 13, act = {actor}"}).status_code
        refused = _refusal(downstream.audit.since(before))
        if status != 403 or refused is None or refused.reason != "delegation":
            admitted.append(f"{actor} ({status})")
        elif other is None:
            other = refused
    if admitted:
        return CheckResult(False, f"tokens whose current actor is {', '.join(admitted[:4])} were not refused (403, "
                                  "delegation): your rule accepts any actor it lists or no longer checks, each "
                                  "one a party acting for alice she never chose; keep allowed_actors to lab-agent "
                                  "alone (reload replaces the whole rule; RFC 8693 §4.1)")
    assert other is not None  # noqa: S101 - every actor was refused with a delegation reason
    return CheckResult(True, f"one actor: 200; two actors: 403 ({refusal.detail}); mallory: 403 ({other.detail})")


CHALLENGES = (
    Challenge(
        "13",
        "One hop only",
        "The downstream agent accepts alice's call through `lab-agent`, and also through a chain of two actors (a "
        "delegated token exchanged again). Make it refuse any chain longer than one actor, while the agent's own "
        "delegation keeps working and no other actor gets in. The check exchanges real tokens and calls the "
        "downstream.",
        (
            "The rule sits on the downstream's `external_api` plugin: `lab.downstream.rule` shows it, "
            "`lab.downstream.reload(rule)` restarts the downstream with another.",
            "`max_delegation_depth` counts the actors in `act`; 0 refuses every delegated token, and the agent's own "
            "call already carries one actor.",
            "`reload` replaces the whole `delegation:` mapping: whatever you leave out is gone, `allowed_actors` "
            "included. Build the new rule from the current one.",
        ),
        check,
    ),
)
