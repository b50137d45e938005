"""Every command in README.md's bash blocks is run here, as a new user would run it."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from ..helpers import ROOT, free_port

README = (ROOT / "README.md").read_text()
COMMANDS = [line.strip() for block in re.findall(r"```bash\n(.*?)```", README, re.S) for line in block.splitlines()
            if line.strip() and not line.strip().startswith("#")]
UV = shutil.which("uv")
LAB = "uv run --no-dev --extra lab labkit lab"  # the main job installs the lab alone, not the dev group


def test_readme_gives_the_two_commands() -> None:
    assert LAB in COMMANDS and "uv run pytest" in COMMANDS
    ci = (ROOT / ".ci" / "run").read_text()
    assert "\nuv run pytest\n" in ci  # CI runs exactly the README's test command


@pytest.mark.integration
@pytest.mark.skipif(UV is None, reason="uv is not on PATH")
@pytest.mark.parametrize("command", [c for c in COMMANDS if c not in ("uv run pytest", LAB)])
def test_readme_command_runs(command: str) -> None:
    result = subprocess.run(shlex.split(command), cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "UV_FROZEN": "1"})
    assert result.returncode == 0, result.stdout[-1500:] + result.stderr[-1500:]
    assert "Traceback" not in result.stderr


@pytest.mark.integration
@pytest.mark.skipif(UV is None, reason="uv is not on PATH")
def test_readme_lab_command_starts_jupyterlab(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "lab.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [*shlex.split(LAB), "--no-browser", f"--port={port}"], cwd=ROOT, stdout=sink,
            stderr=subprocess.STDOUT, env={**os.environ, "UV_FROZEN": "1", "JUPYTER_RUNTIME_DIR": str(tmp_path)},
        )
        try:
            deadline = time.monotonic() + 120
            # labkit's own summary names JupyterLab's URL (read from the server's runtime file, token included)
            while f"JupyterLab: http://127.0.0.1:{port}/lab?token=" not in log.read_text():
                assert process.poll() is None, log.read_text()[-2000:]
                assert time.monotonic() < deadline, log.read_text()[-2000:]
                time.sleep(0.5)
            text = log.read_text()
            # DESIGN's contract: provider and agent first (JupyterLab's terminals get them as LAB_*_URL)
            assert "provider: http://127.0.0.1:" in text and "agent: http://127.0.0.1:" in text
            assert "lessons: " in text and "$LAB_AGENT_URL" in text
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                raise
