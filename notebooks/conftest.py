"""nbval runs the lessons: every cell is an integration test (a kernel and the lesson's lab servers), and their
challenges record progress in a temporary file, never in the working folder."""

from __future__ import annotations

import os
import tempfile

import pytest

os.environ.setdefault("LABKIT_PROGRESS", os.path.join(tempfile.mkdtemp(prefix="labkit-progress-"), "progress.json"))


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark nbval's cells (``IPyNbCell``) ``integration``: ``pytest -m "not integration"`` runs no notebook."""
    for item in items:
        if type(item).__name__ == "IPyNbCell":
            item.add_marker(pytest.mark.integration)
