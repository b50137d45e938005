"""Every lesson's challenge: solved by its reference answer, not solved by a wrong one; progress in a local file."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from labkit.challenges import CHALLENGES, CheckResult, Progress, default_progress_path, progress_table, start
from labkit.lab import Lab, LabClock

JWKS_BLOCK = {"jwks_url": "${LAB_PROVIDER_URL}/jwks", "jwt_algorithms": ["RS256"], "jwt_issuer": "${LAB_PROVIDER_URL}",
              "jwt_audience": "api://oauth2-lab-agent"}


@pytest.fixture
def lab() -> Iterator[Lab]:
    with Lab(clock=LabClock(), vulnerable=True) as running:
        yield running


def check(lesson: str, lab: Lab, tmp_path: Path, **answer: Any) -> CheckResult:
    attempt = start(lesson, lab, progress=tmp_path / "progress.json")
    result = attempt.check(**answer)
    assert (lesson in Progress(tmp_path / "progress.json").solved()) is result.solved
    return result


def execute(lab: Lab, capability: str, token: str, path: str = "/") -> int:
    args = {"path": "note.txt", "content": "x", "text": "x"}
    return lab.execute(capability, args, token=token, path=path).status


# -- one (wrong, right) pair per lesson: each function acts on the lab, then the check decides ---------------------
# (lessons 01, 02, 05, 06, 07: a table of wrong answers each in tests/lessons/wrong_answers/)
def wrong_00(lab: Lab) -> dict[str, Any]:
    execute(lab, "write_operation", lab.token(["api:read"]))
    return {}


def right_00(lab: Lab) -> dict[str, Any]:
    wrong_00(lab)
    execute(lab, "write_operation", lab.token(["api:write"]))
    return {}


def wrong_03(lab: Lab) -> dict[str, Any]:
    token = lab.token(["api:write", "files:write"])  # does the job, and reaches write_operation too
    for capability in ("get_time", "write_file", "write_operation"):
        execute(lab, capability, token)
    return {}


def right_03(lab: Lab) -> dict[str, Any]:
    token = lab.token(["api:read", "files:write"])
    for capability in ("get_time", "write_file", "write_operation"):
        execute(lab, capability, token)
    return {}


def wrong_04(lab: Lab) -> dict[str, Any]:
    lab.rpc("tools/list", {}, token=lab.token(["api:read"], tenant="acme"), path="/t/acme/mcp")  # acme's default aud
    return {}


def right_04(lab: Lab) -> dict[str, Any]:
    metadata = lab.client().get("/.well-known/oauth-protected-resource/t/acme/mcp").json()
    token = lab.token(["api:read"], tenant="acme", resource=metadata["resource"])
    lab.rpc("tools/list", {}, token=token, path="/t/acme/mcp")
    return {}


def wrong_08(lab: Lab) -> dict[str, Any]:
    token = lab.token(["files:write"], tenant="globex")  # globex's hierarchy: files:write does not imply files:read
    for capability in ("write_file", "read_file"):
        execute(lab, capability, token, path="/t/globex/")
    return {}


def right_08(lab: Lab) -> dict[str, Any]:
    token = lab.token(["files:write", "files:read"], tenant="globex")
    for capability in ("write_file", "read_file"):
        execute(lab, capability, token, path="/t/globex/")
    return {}


def wrong_09(lab: Lab) -> dict[str, Any]:
    lab.webhooks.expect_token("challenge", "my-token")  # guessable: not a secret
    params = {"message": {"role": "user", "messageId": str(uuid.uuid4()), "parts": [{"kind": "text", "text": "hi"}]},
              "configuration": {"pushNotificationConfig": {"url": lab.webhooks.url("challenge"), "token": "my-token"}}}
    lab.rpc("message/send", params, token=lab.token(["api:read", "push:write"]))
    return {}


def right_09(lab: Lab) -> dict[str, Any]:
    secret = secrets.token_urlsafe(24)
    lab.webhooks.expect_token("challenge", secret)
    params = {"message": {"role": "user", "messageId": str(uuid.uuid4()), "parts": [{"kind": "text", "text": "hi"}]},
              "configuration": {"pushNotificationConfig": {"url": lab.webhooks.url("challenge"), "token": secret}}}
    lab.rpc("message/send", params, token=lab.token(["api:read", "push:write"]))
    return {}


def _code_flow(lab: Lab, auth_method: str, resource: str) -> int:
    """Register a client by RFC 7591, take it through the code flow with PKCE, call tools/list on /mcp."""
    callback = "http://127.0.0.1:8123/callback"
    client = httpx.post(f"{lab.provider_url}/register", json={
        "redirect_uris": [callback], "token_endpoint_auth_method": auth_method, "grant_types": ["authorization_code"],
        "scope": "api:read"}).json()
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    redirect = httpx.get(f"{lab.provider_url}/authorize", params={
        "response_type": "code", "client_id": client["client_id"], "redirect_uri": callback, "scope": "api:read",
        "state": "s", "code_challenge": challenge, "code_challenge_method": "S256", "resource": resource})
    code = parse_qs(urlsplit(redirect.headers["location"]).query)["code"][0]
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": callback, "code_verifier": verifier,
            "resource": resource}
    if auth_method == "none":
        data["client_id"] = client["client_id"]
    auth = (client["client_id"], client["client_secret"]) if auth_method != "none" else None
    token = httpx.post(f"{lab.provider_url}/token", data=data, auth=auth).json()["access_token"]
    return lab.call("tools/list", {}, token=token, path="/mcp").status


def wrong_12(lab: Lab) -> dict[str, Any]:
    assert _code_flow(lab, "none", f"{lab.agent_url}/mcp") == 200  # a public client (as the SDK registers)
    assert _code_flow(lab, "client_secret_basic", "api://oauth2-lab-agent") == 200  # not the /mcp resource
    return {}


def right_12(lab: Lab) -> dict[str, Any]:
    assert _code_flow(lab, "client_secret_basic", f"{lab.agent_url}/mcp") == 200
    return {}


# every wrong_NN/right_NN pair above (lessons 11 and 15: tests/lessons/wrong_answers/test_{11,15}.py)
SOLUTIONS: dict[str, tuple[Callable[[Lab], dict[str, Any]], Callable[[Lab], dict[str, Any]]]] = {
    name[-2:]: (globals()[f"wrong_{name[-2:]}"], globals()[name]) for name in list(globals()) if name.startswith("right_")}


@pytest.mark.integration
@pytest.mark.parametrize("lesson", sorted(SOLUTIONS))
def test_wrong_answer_fails_then_reference_solves(lesson: str, lab: Lab, tmp_path: Path) -> None:
    wrong, right = SOLUTIONS[lesson]
    attempt = start(lesson, lab, progress=tmp_path / "progress.json")
    failed = attempt.check(**wrong(lab))
    assert not failed.solved and failed.message, failed
    solved = attempt.check(**right(lab))
    assert solved.solved, solved


# the checks that read what happened (audit log, provider store): the lesson's own work before start() is not
# the learner's, so a right answer done before the challenge started does not solve it
BEFORE_START = ["00", "03", "04", "08", "12"]  # 02: tests/lessons/wrong_answers/test_02.py


@pytest.mark.integration
@pytest.mark.parametrize("lesson", BEFORE_START)
def test_work_done_before_start_does_not_count(lesson: str, lab: Lab, tmp_path: Path) -> None:
    SOLUTIONS[lesson][1](lab)
    attempt = start(lesson, lab, progress=tmp_path / "progress.json")
    assert not attempt.check(), lesson
    assert lesson not in Progress(tmp_path / "progress.json").solved()


def test_every_lesson_has_a_challenge_with_hints() -> None:
    # lesson 10's sub-challenges ("10.alg_none", ...) are tested in tests/lessons/wrong_answers/test_10.py
    assert {f"{n:02d}" for n in range(15)} <= {key.split(".")[0] for key in CHALLENGES}
    assert all(c.lesson == lesson and 1 <= len(c.hints) <= 3 for lesson, c in CHALLENGES.items())
    attempt = start("03", None)
    assert [attempt.hint()[:6] for _ in range(4)] == ["hint 1", "hint 2", "hint 3", "no mor"]
    assert not attempt.check() and "Challenge 03" in repr(attempt)
    with pytest.raises(KeyError):
        start("99", None)


def test_progress_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "deep" / "progress.json"
    progress = Progress(path)
    assert progress.solved() == set()
    progress.mark("03")
    progress.mark("00")
    assert json.loads(path.read_text()) == {"solved": ["00", "03"]}
    assert list(progress_table(path)["solved"])[:4] == [True, False, False, True]
    for broken in ("{", '{"solved": "00"}', "[1, 2]", '{"solved": [1, "02"]}'):
        path.write_text(broken)
        assert progress.solved() <= {"02"}
    path.write_text(" " * 70_000)
    assert progress.solved() == set()
    progress.reset()
    assert not path.exists()
    monkeypatch.setenv("LABKIT_PROGRESS", str(tmp_path / "env.json"))
    assert default_progress_path() == tmp_path / "env.json"
    monkeypatch.delenv("LABKIT_PROGRESS")
    monkeypatch.chdir(tmp_path)
    assert default_progress_path() == tmp_path / ".labkit" / "progress.json"


@pytest.mark.integration
def test_lesson_13_one_hop_only(tmp_path: Path) -> None:
    with Lab(downstream=True) as lab:
        assert lab.downstream is not None
        assert not check("13", lab, tmp_path)  # as shipped: a chain of two actors passes
        lab.downstream.reload({"allowed_actors": ["lab-agent"], "max_delegation_depth": 0})
        assert "act = lab-agent got 403" in check("13", lab, tmp_path).message  # too strict: no delegation at all
        lab.downstream.reload({"allowed_actors": ["lab-agent"], "max_delegation_depth": 1})
        result = check("13", lab, tmp_path)
        assert result and "exceeds" in result.message, result


@pytest.mark.integration
def test_lesson_13_needs_the_downstream(lab: Lab, tmp_path: Path) -> None:
    assert "Lab(downstream=True)" in check("13", lab, tmp_path).message
