"""Shared fixtures: a fixed clock, paths to data and the shared corpus."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
NOW = 1_767_225_600  # 2026-01-01T00:00:00Z, the lab's fixed clock


def vectors_dir() -> Path:
    """The independent corpus: $LABKIT_VECTORS or ../shared/vectors beside the checkout."""
    return Path(os.environ.get("LABKIT_VECTORS", ROOT.parent / "shared" / "vectors"))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> int:
    return NOW
