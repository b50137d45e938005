"""The guard in front of the real agent over real HTTP: the findings of the hardening pass, each closed."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from labkit.lab import Lab
from labkit.servers import ServerThread
from sample_agent import create_app

pytestmark = pytest.mark.integration

MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}



def raw_post(url: str, target: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """A POST with the request target sent byte for byte (no client-side normalisation of //, %2F, ..)."""
    parts = urlsplit(url)
    lines = [f"POST {target} HTTP/1.1", f"Host: {parts.netloc}", f"Content-Length: {len(body)}",
             "Content-Type: application/json", "Connection: close", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[-1]


@pytest.mark.parametrize("target", [
    "/t/acme/t/acme/", "/t/acme/t/acme/mcp", "//", "/t/acme//", "/t/acme/%2F", "/t/acme/%2e%2e/", "/t/acme/../",
    "/T/acme/", "/t/ACME/", "/t/acme/./", "/%2F", "/t/acme/t/globex/", "/mcp/", "/MCP", "/t/acme/mcp/",
])
def test_no_path_reaches_a_handler_without_a_token(lab: Lab, target: str) -> None:
    before = lab.audit.total
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ListTasks", "params": {}}).encode()
    status, answer = raw_post(lab.agent_url, target, body)
    assert status in (401, 404), (target, status, answer)
    if status == 401:
        assert lab.audit.total == before + 1 and lab.audit.events()[-1].decision == "deny"
    assert b"tasks" not in answer


def test_resource_advertised_in_rfc9728_metadata_is_an_accepted_audience(lab: Lab) -> None:
    http = lab.client()
    for path, endpoint in (("/.well-known/oauth-protected-resource/mcp", "/mcp"),
                           ("/.well-known/oauth-protected-resource", "/")):
        resource = http.get(path).json()["resource"]
        token = lab.provider.mint(["api:read"], audience=resource)
        method = "tools/list" if endpoint == "/mcp" else "capabilities"
        assert lab.rpc(method, token=token, path=endpoint).status_code == 200, resource
    for tenant in ("acme",):
        resource = http.get(f"/t/{tenant}/.well-known/oauth-protected-resource").json()["resource"]
        token = lab.provider.mint(["api:read"], audience=resource, tenant=tenant)
        assert lab.rpc("capabilities", token=token, path=f"/t/{tenant}/").status_code == 200
        # another tenant's resource is not this tenant's audience
        assert lab.rpc("capabilities", token=lab.provider.mint(["api:read"], audience=lab.agent_url + "/", tenant=tenant),
                       path="/t/globex/").status_code == 401
    wrong = lab.provider.mint(["api:read"], audience="https://elsewhere.example/mcp")
    assert lab.rpc("tools/list", token=wrong, path="/mcp").status_code == 401


@pytest.mark.parametrize("raw", [b'{"jsonrpc":"2.0","id":NaN,"method":"capabilities"}',
                                 b'{"jsonrpc":"2.0","id":Infinity,"method":"execute","params":{}}',
                                 b'{"jsonrpc":"2.0","id":1e400,"method":"capabilities"}'])
def test_non_finite_ids_are_invalid_requests(lab: Lab, raw: bytes) -> None:
    response = lab.client(lab.token(["api:read"])).post("/", content=raw, headers={"Content-Type": "application/json"})
    # in-band, as the a2a-sdk answers a parse error (test_malformed_parity.py)
    assert response.status_code == 200 and response.json()["error"]["code"] == -32700


@pytest.mark.parametrize(("path", "expected"), [
    ("a\x00b", "invalid file name"), ("x" * 300, "invalid file name"), ("dir", "the path is a directory"),
    ("file/below", "a parent of the path is a file"),
])
def test_files_capability_errors_are_client_errors(lab: Lab, path: str, expected: str) -> None:
    token = lab.token(["files:write"])
    for setup in ("dir/inside", "file"):
        lab.rpc("execute", {"capability": "write_file", "arguments": {"path": setup, "content": "x"}}, token=token)
    response = lab.rpc("execute", {"capability": "write_file", "arguments": {"path": path, "content": "x"}}, token=token)
    assert response.status_code == 200 and response.json()["error"]["message"] == expected
    read = lab.rpc("execute", {"capability": "read_file", "arguments": {"path": path}}, token=lab.token(["files:read"]))
    assert read.status_code == 200 and "error" in read.json()


def test_the_stub_service_is_the_agents_own(lab: Lab) -> None:
    # public to the guard (the capability calls it without a token), private by its own key
    response = lab.client().post("/stub/external-api/records", json={"note": "forged"})
    assert response.status_code == 401
    ok = lab.rpc("execute", {"capability": "write_operation", "arguments": {}}, token=lab.token(["api:write"]))
    assert ok.json()["result"]["result"]["stored"] is True


@pytest.fixture(scope="module")
def tight(lab: Lab) -> Iterator[tuple[str, Any]]:
    """The agent with small per-principal caps, beside the lab's provider."""
    server = ServerThread(name="tight-agent")
    app = create_app(lab.config, public_url=server.url, max_sessions=2, max_tasks=3, max_push_configs=2)
    server.app = app
    with server:
        yield server.url, app.agent


def _initialize(http: httpx.Client, url: str) -> httpx.Response:
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    return http.post(url + "/mcp", json=body, headers=MCP_HEADERS)


def test_mcp_sessions_are_capped_per_principal(lab: Lab, tight: tuple[str, Any]) -> None:
    url, _ = tight
    with httpx.Client(timeout=10, headers={"Authorization": f"Bearer {lab.token(['api:read'])}"}) as mine, \
            httpx.Client(timeout=10, headers={"Authorization": f"Bearer {lab.token(['api:read'], persona='limited')}"}) as other:
        assert [_initialize(mine, url).status_code for _ in range(2)] == [200, 200]
        refused = _initialize(mine, url)
        assert refused.status_code == 429 and "session quota" in refused.json()["error"]["message"]
        assert _initialize(other, url).status_code == 200  # someone else is not affected


def test_tasks_and_push_configs_are_capped_per_principal(lab: Lab, tight: tuple[str, Any]) -> None:
    url, _ = tight
    token = lab.token(["api:read", "push:write"])
    message = {"message": {"messageId": "m", "role": "ROLE_USER", "parts": [{"text": "hi"}]}}
    with httpx.Client(timeout=10, headers={"Authorization": f"Bearer {token}", "A2A-Version": "1.0"}) as http:
        answers = []
        for i in range(4):
            body = {"jsonrpc": "2.0", "id": i, "method": "SendMessage",
                    "params": {**message, "message": {**message["message"], "messageId": f"m{i}"}}}
            answers.append(http.post(url + "/", json=body).json())
        assert all("result" in a for a in answers[:3]), answers
        assert "task quota" in answers[3]["error"]["message"]
        task_id = answers[0]["result"]["task"]["id"]
        results = []
        for i in range(3):
            config = {"taskId": task_id, "id": f"c{i}", "url": lab.webhooks.base_url + "/hook", "token": "t"}
            body = {"jsonrpc": "2.0", "id": 10 + i, "method": "CreateTaskPushNotificationConfig", "params": config}
            results.append(http.post(url + "/", json=body).json())
        assert "result" in results[0] and "result" in results[1], results
        assert "quota" in results[2]["error"]["message"]
