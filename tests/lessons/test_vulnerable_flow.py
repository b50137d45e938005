"""Lesson 18's vulnerable flow: what each mistake admits, and what its absence refuses (the rule a correct server or
client applies); with every mistake off, no redirect URI but the registered one ever gets a code."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labkit.lab import Lab
from labkit.vulnerable.flow import CLIENT_ID, DEFENCES, MALLORY, MISTAKES, Breach, FlowLab, Refusal

from ..helpers import ROOT, examples

pytestmark = pytest.mark.integration
VERIFIER = "v" * 43


@pytest.fixture(scope="module")
def module_flow() -> Iterator[FlowLab]:
    flow = FlowLab(True).start()
    try:
        yield flow
    finally:
        flow.close()


@pytest.fixture
def flow(module_flow: FlowLab) -> Iterator[FlowLab]:
    module_flow.enable(*MISTAKES)
    module_flow.victim.visit(f"{module_flow.client.url}/login")  # alice logged in as herself, nothing pending
    yield module_flow


def authorize(flow: FlowLab, **params: str) -> httpx.Response:
    """An authorization request in alice's browser (her AS session), not followed."""
    query = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": flow.client.callback,
             "code_challenge": create_s256_code_challenge(VERIFIER), "code_challenge_method": "S256", **params}
    return flow.victim.http.get(f"{flow.as_.url}/authorize", params={k: v for k, v in query.items() if v})


def redeem(flow: FlowLab, code: str, **params: str) -> httpx.Response:
    secret = flow.client.servers["honest"].secret
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": flow.client.callback,
            "code_verifier": VERIFIER, **params}
    return httpx.post(f"{flow.as_.url}/token", data={k: v for k, v in form.items() if v}, auth=(CLIENT_ID, secret))


def code_of(answer: httpx.Response) -> str:
    assert answer.status_code == 302, answer.text
    return str(httpx.URL(answer.headers["location"]).params["code"])


def last(flow: FlowLab) -> Breach | Refusal:
    return flow.log.since(flow.log.total - 1)[0]


def test_unknown_mistake_refused_before_any_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    import labkit.lab.runner as runner

    def no_provider(*args: object, **kwargs: object) -> None:
        raise AssertionError("a socket was about to be bound")

    monkeypatch.setattr(runner, "MockProvider", no_provider)
    with pytest.raises(ValueError, match="unknown mistake sql"):
        Lab(vulnerable_as=["redirect_prefix", "sql"])
    assert set(DEFENCES) == set(MISTAKES)


def test_a_config_section_does_not_start_it() -> None:
    raw = {"security": {"oauth2": {"jwks_url": "${LAB_PROVIDER_URL}/jwks", "jwt_algorithms": ["RS256"],
                                   "jwt_issuer": "${LAB_PROVIDER_URL}", "jwt_audience": "api://oauth2-lab-agent"}},
           "vulnerable_as": True}
    with Lab(raw) as lab:
        assert lab.flow is None


def test_only_lab_code_imports_it() -> None:
    importers = {path.relative_to(ROOT).as_posix() for path in (ROOT / "labkit").rglob("*.py")
                 if re.search(r"^\s*(from|import)\s+\S*vulnerable\.flow", path.read_text(), re.MULTILINE)}
    assert importers <= {"labkit/lab/runner.py", "labkit/challenges/lessons/lesson_18.py"}, importers


def test_redirect_prefix(flow: FlowLab) -> None:
    evil = flow.client.origin + "@" + flow.attacker.url[7:] + "/steal"
    code = code_of(authorize(flow, redirect_uri=evil))          # admitted: the string starts with the origin
    assert "redirect_prefix" in flow.as_.codes[__import__("hashlib").sha256(code.encode()).hexdigest()].through
    flow.disable("redirect_prefix")
    refused = authorize(flow, redirect_uri=evil)
    assert refused.status_code == 400 and "not registered" in refused.json()["error_description"]
    assert last(flow) == Refusal("redirect_uri", frozenset(MISTAKES) - {"redirect_prefix"}, evil,
                                 "redirect_uri is not registered for this client")


def test_code_injection(flow: FlowLab) -> None:
    evil = flow.client.url + "/elsewhere"
    assert redeem(flow, code_of(authorize(flow, redirect_uri=evil))).status_code == 200
    flow.disable("code_injection")
    refused = redeem(flow, code_of(authorize(flow, redirect_uri=evil)))
    assert refused.status_code == 400 and "does not match" in refused.json()["error_description"]
    assert redeem(flow, code_of(authorize(flow, redirect_uri=evil)), redirect_uri=evil).status_code == 200


