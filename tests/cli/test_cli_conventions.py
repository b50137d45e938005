"""CLI conventions: usage and I/O errors exit 2 in plain words, --json for CI, whole tables in a pipe, a quiet
broken pipe, a description for every subcommand, and explain for the user's own app."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from labkit._tables import emit
from labkit.cli import _parser, main

from ..helpers import DATA

SEED_JWT = DATA / "seed" / "01_method1_jwt.yml"
SAMPLE = Path(__file__).resolve().parents[2] / "sample_agent" / "agentup.yml"


@pytest.mark.parametrize("argv", [
    ["mint", "--provider", "not-a-url"],
    ["mint", "--provider", "ftp://127.0.0.1/"],
    ["mint", "--provider", "http:///no-host"],
    ["probe", "file:///etc/passwd"],
    ["probe", "http://127.0.0.1:1/", "--client-id", "x", "--client-secret", "y", "--token-url", "nope"],
    ["mint", "--provider", "http://127.0.0.1:1", "--resource", "not a url"],
])
def test_a_bad_url_is_a_usage_error_in_plain_words(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "not an http(s) URL" in err and "Traceback" not in err and "UnsupportedProtocol" not in err


def test_mint_resource_and_an_admin_option_are_not_both_taken(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mint", "--provider", "http://127.0.0.1:1", "--resource", "http://127.0.0.1:2/mcp",
                 "--audience", "api://x"]) == 2
    assert "give one" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["validate-config", "explain"])
def test_unreadable_files_exit_2_and_say_what(command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, str(tmp_path / "nope.yml")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main([command, str(tmp_path)]) == 2
    assert "not a regular file" in capsys.readouterr().err


def test_validate_config_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate-config", str(SEED_JWT), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["valid"] is True and document["strategy"] == "jwt" and "algorithms" in document
    bad = tmp_path / "bad.yml"
    bad.write_text("security:\n  oauth2:\n    validation_strategy: sideways\n", encoding="utf-8")
    assert main(["validate-config", str(bad), "--json"]) == 1
    invalid = json.loads(capsys.readouterr().out)
    assert invalid["valid"] is False and invalid["errors"] and all("path" in e for e in invalid["errors"])


def test_explain_json_names_the_policy_and_the_weaknesses(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", str(SAMPLE), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["valid"] is True and document["policy"] and "sample_agent" not in document
    assert all({"endpoint", "call", "requires", "granted_by"} <= set(row) for row in document["policy"])
    assert main(["explain", str(SAMPLE), "--json", "--sample-agent"]) == 0
    with_agent = json.loads(capsys.readouterr().out)
    assert any(row["endpoint"] == "POST /mcp" for row in with_agent["sample_agent"]["policy"])


def test_explain_explains_an_apps_own_plugins(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    own = tmp_path / "app.yml"
    own.write_text(
        "security:\n  oauth2:\n    validation_strategy: jwt\n    jwks_url: https://idp.example/jwks\n"
        "    jwt_algorithm: RS256\n    jwt_issuer: https://idp.example\n    jwt_audience: api://billing\n"
        "  scope_hierarchy:\n    billing:admin: [billing:write]\n    billing:write: [billing:read]\n"
        "plugins:\n  - plugin_id: invoices\n    required_scopes: [billing:read]\n    capabilities:\n"
        "      - capability_id: refund\n        required_scopes: [billing:write]\n", encoding="utf-8")
    assert main(["explain", str(own)]) == 0
    out = capsys.readouterr().out
    refund = next(line for line in out.splitlines() if "refund" in line)
    assert "billing:write" in refund and "billing:admin" in refund  # granted by, after the hierarchy
    assert "POST /mcp" not in out  # not the sample agent's endpoints unless asked


def test_every_subcommand_has_a_description() -> None:
    parser = _parser()
    commands = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, sub in commands.choices.items():  # type: ignore[attr-defined]
        assert sub.description and len(sub.description.splitlines()) == 1, name


def test_tables_in_a_pipe_are_whole_tsv_lines() -> None:
    out = io.StringIO()
    long = "x" * 400
    emit("a title", ["a", "b"], [["1", ("yes", "green")], [long, "tab\there\nnewline"]], stream=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "# a title" and lines[1] == "a\tb" and lines[2] == "1\tyes"
    assert lines[3].split("\t") == [long, "tab\\x09here\\x0anewline"]  # escaped, never a broken row


@pytest.mark.integration
def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    command = f"{sys.executable} -m labkit explain {SAMPLE} --sample-agent | head -1"
    result = subprocess.run([shutil.which("bash") or "/bin/bash", "-o", "pipefail", "-c", command], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.stdout.strip() and "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr
    assert result.returncode in (0, 141), result.stderr


@pytest.mark.integration
def test_mint_resource_audience_and_subject(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from labkit.lab import Lab, inspect_token

    with Lab() as lab:
        resource = f"{lab.agent_url}/mcp"
        assert main(["mint", "--provider", lab.provider_url, "--resource", resource]) == 0
        bound = capsys.readouterr().out.strip()
        assert inspect_token(bound)["claims"]["aud"] in (resource, [resource])
        assert lab.call("tools/list", {}, token=bound, path="/mcp").status == 200
        monkeypatch.setenv("LAB_ADMIN_TOKEN", lab.provider.admin_token)
        assert main(["mint", "--provider", lab.provider_url, "--audience", "api://billing", "--subject", "bob"]) == 0
        claims = inspect_token(capsys.readouterr().out.strip())["claims"]
        assert claims["aud"] in ("api://billing", ["api://billing"]) and claims["sub"] == "bob"
