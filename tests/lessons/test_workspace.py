"""``labkit lab`` opens a workspace, a copy of the lessons, never the shipped (tracked) folder; a learner's lesson is
never overwritten; ``labkit lab --reset NN`` puts one lesson back as shipped and keeps the learner's version."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from labkit.cli import main
from labkit.lab.workspace import WorkspaceError, open_workspace, reset_lesson, shipped_lessons

SHIPPED = sorted(p.name for p in shipped_lessons().glob("[0-9][0-9]_*.ipynb"))


def test_the_workspace_is_a_copy_and_defaults_to_labkit_lessons(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    folder = open_workspace()
    assert folder == tmp_path / "labkit-lessons"
    assert sorted(p.name for p in folder.glob("[0-9][0-9]_*.ipynb")) == SHIPPED
    assert (folder / "progress.ipynb").is_file() and not (folder / "solutions").exists()
    lesson = folder / SHIPPED[0]
    assert lesson.read_bytes() == (shipped_lessons() / SHIPPED[0]).read_bytes()


def test_the_shipped_folder_is_never_the_workspace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(shipped_lessons().parent)
    with pytest.raises(WorkspaceError, match="holds the shipped lessons"):
        open_workspace(shipped_lessons())
    with pytest.raises(WorkspaceError, match="holds the shipped lessons"):
        open_workspace(shipped_lessons().name)  # "notebooks" from the checkout's root


def test_a_learner_s_lesson_is_kept_and_a_missing_one_is_added(tmp_path: Path) -> None:
    folder = open_workspace(tmp_path / "mine")
    (folder / SHIPPED[0]).write_text("my work")
    (folder / SHIPPED[1]).unlink()
    open_workspace(folder)
    assert (folder / SHIPPED[0]).read_text() == "my work"
    assert (folder / SHIPPED[1]).read_bytes() == (shipped_lessons() / SHIPPED[1]).read_bytes()


def test_a_planted_link_is_never_written_through(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (folder / SHIPPED[0]).symlink_to(victim)
    open_workspace(folder)
    assert victim.read_text() == "precious"
    restored, backup = reset_lesson(folder, SHIPPED[0][:2])
    assert victim.read_text() == "precious" and backup is not None and backup.is_symlink()
    assert not restored.is_symlink() and restored.read_bytes() == (shipped_lessons() / SHIPPED[0]).read_bytes()


def test_reset_restores_one_lesson_and_keeps_each_learner_version(tmp_path: Path) -> None:
    folder = open_workspace(tmp_path / "mine")
    (folder / SHIPPED[0]).write_text("first try")
    (folder / SHIPPED[1]).write_text("untouched by a reset of another lesson")
    restored, backup = reset_lesson(folder, SHIPPED[0][:2])
    assert restored.read_bytes() == (shipped_lessons() / SHIPPED[0]).read_bytes()
    assert backup == folder / f"{SHIPPED[0]}.bak" and backup.read_text() == "first try"
    assert (folder / SHIPPED[1]).read_text() == "untouched by a reset of another lesson"
    (folder / SHIPPED[0]).write_text("second try")
    _, second = reset_lesson(folder, SHIPPED[0])  # by file name too
    assert second == folder / f"{SHIPPED[0]}.bak2" and second.read_text() == "second try"
    assert backup.read_text() == "first try"
    assert reset_lesson(folder, SHIPPED[0][:2]) == (restored, None)  # unchanged: nothing to keep


@pytest.mark.parametrize("lesson", ["99", "", "../00", "00_quickstart.ipynb/../../x", "0"])
def test_an_unknown_lesson_is_a_clear_error_that_touches_nothing(tmp_path: Path, lesson: str) -> None:
    with pytest.raises(WorkspaceError, match=r"no lesson .*; lessons: 00, 01"):
        reset_lesson(tmp_path / "mine", lesson)
    assert not (tmp_path / "mine").exists()


def test_the_cli_resets_and_exits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "mine"
    open_workspace(folder)
    (folder / SHIPPED[0]).write_text("my work")
    assert main(["lab", "--lessons", str(folder), "--reset", SHIPPED[0][:2]]) == 0
    out = capsys.readouterr().out
    assert f"lesson {SHIPPED[0]}: restored as shipped; your version is kept as {SHIPPED[0]}.bak" in out
    assert main(["lab", "--lessons", str(folder), "--reset", "99"]) == 2
    err = capsys.readouterr().err
    assert "labkit lab: no lesson '99'; lessons: 00" in err and "Traceback" not in err


def test_the_cli_refuses_to_serve_the_shipped_lessons(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lab", "--lessons", os.fspath(shipped_lessons())]) == 2
    assert "holds the shipped lessons" in capsys.readouterr().err
