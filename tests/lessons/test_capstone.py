"""The capstone grader (``labkit.lab.capstone``): a weak, a half-fixed and a fixed agentup.yml grade differently."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from labkit.challenges import Progress, start
from labkit.config import load_config
from labkit.explain import find_weaknesses
from labkit.lab import Lab, LabClock
from labkit.lab.capstone import WEAK_CONFIG, Finding, Report, grade

CONFIGS = Path(__file__).resolve().parent / "capstone"
HALF, FIXED = CONFIGS / "half_fixed.yml", CONFIGS / "fixed.yml"
EVERY = ("probe", "audience", "issuer", "old_token", "wildcard", "revocation", "narrowing", "rate_limit")
ENV = {"LAB_PROVIDER_URL": "http://127.0.0.1:8100", "LAB_DOWNSTREAM_URL": "http://127.0.0.1:8300",
       "LAB_AGENT_SECRET": "lab-agent-secret", "LAB_WEBHOOK_HOSTPORT": "127.0.0.1:8200"}


def test_the_report_says_what_is_open_and_why() -> None:
    report = Report("x.yml", (Finding("a", "A", True, "seen a", "why a", "change a"),
                              Finding("b", "B", False, "seen b", "why b (RFC 1 §2)", "set b")))
    assert not report.fixed and report.open == ("b",)
    text = str(report)
    assert text.startswith("1 of 2 weaknesses fixed in x.yml")
    assert "[fixed] A: seen a" in text and "why a" not in text  # a fixed finding does not lecture
    assert "[OPEN ] B: seen b" in text and "why: why b (RFC 1 §2)" in text and "change: set b" in text


def test_every_weakness_is_a_real_setting_the_explainer_names() -> None:
    """The weak file's weaknesses are settings of the real agent's configuration: ``labkit explain`` flags them
    there, and none of them in the fixed file."""
    def flagged(path: Path) -> set[str]:
        cfg = load_config(path, env=ENV)
        return {w.path for w in find_weaknesses(cfg, {p.plugin_id: p for p in cfg.plugins})}

    weak = flagged(WEAK_CONFIG)
    for where in ("security.oauth2.jwt_audience", "security.oauth2.jwt_issuer", "security.oauth2.leeway",
                  "security.oauth2.introspection_cache_ttl", "security.scope_hierarchy.admin"):
        assert where in weak, (where, weak)
    assert "plugins[2]" in weak  # external_api, a network plugin without rate_limited
    assert flagged(FIXED) == set()


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab(clock=LabClock(), downstream=True) as running:
        yield running


@pytest.mark.integration
def test_weak_half_and_fixed_grade_differently(lab: Lab) -> None:
    weak, half, fixed = (grade(lab, path) for path in (WEAK_CONFIG, HALF, FIXED))
    assert weak.open == EVERY
    assert half.open == ("wildcard", "revocation", "narrowing", "rate_limit")
    assert fixed.fixed and fixed.open == ()
    assert lab.config.oauth2.audiences == ("api://oauth2-lab-agent",)  # the graded file keeps running


@pytest.mark.integration
def test_challenge_15_is_solved_by_the_fixed_file_only(lab: Lab, tmp_path: Path) -> None:
    progress = tmp_path / "progress.json"
    attempt = start("15", lab, progress=progress)
    refused = attempt.check(path=HALF)
    assert not refused and "4 of 8 weaknesses fixed" in refused.message and "RFC 8693 §2.1" in refused.message
    assert "15" not in Progress(progress).solved()
    assert attempt.check(path=FIXED)
    assert "15" in Progress(progress).solved()
