"""Fixtures for the packaging tests: the wheel, built once a session, and a fresh venv with only its core."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..helpers import ROOT

UV = shutil.which("uv")


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{command}:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The project's wheel, built from this checkout into a temporary folder."""
    if UV is None:
        pytest.skip("uv is not on PATH")
    out = tmp_path_factory.mktemp("dist")
    _run([UV, "build", "--wheel", "-q", "-o", str(out), str(ROOT)])
    (built,) = out.glob("oauth2_lab-*.whl")
    yield built


@pytest.fixture(scope="session")
def core_python(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The interpreter of a fresh venv holding the wheel without any extra (from uv's cache when it can)."""
    assert UV is not None
    venv = tmp_path_factory.mktemp("core") / "venv"
    _run([UV, "venv", "-q", "--python", sys.executable, str(venv)])
    python = venv / "bin" / "python"
    install = [UV, "pip", "install", "-q", "--python", str(python), str(wheel)]
    if subprocess.run([*install, "--offline"], capture_output=True, timeout=300).returncode != 0:
        _run(install)
    return python
