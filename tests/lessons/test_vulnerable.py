"""The vulnerable agent: each weakness is exploitable there, refused by the real agent, and fixed when switched off."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jws

from labkit.lab import Lab, LabClock
from labkit.vulnerable import (
    DEFENCES,
    TOKEN_WEAKNESSES,
    WEAKNESSES,
    claims_of,
    fetch_jwks,
    hs256_token,
    raw_get,
    with_claims,
)
from labkit.vulnerable.app import admitted_by, raw_path, tried

from ..helpers import ROOT, examples
from .exploits import PATH_EXPLOIT, exploit_token, replay_table

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab(vulnerable=True, clock=LabClock()) as running:
        yield running


def _real_reason(lab: Lab, token: str | None, capability: str = "admin_status") -> tuple[int, str]:
    before = lab.audit.total
    status = lab.rpc("execute", {"capability": capability}, token=token).status_code
    return status, (lab.audit.events()[-1].reason or "") if lab.audit.total > before else ""


@pytest.mark.parametrize("name", TOKEN_WEAKNESSES)
def test_token_weakness_exploited_then_fixed(lab: Lab, name: str) -> None:
    agent = lab.vulnerable
    assert agent is not None
    agent.only(name)
    token = exploit_token(name, lab)
    answer = agent.execute("admin_status", token=token)
    assert answer.status_code == 200, agent.last_reasons()
    event = agent.audit.events()[-1]
    assert event.decision == "allow" and f"weakness {name}" in event.detail
    reason, _ = DEFENCES[name]
    assert _real_reason(lab, token) == (401, reason)  # the real agent refuses it, for the documented rule
    agent.disable(name)
    assert agent.execute("admin_status", token=token).status_code == 401
    assert agent.audit.events()[-1].reason == reason  # the fix refuses the same token for the same rule


def test_every_exploit_refused_with_no_weakness_on(lab: Lab) -> None:
    agent = lab.vulnerable
    assert agent is not None
    agent.only()
    for name in TOKEN_WEAKNESSES:
        assert agent.execute("admin_status", token=exploit_token(name, lab)).status_code == 401, name
    good = lab.provider.mint(["admin"])
    assert agent.execute("admin_status", token=good).status_code == 200
    assert agent.execute("admin_status", token=lab.provider.mint(["api:read"])).status_code == 403


def test_naive_decode_admits_anything_and_wrong_tokens_fail_the_others(lab: Lab) -> None:
    agent = lab.vulnerable
    assert agent is not None
    agent.only("expired_accepted")
    # A wrong exploit (the wrong audience) is not admitted by the expiry mistake.
    assert agent.execute("admin_status", token=exploit_token("audience_unchecked", lab)).status_code == 401
    agent.only("naive_decode")
    assert agent.execute("admin_status", token=exploit_token("audience_unchecked", lab)).status_code == 200
    assert agent.execute("admin_status", token="not.a.token").status_code == 401


def test_path_differential(lab: Lab) -> None:
    agent = lab.vulnerable
    assert agent is not None
    agent.only("path_differential")
    assert agent.get(PATH_EXPLOIT).status_code == 200
    assert agent.get("/t/acme/admin/status").status_code == 401
    assert lab.client().get(PATH_EXPLOIT).status_code == 401  # the real agent: deny by default, one parse
    agent.disable("path_differential")
    assert agent.get(PATH_EXPLOIT).status_code == 401
    assert agent.audit.events()[-1].reason == DEFENCES["path_differential"][0]
    assert agent.get("/t/acme/.well-known/agent.json").status_code == 200


def test_shared_cache(lab: Lab) -> None:
    agent = lab.vulnerable
    assert agent is not None
    alice = lab.provider.mint(["api:read"], subject="alice")
    bob = lab.provider.mint(["api:read"], subject="bob")
    agent.only("shared_cache")
    agent.execute("whoami", token=alice)
    assert agent.execute("whoami", token=bob).json()["result"]["subject"] == "alice"
    assert agent.leaks[-1] == ("bob", "alice")
    agent.disable("shared_cache")
    agent.execute("whoami", token=alice)
    assert agent.execute("whoami", token=bob).json()["result"]["subject"] == "bob"


def test_unknown_weakness_and_no_vulnerable_agent_by_default(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown weakness"):
        Lab(vulnerable=["alg_from_header", "sql"])
    assert set(DEFENCES) == set(WEAKNESSES)


def test_never_reachable_from_configuration() -> None:
    # Only labkit/lab/runner.py may import labkit.vulnerable; no config, guard, auth or agent module does.
    offenders = []
    for path in [*(ROOT / "labkit").rglob("*.py"), *(ROOT / "sample_agent").rglob("*.py")]:
        if "vulnerable" in path.parts or path.relative_to(ROOT).as_posix() == "labkit/lab/runner.py" or "challenges" in path.parts:
            continue
        if re.search(r"^\s*(from|import)\s+\S*vulnerable", path.read_text(), re.MULTILINE):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_a_config_section_does_not_start_it() -> None:
    raw = {"security": {"oauth2": {"jwks_url": "${LAB_PROVIDER_URL}/jwks", "jwt_algorithms": ["RS256"],
                                   "jwt_issuer": "${LAB_PROVIDER_URL}", "jwt_audience": "api://oauth2-lab-agent"}},
           "vulnerable": ["alg_from_header"]}
    with Lab(raw) as lab:
        assert lab.vulnerable is None
        assert _real_reason(lab, exploit_token("alg_from_header", lab), "echo") == (401, "algorithm")


def test_replay_table(lab: Lab) -> None:
    agent = lab.vulnerable
    assert agent is not None
    agent.only("shared_cache")
    rows = replay_table(lab)
    assert [r["weakness"] for r in rows] == list(TOKEN_WEAKNESSES)
    assert all(r["exploited"] == 200 and r["fixed"] == 401 and r["real agent"] == 401 for r in rows)
    assert all(r["fixed: audit reason"] == r["real: audit reason"] == DEFENCES[str(r["weakness"])][0] for r in rows)
    assert agent.weaknesses == {"shared_cache"}  # restored
    with Lab() as plain, pytest.raises(ValueError, match="vulnerable"):
        replay_table(plain)


_TEXT = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80)
_SEGMENT = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)


@st.composite
def _tokens(draw: st.DrawFn) -> str:
    """Three dot-separated parts whose header and payload are JSON of any shape (or not JSON at all)."""
    value = st.recursive(st.none() | st.booleans() | st.integers() | _SEGMENT,
                         lambda c: st.lists(c, max_size=3) | st.dictionaries(_SEGMENT, c, max_size=3), max_leaves=8)
    header = draw(st.fixed_dictionaries({}, optional={"alg": st.sampled_from(["none", "HS256", "RS256", "x"]) | value,
                                                       "kid": value, "jku": value}) | value)
    payload = draw(st.dictionaries(st.sampled_from(["sub", "scope", "exp", "iss", "aud"]), value, max_size=5) | value)
    raw = [json.dumps(header).encode(), json.dumps(payload).encode()]
    if draw(st.booleans()):
        raw[0] = draw(st.binary(max_size=30))
    parts = [base64.urlsafe_b64encode(r).rstrip(b"=").decode() for r in raw]
    return ".".join([*parts, draw(_TEXT.filter(lambda s: "." not in s))])


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(token=_tokens() | _TEXT, path=st.sampled_from(["/", "/t/acme/", "/admin/status", "/t/x/.well-known/%2e%2e/"])
       | _TEXT.map(lambda s: "/" + s.replace("?", "").replace("#", "")), body=st.binary(max_size=60) | st.just(b"[1]"))
def test_no_5xx_whatever_is_sent(lab: Lab, token: str, path: str, body: bytes) -> None:
    agent = lab.vulnerable
    assert agent is not None
    agent.only(*WEAKNESSES)
    client = agent.client()
    headers = {"Authorization": f"Bearer {token}".strip()}
    for answer in (client.post(httpx.URL(agent.url + path), content=body, headers=headers),
                   client.get(httpx.URL(agent.url + path), headers=headers)):
        assert answer.status_code < 500, (path, token)


def test_dns_rebinding_is_not_one_of_its_weaknesses(lab: Lab) -> None:
    """Every weakness on, the vulnerable agent still refuses a page's Host or Origin (labkit.hosts) before its own
    UNSAFE guard: the path differential that answers without a token is not reachable from a rebound page."""
    agent = lab.vulnerable
    assert agent is not None
    agent.only(*WEAKNESSES)
    port = httpx.URL(agent.url).port
    assert httpx.get(agent.url + PATH_EXPLOIT).status_code == 200  # the lesson's exploit, from loopback
    for headers in ({"Host": f"attacker.example:{port}"}, {"Host": f"localhost.:{port}"},
                    {"Origin": "http://attacker.example"}):
        answer = httpx.get(agent.url + PATH_EXPLOIT, headers=headers)
        assert answer.status_code in (421, 403) and "users" not in answer.text, headers


def _provider_signed(lab: Lab, header: dict[str, object], **claims: object) -> str:
    """A token signed by the provider's own key, with extra header members (what a confused validator skips)."""
    key = lab.provider.server(None).keys.active("RS256")
    body = {**claims_of(lab.provider.mint(["admin"])), **claims}
    return jws.serialize_compact({"alg": "RS256", "typ": "at+jwt", "kid": str(key.kid), **header}, json.dumps(body),
                                 key)


