"""Lesson 14's challenge: not solved by half an answer, solved by the reference one; decided from the lab's state."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc.jwk import ECKey

from labkit.auth.dpop import make_proof
from labkit.challenges import Progress, start
from labkit.lab import Lab
from labkit.lessons import LabClock

pytestmark = pytest.mark.integration

KEY = ECKey.generate_key("P-256")
WRITE = {"jsonrpc": "2.0", "id": 1, "method": "execute",
         "params": {"capability": "write_operation", "arguments": {"text": "hi"}}}


@pytest.fixture
def lab() -> Iterator[Lab]:
    with Lab(clock=LabClock()) as running:
        yield running


def bound(lab: Lab) -> str:
    url = f"{lab.provider_url}/token"
    issued = httpx.post(url, data={"grant_type": "client_credentials", "scope": "api:write"},
                        auth=("lab-client", "lab-client-secret"),
                        headers={"DPoP": make_proof(KEY, method="POST", url=url, iat=lab.provider.clock())})
    return str(issued.json()["access_token"])


def write(lab: Lab, authorization: str, proof: str | None = None) -> int:
    headers: dict[str, Any] = {"Authorization": authorization, **({"DPoP": proof} if proof else {})}
    return httpx.post(lab.agent_url + "/", json=WRITE, headers=headers).status_code


def test_half_answers_fail_and_the_reference_solves(lab: Lab, tmp_path: Path) -> None:
    progress = tmp_path / "progress.json"
    attempt = start("14", lab, progress=progress)
    assert "bound no token" in attempt.check().message
    plain = lab.token(["api:write"])
    assert write(lab, f"Bearer {plain}") == 200  # a bearer token writes: not what is asked
    token = bound(lab)
    assert write(lab, f"Bearer {token}") == 401  # the stolen-token half only
    half = attempt.check()
    assert not half and "no 200 from write_operation" in half.message and "14" not in Progress(progress).solved()
    proof = make_proof(KEY, method="POST", url=lab.agent_url + "/", iat=lab.provider.clock(), access_token=token)
    assert write(lab, f"DPoP {token}", proof) == 200
    solved = attempt.check()
    assert solved, solved
    assert "14" in Progress(progress).solved()


def test_a_proof_alone_is_half_the_answer(lab: Lab, tmp_path: Path) -> None:
    attempt = start("14", lab, progress=tmp_path / "p.json")
    token = bound(lab)
    proof = make_proof(KEY, method="POST", url=lab.agent_url + "/", iat=lab.provider.clock(), access_token=token)
    assert write(lab, f"DPoP {token}", proof) == 200
    result = attempt.check()
    assert not result and "dpop_required" in result.message


def test_the_lessons_own_work_before_start_does_not_count(lab: Lab, tmp_path: Path) -> None:
    token = bound(lab)
    proof = make_proof(KEY, method="POST", url=lab.agent_url + "/", iat=lab.provider.clock(), access_token=token)
    assert write(lab, f"DPoP {token}", proof) == 200 and write(lab, f"Bearer {token}") == 401
    result = start("14", lab, progress=tmp_path / "p.json").check()
    assert not result and "bound no token" in result.message
