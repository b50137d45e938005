"""A lesson's checks report to the class's board only under a classroom, and a board that cannot be reached never
breaks the lesson: it is said once."""

from __future__ import annotations

import pytest

from labkit.challenges.progress import Record
from labkit.challenges.report import BoardReporter

from ..helpers import free_port

CLASS = {"JUPYTERHUB_USER": "ada", "JUPYTERHUB_API_TOKEN": "ada-token"}


def test_nothing_is_sent_outside_a_classroom() -> None:
    for env in ({}, {**CLASS}, {"LABKIT_BOARD_URL": "http://127.0.0.1:9/", "JUPYTERHUB_USER": "ada"}):
        reporter = BoardReporter(env)
        assert not reporter.enabled and reporter.report("00", Record(solved={"00"})) is False


def test_an_unreachable_board_is_said_once(capsys: pytest.CaptureFixture[str]) -> None:
    reporter = BoardReporter({**CLASS, "LABKIT_BOARD_URL": f"http://127.0.0.1:{free_port()}/services/board/"})
    assert reporter.enabled
    assert reporter.report("00", Record(solved={"00"}), "solved") is False
    assert reporter.report("00", Record(solved={"00"}), "solved") is False
    said = capsys.readouterr().err
    assert said.count("the class board did not record your progress") == 1
    assert "ada-token" not in said


@pytest.mark.parametrize("env", [
    {**CLASS, "LABKIT_BOARD_URL": "http://[::1"},  # not a URL
    {**CLASS, "LABKIT_BOARD_URL": "ftp://127.0.0.1/"},  # not http
    {"JUPYTERHUB_USER": "ada", "JUPYTERHUB_API_TOKEN": "tök\n", "LABKIT_BOARD_URL": "http://127.0.0.1:9/"},
])
def test_a_broken_setting_is_said_never_raised(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert BoardReporter(env).report("00", Record()) is False
    assert capsys.readouterr().err.count("did not record") == 1
