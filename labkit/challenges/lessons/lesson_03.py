"""Lesson 03's challenge, "Just enough for the job", and its check."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...errors import Reason
from ...scopes import WILDCARD, ScopeHierarchy
from ..base import Challenge, CheckResult
from ..evidence import fingerprints
from ..mark import Mark

if TYPE_CHECKING:
    from ...lab.runner import Lab

__all__ = ["CHALLENGES", "NEEDED", "POLICY_CHANGED", "check", "covers", "least_privilege", "policy_changed",
           "policy_differs", "shipped_rules"]

NEEDED = ("get_time", "write_file")  # the job: tell the time and write a file
_BOUNDARY = "write_operation"  # what the job does not need: the same token must get 403 there
POLICY_CHANGED = ("changing the policy widens every token's reach; choose the grant instead (lab.reload("
                  "default_config_path()), from sample_agent, restores the lesson's configuration)")


def shipped_rules(lab: Lab, tenant: str | None = None) -> tuple[ScopeHierarchy, dict[str, tuple[str, ...]]]:
    """The scope hierarchy of ``tenant`` (None: the default one) and every capability's needs in the lesson's agent
    as shipped (``sample_agent/agentup.yml``), whatever the lab was reloaded with since."""
    from sample_agent import default_config_path
    from sample_agent.plugins import endpoint_policy

    from ...config import load_config

    env = {"LAB_PROVIDER_URL": lab.provider_url, "LAB_WEBHOOK_HOSTPORT": "127.0.0.1:1"}
    config = load_config(default_config_path(), env=env)
    policy, _ = endpoint_policy(config)
    hierarchy = config.scope_hierarchy if tenant is None else config.tenants[tenant].scope_hierarchy
    return hierarchy, {c: cap.scopes for c, cap in policy.capabilities.items()}


def covers(granted: set[str], job: tuple[str, ...], hierarchy: ScopeHierarchy,
           needs: dict[str, tuple[str, ...]]) -> bool:
    """Whether ``granted`` reaches every scope the capabilities of ``job`` need, under ``hierarchy``."""
    return hierarchy.satisfies(granted, {s for capability in job for s in needs[capability]})


def policy_changed(grant: str, job: tuple[str, ...], hierarchy: ScopeHierarchy, needs: dict[str, tuple[str, ...]],
                   where: str) -> str | None:
    """Why ``grant`` does not count although the agent allowed ``job`` with it: it does not reach the job under the
    shipped ``hierarchy`` (``where`` names it), so the policy was changed since; None when it does."""
    if covers(set(grant.split()), job, hierarchy, needs):
        return None
    return f"{grant} does not reach the job under {where}, yet was allowed: the agent's policy was changed; " \
           f"{POLICY_CHANGED}"


def policy_differs(lab: Lab, capabilities: tuple[str, ...], hierarchy: ScopeHierarchy,
                   needs: dict[str, tuple[str, ...]]) -> str | None:
    """Why the running agent's policy is not the lesson's: its scope hierarchy differs from ``hierarchy`` or one of
    ``capabilities`` needs other scopes than ``needs`` says; None when both are as shipped."""
    # least privilege is the grant's job, not the policy's: a widened hierarchy or lowered need widens every token
    if lab.config.scope_hierarchy.mapping != hierarchy.mapping or any(
            lab.agent.policy.capabilities[c].scopes != needs[c] for c in capabilities):
        return f"the agent's scope_hierarchy or its capabilities' scopes differ from the lesson's: {POLICY_CHANGED}"
    return None


def least_privilege(granted: set[str], job: tuple[str, ...], hierarchy: ScopeHierarchy,
                    needs: dict[str, tuple[str, ...]]) -> str | None:
    """Why ``granted`` is broader than the capabilities of ``job`` need under ``hierarchy``, or None when it is the
    narrowest grant (a grant that cannot do the job is not judged here: its missing 200s say so)."""
    # least privilege: a wildcard, literal or through the hierarchy, is never "just enough"
    if "admin" in granted or WILDCARD in granted or hierarchy.expand(granted).wildcard:
        return f"the token carries {' '.join(sorted(granted))}: a wildcard or admin grant reaches every " \
               "capability; least privilege asks for the scopes the job needs, nothing more"
    required = {s for capability in job for s in needs[capability]}
    reach, enough = hierarchy.expand(granted), hierarchy.expand(required)
    if not enough <= reach:
        return None  # it cannot do the job: the missing 200s say so
    if reach != enough:
        extra = sorted(reach - enough)
        return f"the token's grant also reaches {', '.join(extra)}, which the job does not need: least privilege " \
               "is the narrowest grant whose expansion covers the job"
    return None


def check(lab: Lab, mark: Mark) -> CheckResult:
    """One token reaching ``get_time`` and ``write_file`` (200s) and not ``write_operation`` (403), whose grant is
    the narrowest the lesson's hierarchy allows (no wildcard, no scope the job does not need)."""
    hierarchy, needs = shipped_rules(lab)
    differs = policy_differs(lab, (*NEEDED, _BOUNDARY), hierarchy, needs)
    if differs:
        return CheckResult(False, differs)
    refusals: list[str] = []
    for events in fingerprints(mark.events(lab)).values():
        allowed = {e.method for e in events if e.decision == "allow"}
        refused = {e.method for e in events if e.reason == Reason.INSUFFICIENT_SCOPE}
        why = least_privilege({s for e in events for s in e.scopes}, NEEDED, hierarchy, needs)
        if why is not None:
            refusals.append(why)
            continue
        if {f"execute:{c}" for c in NEEDED} <= allowed and f"execute:{_BOUNDARY}" in refused:
            grant = " ".join(sorted({s for e in events for s in e.scopes}))
            changed = policy_changed(grant, NEEDED, hierarchy, needs, "the lesson's hierarchy")
            if changed:
                refusals.append(changed)
                continue
            return CheckResult(True, f"{grant} reaches get_time and write_file and not write_operation: the "
                                     "narrowest grant for the job")
    if refusals:
        return CheckResult(False, refusals[-1])
    # least privilege is shown on both sides: the job's calls allowed, the next capability refused
    return CheckResult(False, "no token in the audit log since start() has a 200 from get_time and from write_file "
                              "and a 403 from write_operation: the 200s show the grant does the job, the 403 shows it "
                              "stops there (least privilege: a stolen token reaches no further than the job)")


CHALLENGES = (
    Challenge(
        "03",
        "Just enough for the job",
        "A job needs to tell the time (`get_time`) and write files (`write_file`), nothing else. With **one** token "
        "whose grant is the narrowest that does it (least privilege: no wildcard, nothing the job does not need), "
        "get a 200 from both, and a 403 from `write_operation`.",
        (
            "The explorer's `reachable()` table says which scope each capability needs.",
            "Two capabilities of two plugins: a grant may hold more than one scope. In the explorer, see what "
            "else each candidate turns green.",
            "`api:write` would work, and reach `write_operation` too: which scope below it is enough for the time?",
        ),
        check,
    ),
)
