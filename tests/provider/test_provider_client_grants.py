"""The provider's client-side grants: RFC 7591 registration policy, RFC 7523 private_key_jwt and ID-JAGs,
RFC 8693 token exchange; each refusal changes nothing, no JSON shape reaches a 5xx."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import ECKey

from labkit.provider import MockProvider

from ..helpers import AsgiClient, examples

BASE = "http://127.0.0.1"
NOW = 1_767_225_600
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@pytest.fixture()
def provider() -> MockProvider:
    return MockProvider(base_url=BASE, clock=lambda: NOW, tenants=())  # the default tenant only: 1 RSA key to load, not 3


@pytest.fixture()
def http(provider: MockProvider) -> Iterator[AsgiClient]:
    with AsgiClient(provider.app, BASE) as client:
        yield client


def state(provider: MockProvider) -> Any:
    store = provider.server().store
    return sorted(store.clients), sorted(store.tokens), sorted(store.used_jtis)


def claims(provider: MockProvider, token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, provider.server().keys.active("RS256")).claims)


# -- RFC 7591 --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("body", "error"), [
    ({"redirect_uris": ["https://app.example/cb"]}, "invalid_redirect_uri"),
    ({"redirect_uris": ["http://localhost:9/cb"]}, "invalid_redirect_uri"),  # RFC 8252 §8.3: IP literals only
    ({"redirect_uris": ["http://127.0.0.1:9/cb#frag"]}, "invalid_redirect_uri"),  # RFC 6749 §3.1.2: no fragment
    ({"redirect_uris": ["http://user@127.0.0.1/cb"]}, "invalid_redirect_uri"),
    ({"grant_types": ["authorization_code"]}, "invalid_redirect_uri"),
    ({"grant_types": ["password"], "redirect_uris": ["http://127.0.0.1/cb"]}, "invalid_client_metadata"),
    ({"scope": "admin api:admin", "redirect_uris": ["http://127.0.0.1/cb"]}, "invalid_client_metadata"),
    ({"redirect_uris": "http://127.0.0.1/cb"}, "invalid_client_metadata"),
    ({"client_name": "x" * 600, "redirect_uris": ["http://127.0.0.1/cb"]}, "invalid_client_metadata"),
    ({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt"},
     "invalid_client_metadata"),
    ({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"}, "invalid_client_metadata"),
    ({"token_endpoint_auth_method": "client_secret_jwt", "redirect_uris": ["http://127.0.0.1/cb"]},
     "invalid_client_metadata"),
])
def test_registration_policy_refuses(provider: MockProvider, http: AsgiClient, body: dict[str, Any],
                                     error: str) -> None:
    before = state(provider)
    response = http.post("/register", json=body)
    # authlib's own URI checks (user info) answer invalid_client_metadata before the loopback policy
    assert response.status_code == 400 and response.json()["error"] in {error, "invalid_client_metadata"}
    assert state(provider) == before


def test_registration_caps_scopes_and_loopback_redirects_match_any_port(provider: MockProvider,
                                                                          http: AsgiClient) -> None:
    response = http.post("/register", json={"redirect_uris": ["http://127.0.0.1/cb"], "scope": "api:read admin",
                                            "token_endpoint_auth_method": "none"})
    assert response.status_code == 201
    client = response.json()
    assert client["scope"] == "api:read" and "client_secret" not in client  # capped by the policy
    registered = provider.server().store.clients[client["client_id"]]
    assert registered.check_redirect_uri("http://127.0.0.1:53123/cb")  # RFC 8252 §7.3
    assert not registered.check_redirect_uri("http://127.0.0.1:53123/other")
    assert not registered.check_redirect_uri("http://localhost:53123/cb")


def test_registration_quota(provider: MockProvider, http: AsgiClient) -> None:
    from labkit.provider.rfc7591 import RegistrationPolicy

    provider.server().registration.policy = RegistrationPolicy(quota=2)
    body = {"redirect_uris": ["http://127.0.0.1/cb"]}
    assert [http.post("/register", json=body).status_code for _ in range(3)] == [201, 201, 429]


def test_a_registration_flood_delays_but_never_locks_out() -> None:
    from labkit.provider.rfc7591 import RegistrationPolicy

    now = [float(NOW)]
    provider = MockProvider(base_url=BASE, clock=lambda: now[0], tenants=())
    provider.server().registration.policy = RegistrationPolicy(quota=2, quota_window=60)
    body = {"redirect_uris": ["http://127.0.0.1/cb"]}
    with AsgiClient(provider.app, BASE) as http:
        assert [http.post("/register", json=body).status_code for _ in range(3)] == [201, 201, 429]
        now[0] += 30
        assert http.post("/register", json=body).status_code == 429  # still within the window
        now[0] += 31
        assert [http.post("/register", json=body).status_code for _ in range(3)] == [201, 201, 429]


# -- RFC 7523 --------------------------------------------------------------------------------------------------

def _assertion(key: ECKey, client_id: str, **overrides: Any) -> str:
    payload = {"iss": client_id, "sub": client_id, "aud": BASE, "iat": NOW, "exp": NOW + 60,
               "jti": secrets.token_hex(8), **overrides}
    return jwt.encode({"alg": "ES256", "kid": key.kid}, payload, key)


def test_private_key_jwt_refusals_change_nothing(provider: MockProvider, http: AsgiClient) -> None:
    key, other = ECKey.generate_key("P-256", auto_kid=True), ECKey.generate_key("P-256", auto_kid=True)
    client_id = http.post("/register", json={"grant_types": ["client_credentials"], "token_endpoint_auth_method":
                                             "private_key_jwt", "jwks": {"keys": [key.as_dict(private=False)]}}
                          ).json()["client_id"]
    form = {"grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}
    good = _assertion(key, client_id)
    for bad in (_assertion(other, client_id), _assertion(key, client_id, aud="http://evil"),
                _assertion(key, client_id, exp=NOW - 120), _assertion(key, client_id, exp=NOW + 86400),
                _assertion(key, client_id, sub="lab-client"), "not.a.jwt"):
        before = state(provider)
        assert http.post("/token", data={**form, "client_assertion": bad}).status_code == 401
        assert state(provider) == before
    # RFC 6749 §2.3: one method per request: an assertion beside a client_secret is refused (nothing spent)
    assert http.post("/token", data={**form, "client_assertion": good, "client_secret": "x"}).status_code == 401
    assert http.post("/token", data={**form, "client_assertion": good}).status_code == 200
    replay = http.post("/token", data={**form, "client_assertion": good})
    assert replay.status_code == 401 and replay.json()["error"] == "invalid_client"  # RFC 7523 §3: jti once


def test_id_jag_checks(provider: MockProvider, http: AsgiClient) -> None:
    idp = provider.idp
    client = ("lab-enterprise", "lab-enterprise-secret")

    def redeem(assertion: str, **extra: str) -> Any:
        return http.post("/token", data={"grant_type": JWT_BEARER, "assertion": assertion, **extra}, auth=client)

    good = idp.issue_id_jag(subject="alice", audience=BASE, client_id="lab-enterprise", scope="api:read")
    refused = {
        "another client's": idp.issue_id_jag(subject="alice", audience=BASE, client_id="lab-client"),
        "another audience": idp.issue_id_jag(subject="alice", audience="http://other", client_id="lab-enterprise"),
        "unknown user": idp.issue_id_jag(subject="mallory", audience=BASE, client_id="lab-enterprise",
                                         scope="api:read"),
        "not typed ID-JAG": provider.mint(["api:read"]),
    }
    for name, assertion in refused.items():
        before = state(provider)
        assert redeem(assertion).status_code == 400, name
        assert state(provider) == before, name
    assert redeem(good, scope="api:write").json()["error"] == "invalid_scope"  # never more than the IdP granted
    token = redeem(good).json()["access_token"]
    assert claims(provider, token)["sub"] == "alice" and claims(provider, token)["scope"] == "api:read"
    assert redeem(good).json()["error"] == "invalid_grant"  # one use


# -- RFC 8693 --------------------------------------------------------------------------------------------------

def _exchange(http: AsgiClient, subject: str, client: tuple[str, str] = ("lab-agent", "lab-agent-secret"),
              **extra: str) -> Any:
    form = {"grant_type": EXCHANGE, "subject_token": subject, "subject_token_type": ACCESS, **extra}
    return http.post("/token", data=form, auth=client)


def test_token_exchange_delegates_and_never_widens(provider: MockProvider, http: AsgiClient) -> None:
    user = provider.mint(["api:read", "api:write"], subject="alice", client_id="lab-web")
    answer = _exchange(http, user, scope="api:write", resource="api://oauth2-lab-downstream").json()
    delegated = claims(provider, answer["access_token"])
    assert answer["issued_token_type"] == ACCESS
    assert (delegated["sub"], delegated["act"], delegated["aud"], delegated["scope"]) == (
        "alice", {"sub": "lab-agent"}, "api://oauth2-lab-downstream", "api:write")
    assert delegated["exp"] <= claims(provider, user)["exp"]
    # a delegated token exchanged again nests the chain (RFC 8693 §4.1)
    again = claims(provider, _exchange(http, answer["access_token"], resource="api://oauth2-lab-downstream"
                                       ).json()["access_token"])
    assert again["act"] == {"sub": "lab-agent", "act": {"sub": "lab-agent"}}
    elsewhere = provider.mint(["api:read"], subject="alice", audience="api://elsewhere")
    expired = provider.mint(["api:read"], subject="alice", lifetime=-10)
    not_for_us = provider.mint(["api:read"], subject="alice", claims={"may_act": {"sub": "lab-web"}})
    foreign_actor = provider.mint(["api:read"])
    refused = {
        "wider scope": lambda: _exchange(http, user, scope="admin"),
        "foreign resource": lambda: _exchange(http, user, resource="https://evil.example/"),
        "not an audience of the subject token": lambda: _exchange(
            http, elsewhere),
        "client without the grant": lambda: _exchange(http, user, ("lab-client", "lab-client-secret")),
        "garbage subject": lambda: _exchange(http, "garbage"),
        "expired subject": lambda: _exchange(http, expired),
        "may_act names someone else": lambda: _exchange(http, not_for_us),
        "actor token of another client": lambda: _exchange(http, user, actor_token=foreign_actor,
                                                           actor_token_type=ACCESS),
        "unknown requested type": lambda: _exchange(http, user, requested_token_type="urn:x"),
    }
    for name, call in refused.items():
        before = state(provider)
        response = call()
        assert 400 <= response.status_code < 500, (name, response.text)
        assert state(provider) == before, name


# -- no JSON shape reaches a 5xx at /register --------------------------------------------------------------------

_JSON = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                               st.text(max_size=20), st.sampled_from(["http://127.0.0.1/cb", "private_key_jwt",
                                                                      "client_credentials", "api:read"])),
                     lambda inner: st.one_of(st.lists(inner, max_size=4),
                                             st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=12)
_MEMBERS = st.sampled_from(["redirect_uris", "grant_types", "scope", "token_endpoint_auth_method", "jwks",
                            "client_name", "response_types", "contacts", "client_uri", "software_statement"])


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(_JSON, st.dictionaries(_MEMBERS, _JSON, max_size=6)))
def test_fuzz_registration_never_5xx(provider: MockProvider, http: AsgiClient, body: Any) -> None:
    before = state(provider)
    response = http.post("/register", json=body)
    assert response.status_code in (201, 400), response.text
    if response.status_code == 400:
        assert state(provider) == before


def test_the_principal_reads_the_act_chain() -> None:
    from labkit.auth import Principal

    nested = {"act": {"sub": "agent-b", "act": {"sub": "agent-a", "act": "malformed"}}}
    assert Principal("alice", frozenset(), claims=nested).actors == ("agent-b", "agent-a")
    assert Principal("alice", frozenset()).actors == ()
    deep: dict[str, Any] = {"sub": "x"}
    for _ in range(50):
        deep = {"sub": "x", "act": deep}
    assert len(Principal("alice", frozenset(), claims={"act": deep}).actors) == 8
