"""A bare clone passes its tests: the committed HEAD, cloned where no ``../shared`` is beside it.

Runs the fast layer (everything not marked integration) in the clone with this interpreter, so the project's
own environment is reused and nothing is downloaded. ``uv run pytest`` in a fresh clone is the full check;
this one catches a test that reads something outside the repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..helpers import ROOT

GIT = shutil.which("git")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(GIT is None or not (ROOT / ".git").exists(), reason="needs git and a git checkout"),
]


def test_fast_layer_passes_in_a_bare_clone(tmp_path: Path) -> None:
    clone = tmp_path / "bare" / "oauth2-lab"
    subprocess.run([str(GIT), "clone", "-q", "--no-hardlinks", str(ROOT), str(clone)], check=True, timeout=120)
    assert not (clone.parent.parent / "shared").exists() and not (clone.parent / "shared").exists()
    env = {k: v for k, v in os.environ.items() if k not in ("LABKIT_VECTORS", "CI", "PYTHONPATH")}
    env["PYTHONPATH"] = str(clone)  # the clone's labkit, not the checkout the venv was installed from
    where = subprocess.run([sys.executable, "-c", "import labkit, sample_agent; print(labkit.__file__)"],
                           cwd=clone, env=env, capture_output=True, text=True, check=True)
    assert Path(where.stdout.strip()).is_relative_to(clone)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-m", "not integration", "tests"],
        cwd=clone, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout, result.stdout[-500:]
