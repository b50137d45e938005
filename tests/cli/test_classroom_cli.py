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


@pytest.mark.integration
def test_the_command_starts_a_class_and_ctrl_c_stops_it_all(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    import httpx
    import psutil

    from labkit.classroom.hub import ClassroomError, find_proxy

    from ..helpers import free_port

    try:
        find_proxy(install=False)
    except ClassroomError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    port = free_port()
    command = [sys.executable, "-m", "labkit", "classroom", "--folder", str(tmp_path / "class"), "--port", str(port)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            lines = [process.stdout.readline() for _ in range(4)]
            assert lines[0].startswith(f"hub: http://127.0.0.1:{port}/hub/login"), lines
            assert lines[1] == f"board: http://127.0.0.1:{port}/services/board/ (instructors)\n"
            assert lines[2].startswith("learners' password: ") and lines[3].startswith("instructors' password: ")
            assert httpx.get(f"http://127.0.0.1:{port}/hub/login").status_code == 200
            assert httpx.get(f"http://127.0.0.1:{port}/services/board/api/progress").status_code == 401
            children = psutil.Process(process.pid).children(recursive=True)
            assert children  # the hub, its proxy and the board
            process.send_signal(signal.SIGINT)
            assert process.wait(60) == 130
            _, alive = psutil.wait_procs(children, timeout=10)
            assert not alive, [p.cmdline() for p in alive]
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
