"""Regenerate the lessons' committed outputs: ``uv run python -m labkit.lab.notebooks [NOTEBOOK ...]``.

Executes each notebook in a fresh kernel (nbclient) and saves it with its outputs, so that nbval in
strict mode compares the next run against them. Prints each notebook's wall time. The committed outputs are what
Run All shows a learner: the ``your-turn`` cells run as they are (comments), so ``check`` cells say "not yet".

The lesson cell conventions live here too (one home for the harness in ``notebooks/conftest.py`` and the Run-All
test): a ``your-turn`` cell names its challenge in ``{"labkit": {"solution": key}}``; its reference solution is
``solutions/<key>.py`` beside the notebook; a ``check`` cell's output depends on whether the solution ran.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["CHECK", "NOTEBOOKS_DIR", "SOLUTION", "YOUR_TURN", "main", "regenerate", "run_all", "solution_key",
           "solution_source", "tags"]

YOUR_TURN, CHECK, SOLUTION = "your-turn", "check", "solution"  # cell tags (SOLUTION: the old, hidden solution cell)
_KEY = re.compile(r"[0-9]{2}(\.[a-z0-9_]{1,40})?")  # "00", "10.alg_none": never a path

NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"


def run_all(path: Path, progress: Path, timeout: int = 300) -> Any:
    """``path`` executed as committed (Run All, no solution injected) in a fresh kernel whose challenges record in
    ``progress``; returns the executed notebook. Raises ``CellExecutionError`` on a failing cell."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute(
        env={**os.environ, "LABKIT_PROGRESS": str(progress)})
    return notebook


def regenerate(paths: Sequence[Path] | None = None, timeout: int = 300) -> dict[str, float]:
    """Execute and save notebooks; returns seconds per notebook. Raises ``CellExecutionError`` on a failing cell."""
    import nbformat

    shipped = [*sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb")), NOTEBOOKS_DIR / "progress.ipynb"]
    chosen = list(paths) if paths else shipped
    timings: dict[str, float] = {}
    for path in chosen:
        started = time.perf_counter()
        # what a learner sees on a first Run All: challenges record in a fresh temporary file, not in their progress
        with tempfile.TemporaryDirectory(prefix="labkit-progress-") as folder:
            notebook = run_all(path, Path(folder) / "progress.json", timeout)
        timings[path.name] = time.perf_counter() - started
        _drop_kernel_noise(notebook)
        nbformat.write(notebook, path)  # type: ignore[no-untyped-call]
    return timings


_NOISE = ("IOStream.flush timed out\n",)  # ipykernel's own complaint on a loaded machine, never the lesson's


def _drop_kernel_noise(notebook: Any) -> None:
    """Remove the kernel's stderr noise from the outputs, so that a reference made on a busy machine does not
    expect it."""
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs
                            if not (o.get("output_type") == "stream" and o.get("name") == "stderr"
                                    and "".join(o.get("text", "")) in _NOISE)]


def tags(cell: Any) -> list[str]:
    """The tags of a notebook cell (``[]`` when it has none or they are not a list of strings)."""
    found = cell.get("metadata", {}).get("tags", [])
    return [t for t in found if isinstance(t, str)] if isinstance(found, list) else []


def solution_key(cell: Any) -> str | None:
    """The challenge key a ``your-turn`` cell names, None for any other cell.

    Raises ``ValueError`` for a ``your-turn`` cell without a valid ``{"labkit": {"solution": key}}``.
    """
    if YOUR_TURN not in tags(cell):
        return None
    labkit = cell.get("metadata", {}).get("labkit")
    key = labkit.get("solution") if isinstance(labkit, dict) else None
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise ValueError(f"a your-turn cell needs metadata {{'labkit': {{'solution': '<key>'}}}} with a challenge "
                         f"key such as '00' or '10.alg_none'; found {key!r}")
    return key


def solution_source(folder: Path, key: str) -> str:
    """The reference solution of ``key`` for the lessons in ``folder`` (``solutions/<key>.py``).

    Raises ``ValueError`` for a key that is not a challenge key, ``FileNotFoundError`` when none is there.
    """
    if not _KEY.fullmatch(key):
        raise ValueError(f"not a challenge key: {key!r}")
    path = folder / "solutions" / f"{key}.py"
    if not path.is_file():
        raise FileNotFoundError(f"no reference solution for challenge {key}: {path} is missing")
    return path.read_text(encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    args = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in args):
        print("usage: python -m labkit.lab.notebooks [NOTEBOOK ...]  (default: every lesson and progress.ipynb)")
        return 0
    missing = [a for a in args if not Path(a).is_file() or not a.endswith(".ipynb")]
    if missing:
        print(f"labkit.lab.notebooks: not a notebook file: {', '.join(missing)}", file=sys.stderr)
        return 2
    timings = regenerate([Path(a) for a in args] or None)
    for name, seconds in timings.items():
        print(f"{name}: {seconds:.1f}s")
    print(f"total: {sum(timings.values()):.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
