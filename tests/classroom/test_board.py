"""The board in process, its guard asking a stand-in for the hub's token API (``GET /hub/api/user``, in the hub's
own answer shape): who may write which learner's progress, who may read, and what a refusal leaves in the audit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from labkit.classroom import READ_SCOPE, REPORT_SCOPE
from labkit.classroom.service import board_from_env

MODELS: dict[str, dict[str, Any]] = {
    "ada-token": {"kind": "user", "name": "ada", "scopes": [REPORT_SCOPE, "access:servers!server=ada/"]},
    "bob-token": {"kind": "user", "name": "bob", "scopes": [REPORT_SCOPE]},
    "teacher-token": {"kind": "user", "name": "teacher", "groups": ["instructors"], "scopes": [READ_SCOPE]},
    # a filtered grant is not the scope: only unfiltered scopes count
    "sly-token": {"kind": "user", "name": "sly", "scopes": [f"{READ_SCOPE}!user=sly"]},
    "service-token": {"kind": "service", "name": "board", "scopes": [READ_SCOPE, REPORT_SCOPE]},
}
PREFIX = "/services/board/"


async def _user(request: Request) -> JSONResponse:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    model = MODELS.get(token) if scheme == "token" else None
    return JSONResponse(model) if model else JSONResponse({"status": 403, "message": "no"}, 403)


@pytest.fixture
def board(tmp_path: Path) -> Iterator[tuple[TestClient, Path]]:
    hub = httpx.AsyncClient(transport=httpx.ASGITransport(Starlette(routes=[Route("/hub/api/user", _user)])))
    env = {"JUPYTERHUB_API_URL": "http://127.0.0.1:8081/hub/api", "JUPYTERHUB_API_TOKEN": "board-own-token",
           "JUPYTERHUB_SERVICE_PREFIX": PREFIX, "LABKIT_AUDIT_LOG": str(tmp_path / "audit.jsonl"),
           "LABKIT_BOARD_DATABASE": f"sqlite+aiosqlite:///{tmp_path / 'board.sqlite'}"}
    with TestClient(board_from_env(env, http=hub), base_url="http://board.test") as client:
        yield client, tmp_path / "audit.jsonl"


def _as(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _audit(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_learner_reports_their_own_progress_and_only_theirs(board: tuple[TestClient, Path]) -> None:
    client, audit = board
    mine = client.put(PREFIX + "api/progress/ada/00", json={"solved": True, "feedback": "solved: 403 then 200"},
                      headers=_as("ada-token"))
    assert mine.status_code == 200
    forged = client.put(PREFIX + "api/progress/bob/00", json={"solved": True}, headers=_as("ada-token"))
    assert forged.status_code == 403 and 'error="insufficient_scope"' in forged.headers["www-authenticate"]
    assert forged.json() == {"error": "Forbidden"}  # why is in the audit log, not in the answer
    last = _audit(audit)[-1]
    assert (last["decision"], last["subject"], last["reason"], last["status"], last["method"]) == (
        "deny", "ada", "insufficient_scope", 403, "PUT")
    assert "ada may report only their own progress" in last["detail"]
    assert "ada-token" not in audit.read_text()
    rows = client.get(PREFIX + "api/progress", headers=_as("teacher-token")).json()
    assert [(r["learner"], r["challenge"], r["solved"]) for r in rows] == [("ada", "00", True)]


@pytest.mark.parametrize(("token", "status"), [
    (None, 401), ("nobody-token", 401), ("ada-token", 403), ("sly-token", 403), ("service-token", 401),
    ("teacher-token", 200)])
def test_only_instructors_read_the_board(board: tuple[TestClient, Path], token: str | None, status: int) -> None:
    client, audit = board
    headers = _as(token) if token else {}
    for path in ("", "api/progress", "progress.csv"):
        answer = client.get(PREFIX + path, headers=headers, follow_redirects=False)
        expected = 302 if token is None and path == "" else status  # a browser without a token signs in first
        assert answer.status_code == expected, (path, answer.status_code)
    if status in (401, 403) and token is not None:
        assert _audit(audit)[-1]["decision"] == "deny"


def test_a_teacher_cannot_write_and_bad_reports_are_400(board: tuple[TestClient, Path]) -> None:
    client, _ = board
    assert client.put(PREFIX + "api/progress/teacher/00", json={}, headers=_as("teacher-token")).status_code == 403
    for body in (b"[]", b"{", b'{"solved": "yes"}', b'{"hints": -1}', b'{"hints": true}', b'{"extra": 1}',
                 b'{"feedback": 5}'):
        answer = client.put(PREFIX + "api/progress/ada/00", content=body, headers=_as("ada-token"))
        assert answer.status_code == 400, body[:20]
    assert client.put(PREFIX + "api/progress/ada/00", content=b"x" * 5000, headers=_as("ada-token")).status_code == 413
    for key in ("abc", "0", "00.UPPER", "00." + "a" * 41):
        assert client.put(PREFIX + f"api/progress/ada/{key}", json={}, headers=_as("ada-token")).status_code == 400
    assert client.put(PREFIX + "api/progress/ada/00", json={}, headers={}).status_code == 401


def test_the_page_and_csv_escape_what_learners_wrote(board: tuple[TestClient, Path]) -> None:
    client, _ = board
    client.put(PREFIX + "api/progress/ada/00", json={"feedback": "=HYPERLINK(\"http://x\")<script>"},
               headers=_as("ada-token"))
    page = client.get(PREFIX, headers=_as("teacher-token")).text
    assert "<script>" not in page and "&lt;script&gt;" in page
    csv = client.get(PREFIX + "progress.csv", headers=_as("teacher-token")).text
    assert "'=HYPERLINK" in csv.splitlines()[1]


def test_the_browser_cookie_reads_pages_and_never_writes(board: tuple[TestClient, Path]) -> None:
    client, _ = board
    client.cookies.set("labkit-board-token", "teacher-token")
    assert client.get(PREFIX, follow_redirects=False).status_code == 200
    assert client.get(PREFIX + "progress.csv").status_code == 200
    client.cookies.set("labkit-board-token", "ada-token")
    assert client.get(PREFIX + "api/progress").status_code == 403
    # a write needs the token in the header: a page another site makes the browser send cannot report for ada
    assert client.put(PREFIX + "api/progress/ada/00", json={"solved": True}).status_code == 401
    client.cookies.set("labkit-board-token", "revoked-token")  # signs in again at the hub
    again = client.get(PREFIX, follow_redirects=False)
    assert again.status_code == 302 and "/hub/api/oauth2/authorize?" in again.headers["location"]
    assert "code_challenge_method=S256" in again.headers["location"]


def test_a_learner_cannot_grow_the_board_with_challenges_that_do_not_exist(board: tuple[TestClient, Path]) -> None:
    """A learner's report names one of the shipped challenges: any other key (well-formed or not) is refused, so a
    learner cannot fill the instructor's table with rows of invented challenges."""
    client, _ = board
    for key in ("10.alg_none", "18.redirect_prefix"):
        assert client.put(PREFIX + f"api/progress/ada/{key}", json={}, headers=_as("ada-token")).status_code == 200
    for key in ("99", "10.aaaa", "10.alg_nonf", "00.x" + "y" * 38):
        answer = client.put(PREFIX + f"api/progress/ada/{key}", json={"solved": True}, headers=_as("ada-token"))
        assert answer.status_code == 400, key
    rows = client.get(PREFIX + "api/progress", headers=_as("teacher-token")).json()
    assert sorted(r["challenge"] for r in rows) == ["10.alg_none", "18.redirect_prefix"]
