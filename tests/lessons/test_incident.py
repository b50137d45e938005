"""Lesson 11's incident log: regenerated from a real lab run, it is the shipped file, and it holds the answer."""

from __future__ import annotations

from pathlib import Path

import numpy
import pytest

from labkit.audit import read_jsonl
from labkit.challenges.lessons.lesson_11 import epoch
from labkit.lab.incident import CLIENT, INCIDENT_LOG, TRUTH, write_incident


def test_the_shipped_log_holds_the_answer_and_no_token() -> None:
    events = read_jsonl(INCIDENT_LOG)
    attacker = [e for e in events if e.fingerprint == TRUTH["fingerprint"]]
    assert {e.client for e in attacker} == {CLIENT} and {e.method for e in attacker} == TRUTH["endpoints"]
    assert min(e.time for e in attacker) == TRUTH["first_seen"]
    assert min(e.time for e in attacker if e.decision == "deny") == TRUTH["first_deny"] > TRUTH["first_seen"]
    victim = [e for e in events if e.fingerprint == TRUTH["victim_fingerprint"]]
    assert {e.client for e in victim} == {CLIENT} and {e.method for e in victim} == {"execute:get_time"}
    assert "eyJ" not in INCIDENT_LOG.read_text()  # fingerprints only, never a JWT


@pytest.mark.parametrize(("value", "seconds"), [
    (TRUTH["first_seen"], TRUTH["first_seen"]), (numpy.int64(TRUTH["first_seen"]), TRUTH["first_seen"]), ("2026-01-01T09:06:25Z", TRUTH["first_seen"]),
    ("2026-01-01T10:06:25+01:00", TRUTH["first_seen"]), ("2026-01-01 09:06:25", TRUTH["first_seen"]),
    ("09:06", None), (True, None), (None, None), ([1], None)])
def test_epoch_reads_the_usual_time_forms(value: object, seconds: float | None) -> None:
    assert epoch(value) == seconds


@pytest.mark.integration
def test_a_real_run_regenerates_the_shipped_log(tmp_path: Path) -> None:
    write_incident(tmp_path / "incident.jsonl")
    assert (tmp_path / "incident.jsonl").read_text() == INCIDENT_LOG.read_text()


def test_lesson_11_question_is_answered_by_the_log() -> None:
    from labkit.challenges.questions import questions_of

    question = questions_of("11")["what_differs"]
    assert question.outcome(None) == {"client": "same", "subject": "same", "scopes": "differs",
                                      "fingerprint": "differs", "decision": "differs"}