def test_pkce_downgrade(flow: FlowLab) -> None:
    assert redeem(flow, code_of(authorize(flow, code_challenge="", code_challenge_method="")),
                  code_verifier="anything").status_code == 200
    assert redeem(flow, code_of(authorize(flow, code_challenge=VERIFIER, code_challenge_method="plain"))
                  ).status_code == 200
    flow.disable("pkce_downgrade")
    for params in ({"code_challenge": "", "code_challenge_method": ""},
                   {"code_challenge": VERIFIER, "code_challenge_method": "plain"},
                   {"code_challenge_method": ""}):       # no method means plain (RFC 7636 §4.3)
        refused = authorize(flow, **params)
        assert refused.status_code == 400 and "PKCE is required" in refused.json()["error_description"]
    assert redeem(flow, code_of(authorize(flow)), code_verifier="w" * 43).status_code == 400
    assert redeem(flow, code_of(authorize(flow)), code_verifier="").status_code == 400


def test_a_code_redeems_once(flow: FlowLab) -> None:
    code = code_of(authorize(flow))
    assert redeem(flow, code).status_code == 200
    assert redeem(flow, code).status_code == 400


def test_no_state(flow: FlowLab) -> None:
    with httpx.Client(trust_env=False) as mallory:
        mallory.post(f"{flow.as_.url}/login", data={"username": MALLORY[0], "password": MALLORY[1]})
        code = code_of(mallory.get(f"{flow.as_.url}/authorize", params={
            "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": flow.client.callback}))
    flow.victim.visit(f"{flow.client.url}/callback?{urlencode({'code': code, 'iss': flow.as_.issuer})}")
    assert flow.victim.me() == "mallory"
    assert last(flow) == Breach("login_csrf", "mallory", frozenset({"no_state", "pkce_downgrade"}),
                                (("no_state", "victim"), ("pkce_downgrade", "absent")))
    flow.disable("no_state")
    hops = flow.victim.visit(f"{flow.client.url}/callback?{urlencode({'code': 'x', 'iss': flow.as_.issuer})}")
    assert hops[-1][0] == 400 and last(flow).key == "victim" and isinstance(last(flow), Refusal)


def test_iss_unchecked(flow: FlowLab) -> None:
    flow.attacker.authorize_to = lambda params: f"{flow.as_.url}/authorize?{urlencode(params)}"
    flow.victim.visit(f"{flow.client.url}/login?as=other")
    assert flow.attacker.received[-1].path == "/as/token" and "code_verifier" in flow.attacker.received[-1].params
    assert isinstance(last(flow), Breach) and last(flow).kind == "mixup"
    flow.disable("iss_unchecked")
    before = len(flow.attacker.received)
    assert flow.victim.visit(f"{flow.client.url}/login?as=other")[-1][0] == 400
    assert [r.path for r in flow.attacker.received[before:]] == ["/as/authorize"]  # no code reached /as/token
    # and a response without iss is refused too (RFC 9207 §2.4)
    flow.disable("no_state")
    location = flow.victim.http.get(f"{flow.client.url}/login").headers["location"]
    answer = flow.victim.http.get(location)
    stripped = httpx.URL(answer.headers["location"]).copy_remove_param("iss")
    assert flow.victim.http.get(stripped).status_code == 400


def test_open_redirect(flow: FlowLab) -> None:
    to = f"{flow.attacker.url}/x"
    assert flow.victim.http.get(f"{flow.client.url}/go", params={"to": to, "a": "b"}).headers["location"] == \
        f"{to}?a=b"
    flow.disable("open_redirect")
    assert flow.victim.http.get(f"{flow.client.url}/go", params={"to": to}).status_code == 400
    for sneaky in ("//127.0.0.1:9/x", "http:/x", "https://example.com"):
        assert flow.victim.http.get(f"{flow.client.url}/go", params={"to": sneaky}).status_code == 400
    assert flow.victim.http.get(f"{flow.client.url}/go", params={"to": "/me"}).status_code == 302


def test_the_log_holds_no_code_or_token(flow: FlowLab) -> None:
    code = code_of(authorize(flow))
    token = redeem(flow, code).json()["access_token"]
    flow.disable("code_injection")
    redeem(flow, code_of(authorize(flow, redirect_uri=flow.client.url + "/other")))
    text = repr(flow.log.since(0))
    assert code not in text and token not in text


@settings(max_examples=examples(60), suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(base=st.sampled_from(["callback", "origin", "userinfo"]),
       tail=st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=12))
def test_every_mistake_off_only_the_registered_redirect_gets_a_code(module_flow: FlowLab, base: str,
                                                                   tail: str) -> None:
    module_flow.disable(*MISTAKES)
    try:
        start = {"callback": module_flow.client.callback, "origin": module_flow.client.origin,
                 "userinfo": module_flow.client.origin + "@127.0.0.1:9"}[base]
        redirect_uri = start + tail
        answer = authorize(module_flow, redirect_uri=redirect_uri, state="s")
        if redirect_uri == module_flow.client.callback:
            assert answer.status_code == 302
        else:
            assert answer.status_code == 400 and "location" not in answer.headers
    finally:
        module_flow.enable(*MISTAKES)


