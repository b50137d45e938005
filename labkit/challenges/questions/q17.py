"""Lesson 17's question: what the shipped proxy and its upstream answer to each token."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..predict import Question

if TYPE_CHECKING:
    from ...lab.runner import Lab

__all__ = ["CASES", "QUESTIONS"]

CASES = ("alice's token for the proxy, through the proxy", "the same token, sent straight to the upstream",
         "a token for the agent (api://oauth2-lab-agent), through the proxy", "no token, through the proxy")


def _answers(lab: Lab | None, statuses: Mapping[str, int] | None = None) -> dict[str, str]:
    """The status per case: ``statuses`` the lesson's cell observed, else probed now (real tokens and calls).
    Raises ``ValueError`` without a lab that runs the proxy, or observed statuses."""
    if statuses is None:
        import httpx

        from ...flows.delegation import call_downstream_as, user_token
        from ..lessons.lesson_17 import CALLER_SCOPES, through_proxy

        if lab is None or lab.proxy is None:
            raise ValueError("this question runs against Lab(proxy=True): predict('17', 'passthrough', lab)")
        alice = user_token(lab, scopes=CALLER_SCOPES, resource=lab.proxy.url)
        with httpx.Client(timeout=10, trust_env=False) as http:
            anonymous = http.post(lab.proxy.url + "/", json={"jsonrpc": "2.0", "id": 1, "method": "execute"})
        statuses = dict(zip(CASES, (
            through_proxy(lab, alice).status_code, call_downstream_as(lab, alice).status_code,
            through_proxy(lab, user_token(lab, scopes=CALLER_SCOPES)).status_code, anonymous.status_code,
        ), strict=True))
    return {case: str(statuses[case]) for case in CASES}


QUESTIONS = (
    Question(
        "passthrough",
        "the proxy passes its caller's token through, and the upstream checks the issuer and signature but not the "
        "audience. What does each call get (a write the upstream's `external_api` serves with `api:write`)?",
        CASES,
        ("200", "401", "403"),
        _answers,
    ),
)
