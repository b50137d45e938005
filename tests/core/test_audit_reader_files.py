"""``labkit audit FILE`` reads under the audit file's rules (``labkit._files``): a FIFO or a symlink never blocks or
redirects the reader; the command says what is wrong and exits 1."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from labkit.audit import read_audit_file
from labkit.cli import main


@pytest.mark.parametrize("kind", ["fifo", "symlink", "directory"])
def test_the_audit_reader_refuses_what_is_not_a_regular_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str) -> None:
    path = tmp_path / "audit.jsonl"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "symlink":
        (tmp_path / "real.jsonl").write_text("")
        path.symlink_to(tmp_path / "real.jsonl")
    else:
        path.mkdir()
    codes: list[int] = []
    reader = threading.Thread(target=lambda: codes.append(main(["audit", str(path)])), daemon=True)
    reader.start()
    reader.join(30)
    if reader.is_alive():  # the old reader blocks on the FIFO's open: release it, then fail
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(30)
        pytest.fail("labkit audit blocked on a FIFO")
    err = capsys.readouterr().err
    assert codes == [1], err
    assert {"fifo": "FIFO", "symlink": "symbolic link", "directory": "directory"}[kind] in err
    with pytest.raises(OSError):
        read_audit_file(path)
