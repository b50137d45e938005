"""Regenerate the lessons' committed outputs: ``uv run python -m labkit.notebooks [NOTEBOOK ...]``.

Executes each notebook in a fresh kernel (nbclient) and saves it with its outputs, so that nbval in
strict mode compares the next run against them. Prints each notebook's wall time.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["NOTEBOOKS_DIR", "main", "regenerate"]

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"


def regenerate(paths: Sequence[Path] | None = None, timeout: int = 300) -> dict[str, float]:
    """Execute and save notebooks; returns seconds per notebook. Raises ``CellExecutionError`` on a failing cell."""
    import nbformat
    from nbclient import NotebookClient

    # Challenges solved while regenerating are recorded in a temporary file, not in the learner's progress.
    os.environ.setdefault("LABKIT_PROGRESS", os.path.join(tempfile.mkdtemp(prefix="labkit-progress-"), "progress.json"))
    chosen = list(paths) if paths else sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
    timings: dict[str, float] = {}
    for path in chosen:
        notebook = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
        started = time.perf_counter()
        NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
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


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    args = list(sys.argv[1:] if argv is None else argv)
    timings = regenerate([Path(a) for a in args] or None)
    for name, seconds in timings.items():
        print(f"{name}: {seconds:.1f}s")
    print(f"total: {sum(timings.values()):.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
