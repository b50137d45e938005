"""Installable as a dependency: the wheel, installed into a fresh venv, gives a working ``labkit``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

import labkit

from ..helpers import DATA, ROOT

UV = shutil.which("uv")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_core_dependencies_are_ranges_not_pins() -> None:
    project = PYPROJECT["project"]
    for requirement in project["dependencies"] + [r for rs in project["optional-dependencies"].values() for r in rs]:
        assert "==" not in requirement, f"{requirement}: an exact pin blocks every app that pins a neighbour"
    assert project["license"] == "Apache-2.0"
    assert {"agent", "lab", "fastapi", "redis", "otel"} <= set(project["optional-dependencies"])
    dev = PYPROJECT["dependency-groups"]["dev"]
    assert "oauth2-lab[all]" in dev  # a plain `uv run pytest` from a checkout installs what the tests need


def test_version_has_one_source() -> None:
    assert labkit.__version__ == PYPROJECT["project"]["version"]
    assert (Path(labkit.__file__).parent / "py.typed").is_file()


def run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, **kwargs)  # type: ignore[call-overload]
    assert result.returncode == 0, f"{command}:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    return result  # type: ignore[no-any-return]


def uv_pip_install(python: Path, *requirements: str) -> None:
    """Install from uv's cache when it has everything (``--offline``), else from the index."""
    command = [str(UV), "pip", "install", "-q", "--python", str(python), *requirements]
    if subprocess.run([*command, "--offline"], capture_output=True, timeout=300).returncode != 0:
        run(command)


@pytest.mark.integration
@pytest.mark.skipif(UV is None, reason="uv is not on PATH")
def test_wheel_installs_and_works_in_a_fresh_venv(wheel: Path, tmp_path: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"labkit/py.typed", "labkit/_lessons/00_quickstart.ipynb", "sample_agent/agentup.yml"} <= names
    assert not any(name.startswith(("tests/", "notebooks/")) for name in names)

    run([str(UV), "venv", "-q", "--python", sys.executable, str(tmp_path / "venv")])
    python = tmp_path / "venv" / "bin" / "python"
    labkit_bin = tmp_path / "venv" / "bin" / "labkit"
    uv_pip_install(python, str(wheel))
    work = tmp_path / "work"  # no checkout in sight
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    version = run([str(labkit_bin), "--version"], cwd=work, env=env)
    assert version.stdout.strip() == f"labkit (oauth2-lab) {PYPROJECT['project']['version']}"
    checked = run([str(labkit_bin), "validate-config", str(DATA / "seed" / "01_method1_jwt.yml")], cwd=work, env=env)
    assert "valid" in checked.stdout
    core = ("import labkit.auth, labkit.guard, labkit.middleware, labkit.audit, labkit.scopes, labkit.integrations.starlette;"
            " import importlib.util as u; assert not [m for m in ('a2a', 'mcp', 'fastapi', 'jupyterlab', 'pandas')"
            " if u.find_spec(m)]")
    run([str(python), "-c", core], cwd=work, env=env)

    uv_pip_install(python, f"{wheel}[agent,fastapi]")
    run([str(python), "-c", "import labkit.integrations.fastapi, labkit.integrations.mcp, labkit.a2a.push"], cwd=work, env=env)
    lessons = ("from labkit.cli import _lessons_dir; d = _lessons_dir(None); "
               "print(d, len(list(d.glob('[0-9][0-9]_*.ipynb'))))")
    folder, count = run([str(python), "-c", lessons], cwd=work, env=env).stdout.split()
    shipped = len(list((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")))
    assert Path(folder) == work / "labkit-lessons" and int(count) == shipped
    run([str(python), "-c", "from labkit.lab import Lab; Lab().close()"], cwd=work, env=env)
