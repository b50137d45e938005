"""Every lesson's challenge: solved by its reference answer, not solved by a wrong one; progress in a local file."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from labkit.challenges import CHALLENGES, CheckResult, Progress, default_progress_path, progress_table, start
from labkit.lab import Lab
from labkit.lessons import LabClock
from labkit.provider import persona_oauth2
from labkit.vulnerable import PATH_EXPLOIT

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
def wrong_00(lab: Lab) -> dict[str, Any]:
    execute(lab, "write_operation", lab.token(["api:read"]))
    return {}


def right_00(lab: Lab) -> dict[str, Any]:
    wrong_00(lab)
    execute(lab, "write_operation", lab.token(["api:write"]))
    return {}


def wrong_01(lab: Lab) -> dict[str, Any]:
    return {"config": {"oauth2": {"jwt_secret": secrets.token_urlsafe(64), "jwt_algorithms": ["HS256", "HS384"]}}}


def right_01(lab: Lab) -> dict[str, Any]:
    return {"config": {"oauth2": {"jwt_secret": secrets.token_urlsafe(48), "jwt_algorithm": "HS256",
                                  "jwt_issuer": "https://issuer.lab", "jwt_audience": "api://agent"}}}


INTROSPECTION = {"security": {"oauth2": {
    "validation_strategy": "introspection", "introspection_endpoint": "${LAB_PROVIDER_URL}/introspect",
    "client_id": "lab-agent", "client_secret": "lab-agent-secret", "introspection_cache_ttl": 0}}}


def wrong_02(lab: Lab) -> dict[str, Any]:
    lab.reload(INTROSPECTION)
    lab.rpc("capabilities", token=lab.token(["api:read"], persona="opaque"))
    return {}


def right_02(lab: Lab) -> dict[str, Any]:
    lab.reload(INTROSPECTION)
    token = lab.token(["api:read"], persona="opaque")
    lab.rpc("capabilities", token=token)
    lab.revoke(token)
    lab.rpc("capabilities", token=token)
    return {}


def wrong_03(lab: Lab) -> dict[str, Any]:
    token = lab.token(["admin"])
    for capability in ("read_file", "write_file", "write_operation"):
        execute(lab, capability, token)
    return {}


def right_03(lab: Lab) -> dict[str, Any]:
    token = lab.token(["files:write"])
    for capability in ("read_file", "write_file", "write_operation"):
        execute(lab, capability, token)
    return {}


def wrong_04(lab: Lab) -> dict[str, Any]:
    lab.rpc("tools/list", {}, token=lab.token(["api:read"]), path="/mcp")
    return {}


def right_04(lab: Lab) -> dict[str, Any]:
    metadata = lab.client().get("/.well-known/oauth-protected-resource/mcp").json()
    lab.rpc("tools/list", {}, token=lab.token(["api:read"], resource=metadata["resource"]), path="/mcp")
    return {}


def wrong_05(lab: Lab) -> dict[str, Any]:
    return {}


def right_05(lab: Lab) -> dict[str, Any]:
    lab.reload({"security": {"oauth2": JWKS_BLOCK, "scope_hierarchy": {"api:write": ["api:read"]}},
                "plugins": [{"plugin_id": "system_tools", "plugin_type": "local", "required_scopes": ["api:write"]}]})
    return {}


def wrong_06(lab: Lab) -> dict[str, Any]:
    block = persona_oauth2("auth0", lab.provider_url, "api://oauth2-lab-agent")
    del block["jwt_audience"]
    lab.reload({"security": {"oauth2": block}})
    return {}


def right_06(lab: Lab) -> dict[str, Any]:
    lab.reload({"security": {"oauth2": persona_oauth2("auth0", lab.provider_url, "api://oauth2-lab-agent")}})
    return {}


def wrong_07(lab: Lab) -> dict[str, Any]:
    return {}


def right_07(lab: Lab) -> dict[str, Any]:
    lab.reload({"security": {"oauth2": JWKS_BLOCK, "scope_hierarchy": {"api:write": ["api:read"]}},
                "middleware": [{"name": "rate_limited", "params": {"requests_per_minute": 1}}]})
    return {}


def wrong_08(lab: Lab) -> dict[str, Any]:
    execute(lab, "write_operation", lab.token(["admin"], tenant="globex"), path="/t/globex/")
    return {}


def right_08(lab: Lab) -> dict[str, Any]:
    execute(lab, "write_operation", lab.token(["api:write"], tenant="globex"), path="/t/globex/")
    return {}


def wrong_09(lab: Lab) -> dict[str, Any]:
    lab.webhooks.expect_token("challenge", "my-token")
    httpx.post(lab.webhooks.url("challenge"), json={"statusUpdate": {}}, headers={"Authorization": "Bearer x.y.z"})
    return {}


def right_09(lab: Lab) -> dict[str, Any]:
    lab.webhooks.expect_token("challenge", "my-token")
    params = {"message": {"role": "user", "messageId": str(uuid.uuid4()), "parts": [{"kind": "text", "text": "hi"}]},
              "configuration": {"pushNotificationConfig": {"url": lab.webhooks.url("challenge"), "token": "my-token"}}}
    lab.rpc("message/send", params, token=lab.token(["api:read", "push:write"]))
    return {}


def wrong_10(lab: Lab) -> dict[str, Any]:
    assert lab.vulnerable is not None
    lab.vulnerable.execute("whoami", token=lab.provider.mint(["api:read"], subject="alice"))
    lab.vulnerable.execute("whoami", token=lab.provider.mint(["api:read"], subject="bob"))
    lab.vulnerable.get("/t/acme/admin/status")  # no differential used: 401
    return {}


def right_10(lab: Lab) -> dict[str, Any]:
    wrong_10(lab)
    assert lab.vulnerable is not None
    lab.vulnerable.get(PATH_EXPLOIT)
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
BEFORE_START = ["00", "02", "03", "04", "08", "12"]


@pytest.mark.integration
@pytest.mark.parametrize("lesson", BEFORE_START)
def test_work_done_before_start_does_not_count(lesson: str, lab: Lab, tmp_path: Path) -> None:
    SOLUTIONS[lesson][1](lab)
    attempt = start(lesson, lab, progress=tmp_path / "progress.json")
    assert not attempt.check(), lesson
    assert lesson not in Progress(tmp_path / "progress.json").solved()


@pytest.mark.integration
def test_lesson_01_refuses_guessable_secrets_and_bad_input(lab: Lab, tmp_path: Path) -> None:
    for secret in ("password" * 4, "a" * 32):
        result = check("01", lab, tmp_path, config={"oauth2": {"jwt_secret": secret, "jwt_algorithm": "HS256"}})
        assert not result and "entropy" in result.message
    assert "mapping" in check("01", lab, tmp_path, config="HS256 only").message
    assert "refused" in check("01", lab, tmp_path, config={"oauth2": {"jwt_algorithm": "none"}}).message
    assert "does not take" in start("00", lab, progress=tmp_path / "p.json").check(claim="I did it").message


def test_every_lesson_has_a_challenge_with_hints() -> None:
    assert {f"{n:02d}" for n in range(13)} | {"13", "14"} <= set(CHALLENGES)
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
def test_lesson_10_needs_the_vulnerable_agent(tmp_path: Path) -> None:
    with Lab() as plain:
        started = time.monotonic()
        assert "Lab(vulnerable=True)" in check("10", plain, tmp_path).message
        assert time.monotonic() - started < 5


@pytest.mark.integration
def test_lesson_13_one_hop_only(tmp_path: Path) -> None:
    with Lab(downstream=True) as lab:
        assert lab.downstream is not None
        assert not check("13", lab, tmp_path)  # as shipped: a chain of two actors passes
        lab.downstream.reload({"allowed_actors": ["lab-agent"], "max_delegation_depth": 0})
        assert "act = lab-agent got 401" in check("13", lab, tmp_path).message  # too strict: no delegation at all
        lab.downstream.reload({"allowed_actors": ["lab-agent"], "max_delegation_depth": 1})
        result = check("13", lab, tmp_path)
        assert result and "exceeds" in result.message, result


@pytest.mark.integration
def test_lesson_13_needs_the_downstream(lab: Lab, tmp_path: Path) -> None:
    assert "Lab(downstream=True)" in check("13", lab, tmp_path).message
