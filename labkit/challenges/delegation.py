"""Lesson 13's check: the downstream agent accepts a direct delegation and refuses a deeper chain, probed live."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..delegation import DelegationError
from .base import CheckResult

if TYPE_CHECKING:
    from ..lab import Lab

__all__ = ["check_13"]


def check_13(lab: Lab) -> CheckResult:
    """alice's token exchanged once (act = lab-agent) passes at the downstream; exchanged twice, it is refused
    for its delegation depth (the downstream's audit reason), not for anything else."""
    from ..delegation_flow import call_downstream_as, exchange_as_agent, user_token

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
    mark = len(downstream.audit)
    deeper = call_downstream_as(lab, twice, {"note": "challenge 13, two actors"}).status_code
    refusal = next((e for e in downstream.audit.events()[mark:] if e.decision == "deny"), None)
    if deeper != 401 or refusal is None or refusal.reason != "delegation":
        return CheckResult(False, f"a chain of two actors got {deeper}; the downstream should refuse it (401, "
                                  f"reason delegation)")
    return CheckResult(True, f"one actor: 200; two actors: 401 ({refusal.detail})")
