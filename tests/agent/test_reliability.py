"""Faults survived, nothing lost, nothing leaked (marker ``reliability``)."""

from __future__ import annotations

import random
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from labkit.lab import Lab, LabClock
from labkit.provider import unsafe

from ..helpers import ROOT

pytestmark = [pytest.mark.reliability, pytest.mark.integration]
BASE = {"jwt_issuer": "${LAB_PROVIDER_URL}", "jwt_audience": "api://oauth2-lab-agent", "introspection_timeout": 1}


def execute(lab: Lab, token: str | None, capability: str = "echo") -> httpx.Response:
    return lab.rpc("execute", {"capability": capability, "arguments": {"text": "x"}}, token=token)


@pytest.mark.parametrize("fault", [{"status": 500}, {"latency": 2.0}, {"malformed": True}, {"missing_key": True},
                                   {"drop": True}])
def test_jwks_faults_fail_closed_keep_known_keys_and_recover(fault: dict[str, Any]) -> None:
    clock = LabClock(time.time())
    with Lab({"security": {"oauth2": {"jwks_url": "${LAB_PROVIDER_URL}/jwks", **BASE}}}, clock=clock) as lab:
        known = lab.provider.mint(["api:read"], lifetime=86_400)
        assert execute(lab, known).status_code == 200  # the agent now holds the keys
        lab.provider.faults.set("jwks", **fault)
        clock.advance(400)  # the JWKS cache is due for a refresh, which fails
        assert execute(lab, known).status_code == 200  # stale-on-error: keys it holds keep working
        rotated = lab.provider.rotate_keys(algorithms=("RS256",))[0]
        unknown = lab.provider.mint(["api:read"], lifetime=86_400)
        response = execute(lab, unknown)
        assert response.status_code == 401 and response.json()["error"]["message"] == "Unauthorized"
        assert lab.audit.events()[-1].reason in ("key", "jwks_unavailable")
        clock.advance(3_700)
        if fault.get("missing_key"):
            # the JWKS still answers (with the retired keys only): the known key is simply still published
            assert execute(lab, known).status_code == 200
        else:  # beyond max_stale: fail closed even for the known key
            assert execute(lab, known).status_code == 401
            assert lab.audit.events()[-1].reason == "jwks_unavailable"
        lab.provider.faults.reset()
        clock.advance(11)
        assert execute(lab, unknown).status_code == 200 and rotated  # recovered


@pytest.mark.parametrize(("fault", "reason"), [({"status": 500}, "introspection_error"),
                                               ({"latency": 2.0}, "timeout"),
                                               ({"malformed": True}, "introspection_error"),
                                               ({"drop": True}, "introspection_error")])
def test_introspection_faults_fail_closed(fault: dict[str, Any], reason: str) -> None:
    block = {"validation_strategy": "introspection", "introspection_endpoint": "${LAB_PROVIDER_URL}/introspect",
             "client_id": "lab-agent", "client_secret": "lab-agent-secret", "introspection_timeout": 1}
    with Lab({"security": {"oauth2": block}}) as lab:
        opaque = lab.token(["api:read"], persona="opaque")
        lab.provider.faults.set("introspect", **fault)
        response = execute(lab, opaque)
        assert response.status_code == 401 and lab.audit.events()[-1].reason == reason
        lab.provider.faults.reset()
        assert execute(lab, opaque).status_code == 200


def test_key_rotation_under_load() -> None:
    # Rotations 1.5 s apart; unknown-kid refetches are allowed once a second.
    config = {"security": {"oauth2": {"jwks_url": "${LAB_PROVIDER_URL}/jwks", "jwks_refresh_cooldown": 1, **BASE}}}
    with Lab(config) as lab:
        failures: list[int] = []
        stop = threading.Event()

        def client() -> None:
            with httpx.Client(base_url=lab.agent_url, timeout=30) as http:
                while not stop.is_set():
                    token = lab.provider.mint(["api:read"])
                    response = http.post("/", json={"jsonrpc": "2.0", "id": 1, "method": "capabilities"},
                                         headers={"Authorization": f"Bearer {token}"})
                    if response.status_code != 200:
                        failures.append(response.status_code)

        threads = [threading.Thread(target=client) for _ in range(4)]
        for thread in threads:
            thread.start()
        for _ in range(3):
            time.sleep(0.75)
            lab.provider.rotate_keys()
            time.sleep(0.75)
        stop.set()
        for thread in threads:
            thread.join()
        allowed = [e for e in lab.audit.events() if e.decision == "allow"]
        assert not failures and len(allowed) > 50


