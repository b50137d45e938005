"""The independent corpus: the copy bundled in tests/data/vectors, plus $LABKIT_VECTORS or ../shared/vectors."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from ..helpers import DATA, ROOT

BUNDLED = DATA / "vectors"


def sources() -> dict[str, Path]:
    """Each corpus to run, by label: always the bundled copy; the shared one when it is there (or named)."""
    found = {"bundled": BUNDLED}
    named = os.environ.get("LABKIT_VECTORS")
    if named:
        found["shared"] = Path(named)  # named explicitly: missing is a failure (see test_corpus_present)
    elif (ROOT.parent / "shared" / "vectors").is_dir():
        found["shared"] = ROOT.parent / "shared" / "vectors"
    return found


def load(filename: str) -> dict[str, list[dict[str, Any]]]:
    """The cases of ``filename`` in each source (an empty list where the file is missing)."""
    loaded: dict[str, list[dict[str, Any]]] = {}
    for label, folder in sources().items():
        path = folder / filename
        loaded[label] = json.loads(path.read_text()) if path.is_file() else []
    return loaded


def params(loaded: dict[str, list[dict[str, Any]]]) -> list[Any]:
    """One pytest param per case of every source, its id saying which source: ``bundled:<id>``, ``shared:<id>``.

    A case with an ``ssrf_probe`` listens where its token points (to prove nothing connects there): integration.
    """
    return [pytest.param(case, id=f"{label}:{case['id']}",
                         marks=[pytest.mark.integration] if case.get("ssrf_probe") else [])
            for label, cases in loaded.items() for case in cases]
