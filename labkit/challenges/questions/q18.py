"""Lesson 18's question: what the real provider answers to the authorization requests the attacks need."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...provider.clients import LAB_REDIRECTS
from ..predict import Question

if TYPE_CHECKING:
    from ...lab.runner import Lab

__all__ = ["QUESTIONS", "REQUESTS", "provider_answers"]

_ORIGIN = LAB_REDIRECTS[0].removesuffix("/callback")
# item -> the parameters that differ from a correct request (lab-web, its registered redirect URI, PKCE S256)
REQUESTS: dict[str, dict[str, str]] = {
    "the registered redirect_uri, PKCE S256": {},
    "redirect_uri = registered origin + '@' + attacker host": {"redirect_uri": f"{_ORIGIN}@127.0.0.1:9/steal"},
    "redirect_uri = the client's own /go?to=attacker": {"redirect_uri": f"{_ORIGIN}/go?to=http://127.0.0.1:9/"},
    "no code_challenge": {"code_challenge": "", "code_challenge_method": ""},
    "code_challenge_method=plain": {"code_challenge": "v" * 43, "code_challenge_method": "plain"},
}


def provider_answers(lab: Lab | None) -> dict[str, str]:
    """Whether the real provider issued a code (``code``) or refused (``refused``), per request (real requests)."""
    from ..lessons.lesson_18 import at_provider

    if lab is None:
        raise ValueError("this question runs against the lab: predict('18', 'provider', lab)")
    return {item: "code" if at_provider(lab, **params) == (302, "code issued") else "refused"
            for item, params in REQUESTS.items()}


QUESTIONS = (
    Question(
        "provider",
        "the same authorization requests the attacks send to the vulnerable server, sent as alice to the lab's "
        "**real** provider (`lab.provider_url`, client `lab-web`). Which get a code?",
        tuple(REQUESTS),
        ("code", "refused"),
        provider_answers,
    ),
)
