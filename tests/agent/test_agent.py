"""The sample agent behind the guard, through real HTTP against the lab provider (and real SDK clients)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from joserfc import jwt as jfc_jwt
from joserfc.jwk import OctKey

from labkit.lab import Lab
from labkit.provider import unsafe

pytestmark = pytest.mark.integration
JSON = {"Content-Type": "application/json"}



def rpc(lab: Lab, method: str, params: Any = None, token: str | None = None, path: str = "/",
        headers: dict[str, str] | None = None) -> httpx.Response:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": "t-1", "method": method}
    if params is not None:
        body["params"] = params
    return lab.client(token).post(path, json=body, headers={**JSON, **(headers or {})})


def message(text: str = "hi") -> dict[str, Any]:
    return {"message": {"role": "user", "messageId": str(uuid.uuid4()), "parts": [{"kind": "text", "text": text}]}}


# -- the seed's curl plan ------------------------------------------------------------------------

def test_seed_curl_plan(lab: Lab) -> None:
    full = lab.token(["api:read", "api:write", "files:write"])
    limited = lab.token(["api:read"], persona="limited")
    capabilities = rpc(lab, "capabilities", token=full)
    assert capabilities.status_code == 200
    assert "write_operation" in {c["capability"] for c in capabilities.json()["result"]["capabilities"]}
    tools = lab.client(full).post("/mcp", json={"jsonrpc": "2.0", "method": "tools/list", "id": "mcp-test-1"},
                                  headers=JSON)
    assert tools.status_code == 200 and tools.json()["id"] == "mcp-test-1"
    assert lab.client(full).get("/.well-known/agent.json").status_code == 200
    denied = rpc(lab, "execute", {"capability": "write_operation"}, token=limited)
    assert denied.status_code == 403
    allowed = rpc(lab, "execute", {"capability": "write_operation"}, token=full)
    assert allowed.status_code == 200 and allowed.json()["result"]["result"]["stored"] is True


# -- RFC 6750 responses ------------------------------------------------------------------------

def test_no_token_is_401_without_error_code(lab: Lab) -> None:
    response = rpc(lab, "capabilities")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == f'Bearer realm="oauth2-lab", resource_metadata="{lab.agent_url}/.well-known/oauth-protected-resource"'
    # the body of an unauthenticated request is never read (O(1)): no id to echo
    assert response.json() == {"jsonrpc": "2.0", "id": None, "error": {"code": -32091, "message": "Unauthorized"}}
    mcp = rpc(lab, "tools/list", path="/mcp")
    challenge = mcp.headers["www-authenticate"]
    assert mcp.status_code == 401 and "error=" not in challenge
    assert f'resource_metadata="{lab.agent_url}/.well-known/oauth-protected-resource/mcp"' in challenge


def test_bad_token_is_401_invalid_token(lab: Lab) -> None:
    for path in ("/", "/mcp"):
        response = rpc(lab, "tools/list" if path == "/mcp" else "capabilities", token="not-a-jwt", path=path)
        assert response.status_code == 401
        assert 'error="invalid_token"' in response.headers["www-authenticate"]
        assert response.json()["error"]["message"] == "Unauthorized"


def test_insufficient_scope_is_403_with_scope(lab: Lab) -> None:
    token = lab.token(["api:read"])
    response = rpc(lab, "tools/call", {"name": "write_file", "arguments": {"path": "a", "content": "b"}},
                   token=token, path="/mcp")
    assert response.status_code == 403
    challenge = response.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge and 'scope="files:write"' in challenge
    assert "resource_metadata=" in challenge
    assert response.json()["error"]["message"] == "Forbidden"


@pytest.mark.parametrize("header", ["bearer {t}", "BEARER {t}", "Bearer  {t}"])
def test_bearer_scheme_is_case_insensitive(lab: Lab, header: str) -> None:
    token = lab.token(["api:read"])
    response = httpx.post(lab.agent_url + "/", json={"jsonrpc": "2.0", "id": 1, "method": "capabilities"},
                          headers={"Authorization": header.format(t=token)})
    assert response.status_code == 200


def test_token_in_query_string_is_ignored(lab: Lab) -> None:
    token = lab.token(["api:read"])
    response = httpx.post(f"{lab.agent_url}/?access_token={token}",
                          json={"jsonrpc": "2.0", "id": 1, "method": "capabilities"})
    assert response.status_code == 401


def test_oversized_body_is_refused(lab: Lab) -> None:
    token = lab.token(["api:read"])
    response = lab.client(token).post("/", content=b"x" * (1 << 20 + 1) + b"x" * 10, headers=JSON)
    assert response.status_code == 413


# -- the probe table ---------------------------------------------------------------------------

def _probe_tokens(lab: Lab) -> dict[str, tuple[str, int]]:
    provider = lab.provider
    return {
        "valid api:read": (provider.mint(["api:read"]), 200),
        "expired": (provider.mint(["api:read"], lifetime=-60), 401),
        "not yet valid": (provider.mint(["api:read"], not_before=provider.clock() + 600), 401),
        "missing exp": (provider.mint(["api:read"], claims={"exp": None}), 401),
        "wrong issuer": (provider.mint(["api:read"], claims={"iss": "https://evil.example"}), 401),
        "wrong audience": (provider.mint(["api:read"], audience="api://someone-else"), 401),
        "alg none": (unsafe.unsafe_alg_none(provider, "admin"), 401),
        "HS256 with the public key": (unsafe.unsafe_hs256_with_public_key(provider), 401),
        "foreign key": (unsafe.unsafe_foreign_key(provider), 401),
        "literal * scope": (provider.mint(["*"], client_id="lab-client", claims={"scope": "*"}), 403),
        "no scopes": (provider.mint([]), 403),
        "admin implies everything": (provider.mint(["admin"]), 200),
        "api:write implies api:read": (provider.mint(["api:write"]), 200),
        "ES256": (provider.mint(["api:read"], alg="ES256"), 200),
        "EdDSA": (provider.mint(["api:read"], alg="EdDSA"), 200),
    }


def test_probe_table(lab: Lab) -> None:
    results = {}
    for name, (token, expected) in _probe_tokens(lab).items():
        response = rpc(lab, "execute", {"capability": "echo", "arguments": {"text": "x"}}, token=token)
        results[name] = (response.status_code, expected)
    assert {k: v[0] for k, v in results.items()} == {k: v[1] for k, v in results.items()}


def test_hs_secret_config_refuses_hs384_and_hs512() -> None:
    secret = "hs256-lab-secret-0123456789abcdef0123456789"
    config = {
        "security": {"oauth2": {"jwt_secret": secret, "jwt_algorithm": "HS256", "jwt_issuer": "https://issuer.lab",
                                "jwt_audience": "api://oauth2-lab-agent"},
                     "scope_hierarchy": {"api:write": ["api:read"]}},
    }
    key = OctKey.import_key(secret)
    claims = {"iss": "https://issuer.lab", "aud": "api://oauth2-lab-agent", "sub": "u", "scope": "api:read",
              "exp": 4_000_000_000}
    with Lab(config) as hs_lab:
        for alg, expected in (("HS256", 200), ("HS384", 401), ("HS512", 401)):
            token = jfc_jwt.encode({"alg": alg}, claims, key, algorithms=[alg])
            assert rpc(hs_lab, "capabilities", token=token).status_code == expected, alg


# -- endpoints --------------------------------------------------------------------------------

def test_a2a_methods_v1_and_v03(lab: Lab) -> None:
    token = lab.token(["api:read", "api:write"])
    sent = rpc(lab, "message/send", message("hello"), token=token)
    assert sent.status_code == 200
    task = sent.json()["result"]
    assert task["status"]["state"] == "completed" and task["artifacts"][0]["parts"][0]["text"] == "echo: hello"
    got = rpc(lab, "tasks/get", {"id": task["id"]}, token=token)
    assert got.json()["result"]["id"] == task["id"]
    v1 = rpc(lab, "SendMessage", {"message": {"role": "ROLE_USER", "messageId": "m-1", "parts": [{"text": "v1"}]}},
             token=token, headers={"A2A-Version": "1.0"})
    assert v1.json()["result"]["task"]["status"]["state"] == "TASK_STATE_COMPLETED"
    card = rpc(lab, "GetExtendedAgentCard", {}, token=token, headers={"A2A-Version": "1.0"})
    assert "admin_status" in {s["id"] for s in card.json()["result"]["skills"]}
    assert rpc(lab, "GetExtendedAgentCard", {}, headers={"A2A-Version": "1.0"}).status_code == 401
    unknown = rpc(lab, "no/such/method", {}, token=token)
    assert unknown.status_code == 200 and unknown.json()["error"]["code"] == -32601


def test_tasks_belong_to_their_owner(lab: Lab) -> None:
    alice = lab.provider.mint(["api:read"], subject="alice")
    bob = lab.provider.mint(["api:read"], subject="bob")
    task_id = rpc(lab, "message/send", message(), token=alice).json()["result"]["id"]
    assert "result" in rpc(lab, "tasks/get", {"id": task_id}, token=alice).json()
    other = rpc(lab, "tasks/get", {"id": task_id}, token=bob).json()
    assert "error" in other and "not found" in other["error"]["message"].lower()


def test_cards_and_protected_resource_metadata(lab: Lab) -> None:
    for path in ("/.well-known/agent-card.json", "/.well-known/agent.json"):
        card = httpx.get(lab.agent_url + path).json()
        schemes = card["securitySchemes"]
        assert set(schemes) == {"oauth2", "oauth2_user"}
        flows = schemes["oauth2"]["oauth2SecurityScheme"]["flows"]
        assert flows["clientCredentials"]["tokenUrl"] == f"{lab.provider_url}/token"
        code = schemes["oauth2_user"]["oauth2SecurityScheme"]["flows"]["authorizationCode"]
        assert code["authorizationUrl"] == f"{lab.provider_url}/authorize" and code["pkceRequired"] is True
        assert card["securityRequirements"] and "apiKey" not in str(card)
        assert "admin_status" not in {s["id"] for s in card["skills"]}  # only in the extended card
    metadata = httpx.get(lab.agent_url + "/.well-known/oauth-protected-resource/mcp").json()
    assert metadata["resource"] == f"{lab.agent_url}/mcp"
    assert metadata["authorization_servers"] == [lab.provider_url]
    assert metadata["bearer_methods_supported"] == ["header"] and "files:write" in metadata["scopes_supported"]


def test_mcp_tools_list_shows_only_allowed_tools(lab: Lab) -> None:
    def names(token: str) -> set[str]:
        response = rpc(lab, "tools/list", token=token, path="/mcp")
        return {t["name"] for t in response.json()["result"]["tools"]}

    assert names(lab.token(["api:read"])) == {"get_time", "echo"}
    assert names(lab.token(["files:write"])) == {"list_files", "read_file", "write_file"}
    assert names(lab.token(["admin"])) == {"get_time", "echo", "list_files", "read_file", "write_file",
                                           "write_operation", "admin_status"}


def test_sandbox_refuses_path_traversal(lab: Lab) -> None:
    token = lab.token(["files:write"])
    for path in ("../escape.txt", "/etc/passwd", "a/../../b"):
        response = rpc(lab, "execute", {"capability": "write_file", "arguments": {"path": path, "content": "x"}},
                       token=token)
        assert response.json()["error"]["message"] == "path outside the sandbox", path
    ok = rpc(lab, "execute", {"capability": "write_file", "arguments": {"path": "notes/a.txt", "content": "x"}},
             token=token)
    assert "result" in ok.json()
    read = rpc(lab, "execute", {"capability": "read_file", "arguments": {"path": "notes/a.txt"}}, token=token)
    assert read.json()["result"]["result"] == "x"


def test_cache_is_per_user(lab: Lab) -> None:
    live = lab.agent.middleware.for_plugin("system_tools")
    assert live.cache is not None and live.limiter is None  # local plugin: cached, not rate limited
    before = len(live.cache)
    alice = lab.provider.mint(["api:read"], subject="alice")
    bob = lab.provider.mint(["api:read"], subject="bob")
    args = {"capability": "echo", "arguments": {"text": "cache-me"}}
    for token in (alice, bob, alice):
        assert rpc(lab, "execute", args, token=token).status_code == 200
    assert len(live.cache) == before + 2  # one entry per user, never shared
    assert live.cache.hits >= 1


def test_audit_has_one_event_per_request(lab: Lab) -> None:
    token = lab.token(["api:read"])
    before = lab.audit.total
    rpc(lab, "capabilities", token=token)
    rpc(lab, "capabilities")
    rpc(lab, "execute", {"capability": "admin_status"}, token=token)
    events = lab.audit.events()[-3:]
    assert lab.audit.total == before + 3
    assert [(e.decision, e.reason, e.status) for e in events] == [
        ("allow", None, 200), ("deny", "missing_token", 401), ("deny", "insufficient_scope", 403)]
    assert events[2].method == "execute:admin_status" and events[2].plugin == "admin"
    assert all(token not in repr(e) for e in lab.audit.events())


# -- SDK clients ------------------------------------------------------------------------------

class _StaticToken:
    def __init__(self, token: str) -> None:
        self.token = token

    async def get_credentials(self, security_scheme_name: str, context: Any) -> str | None:
        return self.token


def test_a2a_sdk_client(lab: Lab) -> None:
    from a2a.client import AuthInterceptor, ClientConfig, create_client
    from a2a.client.errors import A2AClientError
    from a2a.types import GetExtendedAgentCardRequest, Message, Part, Role, SendMessageRequest

    token = lab.token(["api:read"])

    async def scenario() -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            config = ClientConfig(streaming=False, httpx_client=http)
            client = await create_client(lab.agent_url, config, interceptors=[AuthInterceptor(_StaticToken(token))])
            request = SendMessageRequest(message=Message(role=Role.ROLE_USER, message_id=str(uuid.uuid4()),
                                                         parts=[Part(text="from the SDK")]))
            events = [event async for event in client.send_message(request)]
            assert events and "echo: from the SDK" in str(events[-1])
            card = await client.get_extended_agent_card(GetExtendedAgentCardRequest())
            assert any(s.id == "admin_status" for s in card.skills)
            anonymous = await create_client(lab.agent_url, config)
            with pytest.raises(A2AClientError):
                _ = [event async for event in anonymous.send_message(request)]

    asyncio.run(scenario())


def test_mcp_sdk_client(lab: Lab) -> None:
    import httpx2
    from mcp import Client, MCPError
    from mcp.client.streamable_http import streamable_http_client

    token = lab.token(["api:read", "files:write"])

    async def scenario() -> None:
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=10) as http:
            async with Client(streamable_http_client(f"{lab.agent_url}/mcp", http_client=http)) as client:
                tools = {t.name for t in (await client.list_tools()).tools}
                assert tools == {"get_time", "echo", "list_files", "read_file", "write_file"}
                result = await client.call_tool("echo", {"text": "via MCP"})
                assert result.content[0].text == "echo: via MCP" and not result.is_error
                with pytest.raises(MCPError) as info:  # the guard answers 403 before the tool runs
                    await client.call_tool("write_operation", {})
                assert info.value.error.code == -32093  # the guard's Forbidden (not A2A's -32003)

    asyncio.run(scenario())


def test_rate_limit_is_exact() -> None:
    config = {
        "security": {"oauth2": {"jwks_url": "${LAB_PROVIDER_URL}/jwks", "jwt_issuer": "${LAB_PROVIDER_URL}",
                                "jwt_audience": "api://oauth2-lab-agent"}},
        "middleware": [{"name": "rate_limited", "params": {"requests_per_minute": 5}}],
    }
    with Lab(config) as limited_lab:
        token = limited_lab.token(["api:write"])
        other = limited_lab.provider.mint(["api:write"], subject="bob")
        statuses = [rpc(limited_lab, "execute", {"capability": "write_operation"}, token=token) for _ in range(7)]
        assert [r.status_code for r in statuses] == [200] * 5 + [429] * 2
        assert int(statuses[-1].headers["retry-after"]) >= 1
        assert statuses[-1].json()["error"]["message"] == "Too Many Requests"
        # buckets are per principal
        assert rpc(limited_lab, "execute", {"capability": "write_operation"}, token=other).status_code == 200
        assert [e.reason for e in limited_lab.audit.events()].count("rate_limited") == 2


def test_a2a_sdk_client_v03_compat(lab: Lab) -> None:
    from a2a.client import AuthInterceptor, ClientConfig, ClientFactory
    from a2a.client.errors import A2AClientError
    from a2a.types import (
        AgentCard,
        AgentInterface,
        GetExtendedAgentCardRequest,
        Message,
        Part,
        Role,
        SendMessageRequest,
    )

    token = lab.token(["api:read"])

    async def scenario() -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            card = AgentCard()
            card.CopyFrom(lab.agent.card(None, extended=False))
            del card.supported_interfaces[:]
            card.supported_interfaces.append(AgentInterface(url=lab.agent_url + "/", protocol_binding="JSONRPC",
                                                            protocol_version="0.3"))
            factory = ClientFactory(ClientConfig(streaming=False, httpx_client=http))
            request = SendMessageRequest(message=Message(role=Role.ROLE_USER, message_id=str(uuid.uuid4()),
                                                         parts=[Part(text="legacy")]))
            client = factory.create(card, [AuthInterceptor(_StaticToken(token))])
            events = [event async for event in client.send_message(request)]
            assert "echo: legacy" in str(events[-1])
            extended = await client.get_extended_agent_card(GetExtendedAgentCardRequest())
            assert any(s.id == "admin_status" for s in extended.skills)
            anonymous = factory.create(card)
            with pytest.raises(A2AClientError):
                _ = [event async for event in anonymous.send_message(request)]

    asyncio.run(scenario())
    methods = [e.method for e in lab.audit.events()[-3:]]
    # the compat client speaks v0.3 names; the anonymous call is refused before its body is read
    assert methods == ["message/send", "agent/getAuthenticatedExtendedCard", "POST"]


def test_the_validator_runs_once_per_request(lab: Lab) -> None:
    # The token is validated once in all (the first request); every later request answers from one look-up of
    # the validator's cache (Gate.authenticate asks Validator.cached first).
    auth = lab.agent.tenants[None]
    original, lookup = auth.validator.validate, auth.validator.cache.get
    calls: list[str] = []
    lookups: list[object] = []

    async def counting(token: str, **kwargs: Any) -> Any:
        calls.append(token[-8:])
        return await original(token, **kwargs)

    def looking(key: Any) -> Any:
        lookups.append(key)
        return lookup(key)

    auth.validator.validate = counting
    auth.validator.cache.get = looking  # type: ignore[method-assign]
    try:
        token = lab.token(["api:read", "files:read"])
        for method, params, path in (("capabilities", None, "/"), ("message/send", message(), "/"),
                                     ("tools/list", {}, "/mcp"),
                                     ("tools/call", {"name": "list_files", "arguments": {}}, "/mcp"),
                                     ("execute", {"capability": "write_operation"}, "/")):
            validated, looked = len(calls), len(lookups)
            rpc(lab, method, params, token=token, path=path)
            if method != "capabilities":  # the first request validated it
                assert (len(calls) - validated, len(lookups) - looked) == (0, 1), method
        assert len(calls) == 1  # the first request: the token was not cached yet
    finally:
        auth.validator.validate = original
        auth.validator.cache.get = lookup  # type: ignore[method-assign]
