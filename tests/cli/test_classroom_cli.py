"""``labkit classroom``'s usage errors, before anything starts (the class itself: tests/classroom)."""

from __future__ import annotations

from pathlib import Path

import pytest

from labkit.cli import main


@pytest.mark.parametrize(("learners", "instructors"), [
    ("short", "an-instructors-password"),  # the learners' under 8 characters
    ("learners-pw", "too-short"),  # the instructors' under 16
    ("same-password-for-all", "same-password-for-all"),  # one password for both: every learner an instructor
])
def test_weak_or_shared_passwords_are_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    learners: str, instructors: str) -> None:
    status = main(["classroom", "--folder", str(tmp_path / "class"), "--password", learners,
                   "--instructor-password", instructors])
    assert status == 2
    said = capsys.readouterr()
    assert "8+ characters" in said.err and learners not in said.err and not said.out
    assert not (tmp_path / "class").exists()


def test_the_help_says_what_it_does(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["classroom", "--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: labkit classroom")
