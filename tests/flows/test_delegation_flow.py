"""Flow 5 end to end over real HTTP: the agent acts for alice at a second agent by token exchange (RFC 8693)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from joserfc import jwt

from labkit.config import ConfigError
from labkit.delegation import DelegationError
from labkit.flows.delegation import call_downstream_as, delegation_flow, exchange_as_agent, user_token
from labkit.lab import Lab

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab(downstream=True) as running:
        yield running


def test_flow_5_delegates_and_the_replay_is_refused(lab: Lab) -> None:
    run = delegation_flow(lab, record={"note": "flow 5"})
    assert run.agent_status == 200 and run.agent_result["result"]["delegated_to"] == "api://oauth2-lab-downstream"
    # the agent saw alice herself; the downstream sees alice, through lab-agent (RFC 8693 §4.1)
    assert (run.agent_event.subject, run.agent_event.actors) == ("alice", ())
    seen = run.downstream_event
    assert (seen.decision, seen.subject, seen.client, seen.actors) == ("allow", "alice", "lab-agent", ("lab-agent",))
    assert lab.downstream is not None
    assert {"record": {"note": "flow 5"}, "by": "alice", "via": ["lab-agent"]} in lab.downstream.agent.records
    # alice's own token, replayed at the downstream: issued for another audience
    assert run.replay_status == 401 and (run.replay_event.decision, run.replay_event.reason) == ("deny", "audience")
    rows = run.recorder.rows()
    assert [(r["from"], r["to"], r["step"]) for r in rows] == [
        ("User's client", "AS", "authorization request (PKCE S256)"),
        ("User's client", "AS", "token request (code + verifier)"),
        ("User's client", "Agent", "A2A execute"),
        ("Agent", "AS", "token exchange"),
        ("Agent", "Downstream", "A2A execute"),
        ("User's client", "Downstream", "challenge: no or bad token"),
    ]
    exchange = run.recorder.exchanges[3]
    assert exchange.sent["resource"] == "api://oauth2-lab-downstream" and exchange.sent["subject_token"][0] == "<"
    # the diagram nests the agent's calls inside the client's call
    lines = run.recorder.mermaid().splitlines()
    assert lines.index("    C->>P1: 3. POST /") < lines.index("    P1->>P0: 4. POST /token") < lines.index(
        "    P1-->>C: 200 A2A execute")
    assert "eyJ" not in repr(run.recorder.exchanges) and "lab-agent-secret" not in repr(run.recorder.exchanges)


def test_narrowing_deeper_chains_and_rules(lab: Lab) -> None:
    assert lab.downstream is not None
    alice = user_token(lab, scopes=["api:read", "api:write", "files:read"])
    narrowed = exchange_as_agent(lab, alice, scope="api:write")
    claims = jwt.decode(narrowed, lab.provider.server().keys.active("RS256")).claims
    assert (claims["sub"], claims["act"], claims["aud"], claims["scope"]) == (
        "alice", {"sub": "lab-agent"}, "api://oauth2-lab-downstream", "api:write")
    with pytest.raises(DelegationError, match="invalid_scope"):
        exchange_as_agent(lab, narrowed, scope="files:read")  # never wider than the subject token
    twice = exchange_as_agent(lab, narrowed)
    assert call_downstream_as(lab, narrowed).status_code == 200
    assert call_downstream_as(lab, twice).status_code == 200  # as shipped: any chain whose current actor is lab-agent
    try:
        lab.downstream.reload({"max_delegation_depth": 1})
        assert call_downstream_as(lab, twice).status_code == 403  # valid token, refused by policy (RFC 6750 §3.1)
        assert lab.downstream.audit.events()[-1].reason == "delegation"
        lab.downstream.reload({"required": True})
        direct = lab.provider.mint(["api:write"], subject="bob", audience="api://oauth2-lab-downstream")
        assert call_downstream_as(lab, direct).status_code == 403  # a direct token where only delegation is accepted
        assert lab.downstream.audit.events()[-1].detail == "plugin external_api accepts delegated tokens only"
        with pytest.raises(ConfigError) as caught:
            lab.downstream.reload({"max_delegation_depth": "one"})
        assert caught.value.paths == ["plugins[0].delegation.max_delegation_depth"]
        assert call_downstream_as(lab, narrowed).status_code == 200  # the bad rule changed nothing
    finally:
        lab.downstream.reload({"allowed_actors": ["lab-agent"]})


def test_a_refused_exchange_is_a_clear_capability_error(lab: Lab) -> None:
    token = lab.token(["api:write"], resource="http://127.0.0.1:9/elsewhere")  # lab-client's token for elsewhere
    answer = lab.rpc("execute", {"capability": "write_operation"}, token=token)
    # the agent cannot exchange a token that was not issued to it: a JSON-RPC error, never a 5xx
    assert answer.status_code in (200, 401)
    if answer.status_code == 200:
        assert "delegation failed: token exchange refused (400, invalid_grant)" in answer.json()["error"]["message"]


def test_default_lab_has_no_downstream() -> None:
    with Lab() as lab:
        assert lab.downstream is None
        external = next(p for p in lab.config.plugins if p.plugin_id == "external_api")
        assert external.delegation is None
        with pytest.raises(RuntimeError, match="downstream"):
            delegation_flow(lab)


def _token_for_resource(lab: Lab, resource: str) -> str:
    """What an MCP client (the MCP SDK) holds: authorization code + PKCE with RFC 8707 ``resource`` = the URL."""
    from authlib.common.security import generate_token
    from authlib.integrations.httpx_client import OAuth2Client

    from labkit.flows.delegation import REDIRECT_URI, USER_CLIENT

    verifier = generate_token(48)
    with OAuth2Client(USER_CLIENT[0], USER_CLIENT[1], scope="api:write", redirect_uri=REDIRECT_URI,
                      code_challenge_method="S256", trust_env=False, timeout=10) as oauth:
        url, _ = oauth.create_authorization_url(f"{lab.provider_url}/authorize", code_verifier=verifier,
                                                login_hint="alice", resource=resource)
        location = oauth.request("GET", url, withhold_token=True, follow_redirects=False).headers["location"]
        token = oauth.fetch_token(f"{lab.provider_url}/token", authorization_response=location,
                                  code_verifier=verifier, resource=resource)
    return str(token["access_token"])


def test_lab_agent_exchanges_tokens_for_the_agents_own_urls_and_no_other_loopback(lab: Lab) -> None:
    # RFC 8707 + RFC 8693: the MCP SDK asks for resource = the agent's /mcp URL; lab-agent IS that resource
    for resource in (f"{lab.public_url}/mcp", lab.public_url):
        token = _token_for_resource(lab, resource)
        assert jwt.decode(token, lab.provider.server().keys.active("RS256")).claims["aud"] == resource
        exchanged = exchange_as_agent(lab, token)
        claims = jwt.decode(exchanged, lab.provider.server().keys.active("RS256")).claims
        assert (claims["sub"], claims["act"]) == ("alice", {"sub": "lab-agent"})
    assert lab.downstream is not None
    other = _token_for_resource(lab, f"{lab.downstream.url}/mcp")  # another loopback resource server's token
    with pytest.raises(DelegationError):
        exchange_as_agent(lab, other)
