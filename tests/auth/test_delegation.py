"""Delegated tokens at the resource: the act chain read strictly, per-plugin rules, the audit event, the config."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labkit.audit import AuditEvent, AuditLog, read_jsonl
from labkit.auth import Principal
from labkit.auth.actors import MAX_ACTORS, actor_chain, check_delegation
from labkit.config import ConfigError, validate_security_config
from labkit.config.delegation import DelegationSpec
from labkit.errors import AuthError, Reason
from labkit.servers import ServerThread

from ..helpers import HMAC_SECRET, NOW, Keys, examples, mint, oauth2


def nest(*actors: str) -> dict[str, Any] | None:
    """``act`` for ``actors``, current actor first."""
    act: dict[str, Any] | None = None
    for actor in reversed(actors):
        act = {"sub": actor, **({"act": act} if act else {})}
    return act


# -- the act chain ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("act", "chain"), [
    (None, ()),
    ({"sub": "lab-agent"}, ("lab-agent",)),
    (nest("b", "a"), ("b", "a")),
    ({"sub": "x", "client_id": "extra members are fine"}, ("x",)),
    (nest(*(f"a{i}" for i in range(MAX_ACTORS))), tuple(f"a{i}" for i in range(MAX_ACTORS))),
])
def test_actor_chain_reads_well_formed_chains(act: Any, chain: tuple[str, ...]) -> None:
    assert actor_chain(act) == chain


@pytest.mark.parametrize("act", [
    "lab-agent", 1, True, [], ["lab-agent"], {}, {"sub": 1}, {"sub": ""}, {"sub": None}, {"sub": ["a"]},
    {"sub": "a" * 256}, {"sub": "a", "act": "b"}, {"sub": "a", "act": {"sub": 2}}, {"sub": "a", "act": []},
    nest(*(f"a{i}" for i in range(MAX_ACTORS + 1))),
])
def test_actor_chain_refuses_malformed_act_as_claims(act: Any) -> None:
    with pytest.raises(AuthError) as caught:
        actor_chain(act)
    assert caught.value.reason is Reason.CLAIMS


@pytest.mark.parametrize(("rule", "actors", "refused"), [
    ({}, (), False),
    ({}, ("anyone", "else"), False),
    ({"required": True}, (), True),
    ({"required": True}, ("lab-agent",), False),
    ({"max_delegation_depth": 0}, (), False),
    ({"max_delegation_depth": 0}, ("lab-agent",), True),
    ({"max_delegation_depth": 1}, ("lab-agent",), False),
    ({"max_delegation_depth": 1}, ("lab-agent", "lab-agent"), True),
    ({"allowed_actors": ["lab-agent"]}, ("lab-agent", "someone"), False),  # RFC 8693 §4.1: the current actor only
    ({"allowed_actors": ["lab-agent"]}, ("someone", "lab-agent"), True),
    ({"allowed_actors": []}, ("lab-agent",), True),
])
def test_delegation_rules(rule: dict[str, Any], actors: tuple[str, ...], refused: bool) -> None:
    spec = DelegationSpec.model_validate(rule)
    if not refused:
        check_delegation(actors, spec, "p")
        return
    with pytest.raises(AuthError) as caught:
        check_delegation(actors, spec, "p")
    assert caught.value.reason is Reason.DELEGATION


def test_principal_and_audit_event_carry_the_chain(tmp_path: Any) -> None:
    principal = Principal("alice", frozenset({"api:write"}), "lab-agent", claims={"act": nest("lab-agent", "x")})
    assert principal.actors == ("lab-agent", "x") and principal.delegated
    assert Principal("alice", frozenset(), claims={"act": "garbage"}).actors == ()  # built by hand: shown empty
    log = AuditLog(path=tmp_path / "audit.jsonl")
    log.record(AuditEvent.allow(principal, endpoint="/"))
    log.record(AuditEvent(decision="allow", actors=("\x1b[31m" + "a" * 500,) * 20))
    log.close()
    first, second = read_jsonl(tmp_path / "audit.jsonl")
    assert first.actors == ("lab-agent", "x") and first.subject == "alice"
    assert len(second.actors) == 8 and all(len(a) < 200 and "\x1b" not in a for a in second.actors)


# -- configuration: every problem at its path -----------------------------------------------------------------

def config(delegation: Any) -> dict[str, Any]:
    return {"security": {"enabled": True, "type": "oauth2", "oauth2": oauth2(jwt_secret=HMAC_SECRET)},
            "plugins": [{"plugin_id": "external_api", "delegation": delegation}]}


@pytest.mark.parametrize(("delegation", "path"), [
    ({"max_delegation_depth": -1}, "plugins[0].delegation.max_delegation_depth"),
    ({"max_delegation_depth": 9}, "plugins[0].delegation.max_delegation_depth"),
    ({"max_delegation_depth": "1"}, "plugins[0].delegation.max_delegation_depth"),
    ({"max_delegation_depth": True}, "plugins[0].delegation.max_delegation_depth"),
    ({"allowed_actors": "lab-agent"}, "plugins[0].delegation.allowed_actors"),
    ({"allowed_actors": [" lab-agent"]}, "plugins[0].delegation.allowed_actors[0]"),
    ({"required": True, "max_delegation_depth": 0}, "plugins[0].delegation.max_delegation_depth"),
    ({"max_depth": 1}, "plugins[0].delegation.max_depth"),
    ("yes", "plugins[0].delegation"),
    ({"downstream": {"url": "http://agent.example", "audience": "a", "token_endpoint": "https://as.example/token",
                     "client_id": "c"}}, "plugins[0].delegation.downstream.url"),
    ({"downstream": {"url": "http://127.0.0.1:1", "audience": "a", "token_endpoint": "https://u:p@as.example/t",
                     "client_id": "c"}}, "plugins[0].delegation.downstream.token_endpoint"),
    ({"downstream": {"url": "http://127.0.0.1:1", "audience": "a", "token_endpoint": "https://as.example/t",
                     "client_id": "c", "scope": "api:write \"x"}}, "plugins[0].delegation.downstream.scope[1]"),
    ({"downstream": {"url": "http://127.0.0.1:1", "audience": "a", "token_endpoint": "https://as.example/t"}},
     "plugins[0].delegation.downstream.client_id"),
])
def test_bad_delegation_config_names_the_path(delegation: Any, path: str) -> None:
    with pytest.raises(ConfigError) as caught:
        validate_security_config(config(delegation))
    assert path in caught.value.paths, caught.value


def test_good_delegation_config() -> None:
    cfg = validate_security_config(config({"max_delegation_depth": 1, "allowed_actors": ["lab-agent"], "downstream": {
        "url": "http://127.0.0.1:9", "audience": "api://down", "token_endpoint": "https://as.example/token",
        "client_id": "lab-agent", "client_secret": "s", "scope": "api:write"}}))
    rule = cfg.plugins[0].delegation
    assert rule is not None and rule.downstream is not None and rule.downstream.scope == "api:write"
    assert "client_secret" not in repr(rule)


# -- over HTTP: the sample agent holds delegated callers to the plugin's rule --------------------------------

RULE = {"max_delegation_depth": 1, "allowed_actors": ["lab-agent"]}


@pytest.fixture(scope="module")
def agent(keys: Keys) -> Iterator[tuple[str, AuditLog, Keys]]:
    from sample_agent import create_app

    cfg = validate_security_config({
        "security": {"enabled": True, "type": "oauth2", "oauth2": oauth2(jwks=keys.jwks(), jwt_algorithms=["RS256"]),
                     "scope_hierarchy": {"api:write": ["api:read"]}},
        "plugins": [{"plugin_id": "system_tools", "required_scopes": ["api:read"], "delegation": RULE}]})
    audit = AuditLog()
    server = ServerThread(name="delegation-agent")
    server.app = create_app(cfg, public_url=server.url, clock=lambda: NOW, audit=audit)
    server.start()
    try:
        yield server.url, audit, keys
    finally:
        server.stop()


def echo(url: str, token: str) -> int:
    body = {"jsonrpc": "2.0", "id": 1, "method": "execute", "params": {"capability": "echo",
                                                                         "arguments": {"text": "x"}}}
    return httpx.post(url + "/", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code


@pytest.mark.integration
@pytest.mark.parametrize(("act", "status", "reason"), [
    (None, 200, None),
    (nest("lab-agent"), 200, None),
    (nest("lab-agent", "lab-agent"), 403, "delegation"),  # a valid token the policy refuses: 403, not 401
    (nest("mallory"), 403, "delegation"),
    (nest("lab-agent", "mallory"), 403, "delegation"),
    ({"sub": ["lab-agent"]}, 401, "claims"),
    ({"sub": "lab-agent", "act": {"sub": {"sub": "x"}}}, 401, "claims"),
])
def test_agent_applies_the_plugin_rule(agent: tuple[str, AuditLog, Keys], act: Any, status: int,
                                       reason: str | None) -> None:
    url, audit, keys = agent
    assert echo(url, mint(keys.rsa, sub="alice", scope="api:read", act=act)) == status
    event = audit.events()[-1]
    assert (event.reason, event.status) == (reason, status)
    if reason == "delegation":  # refused after authentication: the event still says who, and through whom
        assert event.subject == "alice" and event.actors == actor_chain(act)
    if status == 200:
        assert event.actors == actor_chain(act)


JSON = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                              st.text(max_size=12), st.sampled_from(["lab-agent", "mallory"])),
                    lambda inner: st.one_of(st.lists(inner, max_size=3),
                                            st.dictionaries(st.sampled_from(["sub", "act", "client_id", "x"]), inner,
                                                            max_size=3)), max_leaves=20)


@pytest.mark.integration
@settings(max_examples=examples(60), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(act=JSON)
def test_any_act_shape_is_200_401_or_403_never_5xx(agent: tuple[str, AuditLog, Keys], act: Any) -> None:
    url, audit, keys = agent
    status = echo(url, mint(keys.rsa, sub="alice", scope="api:read", act=act))
    try:
        chain = actor_chain(act)
    except AuthError:  # a malformed act: a malformed token
        expected = 401
    else:
        try:
            check_delegation(chain, DelegationSpec.model_validate(RULE), "system_tools")
            expected = 200
        except AuthError:  # a well-formed chain the rule refuses: the token is valid, the policy says no
            expected = 403
    assert status == expected, (act, audit.events()[-1])