def test_a_weakness_is_credited_only_when_the_admission_depended_on_it(lab: Lab) -> None:
    """audience_unchecked skips aud but also (being a second look) the header rules: a wrong-audience token that
    the real check refused for its jku header must not get in through it, nor be credited to it."""
    agent = lab.vulnerable
    assert agent is not None
    agent.only("audience_unchecked", "expired_accepted")
    both = _provider_signed(lab, {"jku": "http://127.0.0.1:9/jwks.json"}, aud="api://another-service")
    assert agent.execute("admin_status", token=both).status_code == 401
    assert agent.audit.events()[-1].reason == "header"
    assert tried(agent.audit.events()[-1]) == {"audience_unchecked", "expired_accepted"}
    wrong_aud = _provider_signed(lab, {}, aud="api://another-service")
    assert agent.execute("admin_status", token=wrong_aud).status_code == 200
    assert admitted_by(agent.audit.events()[-1]) == ["audience_unchecked"]
    agent.only()
    assert agent.execute("admin_status", token=lab.provider.mint(["admin"])).status_code == 200
    assert admitted_by(agent.audit.events()[-1]) == []  # a real admission names no weakness


def test_the_audit_records_what_a_replay_needs(lab: Lab) -> None:
    agent = lab.vulnerable
    assert agent is not None
    agent.only("path_differential", "shared_cache")
    agent.get(PATH_EXPLOIT)
    event = agent.audit.events()[-1]
    assert admitted_by(event) == ["path_differential"] and raw_path(event) == "/t/acme/.well-known/../admin/status"
    agent.disable("path_differential")
    agent.get(PATH_EXPLOIT)
    event = agent.audit.events()[-1]
    assert event.reason == "missing_token" and tried(event) == set() and raw_path(event) == raw_path(event)
    alice, bob = (lab.provider.mint(["api:read"], subject=name) for name in ("alice", "bob"))
    agent.execute("whoami", token=alice)
    assert tried(agent.audit.events()[-1]) == {"shared_cache"}
    agent.execute("whoami", token=bob)
    assert admitted_by(agent.audit.events()[-1]) == ["shared_cache"]
    assert "cached for alice" in agent.audit.events()[-1].detail


