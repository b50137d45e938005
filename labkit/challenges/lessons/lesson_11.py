"""Lesson 11's challenge, "Export the refusals", and its check."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...audit import AuditEvent, read_jsonl
from ..base import Challenge, CheckResult
from ..mark import Mark

if TYPE_CHECKING:
    from ...lab import Lab

__all__ = ["CHALLENGES", "check"]


def check(lab: Lab, mark: Mark, path: str | Path | None = None) -> CheckResult:
    """The file at ``path`` holds exactly the lab's deny events, as JSON lines."""
    if path is None:
        return CheckResult(False, "pass the exported file: check(path=...)")
    try:
        exported = read_jsonl(path)
    except (OSError, ValueError) as exc:
        return CheckResult(False, f"cannot read {path}: {exc}")

    def key(e: AuditEvent) -> tuple[Any, ...]:
        return (e.decision, e.reason, e.method, e.endpoint, e.fingerprint, e.time)

    denied = [key(e) for e in lab.audit.events() if e.decision == "deny"]  # the file is the whole log's
    if not denied:
        return CheckResult(False, "the audit log has no deny events yet")
    if [key(e) for e in exported] != denied:
        return CheckResult(
            False,
            f"the file holds {len(exported)} events; the log has {len(denied)} deny events (same order, nothing else)",
        )
    return CheckResult(True, f"{len(denied)} deny events exported, and read back identical")


CHALLENGES = (
    Challenge(
        "11",
        "Export the refusals",
        "Write the audit log's deny events, and only those, to a JSON-lines file; check it with `check(path=...)`.",
        (
            "`lab.audit.events()` gives the events; each has `.decision` and `.to_json()`.",
            "One event per line, in the log's order.",
            "`path.write_text(''.join(e.to_json() + '\\n' for e in lab.audit.events() if e.decision == 'deny'))`",
        ),
        check,
    ),
)
