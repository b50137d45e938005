"""Lesson 11's question: in the incident log, which fields of the attacker's events differ from report-bot's
routine traffic (a stolen client secret looks like the client itself)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..predict import Question

if TYPE_CHECKING:
    from ...lab.runner import Lab

__all__ = ["FIELDS", "QUESTIONS", "what_differs"]

FIELDS = ("client", "subject", "scopes", "fingerprint", "decision")


def what_differs(lab: Lab | None) -> dict[str, str]:
    """Read from the shipped log: for each field, whether the attacker's values ever differ from the routine's."""
    from ...audit import read_jsonl
    from ...lab.incident import INCIDENT_LOG, TRUTH

    events = read_jsonl(INCIDENT_LOG)

    def values(fingerprint: str) -> dict[str, set[Any]]:
        chosen = [e for e in events if e.fingerprint == fingerprint]
        return {name: {getattr(e, name) for e in chosen} for name in FIELDS}

    attacker, routine = values(TRUTH["fingerprint"]), values(TRUTH["victim_fingerprint"])
    return {name: "same" if attacker[name] <= routine[name] else "differs" for name in FIELDS}


QUESTIONS = (
    Question(
        "what_differs",
        "The attacker used report-bot's leaked client secret. Compared with report-bot's own routine events, "
        "which fields of the attacker's events differ?",
        FIELDS,
        ("same", "differs"),
        what_differs,
    ),
)
