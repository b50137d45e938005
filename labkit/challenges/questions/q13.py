"""Lesson 13's question: what the downstream answers to each delegated token under its shipped rule."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..predict import Question

if TYPE_CHECKING:
    from ...lab.runner import Lab

__all__ = ["CASES", "QUESTIONS"]

CASES = ("act = lab-agent", "act = lab-agent, then lab-agent", "act = mallory (unknown actor)",
         'act = "lab-agent" (a string)')


def _downstream_answers(lab: Lab | None, statuses: Mapping[str, int] | None = None) -> dict[str, str]:
    """The downstream's status per case: ``statuses`` the lesson's cell observed, else probed now (real exchanges
    and calls). Raises ``ValueError`` without a lab that runs the downstream, or observed statuses."""
    if statuses is None:
        from ...flows.delegation import call_downstream_as, exchange_as_agent, user_token

        if lab is None or lab.downstream is None:
            raise ValueError("this question runs against Lab(downstream=True): predict('13', 'chain', lab)")
        audience = lab.downstream.config.oauth2.audiences[0]
        once = exchange_as_agent(lab, user_token(lab))
        tokens = dict(zip(CASES, (
            once, exchange_as_agent(lab, once),
            lab.provider.mint(["api:write"], subject="alice", audience=audience, claims={"act": {"sub": "mallory"}}),
            lab.provider.mint(["api:write"], subject="alice", audience=audience, claims={"act": "lab-agent"}),
        ), strict=True))
        statuses = {case: call_downstream_as(lab, token).status_code for case, token in tokens.items()}
    return {case: str(statuses[case]) for case in CASES}


QUESTIONS = (
    Question(
        "chain",
        "the downstream's rule names `lab-agent` in `allowed_actors` and bounds nothing else. What does it answer "
        "to each token (all valid, signed by the provider, for its audience)?",
        CASES,
        ("200", "401", "403"),
        _downstream_answers,
    ),
)
