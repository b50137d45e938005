from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from labkit.cli import main

from ..helpers import DATA, ROOT


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


@pytest.mark.integration
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


@pytest.mark.integration
def test_validate_config_malformed_yaml(tmp_path: Path) -> None:
    bad = tmp_path / "agentup.yml"
    bad.write_text("security:\n  oauth2: {\n")
    result = run_cli("validate-config", str(bad))
    assert result.returncode == 1 and "malformed YAML" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.integration
def test_usage_errors_exit_2() -> None:
    assert run_cli().returncode == 2
    assert run_cli("validate-config").returncode == 2
    assert run_cli("no-such-command").returncode == 2


@pytest.mark.integration
def test_missing_file_is_a_usage_error_in_plain_words(tmp_path: Path) -> None:
    result = run_cli("validate-config", str(tmp_path / "missing.yml"))
    assert result.returncode == 2 and "no such file" in result.stderr and "Traceback" not in result.stderr


def _clean_env() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "UV_CACHE_DIR", "VIRTUAL_ENV")
    return {k: v for k, v in os.environ.items() if k in keep}


@pytest.mark.integration
def test_demo_exits_0_and_prints_the_matrix() -> None:
    result = run_cli("demo", env=_clean_env())
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Decision matrix" in result.stdout and "all " in result.stdout and "expectations hold" in result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.integration
def test_serve_mint_audit_and_sigint(tmp_path: Path) -> None:
    audit_file = tmp_path / "audit.jsonl"
    env = {**_clean_env(), "HOME": str(tmp_path)}  # where serve keeps the admin secret (~/.labkit/admin/PORT)
    process = subprocess.Popen(
        [sys.executable, "-m", "labkit", "serve", "--audit-log", str(audit_file)], cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        assert process.stdout is not None
        provider = process.stdout.readline().strip()
        agent = process.stdout.readline().strip()
        assert provider.startswith("provider: http://127.0.0.1:") and agent.startswith("agent: http://127.0.0.1:")
        provider_url, agent_url = provider.split(" ", 1)[1], agent.split(" ", 1)[1]
        secret_file = tmp_path / ".labkit" / "admin" / str(httpx.URL(provider_url).port)
        assert secret_file.stat().st_mode & 0o777 == 0o600 and secret_file.parent.stat().st_mode & 0o777 == 0o700
        for header in ("lab-admin-token", ""):  # the old documented constant opens nothing
            assert httpx.post(provider_url + "/admin/mint", json={"scopes": ["admin"]},
                              headers={"X-Lab-Admin": header}).status_code == 401
        minted = run_cli("mint", "--scope", "api:read", "--provider", provider_url, env=_clean_env())
        assert minted.returncode == 0 and minted.stderr == ""
        token = minted.stdout.strip()
        assert token.count(".") == 2 and "\n" not in token
        call = httpx.post(agent_url + "/", json={"jsonrpc": "2.0", "id": 1, "method": "capabilities"},
                          headers={"Authorization": f"Bearer {token}"})
        assert call.status_code == 200
        expired = run_cli("mint", "--scope", "api:read", "--lifetime", "-5", "--provider", provider_url,
                          env=env).stdout.strip()
        elsewhere = run_cli("mint", "--lifetime", "-5", "--provider", provider_url, env=_clean_env())  # another HOME
        assert elsewhere.returncode == 2 and "admin secret" in elsewhere.stderr and elsewhere.stdout == ""
        wrong = run_cli("mint", "--lifetime", "-5", "--provider", provider_url, env={**env, "LAB_ADMIN_TOKEN": "x"})
        assert wrong.returncode == 1 and "refused (401)" in wrong.stderr
        assert httpx.post(agent_url + "/", json={"jsonrpc": "2.0", "id": 2, "method": "capabilities"},
                          headers={"Authorization": f"Bearer {expired}"}).status_code == 401
        refused = run_cli("mint", "--scope", "admin", "--persona", "limited", "--provider", provider_url,
                          env=_clean_env())
        assert refused.returncode == 1 and "invalid_scope" in refused.stderr and refused.stdout == ""
    finally:
        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
        stopped_in = time.monotonic() - started
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    assert process.returncode == 130 and stopped_in < 2, stopped_in  # 128 + SIGINT, as shells expect
    assert not secret_file.exists()  # kept while the lab ran, removed when it stopped
    table = run_cli("audit", str(audit_file))
    assert table.returncode == 0 and "allow" in table.stdout and "expired" in table.stdout
    assert token not in audit_file.read_text() and token not in table.stdout


@pytest.mark.integration
def test_mint_without_provider_is_a_usage_error() -> None:
    env = {k: v for k, v in _clean_env().items() if k != "LAB_PROVIDER_URL"}
    result = run_cli("mint", env=env)
    assert result.returncode == 2 and "no provider" in result.stderr


@pytest.mark.integration
def test_audit_on_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"decision": "allow"}\nnot json\n')
    result = run_cli("audit", str(bad))
    assert result.returncode == 1 and ":2:" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.integration
@pytest.mark.parametrize("command", ["lab", "serve", "demo", "mint", "audit", "validate-config"])
def test_every_command_has_help(command: str) -> None:
    result = run_cli(command, "--help")
    assert result.returncode == 0 and "usage: labkit" in result.stdout
