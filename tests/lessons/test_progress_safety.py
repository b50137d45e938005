"""The challenge progress file keeps the audit file's rules: no symlink followed, regular files only (a FIFO never
blocks), an atomic replace through a private 0600 temporary file, clear errors, and no mark lost to a race."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest

from labkit.challenges import Progress, ProgressFileError
from labkit.errors import LabkitError


def _folder(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / ".labkit"
    folder.mkdir()
    return folder, folder / "progress.json"


def test_a_planted_temporary_symlink_never_redirects_the_write(tmp_path: Path) -> None:
    folder, path = _folder(tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    for name in ("progress.tmp", ".progress.json.tmp", "progress.json.tmp"):
        (folder / name).symlink_to(victim)
    Progress(path).mark("03")
    assert victim.read_text() == "precious"
    assert json.loads(path.read_text()) == {"solved": ["03"]}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and not path.is_symlink()
    # the private temporary file is gone; the planted links are left as they were
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["progress.json", "progress.tmp", ".progress.json.tmp", "progress.json.tmp"])


def test_a_symlinked_progress_file_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    _, path = _folder(tmp_path)
    victim = tmp_path / "victim.json"
    victim.write_text(json.dumps({"solved": ["00"]}))
    path.symlink_to(victim)
    progress = Progress(path)
    for action in (progress.solved, lambda: progress.mark("05")):
        with pytest.raises(ProgressFileError, match="symbolic link") as caught:
            action()
        assert str(path) in str(caught.value) and isinstance(caught.value, LabkitError)
    assert json.loads(victim.read_text()) == {"solved": ["00"]} and path.is_symlink()


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_a_file_that_is_not_regular_never_blocks_and_is_named(tmp_path: Path, kind: str) -> None:
    _, path = _folder(tmp_path)
    os.mkfifo(path) if kind == "fifo" else path.mkdir()
    outcome: list[BaseException | set[str]] = []

    def read() -> None:
        try:
            outcome.append(Progress(path).solved())
        except BaseException as exc:
            outcome.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(30)
    if reader.is_alive():  # the old reader blocks on the FIFO's open: release it, then fail
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(30)
        pytest.fail("reading a FIFO progress file blocked")
    assert len(outcome) == 1 and isinstance(outcome[0], ProgressFileError), outcome
    assert str(path) in str(outcome[0]) and ("FIFO" in str(outcome[0]) or "directory" in str(outcome[0]))
    with pytest.raises(ProgressFileError):
        Progress(path).mark("01")


def test_concurrent_marks_lose_nothing(tmp_path: Path) -> None:
    _, path = _folder(tmp_path)
    lessons = [f"{i:02d}" for i in range(48)]
    errors: list[BaseException] = []

    def mark(chunk: list[str]) -> None:
        try:
            for lesson in chunk:
                Progress(path).mark(lesson)
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=mark, args=(lessons[i::6],)) for i in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not errors and Progress(path).solved() == set(lessons)
    assert [p.name for p in path.parent.iterdir()] == ["progress.json"]


def test_a_corrupt_progress_file_is_not_overwritten_by_a_mark(tmp_path: Path) -> None:
    _, path = _folder(tmp_path)
    path.write_text('{"solved": ["00", "02"')  # cut short: the lessons it names are not thrown away silently
    with pytest.raises(ProgressFileError, match="not a progress file"):
        Progress(path).mark("03")
    assert path.read_text() == '{"solved": ["00", "02"'
    Progress(path).reset()
    Progress(path).mark("03")
    assert Progress(path).solved() == {"03"}


def test_a_missing_folder_is_created_private(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "progress.json"
    Progress(path).mark("07")
    assert Progress(path).solved() == {"07"} and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_planted_folder_symlink_never_redirects_the_write(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "progress.json").write_text(json.dumps({"solved": ["09"]}))
    (tmp_path / ".labkit").symlink_to(elsewhere)
    with pytest.raises(ProgressFileError, match="symbolic link"):
        Progress(tmp_path / ".labkit" / "progress.json").mark("03")
    assert json.loads((elsewhere / "progress.json").read_text()) == {"solved": ["09"]}
