"""A progress file that nests deeply (64 KiB of ``[``) is "not a progress file", like any other corrupt content:
``solved()`` reads nothing, ``mark`` refuses to overwrite it and the file is kept. Before, ``json.loads`` raised
``RecursionError`` (not a ``ValueError``) out of both, as a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from labkit.challenges import Progress, ProgressFileError


@pytest.mark.parametrize("content", [b"[" * 65_536, b'{"solved": ' + b"[" * 5_000 + b"]" * 5_000 + b"}",
                                     b"{" + b'"a":{' * 10_000])
def test_a_deeply_nested_progress_file_is_corrupt_not_a_crash(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "progress.json"
    path.write_bytes(content)
    progress = Progress(path)
    assert progress.solved() == set()
    with pytest.raises(ProgressFileError, match="not a progress file"):
        progress.mark("03")
    assert path.read_bytes() == content  # nothing lost


def test_a_progress_file_of_ordinary_depth_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "progress.json"
    Progress(path).mark("01")
    Progress(path).mark("02")
    assert Progress(path).solved() == {"01", "02"}
