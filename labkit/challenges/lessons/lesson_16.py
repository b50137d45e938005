"""Lesson 16's challenge, "Bound the injection", and its check."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...errors import Reason
from ...lab.injection import DOCUMENT, TASK, TaskRun, runs_of
from ...scopes import ScopeHierarchy
from ..base import Challenge, CheckResult
from ..mark import Mark
from .lesson_03 import least_privilege, policy_changed, policy_differs, shipped_rules

if TYPE_CHECKING:
    from ...audit import AuditEvent
    from ...lab.runner import Lab

__all__ = ["CHALLENGES", "check"]

_NOT_RUN = ("the summariser has not run the poisoned document since start(): run_task(lab, scopes) runs it, and "
            "only the agent's own audit of that run shows what an obeyed injection could reach")


def _verdict(run: TaskRun, events: dict[str, AuditEvent], hierarchy: ScopeHierarchy,
             needs: dict[str, tuple[str, ...]]) -> CheckResult:
    """Whether one run shows the task done (200s) and the injection refused (403) with a least-privilege grant."""
    seen = [(step, events[step.request_id]) for step in run.steps if step.request_id]
    granted = {s for _, e in seen for s in e.scopes}
    # least privilege: a grant broader than the task is what an obeyed injection spends
    broad = least_privilege(granted, TASK, hierarchy, needs)
    if broad is not None:
        return CheckResult(False, f"{broad}; whatever the token reaches, an injected instruction reaches too")
    task = {step.tool for step, e in seen if not step.injected and e.decision == "allow" and e.status == 200}
    if not set(TASK) <= task:
        missing = ", ".join(t for t in TASK if t not in task)
        return CheckResult(False, f"the legitimate task did not complete ({missing} had no 200): a grant that "
                                  "breaks the task is not a defence, the user just works around it")
    injected = [(step, e) for step, e in seen if step.injected]
    if run.document != DOCUMENT or not injected:
        return CheckResult(False, "the run attempted no injected instruction of the lesson's poisoned document "
                                  "(DOCUMENT, run_task's default): the attack must be tried to show the grant stops it")
    obeyed = [step.tool for step, e in injected if e.reason != Reason.INSUFFICIENT_SCOPE]
    if obeyed:
        return CheckResult(False, f"the injected {', '.join(obeyed)} was not refused for scope (403 "
                                  "insufficient_scope): the token let the injection act")
    grant = " ".join(sorted(granted))
    changed = policy_changed(grant, TASK, hierarchy, needs, "the lesson's hierarchy")
    if changed:
        return CheckResult(False, changed)
    refused = ", ".join(sorted({step.tool for step, _ in injected}))
    return CheckResult(True, f"{grant} did the task (read_file, get_time, write_file: 200) and the injected "
                             f"{refused} got 403 insufficient_scope: the grant bounded what the injection could do")


def check(lab: Lab, mark: Mark) -> CheckResult:
    """A run of the summariser since ``start()`` whose task calls got 200 and whose injected call got 403
    (insufficient_scope), with the narrowest grant for the task and the lesson's policy unchanged."""
    hierarchy, needs = shipped_rules(lab)
    differs = policy_differs(lab, TASK, hierarchy, needs)
    if differs:
        return CheckResult(False, differs)
    events = {e.request_id: e for e in mark.events(lab) if e.request_id}
    runs = [run for run in runs_of(lab) if run.steps and all(s.request_id in events for s in run.steps)]
    if not runs:
        return CheckResult(False, _NOT_RUN)
    verdicts = [_verdict(run, events, hierarchy, needs) for run in runs]
    return next((v for v in verdicts if v.solved), verdicts[-1])


CHALLENGES = (
    Challenge(
        "16",
        "Bound the injection",
        "Run the summariser (`run_task(lab, scopes)`) on the poisoned document with the narrowest grant that lets "
        "it read the document, date and save the summary (200s), so that the injected `write_operation` gets 403 "
        "`insufficient_scope`. Choose the grant; do not change the agent's policy.",
        (
            "The run's table says which tool each call used; the capabilities' scopes are in "
            "`lab.rpc('capabilities', token=...)` or lesson 03's explorer.",
            "Three tools, two plugins: `files:write` implies `files:read` in this hierarchy.",
            "`api:write` would date the summary too, and reach `write_operation`: which scope below it tells the "
            "time?",
        ),
        check,
    ),
)
