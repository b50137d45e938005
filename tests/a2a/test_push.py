"""Push notifications end to end: signed deliveries verified by the receiver; forged, replayed, stale and
misdirected ones refused; disallowed URLs refused when configured; slow webhooks never block the agent."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from labkit.a2a.push import AgentSigner, PushPolicy
from labkit.config import PushConfig
from labkit.lab import Lab
from labkit.servers import ServerThread

pytestmark = pytest.mark.integration



def send_with_push(lab: Lab, token: str, url: str, push_token: str = "client-secret-token") -> dict[str, Any]:
    params = {
        "message": {"role": "user", "messageId": str(uuid.uuid4()), "parts": [{"kind": "text", "text": "push me"}]},
        "configuration": {"pushNotificationConfig": {"url": url, "token": push_token}},
    }
    response = lab.rpc("message/send", params, token=token)
    assert response.status_code == 200, response.text
    return dict(response.json())


def wait_for(predicate: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_task_updates_reach_the_receiver_signed(lab: Lab) -> None:
    lab.webhooks.expect_token("orders", "client-secret-token")
    token = lab.token(["api:read", "push:write"])
    result = send_with_push(lab, token, lab.webhooks.url("orders"))
    task_id = result["result"]["id"]
    wait_for(lambda: any(n.state == "TASK_STATE_COMPLETED" for n in lab.webhooks.received("orders")))
    accepted = lab.webhooks.received("orders")
    assert {n.task_id for n in accepted} == {task_id}
    assert not lab.webhooks.received("orders", accepted=False)
    deliveries = [d for d in lab.agent.push.deliveries if d.task_id == task_id]
    assert deliveries and all(d.status == 200 and d.attempts == 1 for d in deliveries)
    jwks = httpx.get(lab.agent_url + "/.well-known/jwks.json").json()
    assert jwks["keys"][0]["kty"] == "EC" and "d" not in jwks["keys"][0]


def _post(lab: Lab, hook: str, token: str, task_id: str, notification_token: str = "client-secret-token") -> int:
    body = {"statusUpdate": {"taskId": task_id, "status": {"state": "TASK_STATE_COMPLETED"}}}
    headers = {"Authorization": f"Bearer {token}", "X-A2A-Notification-Token": notification_token}
    return httpx.post(lab.webhooks.url(hook), json=body, headers=headers).status_code


def test_forged_replayed_stale_and_misdirected_are_refused(lab: Lab) -> None:
    lab.webhooks.expect_token("audit", "client-secret-token")
    signer = lab.agent.signer
    url = lab.webhooks.url("audit")
    good = signer.sign(url, "task-1", 60)
    assert _post(lab, "audit", good, "task-1") == 200
    assert _post(lab, "audit", good, "task-1") == 401  # replay
    forged = AgentSigner(lab.agent_url).sign(url, "task-1", 60)  # another key, same issuer
    assert _post(lab, "audit", forged, "task-1") == 401
    stale = AgentSigner(lab.agent_url, clock=lambda: time.time() - 3600, key=signer.key).sign(url, "task-1", 7200)
    assert _post(lab, "audit", stale, "task-1") == 401
    elsewhere = signer.sign(lab.webhooks.url("other"), "task-1", 60)
    assert _post(lab, "audit", elsewhere, "task-1") == 401
    assert _post(lab, "audit", signer.sign(url, "task-1", 60), "task-2") == 401  # body about another task
    assert _post(lab, "audit", signer.sign(url, "task-1", 60), "task-1", "wrong") == 401
    reasons = [n.reason.split(":")[0] for n in lab.webhooks.received("audit", accepted=False)]
    assert reasons == ["claims", "key", "expired", "audience", "claims", "claims"]


@pytest.mark.parametrize("url", [
    "http://10.0.0.8:8080/hook", "http://169.254.169.254/latest/meta-data", "http://127.0.0.1:1/hook",
    "http://localhost.evil.example/hook", "ftp://127.0.0.1/x", "http://user:pw@127.0.0.1/x",
])
def test_disallowed_push_urls_are_refused_when_configured(lab: Lab, url: str) -> None:
    token = lab.token(["api:read", "push:write"])
    task_id = lab.rpc("message/send", {"message": {"role": "user", "messageId": str(uuid.uuid4()),
                                                   "parts": [{"kind": "text", "text": "x"}]}},
                      token=token).json()["result"]["id"]
    response = lab.rpc("tasks/pushNotificationConfig/set",
                       {"taskId": task_id, "pushNotificationConfig": {"url": url}}, token=token)
    assert response.status_code == 200 and response.json()["error"]["code"] == -32602


def test_push_config_of_another_principal_is_not_found(lab: Lab) -> None:
    alice = lab.provider.mint(["api:read", "push:write", "push:read"], subject="alice")
    bob = lab.provider.mint(["api:read", "push:write", "push:read"], subject="bob")
    task_id = send_with_push(lab, alice, lab.webhooks.url("alice"))["result"]["id"]
    mine = lab.rpc("tasks/pushNotificationConfig/list", {"id": task_id}, token=alice).json()
    assert "result" in mine, mine
    for method, params in (("tasks/pushNotificationConfig/list", {"id": task_id}),
                           ("tasks/pushNotificationConfig/set",
                            {"taskId": task_id, "pushNotificationConfig": {"url": lab.webhooks.url("bob")}})):
        theirs = lab.rpc(method, params, token=bob).json()
        assert "error" in theirs and "not found" in theirs["error"]["message"].lower(), theirs
    assert lab.rpc("tasks/pushNotificationConfig/set", {"taskId": task_id, "pushNotificationConfig": {
        "url": lab.webhooks.url("x")}}, token=lab.token(["api:read"])).status_code == 403


def test_slow_webhook_does_not_block_the_agent() -> None:
    async def slow(request: Request) -> JSONResponse:
        await asyncio.sleep(3)
        return JSONResponse({})

    with ServerThread(Starlette(routes=[Route("/hook", slow, methods=["POST"])]), name="slow-hook") as hook:
        config = {
            "security": {"oauth2": {"jwks_url": "${LAB_PROVIDER_URL}/jwks", "jwt_issuer": "${LAB_PROVIDER_URL}",
                                    "jwt_audience": "api://oauth2-lab-agent"}},
            "push": {"allowed_hosts": [f"127.0.0.1:{hook.port}"], "allow_loopback": True, "timeout": 0.5,
                     "max_retries": 1},
        }
        with Lab(config) as slow_lab:
            token = slow_lab.token(["api:read", "push:write"])
            started = time.monotonic()
            send_with_push(slow_lab, token, f"{hook.url}/hook")
            assert time.monotonic() - started < 1.5
            wait_for(lambda: slow_lab.agent.push.deliveries and all(
                d.finished for d in slow_lab.agent.push.deliveries))
            assert all(d.error == "TimeoutError" and d.attempts == 2 for d in slow_lab.agent.push.deliveries)


def test_one_webhook_gets_one_tasks_events_one_at_a_time_in_order() -> None:
    """The first event's delivery is slow; the next ones wait for it (never two in flight to one webhook), so the
    receiver sees the states in the order they happened and the task's last state last."""
    seen: list[str] = []
    in_flight = [0, 0]  # now, most

    async def hook(request: Request) -> JSONResponse:
        in_flight[0] += 1
        in_flight[1] = max(in_flight[1], in_flight[0])
        body = await request.json()
        await asyncio.sleep(0.4 if not seen else 0)
        seen.append(next(iter(body)) + ":" + str(body.get("statusUpdate", {}).get("status", {}).get("state")))
        in_flight[0] -= 1
        return JSONResponse({})

    with ServerThread(Starlette(routes=[Route("/hook", hook, methods=["POST"])]), name="ordered-hook") as server:
        config = {
            "security": {"oauth2": {"jwks_url": "${LAB_PROVIDER_URL}/jwks", "jwt_issuer": "${LAB_PROVIDER_URL}",
                                    "jwt_audience": "api://oauth2-lab-agent"}},
            "push": {"allowed_hosts": [f"127.0.0.1:{server.port}"], "allow_loopback": True},
        }
        with Lab(config) as ordered_lab:
            send_with_push(ordered_lab, ordered_lab.token(["api:read", "push:write"]), f"{server.url}/hook")
            wait_for(lambda: any(s.endswith("TASK_STATE_COMPLETED") for s in seen))
            wait_for(lambda: all(d.finished for d in ordered_lab.agent.push.deliveries))
            assert not ordered_lab.agent.push._last  # nothing left queued
    assert in_flight[1] == 1, seen
    assert len(seen) >= 3 and seen[-1] == "statusUpdate:TASK_STATE_COMPLETED", seen
    assert seen[0] in ("task:None", "statusUpdate:TASK_STATE_SUBMITTED"), seen


def test_policy_unit() -> None:
    async def check(config: PushConfig, url: str) -> str | None:
        return await PushPolicy(config).check(url)

    lab_like = PushConfig(allowed_hosts=["127.0.0.1:9000", "hooks.example.com:443"], allow_loopback=True)
    assert asyncio.run(check(lab_like, "http://127.0.0.1:9000/x")) is None
    assert "loopback" in asyncio.run(check(PushConfig(allowed_hosts=["127.0.0.1:9000"]), "http://127.0.0.1:9000/x"))
    assert "not in push.allowed_hosts" in asyncio.run(check(lab_like, "http://127.0.0.1:9001/x"))
    metadata = PushConfig(allowed_hosts=["169.254.169.254:80"], allow_private_networks=True, allow_loopback=True)
    assert "link-local" in asyncio.run(check(metadata, "http://169.254.169.254/latest"))
    private = PushConfig(allowed_hosts=["10.1.2.3:80"])
    assert "private" in asyncio.run(check(private, "http://10.1.2.3/x"))
