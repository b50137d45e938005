"""Lesson 15's challenge, the capstone "Secure this agent": the learner's agentup.yml, graded on the running agent."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ...errors import ConfigError
from ...lab.capstone import grade
from ..base import Challenge, CheckResult
from ..mark import Mark

if TYPE_CHECKING:
    from ...lab.runner import Lab

__all__ = ["CHALLENGES", "check"]


def check(lab: Lab, mark: Mark, path: str | Path | None = None) -> CheckResult:
    """The configuration at ``path``, loaded into the lab's agent now, resists every attack of ``capstone.grade``
    (the grade runs at check time: nothing done before ``start()`` counts)."""
    if path is None:
        return CheckResult(False, "pass your configuration file: check(path='my_agentup.yml')")
    if lab.downstream is None:
        return CheckResult(False, "the capstone needs the downstream agent: Lab(downstream=True)")
    if not Path(path).is_file():
        return CheckResult(False, f"no file at {path}: copy the weak configuration there first")
    try:
        report = grade(lab, path)
    except ConfigError as exc:
        return CheckResult(False, f"the agent refused the configuration (it keeps the old one): {exc}")
    return CheckResult(report.fixed, str(report))


CHALLENGES = (
    Challenge(
        "15",
        "Secure this agent",
        "Edit your copy of the weak `agentup.yml` until the running agent resists every attack of the grader "
        "(another audience, another issuer, an old token, the admin wildcard, a revoked token, what the "
        "downstream receives, a burst); check it with `check(path=...)`.",
        (
            "Read the report: each open finding says what was seen, why it matters and which setting to change.",
            "Two findings are about what the agent accepts (`oauth2`), two about what a scope grants and what "
            "the tool forwards (`scope_hierarchy`, `delegation.downstream`), one about a plugin's middleware.",
            "A revoked opaque token is refused only if the agent asks the provider again: think about how long "
            "an 'active' answer may be reused.",
        ),
        check,
    ),
)