def test_concurrent_mixed_traffic_every_decision_right(tmp_path: Path) -> None:
    clock = LabClock(time.time())  # frozen: the rate limiter's budget is exact
    audit_file = tmp_path / "audit.jsonl"
    config = {
        "security": {"oauth2": {"jwks_url": "${LAB_PROVIDER_URL}/jwks", **BASE},
                     "scope_hierarchy": {"api:write": ["api:read"]}},
        "middleware": [{"name": "rate_limited", "params": {"requests_per_minute": 40}},
                       {"name": "cached", "params": {"ttl": 60}}],
    }
    with Lab(config, clock=clock, audit_path=audit_file) as lab:
        provider = lab.provider
        kinds: dict[str, tuple[list[str], int, str]] = {
            "valid": ([provider.mint(["api:read"], subject=f"user-{i}") for i in range(20)], 200, "echo"),
            "expired": ([provider.mint(["api:read"], lifetime=-10)], 401, "echo"),
            "forged": ([unsafe.unsafe_foreign_key(provider)], 401, "echo"),
            "insufficient": ([provider.mint(["files:read"])], 403, "echo"),
            "missing": ([""], 401, "echo"),
            "limited writer": ([provider.mint(["api:write"], subject="writer")], 0, "write_operation"),
        }
        plan = [kind for kind in kinds for _ in range(600 if kind != "limited writer" else 100)]
        random.Random(7).shuffle(plan)
        chunks = [plan[i::16] for i in range(16)]
        results: list[tuple[str, int, str]] = []
        lock = threading.Lock()
        secrets_seen: set[str] = set()

        def worker(items: list[str]) -> None:
            with httpx.Client(base_url=lab.agent_url, timeout=60) as http:
                for kind in items:
                    tokens, _, capability = kinds[kind]
                    token = random.choice(tokens)
                    headers = {"Authorization": f"Bearer {token}"} if token else {}
                    response = http.post("/", headers=headers, json={
                        "jsonrpc": "2.0", "id": 1, "method": "execute",
                        "params": {"capability": capability, "arguments": {"text": kind}}})
                    with lock:
                        results.append((kind, response.status_code, response.text))

        threads = [threading.Thread(target=worker, args=(chunk,)) for chunk in chunks]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        statuses = Counter((kind, status) for kind, status, _ in results)
        assert len(results) == len(plan)
        assert all(status < 500 for _, status, _ in results)
        for kind, (_, expected, _) in kinds.items():
            if expected:
                assert statuses[(kind, expected)] == plan.count(kind), (kind, statuses)
        assert statuses[("limited writer", 200)] == 40 and statuses[("limited writer", 429)] == 60
        assert lab.audit.total == len(plan)  # exactly one event per request
        for tokens, _, _ in kinds.values():
            secrets_seen.update(t for t in tokens if t)
    # no token, signature part or client secret anywhere: audit file and every body
    written = audit_file.read_text()
    bodies = "".join(text for _, _, text in results)
    for token in secrets_seen:
        signature = token.split(".")[-1]
        assert token not in written and token not in bodies
        assert signature not in written and signature not in bodies
    for secret in ("lab-client-secret", "lab-agent-secret", lab.provider.admin_token):
        assert secret not in written and secret not in bodies


def test_memory_of_100k_distinct_tokens_is_bounded() -> None:
    script = ROOT / "benchmarks" / "validators.py"
    result = subprocess.run([sys.executable, str(script), "--memory-only", "--memory-tokens", "100000"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    grown = float(result.stdout.strip().rsplit(" ", 1)[-1])
    assert grown <= 64, f"RSS grew by {grown:.1f} MB"
