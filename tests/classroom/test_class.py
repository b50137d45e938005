"""A class on a real hub: three learners solve lesson 00 in their own kernels, the instructor (and only the
instructor) sees all three on the board, a learner's forged report or board read is 403 with an audit line, and the
board loses nothing when it restarts."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest

from labkit.classroom import Classroom
from labkit.classroom.hub import ClassroomError, find_proxy
from labkit.classroom.remote import RemoteKernel, lesson_cells, start_server

pytestmark = pytest.mark.integration

LEARNERS = ("ada", "bob", "cy")
FORGE = """
import os, httpx
board, token = os.environ["LABKIT_BOARD_URL"], os.environ["JUPYTERHUB_API_TOKEN"]
auth = {"Authorization": f"Bearer {token}"}
forged = httpx.put(board + "api/progress/bob/01", json={"solved": True}, headers=auth)
read = httpx.get(board + "api/progress", headers=auth)
csv = httpx.get(board + "progress.csv", headers=auth)
print(forged.status_code, read.status_code, csv.status_code, forged.headers.get("www-authenticate"))
"""
# ada's kernel: a lab of her own, private because it runs under JupyterHub; only its ports leave the kernel
ADA_LAB = """
import json
from urllib.parse import urlsplit
from labkit.lab import Lab
lab = Lab(vulnerable=True, downstream=True, proxy=True).start()
def state():
    store = lab.provider.server(None).store
    logs = [lab.audit, lab.vulnerable.audit, lab.downstream.audit]
    return [len(store.tokens), len(store.clients), len(lab.webhooks.received(accepted=None))] + [
        len(log.events()) for log in logs]
print(json.dumps({"private": lab.private, "ports": sorted({urlsplit(s.url).port for s in lab.servers()}),
                  "state": state()}))
"""
# bob's kernel, knowing ada's ports (anyone on the machine can list them): every door he knows of
BOB_PROBE = """
import json, httpx
doors = ["/", "/authorize?response_type=code&client_id=lab-web&login_hint=alice&redirect_uri=http://127.0.0.1/cb",
         "/admin/mint", "/register", "/token", "/.well-known/oauth-authorization-server", "/jwks", "/mcp", "/a2a",
         "/.well-known/agent-card.json", "/hooks/x/received", "/audit"]
seen = {}
for port in PORTS:
    for door in doors:
        for method in ("GET", "POST"):
            answer = httpx.request(method, f"http://127.0.0.1:{port}{door}", timeout=10)
            seen[answer.status_code] = seen.get(answer.status_code, 0) + 1
