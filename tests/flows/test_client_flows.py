"""End to end: the official mcp and a2a SDK clients authorize themselves against the lab over real HTTP."""

from __future__ import annotations

import asyncio
import re
import time
import types
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from labkit.flows.recorder import FlowRecorder, classify
from labkit.flows.sdk import (
    ClientMetadataHost,
    LoopbackCallback,
    client_credentials_auth,
    code_flow_auth,
    identity_assertion_auth,
    mcp_session,
    private_key_jwt_auth,
    recorder_for,
)
from labkit.lab import Lab
from labkit.provider import persona_client

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab() as running:
        yield running


def _claims(lab: Lab, token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, lab.provider.server().keys.active("RS256")).claims)


def test_mcp_code_flow_discovery_dcr_pkce_refresh(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    callback = LoopbackCallback().start()
    recorder = recorder_for(lab, callback=callback)
    auth = code_flow_auth(lab, recorder, callback)

    async def scenario() -> None:
        async with mcp_session(lab, auth, recorder) as mcp:
            assert "echo" in {t.name for t in (await mcp.list_tools()).tools}
            result = await mcp.call_tool("echo", {"text": "via the code flow"})
            assert result.content[0].text == "echo: via the code flow"
        # the SDK's clock passes the token's expiry: its next request refreshes first (RFC 6749 §6)
        later = time.time() + 7200
        monkeypatch.setattr("mcp.client.auth.oauth2.time", types.SimpleNamespace(time=lambda: later))
        async with mcp_session(lab, auth, recorder) as mcp:
            assert (await mcp.call_tool("echo", {"text": "after refresh"})).content[0].text == "echo: after refresh"

    try:
        asyncio.run(scenario())
    finally:
        callback.stop()
    steps = [e.step for e in recorder.exchanges]
    assert steps[:7] == ["challenge: no or bad token", "protected resource metadata", "authorization server metadata",
                         "dynamic client registration", "authorization request (PKCE S256)",
                         "authorization response on loopback (iss)", "token request (code + verifier)"]
    assert "refresh" in steps[7:]
    authorize = next(e for e in recorder.exchanges if e.path == "/authorize")
    assert authorize.sent["code_challenge_method"] == "S256" and authorize.sent["resource"] == f"{lab.agent_url}/mcp"
    assert "iss=" + lab.provider_url in authorize.location  # RFC 9207
    token = next(e for e in recorder.exchanges if e.step.startswith("token request"))
    assert token.sent["resource"] == f"{lab.agent_url}/mcp" and token.sent["code"].startswith("<")
    # the dynamically registered client is listed by the admin API, without a secret
    listed = httpx.get(f"{lab.provider_url}/admin/clients", headers={"X-Lab-Admin": lab.provider.admin_token}).json()
    dynamic = [c for c in listed["clients"] if c["dynamic"]]
    assert dynamic and dynamic[-1]["name"] == "labkit MCP client" and "client_secret" not in dynamic[-1]
    # no secret, code or token in the record
    text = repr(recorder.exchanges)
    assert "lab-rt-" not in text and "eyJ" not in text


def test_a_token_for_another_resource_is_refused(lab: Lab) -> None:
    other = lab.token(["api:read"], resource="http://127.0.0.1:9/mcp")
    response = lab.rpc("tools/list", {}, token=other, path="/mcp")
    assert response.status_code == 401 and 'error="invalid_token"' in response.headers["www-authenticate"]


def test_mcp_client_credentials_and_private_key_jwt(lab: Lab) -> None:
    key = ECKey.generate_key("P-256", auto_kid=True)
    registered = httpx.post(f"{lab.provider_url}/register", json={
        "grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt",
        "jwks": {"keys": [key.as_dict(private=False)]}, "scope": "api:read", "client_name": "workload"}).json()
    pem = key.as_pem(private=True).decode()
    recorder = recorder_for(lab)

    async def scenario() -> None:
        for auth in (client_credentials_auth(lab),
                     private_key_jwt_auth(lab, client_id=registered["client_id"], private_key_pem=pem)):
            async with mcp_session(lab, auth, recorder) as mcp:
                assert (await mcp.call_tool("echo", {"text": "m2m"})).content[0].text == "echo: m2m"

    asyncio.run(scenario())
    grants = [e for e in recorder.exchanges if e.step == "client credentials"]
    assert len(grants) == 2 and all(e.status == 200 for e in grants)
    assert grants[1].sent["client_assertion_type"].endswith("jwt-bearer") and "client_secret" not in grants[1].sent


def test_mcp_identity_assertion_sep990(lab: Lab) -> None:
    recorder = recorder_for(lab)
    recorder.participants[FlowRecorder._origin(lab.provider_url)] = "AS / IdP"

    async def scenario() -> None:
        async with mcp_session(lab, identity_assertion_auth(lab, recorder, user="bob"), recorder) as mcp:
            assert (await mcp.call_tool("echo", {"text": "enterprise"})).content[0].text == "echo: enterprise"

    asyncio.run(scenario())
    steps = [e.step for e in recorder.exchanges]
    assert "ID-JAG from the enterprise IdP" in steps and "JWT-bearer grant (ID-JAG)" in steps
    assert any(e.subject == "bob" and e.decision == "allow" for e in lab.audit.events())


def test_a2a_client_reads_the_card_gets_a_token_and_sees_why_a_skill_is_refused(lab: Lab) -> None:
    from a2a.client import A2ACardResolver, AuthInterceptor, ClientConfig, create_client
    from a2a.types import Message, Part, Role, SendMessageRequest

    class Credentials:
        def __init__(self, token: str) -> None:
            self.token = token

        async def get_credentials(self, security_scheme_name: str, context: Any) -> str | None:
            return self.token

    recorder = recorder_for(lab)

    async def scenario() -> None:
        async with httpx.AsyncClient(timeout=10, event_hooks=recorder.async_hooks()) as http:
            card = await A2ACardResolver(http, lab.agent_url).get_agent_card()
            flow = card.security_schemes["oauth2"].oauth2_security_scheme.flows.client_credentials
            answer = await http.post(flow.token_url, data={"grant_type": "client_credentials", "scope": "api:read"},
                                     auth=persona_client("limited"))
            token = answer.json()["access_token"]
            client = await create_client(card, ClientConfig(streaming=False, httpx_client=http),
                                         interceptors=[AuthInterceptor(Credentials(token))])
            request = SendMessageRequest(message=Message(role=Role.ROLE_USER, message_id=str(uuid.uuid4()),
                                                         parts=[Part(text="hello")]))
            events = [event async for event in client.send_message(request)]
            assert "echo: hello" in str(events[-1])
            skill = next(s for s in card.skills if s.id == "write_operation")
            needed = set(skill.security_requirements[0].schemes["oauth2"].list)
            assert needed == {"api:write"} and not needed <= set(answer.json()["scope"].split())
            refused = await http.post(lab.agent_url + "/", headers={"Authorization": f"Bearer {token}"}, json={
                "jsonrpc": "2.0", "id": 1, "method": "execute", "params": {"capability": "write_operation"}})
            assert refused.status_code == 403
            assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
            assert 'scope="api:write"' in refused.headers["www-authenticate"]

    asyncio.run(scenario())
    assert [e.step for e in recorder.exchanges][:2] == ["agent card", "client credentials"]


def test_mcp_code_flow_with_a_client_id_metadata_document(lab: Lab) -> None:
    """401 -> RFC 9728 -> RFC 8414 -> CIMD client_id (no DCR) -> code + PKCE -> token -> tools/list, over real TLS."""
    callback = LoopbackCallback().start()
    host = ClientMetadataHost().start()
    recorder = recorder_for(lab, callback=callback)
    registered_before = len(lab.provider.server().store.clients)
    auth = code_flow_auth(lab, recorder, callback, metadata_host=host, client_name="labkit CIMD client")

    async def scenario() -> None:
        async with mcp_session(lab, auth, recorder) as mcp:
            assert "echo" in {t.name for t in (await mcp.list_tools()).tools}
            assert (await mcp.call_tool("echo", {"text": "cimd"})).content[0].text == "echo: cimd"

    try:
        asyncio.run(scenario())
    finally:
        callback.stop()
        host.stop()
        lab.provider.cimd.on_fetch = None
    steps = [e.step for e in recorder.exchanges]
    assert steps[:7] == ["challenge: no or bad token", "protected resource metadata", "authorization server metadata",
                         "client ID metadata document (fetched by the AS)", "authorization request (PKCE S256)",
                         "authorization response on loopback (iss)", "token request (code + verifier)"]
    assert "dynamic client registration" not in steps  # CIMD replaces DCR
    fetch = recorder.exchanges[3]
    assert fetch.source == "AS" and fetch.participant == "Client metadata" and fetch.received["client_id"] == host.client_id
    ids = dict(re.findall(r"participant (P\d+) as (.+)", recorder.mermaid()))
    by_name = {name: pid for pid, name in ids.items()}
    assert f"{by_name['AS']}->>{by_name['Client metadata']}: 4. GET /oauth/client-metadata.json" in recorder.mermaid()
    authorize = next(e for e in recorder.exchanges if e.path == "/authorize")
    assert authorize.sent["client_id"] == host.client_id
    token = next(e for e in recorder.exchanges if e.step.startswith("token request"))
    assert token.sent["client_id"] == host.client_id and token.status == 200
    # the token names the URL client; nothing was registered; the document was fetched once (then cached)
    records = [r for r in lab.provider.server().store.tokens.values() if r.client_id == host.client_id]
    assert records and len(lab.provider.server().store.clients) == registered_before
    assert host.served == 1


def test_mcp_steps_name_the_revision_that_defines_them() -> None:
    """MCP 2025-11-25 opens a session with initialize; the SDK's server/discover probe is a newer revision's."""
    assert classify("POST", "/mcp", {"method": "initialize"}, 200) == ("MCP initialize", "MCP 2025-11-25")
    step, spec = classify("POST", "/mcp", {"method": "server/discover"}, 200)
    assert step == "MCP server/discover" and "2025-11-25" not in spec
