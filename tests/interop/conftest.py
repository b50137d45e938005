"""Fixtures for the interop tests: ``node_flows`` runs one of this folder's Node scripts (independent clients from
npm, pinned in package.json and package-lock.json; installed by ``npm ci --prefix tests/interop``, in .ci/run)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
NodeFlows = Callable[..., dict[str, dict[str, Any]]]


def _missing() -> str | None:
    """Why the pinned clients cannot run here, or None when they can."""
    if shutil.which("node") is None:
        return "node is not installed (Debian: apt-get install nodejs npm)"
    pinned = json.loads((HERE / "package.json").read_text(encoding="utf-8"))["dependencies"]
    for name, version in pinned.items():
        manifest = HERE / "node_modules" / name / "package.json"
        if not manifest.is_file():
            return f"{name} is not installed: run `npm ci --prefix tests/interop` (.ci/run does)"
        installed = json.loads(manifest.read_text(encoding="utf-8")).get("version")
        if installed != version:
            return f"{name} {installed} is installed, {version} is pinned: run `npm ci --prefix tests/interop`"
    return None


@pytest.fixture(scope="session")
def node_flows() -> NodeFlows:
    """Run ``script`` with ``args``; its JSON lines by step. Skips when the clients are not installed (fails under
    CI=true, where .ci/run installs them)."""
    reason = _missing()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"interop clients missing under CI: {reason}")
        pytest.skip(reason)
    node = shutil.which("node")
    assert node is not None

    def run(script: str, *args: str, timeout: float = 180) -> dict[str, dict[str, Any]]:
        done = subprocess.run([node, str(HERE / script), *args], cwd=HERE, capture_output=True, text=True,
                              timeout=timeout, check=False)
        assert done.returncode == 0, f"{script} failed:\n{done.stderr[-6000:]}\n--- stdout ---\n{done.stdout[-3000:]}"
        steps = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        return {step["step"]: step for step in steps}

    return run
