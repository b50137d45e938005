"""The labkit trees a benchmark compares: this checkout, and optionally another (a git revision or a folder).

A side is a label and a folder put first on ``PYTHONPATH`` of the processes that measure it, so they import
that folder's ``labkit`` and ``sample_agent`` while the benchmark scripts stay this checkout's.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def sides(against: str | None) -> Iterator[list[tuple[str, str]]]:
    """``[(label, folder)]``: this tree, then ``against`` (a folder holding ``labkit/``, or a git revision exported
    with ``git archive`` to a temporary folder, removed afterwards). Raises ``SystemExit`` when it is neither."""
    here = [("this tree", str(ROOT))]
    if against is None:
        yield here
        return
    folder = Path(against).expanduser()
    if (folder / "labkit").is_dir():
        yield [*here, (str(folder), str(folder.resolve()))]
        return
    git = shutil.which("git") or "git"
    try:
        archive = subprocess.run([git, "-C", str(ROOT), "archive", against], check=True, capture_output=True).stdout
    except subprocess.CalledProcessError as exc:
        raise SystemExit(f"--against {against}: neither a folder holding labkit/ nor a git revision "
                         f"({exc.stderr.decode(errors='replace').strip()})") from None
    with tempfile.TemporaryDirectory(prefix="labkit-against-") as base:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(base, filter="data")
        yield [*here, (against, base)]


def env_for(folder: str) -> dict[str, str]:
    """The environment of a process that measures the tree in ``folder``."""
    return {**os.environ, "PYTHONPATH": folder}
