"""Lesson 03's question: which capabilities a token granted ``api:write`` reaches at the agent."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..predict import Question

if TYPE_CHECKING:
    from ...lab.runner import Lab

__all__ = ["CAPABILITIES", "QUESTIONS", "api_write_reach"]

CAPABILITIES = ("echo", "write_operation", "read_file", "admin_status")


def api_write_reach(lab: Lab | None) -> dict[str, str]:
    """The agent's status for each capability, called with one ``api:write`` token (real calls)."""
    if lab is None:
        raise ValueError("this question runs against the lab: predict('03', 'api_write_reach', lab)")
    token = lab.token(["api:write"])
    return {c: str(lab.execute(c, {"text": "hi", "path": "note.txt"}, token=token).status) for c in CAPABILITIES}


QUESTIONS = (
    Question(
        "api_write_reach",
        "a token granted exactly `api:write` calls four capabilities. `echo` needs `api:read`, `write_operation` "
        "`api:write`, `read_file` `files:read`, `admin_status` `admin`. What does the agent answer to each?",
        CAPABILITIES,
        ("200", "403"),
        api_write_reach,
    ),
)
