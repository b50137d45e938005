"""Lesson 19's question: which lines of the consent page tell the real GitHub Copilot from its impersonator."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...lab.consent import IMPERSONATOR, consent_facts, install_copilot, register
from ..predict import Question

if TYPE_CHECKING:
    from ...lab.runner import Lab

__all__ = ["FIELDS", "QUESTIONS", "differences"]

FIELDS = ("name", "logo", "badge", "redirect host", "scopes")


def differences(lab: Lab | None) -> dict[str, str]:
    """For each line of the consent page: "same" or "differs" between the real app and a new impersonator."""
    if lab is None:
        raise ValueError("this question runs against the lab: predict('19', 'differences', lab)")
    real = consent_facts(lab, install_copilot(lab).client_id)
    phish = register(lab, IMPERSONATOR)
    if phish.client_id is None:
        raise RuntimeError(f"the impersonator could not register: {phish}")
    fake = consent_facts(lab, phish.client_id)
    return {field: "same" if real[field] == fake[field] else "differs" for field in FIELDS}


QUESTIONS = (
    Question(
        "differences",
        "The impersonator registered itself with the real app's name, its web page and its logo URL, and asks for "
        "the same scopes. Its consent page and the real app's are shown side by side. Which lines of the page are "
        "the same, and which differ?",
        FIELDS,
        ("same", "differs"),
        differences,
    ),
)
