"""Which task a push notification is about, and its state: one reading for the sender and the receiver.

A delivery's body is an A2A ``StreamResponse`` in JSON: exactly one of ``task`` (the task's id is ``id``),
``statusUpdate`` or ``artifactUpdate`` (``taskId``). Anything else (not an object, another member, values
of the wrong JSON type) reads as ``(None, None)``: the receiver then refuses it, never fails on it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ARTIFACT", "task_state"]

ARTIFACT = "artifact"  # the state recorded for an artifactUpdate (it carries no task state)
_ID_MEMBER = {"task": "id", "statusUpdate": "taskId", "artifactUpdate": "taskId"}


def task_state(body: Any) -> tuple[str | None, str | None]:
    """``(task_id, state)`` of a notification body; either is None when absent or not a string."""
    if not isinstance(body, dict):
        return None, None
    for kind, id_member in _ID_MEMBER.items():
        part = body.get(kind)
        if not isinstance(part, dict):
            continue
        task_id = part.get(id_member)
        status = part.get("status")
        state = status.get("state") if isinstance(status, dict) else None
        if kind == "artifactUpdate":
            state = ARTIFACT
        return (task_id if isinstance(task_id, str) and task_id else None), (
            state if isinstance(state, str) and state else None)
    return None, None
