"""Lesson 13's check: the downstream agent accepts a direct delegation and refuses a deeper chain, probed live."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...delegation import DelegationError
from ..base import Challenge, CheckResult
from ..mark import Mark

if TYPE_CHECKING:
    from ...lab import Lab

__all__ = ["CHALLENGES", "check"]


def check(lab: Lab, mark: Mark) -> CheckResult:
    """alice's token exchanged once (act = lab-agent) passes at the downstream; exchanged twice, it is refused
    for its delegation depth (the downstream's audit reason), not for anything else."""
    from ...delegation_flow import call_downstream_as, exchange_as_agent, user_token

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
        return CheckResult(False, f"act = lab-agent got {direct}; the agent's own delegation must still pass")
    before = downstream.audit.total
    deeper = call_downstream_as(lab, twice, {"note": "challenge 13, two actors"}).status_code
    refusal = next((e for e in downstream.audit.since(before) if e.decision == "deny"), None)
    if deeper != 403 or refusal is None or refusal.reason != "delegation":
        return CheckResult(
            False, f"a chain of two actors got {deeper}; the downstream should refuse it (403, reason delegation)"
        )
    return CheckResult(True, f"one actor: 200; two actors: 403 ({refusal.detail})")


CHALLENGES = (
    Challenge(
        "13",
        "One hop only",
        "The downstream agent accepts alice's call through `lab-agent`, and also "
        "through a chain of two actors (a delegated token exchanged again). Make it refuse any chain longer "
        "than one actor, while the agent's own delegation keeps working. The check exchanges real tokens "
        "and calls the downstream.",
        (
            "The rule sits on the downstream's `external_api` plugin: `lab.downstream.rule`.",
            "`max_delegation_depth` counts the actors in `act`; 0 refuses every delegated token.",
            "`lab.downstream.reload({'allowed_actors': ['lab-agent'], 'max_delegation_depth': ...})`",
        ),
        check,
    ),
)
