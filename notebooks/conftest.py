"""nbval runs the lessons: every cell is an integration test (a kernel and the lesson's lab servers), and their
challenges record progress in a temporary file per notebook, never in the working folder.

A lesson runs with its reference solutions: each ``your-turn`` cell's source is replaced by
``solutions/<key>.py``; the outputs of ``your-turn`` and ``check`` cells are not compared (the committed ones are
what Run All without solutions shows); a last item, ``challenges solved``, fails unless every key the notebook's
``your-turn`` cells name is recorded solved in the notebook's progress file. (``labkit.lab.notebooks`` holds the
conventions.)
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labkit.lab.notebooks import CHECK, solution_key, solution_source, tags

os.environ.setdefault("LABKIT_PROGRESS", os.path.join(tempfile.mkdtemp(prefix="labkit-progress-"), "progress.json"))


@pytest.hookimpl(wrapper=True)
def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> Iterator[None] | Any:
    """nbval's collector of a notebook, replaced by ``LessonFile`` (its subclass: solutions injected)."""
    found: list[Any] = yield
    if not any(type(node).__name__ == "IPyNbFile" for node in found):
        return found  # the unit layer loads no nbval
    lesson_file = _lesson_file_class()
    return [lesson_file.from_parent(parent, path=file_path) if type(node).__name__ == "IPyNbFile" else node
            for node in found]


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark nbval's cells (``IPyNbCell``) ``integration``: ``pytest -m "not integration"`` runs no notebook."""
    for item in items:
        if type(item).__name__ == "IPyNbCell":
            item.add_marker(pytest.mark.integration)


class ChallengesSolved(pytest.Item):
    """The notebook's last item: every challenge its ``your-turn`` cells name is recorded solved."""

    def __init__(self, *, keys: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.keys = keys
        self.add_marker(pytest.mark.integration)

    def runtest(self) -> None:
        from labkit.challenges import Progress

        progress = Progress(self.parent.progress)  # type: ignore[union-attr]  # LessonFile's, set up with its kernel
        missing = [key for key in self.keys if key not in progress.solved()]
        if missing:
            raise AssertionError(f"the reference solutions ran, yet these challenges are not recorded solved: "
                                 f"{', '.join(missing)}")

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"{self.path.name}: challenges solved"


def _lesson_file_class() -> Any:
    """``LessonFile``, defined once nbval is loaded (the unit layer never imports it)."""
    global _LESSON_FILE
    if _LESSON_FILE is not None:
        return _LESSON_FILE
    from nbval.plugin import IPyNbFile

    class LessonFile(IPyNbFile):  # type: ignore[misc]
        """A lesson under nbval with its reference solutions injected, its own progress file, and a last check."""

        def collect(self) -> Iterator[pytest.Item]:
            keys: list[str] = []
            for item in super().collect():
                cell_tags = tags(item.cell)
                try:
                    key = solution_key(item.cell)
                    source = None if key is None else solution_source(self.path.parent, key)
                except (ValueError, FileNotFoundError) as exc:
                    raise self.CollectError(f"{self.path.name}, {item.name}: {exc}") from None
                if key is not None and source is not None:
                    keys.append(key)
                    item.cell = item.cell.copy()
                    item.cell["source"] = source
                if key is not None or CHECK in cell_tags:
                    item.options["check"] = False  # their outputs depend on whether the solution ran
                yield item
            if keys:
                yield ChallengesSolved.from_parent(self, name="challenges solved", keys=tuple(dict.fromkeys(keys)))

        def setup(self) -> None:
            # the kernel inherits the environment: this notebook's challenges record in its own, fresh file
            self.progress = Path(tempfile.mkdtemp(prefix="labkit-progress-")) / "progress.json"
            before = os.environ.get("LABKIT_PROGRESS")
            os.environ["LABKIT_PROGRESS"] = str(self.progress)
            try:
                super().setup()
            finally:
                if before is None:
                    os.environ.pop("LABKIT_PROGRESS", None)
                else:
                    os.environ["LABKIT_PROGRESS"] = before

        def teardown(self) -> None:
            super().teardown()
            if getattr(self, "progress", None) is not None:
                shutil.rmtree(self.progress.parent, ignore_errors=True)

    _LESSON_FILE = LessonFile
    return LessonFile


_LESSON_FILE: Any = None
