from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from labkit.cli import main

from .conftest import DATA, ROOT


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "labkit", *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60
    )


@pytest.mark.parametrize("path", sorted((DATA / "seed").glob("*.yml")), ids=lambda p: p.stem)
def test_validate_config_accepts_seed_examples(path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    for name, value in {
        "OAUTH_CLIENT_ID": "c", "OAUTH_CLIENT_SECRET": "s", "GITHUB_CLIENT_ID": "g", "GITHUB_CLIENT_SECRET": "s",
        "JWT_SECRET": "x" * 32,
    }.items():
        monkeypatch.setenv(name, value)
    assert main(["validate-config", str(path)]) == 0
    assert "valid" in capsys.readouterr().out


def test_validate_config_lists_every_error_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "agentup.yml"
    bad.write_text(
        "security:\n  oauth2:\n    validation_strategy: jwtt\n    jwt_audiance: x\n    jwt_secret: short\n"
        "middleware:\n  - name: cachd\n"
    )
    result = run_cli("validate-config", str(bad))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    for path in ("security.oauth2.validation_strategy", "security.oauth2.jwt_audiance", "middleware[0].name"):
        assert path in result.stderr
    assert "short" not in result.stderr  # the secret is never echoed


def test_validate_config_malformed_yaml(tmp_path: Path) -> None:
    bad = tmp_path / "agentup.yml"
    bad.write_text("security:\n  oauth2: {\n")
    result = run_cli("validate-config", str(bad))
    assert result.returncode == 1 and "malformed YAML" in result.stderr and "Traceback" not in result.stderr


def test_usage_errors_exit_2() -> None:
    assert run_cli().returncode == 2
    assert run_cli("validate-config").returncode == 2
    assert run_cli("no-such-command").returncode == 2


def test_missing_file_exits_1(tmp_path: Path) -> None:
    result = run_cli("validate-config", str(tmp_path / "missing.yml"))
    assert result.returncode == 1 and "cannot read the file" in result.stderr
