"""CLI habits: --json for demo and audit, labkit serve --host/--public-url, labkit --version."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

import labkit
from labkit.audit import AuditEvent, AuditLog
from labkit.cli import main
from labkit.lab import Lab


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"labkit (oauth2-lab) {labkit.__version__}"


def test_audit_json_prints_the_latest_events_as_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(10, path)
    for n in range(5):
        log.record(AuditEvent(decision="allow" if n % 2 else "deny", subject=f"user-{n}\x1b[31m", endpoint="/"))
    log.close()
    assert main(["audit", str(path), "--json", "--last", "3"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out  # a client's control characters stay escaped
    lines = [json.loads(line) for line in out.splitlines()]
    assert [e["subject"] for e in lines] == [AuditEvent(decision="allow", subject=f"user-{n}\x1b[31m").subject
                                             for n in (2, 3, 4)]


@pytest.mark.integration
def test_demo_json_is_one_document(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is True and document["failures"] == 0
    assert {"token", "endpoint", "expected", "actual", "ok"} <= set(document["matrix"][0])
    assert {p["persona"] for p in document["personas"]} >= {"default", "google", "github"}


@pytest.mark.integration
def test_public_url_is_what_the_metadata_and_card_advertise() -> None:
    with Lab(public_url="https://agents.example.test/lab/") as lab:
        metadata = httpx.get(f"{lab.agent_url}/.well-known/oauth-protected-resource").json()
        card = httpx.get(f"{lab.agent_url}/.well-known/agent-card.json").text
    assert metadata["resource"].startswith("https://agents.example.test/lab")
    assert "https://agents.example.test/lab" in card and lab.agent_url not in card


def test_serve_refuses_a_public_url_that_is_not_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--public-url", "javascript:alert(1)"]) == 2
    assert "--public-url must be an http(s) URL" in capsys.readouterr().err


def test_audit_json_reports_an_invalid_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_text('{"decision": "allow"}\nnot json\n')
    assert main(["audit", str(path), "--json"]) == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["decision"] == "allow" and lines[1]["line"] == 2 and lines[1]["invalid"]


@pytest.mark.integration
def test_serve_lists_how_the_config_met_the_sample_agent() -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {**os.environ, "OAUTH2_CLIENT_ID": "lab-web", "OAUTH2_CLIENT_SECRET": "lab-web-secret"}
    process = subprocess.Popen([sys.executable, "-m", "labkit.cli", "serve", "--config",
                                "tests/data/agentup/oauth2_generic.yml"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 30
        lines: list[str] = []
        while time.monotonic() < deadline:
            line = process.stderr.readline() if process.stderr else ""
            lines.append(line)
            if "Ctrl-C stops." in line or not line:
                break
        assert "config: plugin agentup-files -> files\n" in lines
        assert "config: not in the sample agent (ignored): plugin brave_search\n" in lines
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=10)
