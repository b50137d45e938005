"""A guard-only install: the core wheel alone in a fresh venv carries no extra, imports no lab code, and every
feature it lacks names the extra to install (the CLI exits 2 with one line, no traceback)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from labkit._extras import COMMAND_EXTRAS, EXTRA_OF

from ..helpers import DATA, ROOT

pytestmark = pytest.mark.integration

# the library's faces: what a service imports
FACES = ["labkit", "labkit.config", "labkit.auth", "labkit.guard", "labkit.state", "labkit.audit",
         "labkit.integrations", "labkit.integrations.starlette"]
# the lab's unsafe parts (its committed private keys load through labkit.provider.keys; labkit.vulnerable) and
# its runner, never on a face's import path
LAB_ONLY = ("labkit.vulnerable", "labkit.provider", "labkit.lab", "labkit.demo", "labkit.widgets", "labkit.challenges",
            "sample_agent")
HEAVY = ("rich", "tqdm", "uvicorn", "authlib", "a2a", "mcp", "pandas", "ipywidgets", "click", "pygments", "jupyterlab")
GIT = shutil.which("git")
ENV = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}


def _loaded(python: Path | str, statement: str, cwd: Path, env: dict[str, str] = ENV) -> list[str]:
    script = f"import sys\n{statement}\nprint('\\n'.join(sorted(sys.modules)))"
    result = subprocess.run([str(python), "-c", script], capture_output=True, text=True, timeout=120, cwd=cwd,
                            env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.split()


@pytest.mark.parametrize("face", [*FACES, "labkit.integrations.fastapi", "labkit.integrations.mcp"])
def test_a_face_loads_no_lab_code_and_no_extra_it_does_not_use(face: str, tmp_path: Path) -> None:
    # the checkout's environment holds every extra: a face that reached for one would load it here. httpx loads
    # its own CLI (rich, click, pygments) when they are installed: hidden, so what remains is labkit's doing
    loaded = _loaded(sys.executable, f"sys.modules['httpx._main'] = None\nimport {face}", tmp_path,
                     {**ENV, "PYTHONPATH": str(ROOT)})  # this checkout's labkit
    assert not [m for m in loaded if any(m == p or m.startswith(p + ".") for p in LAB_ONLY)]
    # the mcp SDK itself imports uvicorn (and uvicorn click)
    own = {"labkit.integrations.mcp": ("mcp", "uvicorn", "click")}.get(face, ())
    assert not [m for m in loaded if m.partition(".")[0] in HEAVY and m.partition(".")[0] not in own]


@pytest.mark.parametrize("module", ["labkit.lab.calls", "labkit.probe.url"])
def test_the_labs_light_modules_do_not_start_the_runner(module: str, tmp_path: Path) -> None:
    # labkit mint and labkit probe need the provider extra only: labkit.lab's face loads Lab on first use
    loaded = _loaded(sys.executable, f"import {module}", tmp_path, {**ENV, "PYTHONPATH": str(ROOT)})
    assert not [m for m in loaded if m.partition(".")[0] in ("a2a", "mcp", "sample_agent") or m == "labkit.lab.runner"]


def test_the_core_wheel_installs_no_extra_and_its_faces_import(core_python: Path, tmp_path: Path) -> None:
    listed = subprocess.run([str(core_python), "-c", "import importlib.metadata as m; "
                             "print('\\n'.join(sorted(d.metadata['Name'].lower() for d in m.distributions())))"],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path, env=ENV).stdout.split()
    for unwanted in ("authlib", "rich", "tqdm", "uvicorn", "click", "pygments", "markdown-it-py", "mdurl",
                     "a2a-sdk", "mcp", "fastapi", "pandas", "jupyterlab", "opentelemetry-sdk"):
        assert unwanted not in listed
    loaded = _loaded(core_python, "; ".join(f"import {face}" for face in FACES), tmp_path)
    assert not [m for m in loaded if m.partition(".")[0] in EXTRA_OF]


COMMANDS = {
    "serve": [], "demo": [], "lab": ["--no-browser"], "cluster": [], "mint": [], "audit": ["/dev/null"],
    "probe": ["http://127.0.0.1:9/"], "explain": ["--sample-agent", str(ROOT / "sample_agent" / "agentup.yml")],
    "classroom": [],
}


def test_every_cli_command_names_the_extra_it_lacks(core_python: Path, tmp_path: Path) -> None:
    assert set(COMMAND_EXTRAS) <= set(COMMANDS)
    labkit_bin = core_python.parent / "labkit"
    for command, rest in COMMANDS.items():
        result = subprocess.run([str(labkit_bin), command, *rest], capture_output=True, text=True, timeout=120,
                                cwd=tmp_path, env=ENV)
        extras = ",".join(COMMAND_EXTRAS.get(command, ("agent",)))  # explain --sample-agent loads the sample agent
        assert (result.returncode, result.stdout) == (2, ""), (command, result.stderr[-2000:])
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
        assert result.stderr.startswith(f"labkit {command} needs the "), result.stderr
        assert result.stderr.endswith(f"pip install 'oauth2-lab[{extras}]'\n"), result.stderr
    for command in ("validate-config", "explain"):  # an app's own configuration needs nothing beyond the core
        checked = subprocess.run([str(labkit_bin), command, str(DATA / "seed" / "01_method1_jwt.yml")],
                                 capture_output=True, text=True, timeout=120, cwd=tmp_path, env=ENV)
        assert checked.returncode == 0 and "Traceback" not in checked.stderr, (command, checked.stderr)


LIBRARY = {
    "import labkit.integrations.fastapi": "labkit.integrations.fastapi needs the fastapi extra",
    "import labkit.integrations.mcp": "labkit.integrations.mcp needs the agent extra",
    "import labkit.provider": "labkit.provider needs the provider extra",
    "import labkit.a2a.push": "labkit.a2a.push needs the agent extra",
    "from labkit.observability import PrometheusSink; PrometheusSink()":
        "labkit.observability.PrometheusSink needs the metrics extra",
}


def test_every_library_feature_names_the_extra_it_lacks(core_python: Path, tmp_path: Path) -> None:
    script = ("import sys\nfrom labkit._extras import MissingExtraError\nfor line in sys.argv[1:]:\n"
              "    try:\n        exec(line)\n    except ImportError as e:\n"
              "        print(type(e).__name__, isinstance(e, MissingExtraError), e, sep='|')\n")
    result = subprocess.run([str(core_python), "-c", script, *LIBRARY], capture_output=True, text=True, timeout=120,
                            cwd=tmp_path, env=ENV)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert len(lines) == len(LIBRARY)
    for line, (statement, expected) in zip(lines, LIBRARY.items(), strict=True):
        kind, typed, message = line.split("|")
        assert (kind, typed) == ("MissingExtraError", "True"), statement
        assert message.startswith(expected + " (no module named ") and "pip install 'oauth2-lab[" in message


def _shipped_lessons() -> set[str]:
    """The files of notebooks/ a clone holds (tracked, or new and not ignored), as the wheel names them."""
    listed = subprocess.run([str(GIT), "ls-files", "--cached", "--others", "--exclude-standard", "notebooks"],
                            capture_output=True, text=True, timeout=60, cwd=ROOT, check=True).stdout.split("\n")
    return {f"labkit/_lessons/{name.removeprefix('notebooks/')}" for name in listed
            if name and (ROOT / name).is_file()}


@pytest.mark.skipif(GIT is None or not (ROOT / ".git").exists(), reason="needs git and a git checkout")
def test_the_wheel_ships_the_lessons_without_their_test_set_up(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    lessons = {name for name in names if name.startswith("labkit/_lessons/")}
    unwanted = {"labkit/_lessons/conftest.py", "labkit/_lessons/nbval_sanitize.cfg"}
    assert not lessons & unwanted
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]
    assert lessons == _shipped_lessons() - unwanted  # everything else in notebooks/ (solutions/ too) ships
    assert {"labkit/_extras.py", "labkit/provider/lab_keys.json", "sample_agent/agentup.yml"} <= names
