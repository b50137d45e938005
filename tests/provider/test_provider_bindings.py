"""The token endpoint keeps the bindings it teaches (DESIGN "The token endpoint keeps bindings"): a DPoP-bound
token is exchanged or refreshed only with its key's proof and stays bound; "may request X" never answers "is X";
a client assertion authenticates once, at any endpoint, addressed to the issuer only; one-time ids are never
forgotten early; no user-less token carries ``auth_time``; user-less registrations are read-only by default."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import ECKey

from labkit.auth.dpop import make_proof
from labkit.provider import MockProvider

from ..helpers import AsgiClient, examples

BASE = "http://127.0.0.1"
NOW = 1_767_225_600
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
AGENT = ("lab-agent", "lab-agent-secret")
KEY, THIEF = ECKey.generate_key("P-256"), ECKey.generate_key("P-256")


@pytest.fixture()
def provider() -> MockProvider:
    return MockProvider(base_url=BASE, clock=lambda: NOW, tenants=())


@pytest.fixture()
def http(provider: MockProvider) -> Iterator[AsgiClient]:
    with AsgiClient(provider.app, BASE) as client:
        yield client


def state(provider: MockProvider) -> Any:
    store = provider.server().store
    return sorted(store.clients), sorted(store.tokens), sorted(store.used_jtis)


def claims(provider: MockProvider, token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, provider.server().keys.active("RS256")).claims)


def proof(key: ECKey = KEY) -> dict[str, str]:
    return {"DPoP": make_proof(key, method="POST", url=f"{BASE}/token", iat=NOW, jti=secrets.token_hex(8))}


def exchange(http: AsgiClient, subject: str, headers: dict[str, str] | None = None,
             client: tuple[str, str] = AGENT, **extra: str) -> Any:
    form = {"grant_type": EXCHANGE, "subject_token": subject, "subject_token_type": ACCESS, **extra}
    return http.post("/token", data=form, auth=client, headers=headers or {})


# -- 1. exchange and refresh never launder DPoP (RFC 9449 §5, RFC 8693 §2.1) -----------------------------------

@pytest.mark.parametrize("opaque", [False, True])
def test_exchange_of_a_dpop_bound_token_needs_its_key_and_stays_bound(provider: MockProvider, http: AsgiClient,
                                                                      opaque: bool) -> None:
    jkt = KEY.thumbprint()
    stolen = provider.mint(["api:read"], subject="alice", client_id="lab-web", claims={"cnf": {"jkt": jkt}},
                           opaque=opaque)
    for name, headers in {"no proof": None, "the thief's own key": proof(THIEF)}.items():
        before = state(provider)
        refused = exchange(http, stolen, headers)
        assert (refused.status_code, refused.json()["error"]) == (400, "invalid_dpop_proof"), name
        assert state(provider) == before, name
    answer = exchange(http, stolen, proof(KEY)).json()
    assert answer["token_type"] == "DPoP"
    assert claims(provider, answer["access_token"])["cnf"] == {"jkt": jkt}  # the same key, carried over


def test_a_bound_actor_token_needs_its_key_too(provider: MockProvider, http: AsgiClient) -> None:
    subject = provider.mint(["api:read"], subject="alice", client_id="lab-web")
    actor = provider.mint(["api:read"], client_id="lab-agent", claims={"cnf": {"jkt": KEY.thumbprint()}})
    extra = {"actor_token": actor, "actor_token_type": ACCESS}
    assert exchange(http, subject, proof(THIEF), **extra).json()["error"] == "invalid_dpop_proof"
    assert exchange(http, subject, None, **extra).json()["error"] == "invalid_dpop_proof"
    assert exchange(http, subject, proof(KEY), **extra).status_code == 200


def test_a_dpop_bound_refresh_token_needs_its_key(provider: MockProvider, http: AsgiClient) -> None:
    import base64
    import hashlib

    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    redirect = "http://127.0.0.1:8765/callback"
    location = http.get("/authorize", params={"response_type": "code", "client_id": "lab-app", "redirect_uri": redirect,
                                              "scope": "api:read", "code_challenge": challenge,
                                              "code_challenge_method": "S256"},
                        follow_redirects=False).headers["location"]
    code = location.split("code=")[1].split("&")[0]
    first = http.post("/token", data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect,
                                      "client_id": "lab-app", "code_verifier": verifier}, headers=proof(KEY)).json()
    refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "client_id": "lab-app"}
    for headers in ({}, proof(THIEF)):
        assert http.post("/token", data=refresh, headers=headers).json()["error"] == "invalid_dpop_proof"
    renewed = http.post("/token", data=refresh, headers=proof(KEY)).json()
    assert renewed["token_type"] == "DPoP" and claims(provider, renewed["access_token"])["cnf"]["jkt"] == KEY.thumbprint()


# -- 2. "may request X" is not "is X" ----------------------------------------------------------------------------

_LOOPBACK = st.builds(lambda host, port, path: f"http://{host}:{port}/{path}",
                      st.sampled_from(["127.0.0.1", "localhost", "[::1]"]), st.integers(1, 65535),
                      st.text("abcdefmnp/", max_size=12))


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(resource=_LOOPBACK)
def test_a_token_for_any_loopback_resource_is_not_the_agents_to_exchange(provider: MockProvider, http: AsgiClient,
                                                                         resource: str) -> None:
    # lab-agent may REQUEST tokens for loopback resources; it IS none of them
    foreign = provider.mint(["api:read"], subject="alice", client_id="lab-client", audience=resource)
    before = state(provider)
    refused = exchange(http, foreign, resource="api://oauth2-lab-downstream")
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")
    assert state(provider) == before


@pytest.mark.parametrize(("audience", "extra_claims"), [
    ("api://oauth2-lab-agent", None),  # the resource lab-agent serves
    ("lab-agent", None),  # its client id
    (["api://elsewhere", "api://oauth2-lab-agent"], None),
    ("api://elsewhere", {"may_act": {"sub": "lab-agent"}}),  # RFC 8693 §4.4
])
def test_the_exchanging_client_is_an_audience_or_named_by_may_act(provider: MockProvider, http: AsgiClient,
                                                                   audience: Any, extra_claims: Any) -> None:
    subject = provider.mint(["api:read"], subject="alice", client_id="lab-web", audience=audience, claims=extra_claims)
    assert exchange(http, subject).status_code == 200


def test_is_audience_never_matches_a_pattern() -> None:
    from labkit.provider.clients import default_clients

    agent = next(c for c in default_clients() if c.client_id == "lab-agent")
    assert agent.allows_resource("http://127.0.0.1:9/x", "api://oauth2-lab-agent")  # may request
    assert not agent.is_audience("http://127.0.0.1:9/x") and not agent.is_audience("")  # is not
    assert agent.is_audience("api://oauth2-lab-agent") and agent.is_audience("lab-agent")


# -- 3. a client assertion authenticates once, anywhere; aud = the issuer, one string -----------------------------

def _register_signer(http: AsgiClient) -> str:
    body = {"grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt",
            "jwks": {"keys": [KEY.as_dict(private=False)]}}
    return str(http.post("/register", json=body).json()["client_id"])


def _assertion(client_id: str, **overrides: Any) -> dict[str, str]:
    payload = {"iss": client_id, "sub": client_id, "aud": BASE, "iat": NOW, "exp": NOW + 60,
               "jti": secrets.token_hex(8), **overrides}
    return {"client_assertion_type": ASSERTION_TYPE, "client_assertion": jwt.encode({"alg": "ES256"}, payload, KEY)}


@pytest.mark.parametrize("first", ["/introspect", "/revoke", "/token"])
def test_an_assertion_is_spent_at_every_endpoint(provider: MockProvider, http: AsgiClient, first: str) -> None:
    client_id = _register_signer(http)
    token = provider.mint(["api:read"], client_id=client_id)  # its own token: introspectable and revocable by it
    forms = {"/introspect": {"token": token}, "/revoke": {"token": token}, "/token": {"grant_type":
                                                                                    "client_credentials"}}
    assertion = _assertion(client_id)
    assert http.post(first, data={**forms[first], **assertion}).status_code == 200
    for path, form in forms.items():  # RFC 7523 §3 item 7: the same jti never authenticates again, anywhere
        replay = http.post(path, data={**form, **assertion})
        assert (replay.status_code, replay.json()["error"]) == (401, "invalid_client"), path


@pytest.mark.parametrize("aud", [f"{BASE}/token", [BASE], [BASE, "http://other.example"], f"{BASE}/", ""])
def test_an_assertion_is_addressed_to_the_issuer_alone(http: AsgiClient, aud: Any) -> None:
    client_id = _register_signer(http)
    refused = http.post("/token", data={"grant_type": "client_credentials", **_assertion(client_id, aud=aud)})
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_client")
    assert http.post("/token", data={"grant_type": "client_credentials", **_assertion(client_id)}).status_code == 200


def test_a_full_jti_store_refuses_and_never_forgets(provider: MockProvider, http: AsgiClient) -> None:
    client_id = _register_signer(http)
    store = provider.server().store.used_jtis
    store.capacity = len(store) + 1
    spent = _assertion(client_id)
    assert http.post("/token", data={"grant_type": "client_credentials", **spent}).status_code == 200
    full = http.post("/token", data={"grant_type": "client_credentials", **_assertion(client_id)})
    assert (full.status_code, full.json()["error"]) == (503, "temporarily_unavailable")
    replay = http.post("/token", data={"grant_type": "client_credentials", **spent})
    assert replay.json()["error"] == "invalid_client"  # still remembered: full never means forgotten


# -- 6. smaller: auth_time, user-less registration ---------------------------------------------------------------

def test_an_exchanged_token_carries_the_subjects_auth_time_or_none(provider: MockProvider, http: AsgiClient) -> None:
    machine = provider.mint(["api:read"], client_id="lab-client")  # client credentials: nobody logged in
    assert "auth_time" not in claims(provider, exchange(http, machine).json()["access_token"])
    user = provider.mint(["api:read"], subject="alice", client_id="lab-web", issued_at=NOW - 100)
    assert claims(provider, exchange(http, user).json()["access_token"])["auth_time"] == NOW - 100


def test_user_less_registration_is_read_only_by_default(provider: MockProvider, http: AsgiClient) -> None:
    from labkit.provider.rfc7591 import RegistrationPolicy

    machine = {"grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_basic"}
    assert http.post("/register", json={**machine, "scope": "api:write"}).json()["error"] == "invalid_client_metadata"
    capped = http.post("/register", json={**machine, "scope": "api:read api:write"}).json()
    assert capped["scope"] == "api:read"
    default = http.post("/register", json=machine).json()
    assert default["scope"] == "api:read files:read"
    refused = http.post("/token", data={"grant_type": "client_credentials", "scope": "api:write"},
                        auth=(default["client_id"], default["client_secret"]))
    assert refused.json()["error"] == "invalid_scope"
    provider.server().registration.policy = RegistrationPolicy(client_credentials_scopes=("api:read", "api:write"))
    assert http.post("/register", json={**machine, "scope": "api:write"}).json()["scope"] == "api:write"


def test_an_id_jag_is_addressed_to_the_issuer_alone(provider: MockProvider, http: AsgiClient) -> None:
    jwt_bearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    shared = provider.idp.issue_id_jag(subject="alice", audience=[BASE, "http://other.example"],  # type: ignore[arg-type]
                                       client_id="lab-enterprise", scope="api:read")
    refused = http.post("/token", data={"grant_type": jwt_bearer, "assertion": shared},
                        auth=("lab-enterprise", "lab-enterprise-secret"))
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")


def test_an_assertion_accepted_within_the_leeway_is_still_spent(http: AsgiClient) -> None:
    client_id = _register_signer(http)
    late = _assertion(client_id, exp=NOW - 10)  # past exp, inside the clock-skew leeway: accepted once
    assert http.post("/token", data={"grant_type": "client_credentials", **late}).status_code == 200
    assert http.post("/token", data={"grant_type": "client_credentials", **late}).json()["error"] == "invalid_client"