def _proxy_link(flow: FlowLab, redirect_uri: str, register: str | None = None) -> str:
    client = httpx.post(f"{flow.proxy.url}/register", json={"redirect_uris": [register or redirect_uri]})
    query = {"response_type": "code", "client_id": client.json()["client_id"], "redirect_uri": redirect_uri,
             "state": "s"}
    return f"{flow.proxy.url}/authorize?{urlencode(query)}"


def test_static_client_consent(flow: FlowLab) -> None:
    steal = f"{flow.attacker.url}/steal"
    hops = flow.victim.visit(_proxy_link(flow, steal))
    assert hops[-1][1].startswith(steal) and "code=" in hops[-1][1]  # no consent page: the server remembered
    assert last(flow) == Breach("proxy_code", "alice", frozenset({"static_client_consent"}),
                                (("static_client_consent", steal),))
    flow.disable("static_client_consent")
    before = len(flow.attacker.received)
    hops = flow.victim.visit(_proxy_link(flow, steal))
    assert hops[-1][0] == 200 and "Allow mcp-client-" in flow.victim.http.get(hops[-1][1]).text
    assert len(flow.attacker.received) == before and isinstance(last(flow), Refusal)
    assert last(flow).key == steal and last(flow).reason == "consent"


def test_proxy_consent_is_per_client(flow: FlowLab) -> None:
    flow.disable("static_client_consent")
    home = f"{flow.client.url}/callback"
    link = _proxy_link(flow, home)
    client_id = str(httpx.URL(link).params["client_id"])
    assert flow.victim.http.post(f"{flow.proxy.url}/consent", data={"client_id": client_id}).status_code == 200
    assert flow.victim.visit(link)[-1][1].startswith(home)      # approved: this client's code goes home
    assert flow.victim.visit(_proxy_link(flow, home))[-1][0] == 200  # another client: asked again


def test_proxy_redirects_only_to_a_registered_uri(flow: FlowLab) -> None:
    answer = flow.victim.http.get(_proxy_link(flow, f"{flow.attacker.url}/x", register=f"{flow.client.url}/cb"))
    assert answer.status_code == 400
    assert httpx.post(f"{flow.proxy.url}/register", json={"redirect_uris": ["javascript:x"]}).status_code == 400


def test_the_server_asks_once_for_the_proxy() -> None:
    flow = FlowLab(()).start()
    try:
        with httpx.Client(trust_env=False) as mallory:
            mallory.post(f"{flow.as_.url}/login", data={"username": MALLORY[0], "password": MALLORY[1]})
            query = {"response_type": "code", "client_id": "mcp-proxy", "redirect_uri": flow.proxy.callback,
                     "code_challenge": create_s256_code_challenge(VERIFIER), "code_challenge_method": "S256"}
            asked = mallory.get(f"{flow.as_.url}/authorize", params=query)
            assert asked.status_code == 200 and "Allow mcp-proxy" in asked.text
            mallory.post(f"{flow.as_.url}/consent", data={"client_id": "mcp-proxy"})
            assert mallory.get(f"{flow.as_.url}/authorize", params=query).status_code == 302
    finally:
        flow.close()


@pytest.mark.parametrize("capability", [None, "s3cret-Prefix_1"])
def test_an_open_and_a_private_flow_teach_the_same(capability: str | None) -> None:
    """The prefix theft works end to end whether the lab is private or not (``origin`` is the part's
    ``scheme://host:port``, its ``url`` carries the prefix), and ``where`` shows the same hops in both."""
    flow = FlowLab(True, capability=capability).start()
    try:
        assert flow.client.origin == flow.client.url.removesuffix(f"/{capability}" if capability else "")
        hops = [flow.where(url) for _, url in flow.disable(*MISTAKES).victim.visit(f"{flow.client.url}/login")]
        assert hops == [("client", "/login"), ("server", "/authorize"), ("client", "/callback")]
        assert flow.where("http://127.0.0.1:9/x") == (None, "/x")
        flow.enable(*MISTAKES)
        with httpx.Client(trust_env=False) as me:
            request = dict(httpx.URL(me.get(f"{flow.client.url}/login").headers["location"]).params)
            request["redirect_uri"] = flow.client.origin + "@" + flow.attacker.url.removeprefix("http://") + "/steal"
            flow.victim.visit(f"{flow.as_.url}/authorize?{urlencode(request)}")
            assert flow.attacker.received[-1].path == "/steal"
            stolen = flow.attacker.received[-1].params["code"]
            answer = me.get(f"{flow.client.url}/callback",
                            params={"code": stolen, "state": request.get("state", ""), "iss": flow.as_.issuer})
        assert answer.json() == {"logged_in_as": "alice"}
        assert isinstance(last(flow), Breach) and last(flow).kind == "takeover"
    finally:
        flow.close()