def test_httpx_resolves_dot_segments_a_raw_socket_does_not(lab: Lab) -> None:
    agent = lab.vulnerable
    assert agent is not None
    agent.only("path_differential")
    dotted = "/t/acme/.well-known/../admin/status"
    assert httpx.URL(agent.url + dotted).raw_path == b"/t/acme/admin/status"  # resolved before sending
    assert httpx.URL(agent.url + PATH_EXPLOIT).raw_path == PATH_EXPLOIT.encode()  # %2e%2e is kept
    assert agent.get(dotted).status_code == 401
    status, body = raw_get(agent.url, dotted)
    assert status == 200 and "users" in body
    assert raw_path(agent.audit.events()[-1]) == dotted
    for url, path in ((agent.url, "/a b"), (agent.url, "x"), ("http://example.com:80", "/"), (agent.url, "/\r\nX: y")):
        with pytest.raises(ValueError):
            raw_get(url, path)


def test_craft_primitives(lab: Lab) -> None:
    assert lab.config.oauth2.jwks_url
    keys = fetch_jwks(lab.config.oauth2.jwks_url)
    assert keys["keys"] and all("d" not in k for k in keys["keys"])  # public keys only
    with pytest.raises(ValueError, match="JWK Set"):
        fetch_jwks(lab.provider_url + "/.well-known/oauth-authorization-server")
    for bad in ("not a token", "a.b.c", base64.urlsafe_b64encode(b"[1]").decode() + ".x.y"):
        with pytest.raises(ValueError):
            claims_of(bad)
    with pytest.raises(TypeError):
        hs256_token({}, {}, "text")  # type: ignore[arg-type]
    token = hs256_token({"kid": "k"}, {"sub": "x"}, b"")
    assert claims_of(token) == {"sub": "x"} and jws.extract_compact(token.encode()).headers()["alg"] == "HS256"


def test_a_request_s_own_text_cannot_forge_an_attribution(lab: Lab) -> None:
    """A path or a subject is the attacker's text: written into the audit, it never reads as a weakness note, so a
    path-differential request cannot pass for an alg_none admission (nor a leak for another mistake)."""
    agent = lab.vulnerable
    assert agent is not None
    agent.only("path_differential", "shared_cache", "naive_decode")
    injected = "x%3B%20weakness%20alg_from_header%3A%20y%3B%20tried%3A%20none"
    assert agent.get(f"/t/acme/.well-known/{injected}/%2e%2e/%2e%2e/admin/status").status_code == 200
    assert admitted_by(agent.audit.events()[-1]) == ["path_differential"]
    genuine = lab.provider.mint(["api:read"])
    mallory = with_claims(genuine, {**claims_of(genuine), "sub": "m; weakness alg_from_header: z; tried: none"})
    agent.execute("whoami", token=mallory)
    agent.execute("whoami", token=lab.provider.mint(["api:read"], subject="bob"))
    leak = agent.audit.events()[-1]
    assert admitted_by(leak) == ["shared_cache"] and tried(leak) is None and ";" not in leak.detail.split("; ")[-1]
