"""Challenge 13's wrong answers (insecure ones first): each fails and the refusal names the security reason; the
reference solution (``notebooks/solutions/13.py``) solves it. Also: the lesson's account of the provider's exchange
policy (who may exchange a token) holds against the running provider."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labkit.challenges import Progress, start
from labkit.delegation import DelegationError
from labkit.flows.delegation import exchange_as_agent, user_token
from labkit.lab import Lab

pytestmark = pytest.mark.integration

SOLUTION = Path(__file__).parents[3] / "notebooks" / "solutions" / "13.py"


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab(downstream=True) as running:
        yield running


@pytest.fixture
def shipped(lab: Lab) -> Iterator[dict[str, Any]]:
    """The downstream's rule as shipped, restored after each test."""
    assert lab.downstream is not None
    rule = lab.downstream.rule
    yield rule
    lab.downstream.reload(rule)


WRONG: list[tuple[str, dict[str, Any] | None, str]] = [
    # insecure: a depth bound that drops who may act (reload replaces the whole rule)
    ("depth bound, allowed_actors dropped", {"max_delegation_depth": 1}, "accepts any actor"),
    ("mallory allowed too", {"allowed_actors": ["lab-agent", "mallory"], "max_delegation_depth": 1},
     "accepts any actor"),
    # solved the check when it probed mallory alone: another client of the provider may act for alice
    ("lab-client allowed too", {"allowed_actors": ["lab-agent", "lab-client"], "max_delegation_depth": 1},
     "allowed_actors"),
    ("every persona client allowed", {"allowed_actors": ["lab-agent", "okta-client", "auth0-client"],
                                      "max_delegation_depth": 1}, "allowed_actors"),
    ("as shipped: chains pass", None, "chain of two actors got 200"),
    ("depth 2", {"allowed_actors": ["lab-agent"], "max_delegation_depth": 2}, "chain of two actors got 200"),
    ("required, no depth bound", {"allowed_actors": ["lab-agent"], "required": True}, "chain of two actors got 200"),
    # too strict: the agent's own delegation refused
    ("refuses all delegation (depth 0)", {"allowed_actors": ["lab-agent"], "max_delegation_depth": 0},
     "refuses the agent's own delegation"),
    ("no actor allowed", {"allowed_actors": [], "max_delegation_depth": 1}, "refuses the agent's own delegation"),
]


@pytest.mark.parametrize(("rule", "why"), [(r, w) for _, r, w in WRONG], ids=[name for name, _, _ in WRONG])
def test_wrong_answer_fails_and_says_why(lab: Lab, shipped: dict[str, Any], tmp_path: Path,
                                         rule: dict[str, Any] | None, why: str) -> None:
    assert lab.downstream is not None
    attempt = start("13", lab, progress=tmp_path / "progress.json")
    if rule is not None:
        lab.downstream.reload(rule)
    result = attempt.check()
    assert not result and why in result.message, result
    assert "13" not in Progress(tmp_path / "progress.json").solved()


def test_the_reference_solution_solves(lab: Lab, shipped: dict[str, Any], tmp_path: Path) -> None:
    challenge = start("13", lab, progress=tmp_path / "progress.json")
    namespace: dict[str, Any] = {"lab": lab, "challenge": challenge}
    exec(compile(SOLUTION.read_text(), str(SOLUTION), "exec"), namespace)  # noqa: S102 - the repository's own file
    result = challenge.check()
    assert result and "two actors: 403" in result.message and "mallory: 403" in result.message, result


def test_the_lessons_account_of_who_may_exchange(lab: Lab) -> None:
    """Lesson 13, section 1: lab-agent may exchange a token issued TO it (its audience), one whose may_act names it,
    or continue a chain it acts in; being allowed to request a resource is not being it."""
    assert exchange_as_agent(lab, user_token(lab))  # aud = api://oauth2-lab-agent, which lab-agent serves
    elsewhere = lab.token(["api:write"], resource="http://127.0.0.1:9/elsewhere")  # lab-agent may REQUEST this
    with pytest.raises(DelegationError, match="invalid_grant"):
        exchange_as_agent(lab, elsewhere)
    named = lab.provider.mint(["api:write"], subject="alice", audience="http://127.0.0.1:9/elsewhere",
                              claims={"may_act": {"sub": "lab-agent"}})
    assert exchange_as_agent(lab, named)  # RFC 8693 §4.4: may_act names the actor
    other = lab.provider.mint(["api:write"], subject="alice", audience="api://oauth2-lab-agent",
                              claims={"may_act": {"sub": "someone-else"}})
    with pytest.raises(DelegationError, match="invalid_grant"):
        exchange_as_agent(lab, other)  # may_act, when present, is the whole answer, even for the agent's audience


def test_the_prediction_is_scored_against_the_shipped_rule(lab: Lab, shipped: dict[str, Any], tmp_path: Path) -> None:
    from labkit.challenges import predict

    question = predict("13", "chain", lab, progress=tmp_path / "progress.json")
    revealed = question.reveal()  # no prediction: the real outcome only, probed now
    assert not revealed.predicted
    assert [real for _, _, real in revealed.rows] == ["200", "200", "403", "401"]  # E5: the policy's refusal is 403