print(json.dumps(seen))
"""


@pytest.fixture(scope="module")
def classroom(tmp_path_factory: pytest.TempPathFactory) -> Any:
    try:
        find_proxy(install=False)
    except ClassroomError as exc:
        if os.environ.get("CI") == "true":  # .ci/run installs the proxy
            pytest.fail(f"configurable-http-proxy missing under CI: {exc}")
        pytest.skip(str(exc))
    room = Classroom(tmp_path_factory.mktemp("class"), admin_token=secrets.token_hex(24))
    with room:
        yield room


async def _solve(room: Classroom, admin: httpx.AsyncClient, name: str) -> list[Any]:
    await start_server(admin, name)
    assert room.admin_token is not None
    kernel = await RemoteKernel(room.url, name, room.admin_token).start()
    try:
        results = [await kernel.run(cell) for cell in lesson_cells("00")]
        if name == "ada":
            results.append(await kernel.run(FORGE))
        return results
    finally:
        await kernel.shutdown()


async def _sign_in(room: Classroom, name: str, password: str) -> tuple[httpx.AsyncClient, httpx.Response]:
    """A browser's session: the hub's login form, then the board (the hub's OAuth flow sets the board's cookie)."""
    browser = httpx.AsyncClient(base_url=room.url, follow_redirects=True, timeout=60)
    await browser.get("/hub/login")
    answer = await browser.post("/hub/login?next=/services/board/", data={
        "username": name, "password": password, "_xsrf": browser.cookies.get("_xsrf", "")})
    return browser, answer


async def _bob_tries_adas_lab(room: Classroom) -> tuple[dict[str, Any], dict[str, int], Any]:
    """Ada's lab in her kernel, bob's requests to its ports from his: (ada's lab before, bob's statuses, after)."""
    assert room.admin_token is not None
    ada = await RemoteKernel(room.url, "ada", room.admin_token).start()
    bob = await RemoteKernel(room.url, "bob", room.admin_token).start()
    try:
        started = await ada.run(ADA_LAB)
        assert started.status == "ok", (started.error, started.stdout)
        before = json.loads(started.stdout)
        probe = await bob.run(BOB_PROBE.replace("PORTS", repr(before["ports"])))
        assert probe.status == "ok", probe.error
        after = await ada.run("print(json.dumps(state())); lab.close()")
        return before, {k: int(v) for k, v in json.loads(probe.stdout).items()}, json.loads(after.stdout)
    finally:
        await ada.shutdown()
        await bob.shutdown()


def _audit(room: Classroom) -> list[dict[str, Any]]:
    path = Path(room.folder) / "board-audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_class_of_three(classroom: Classroom) -> None:
    room = classroom

    async def scenario() -> tuple[list[list[Any]], dict[str, Any]]:
        headers = {"Authorization": f"token {room.admin_token}"}
        async with httpx.AsyncClient(base_url=room.url, headers=headers, timeout=60) as admin:
            solved = await asyncio.gather(*(_solve(room, admin, name) for name in LEARNERS))
        seen: dict[str, Any] = {}
        teacher, signed_in = await _sign_in(room, "teacher", room.instructor_password)
        try:
            assert signed_in.url.path == "/services/board/", signed_in.url
            page = await teacher.get("/services/board/")
            seen["page"] = (page.status_code, page.text)
            seen["rows"] = (await teacher.get("/services/board/api/progress")).json()
            seen["csv"] = (await teacher.get("/services/board/progress.csv")).text
        finally:
            await teacher.aclose()
        seen["isolation"] = await _bob_tries_adas_lab(room)
        learner, signed_in = await _sign_in(room, "ada", room.password)
        try:
            seen["learner_page"] = signed_in.status_code  # the hub refuses her a token for the board
        finally:
            await learner.aclose()
        return solved, seen

    solved, seen = asyncio.run(scenario())
    for name, results in zip(LEARNERS, solved, strict=True):
        assert all(r.status == "ok" for r in results), (name, [r.error for r in results])
        assert any("solved" in shown for shown in results[len(lesson_cells("00")) - 1].shown), name

    # the instructor sees all three, solved, through the hub's sign-in and the board's guard
    status, page = seen["page"]
    assert status == 200 and all(f"<th>{name}</th>" in page for name in LEARNERS)
    rows = {(r["learner"], r["challenge"]): r for r in seen["rows"]}
    assert {name for name, _ in rows} == set(LEARNERS)
    assert all(rows[(name, "00")]["solved"] and rows[(name, "00")]["checks"] >= 1 for name in LEARNERS)
    assert seen["csv"].splitlines()[0].startswith("learner,challenge,solved")
    assert len(seen["csv"].splitlines()) == 1 + len(rows)

    # ada's own token: writing bob's progress, reading the board or its CSV are all refused
    forged = solved[0][-1].stdout.split()
    assert forged[:3] == ["403", "403", "403"], solved[0][-1]
    assert "insufficient_scope" in solved[0][-1].stdout
    assert ("bob", "01") not in rows
    # a learner signed in through the browser cannot read the board either
    assert seen["learner_page"] == 403
    denied = [e for e in _audit(room) if e["decision"] == "deny" and e["subject"] == "ada"]
    assert {(e["method"], e["status"], e["reason"]) for e in denied} == {
        ("PUT", 403, "insufficient_scope"), ("GET", 403, "insufficient_scope")}
    assert any(re.search("only their own progress", e["detail"]) for e in denied)

    # bob cannot use ada's lab: under JupyterHub a lab is private, every door of every server of hers is a 404
    # to him, and nothing in her lab changed (no token, no client, no audit event, no delivery)
    before, statuses, after = seen["isolation"]
    assert before["private"] is True and len(before["ports"]) >= 6, before
    assert statuses == {"404": 2 * 12 * len(before["ports"])}, statuses
    assert after == before["state"]

    # the board restarts (with the hub): nothing is lost
    before = seen["rows"]
    room.stop()
    room.start()

    async def after() -> Any:
        teacher, _ = await _sign_in(room, "teacher", room.instructor_password)
        try:
            return (await teacher.get("/services/board/api/progress")).json()
        finally:
            await teacher.aclose()

    assert asyncio.run(after()) == before
