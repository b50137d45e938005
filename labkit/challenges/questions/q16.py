"""Lesson 16's question: what the agent answers to each call of the summariser given a token that "just works"."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...lab.injection import TASK, run_task
from ..predict import Question

if TYPE_CHECKING:
    from ...lab.runner import Lab

__all__ = ["BROAD", "QUESTIONS", "broad_token"]

BROAD = ("api:write", "files:write")  # what a developer grants "so that it works"
_INJECTED = "write_operation (injected)"


def broad_token(lab: Lab | None) -> dict[str, str]:
    """The agent's status for each call of one summariser run on the poisoned document with ``BROAD`` (real calls)."""
    if lab is None:
        raise ValueError("this question runs against the lab: predict('16', 'broad_token', lab)")
    run = run_task(lab, BROAD)
    return {(_INJECTED if step.injected else step.tool): str(step.status) for step in run.steps}


QUESTIONS = (
    Question(
        "broad_token",
        "the summariser runs the poisoned document with a token granted `api:write files:write`. It reads the "
        "document (`read_file`, needs `files:read`), dates the summary (`get_time`, `api:read`), saves it "
        "(`write_file`, `files:write`), then obeys the document's hidden line (`write_operation`, `api:write`). "
        "What does the agent answer to each call?",
        (*TASK, _INJECTED),
        ("200", "403"),
        broad_token,
    ),
)
