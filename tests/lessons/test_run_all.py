"""Run All, with no solution injected, solves nothing: every lesson executed as committed (nbclient, a fresh
progress file) runs without a cell error, records ZERO challenges solved, and its ``check`` cells show the committed
output ("not yet: ..."). That no lesson carries its solution in the flow is tests/lessons/test_course_framework.py's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from labkit.challenges import Progress
from labkit.lab.notebooks import CHECK, NOTEBOOKS_DIR, run_all, tags

LESSONS = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
_VOLATILE = {"application/vnd.jupyter.widget-view+json"}  # model ids are random (nbval skips them too)


def _shown(outputs: list[Any]) -> list[Any]:
    """What a cell shows, without what varies between runs (execution counts, widget model ids, metadata)."""
    shown = []
    for output in outputs:
        if output["output_type"] == "stream":
            shown.append(("stream", output["name"], output["text"]))
        elif output["output_type"] == "error":
            shown.append(("error", output["ename"], output["evalue"]))
        else:
            shown.append(("data", {k: v for k, v in output.get("data", {}).items() if k not in _VOLATILE}))
    return shown


@pytest.mark.integration
@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_run_all_without_solutions_solves_nothing(path: Path, tmp_path: Path) -> None:
    import nbformat

    progress = tmp_path / "progress.json"
    executed = run_all(path, progress)  # raises CellExecutionError on a failing cell
    assert Progress(progress).solved() == set(), f"{path.name}: Run All solved a challenge"
    committed = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    checks = [(i, c) for i, c in enumerate(committed.cells) if CHECK in tags(c)]
    for index, cell in checks:
        assert _shown(executed.cells[index].outputs) == _shown(cell.outputs), f"{path.name}: check cell {index}"
