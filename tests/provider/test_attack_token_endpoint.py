"""Attacks on the token endpoint's bindings from outside, after the hardening (issue 30 §2): a request names one
client and authenticates as one, by one method; a login time is never invented by a refresh or a grant that saw no
login; one client's spent assertion ids never lock another client out."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from labkit.provider import MockProvider

from ..helpers import AsgiClient, ManualClock

BASE = "http://127.0.0.1"
NOW = 1_767_225_600
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
REDIRECT = "http://127.0.0.1:8765/callback"
KEY, OTHER = ECKey.generate_key("P-256"), ECKey.generate_key("P-256")


Clock = ManualClock


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def provider(clock: Clock) -> MockProvider:
    return MockProvider(base_url=BASE, clock=clock, tenants=())


@pytest.fixture()
def http(provider: MockProvider) -> Iterator[AsgiClient]:
    with AsgiClient(provider.app, BASE) as client:
        yield client


def claims(provider: MockProvider, token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, provider.server().keys.active("RS256")).claims)


def register_signer(http: AsgiClient, key: ECKey = KEY) -> str:
    body = {"grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt",
            "jwks": {"keys": [key.as_dict(private=False)]}}
    return str(http.post("/register", json=body).json()["client_id"])


def assertion(client_id: str, key: ECKey = KEY, lifetime: int = 60) -> dict[str, str]:
    payload = {"iss": client_id, "sub": client_id, "aud": BASE, "iat": NOW, "exp": NOW + lifetime,
               "jti": secrets.token_hex(8)}
    return {"client_assertion_type": ASSERTION_TYPE, "client_assertion": jwt.encode({"alg": "ES256"}, payload, key)}


# -- 1. one request, one client, one authentication method (RFC 6749 §2.3, RFC 7521 §4.2) -----------------------

def _forms(provider: MockProvider) -> dict[str, dict[str, str]]:
    token = provider.mint(["api:read"], client_id="lab-client")
    return {"/token": {"grant_type": "client_credentials"}, "/introspect": {"token": token},
            "/revoke": {"token": token}}


@pytest.mark.parametrize("path", ["/token", "/introspect", "/revoke"])
def test_a_request_authenticates_as_the_client_it_names_by_one_method(provider: MockProvider, http: AsgiClient,
                                                                      path: str) -> None:
    signer = register_signer(http)
    form = _forms(provider)[path]
    attempts: dict[str, dict[str, Any]] = {
        # an assertion for one client, a Basic header (even a wrong secret) for another
        "assertion + Basic of another client": {"data": {**form, **assertion(signer)},
                                                "auth": ("lab-client", "wrong")},
        # RFC 7521 §4.2: a client_id present must identify the client the assertion identifies
        "assertion + client_id of another client": {"data": {**form, **assertion(signer), "client_id": "lab-client"}},
        # RFC 6749 §2.3: a wrong Basic secret is not rescued by a right client_secret in the body
        "wrong Basic + right client_secret_post": {"data": {**form, "client_id": "lab-client",
                                                            "client_secret": "lab-client-secret"},
                                                   "auth": ("lab-client", "wrong")},
        "Basic + client_id of another client": {"data": {**form, "client_id": "lab-app"},
                                                "auth": ("lab-client", "lab-client-secret")},
    }
    for name, request in attempts.items():
        refused = http.post(path, **request)
        assert (refused.status_code, refused.json().get("error")) == (401, "invalid_client"), name
    # one method, naming (at most) itself: accepted
    assert http.post(path, data={**form, "client_id": "lab-client"}, auth=("lab-client", "lab-client-secret")).status_code == 200
    assert http.post(path, data={**form, "client_id": "lab-client", "client_secret": "lab-client-secret"}).status_code == 200


# -- 2. no invented login: auth_time is when the user logged in, carried by every grant -------------------------

def _code(http: AsgiClient) -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    location = http.get("/authorize", params={"response_type": "code", "client_id": "lab-app", "redirect_uri": REDIRECT,
                                              "scope": "api:read", "code_challenge": challenge,
                                              "code_challenge_method": "S256"},
                        follow_redirects=False).headers["location"]
    return location.split("code=")[1].split("&")[0], verifier


def test_auth_time_is_the_login_through_code_refresh_and_exchange(provider: MockProvider, http: AsgiClient,
                                                                  clock: Clock) -> None:
    login = int(clock.now)
    code, verifier = _code(http)  # the (headless) login happens at /authorize
    clock.now += 30
    first = http.post("/token", data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                                      "client_id": "lab-app", "code_verifier": verifier}).json()
    assert claims(provider, first["access_token"])["auth_time"] == login
    clock.now += 7200  # two hours later the client refreshes: nobody logged in again
    renewed = http.post("/token", data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
                                        "client_id": "lab-app"}).json()
    assert claims(provider, renewed["access_token"])["auth_time"] == login
    again = http.post("/token", data={"grant_type": "refresh_token", "refresh_token": renewed["refresh_token"],
                                      "client_id": "lab-app"}).json()
    assert claims(provider, again["access_token"])["auth_time"] == login
    form = {"grant_type": EXCHANGE, "subject_token": again["access_token"], "subject_token_type": ACCESS}
    exchanged = http.post("/token", data=form, auth=("lab-agent", "lab-agent-secret")).json()
    assert claims(provider, exchanged["access_token"])["auth_time"] == login


@pytest.mark.parametrize("said", [None, NOW - 600])
def test_an_id_jag_token_carries_the_idps_auth_time_or_none(provider: MockProvider, http: AsgiClient,
                                                            said: int | None) -> None:
    grant = provider.idp.issue_id_jag(subject="alice", audience=BASE, client_id="lab-enterprise", scope="api:read",
                                      claims={"auth_time": said} if said is not None else None)
    answer = http.post("/token", data={"grant_type": JWT_BEARER, "assertion": grant},
                       auth=("lab-enterprise", "lab-enterprise-secret")).json()
    assert claims(provider, answer["access_token"]).get("auth_time") == said  # never the redemption's time


# -- 3. one client's spent assertion ids never lock another out --------------------------------------------------

def test_a_client_filling_the_assertion_store_refuses_only_itself(provider: MockProvider, http: AsgiClient) -> None:
    attacker, honest = register_signer(http, OTHER), register_signer(http, KEY)
    store = provider.server().store.used_jtis
    store.capacity = len(store) + 64  # sized so one client's share cannot fill it
    store.owner_capacity = 16
    refused = None
    for _ in range(store.capacity):  # long-lived assertions at the cheapest endpoint, until refused
        answer = http.post("/introspect", data={"token": "x", **assertion(attacker, OTHER, lifetime=3600)})
        if answer.status_code != 200:
            refused = answer
            break
    assert refused is not None and (refused.status_code, refused.json()["error"]) == (503, "temporarily_unavailable")
    assert refused.headers["Retry-After"]
    # the honest client, and an ID-JAG redeemed by another client, are not locked out
    assert http.post("/token", data={"grant_type": "client_credentials", **assertion(honest)}).status_code == 200
    grant = provider.idp.issue_id_jag(subject="alice", audience=BASE, client_id="lab-enterprise", scope="api:read")
    redeemed = http.post("/token", data={"grant_type": JWT_BEARER, "assertion": grant},
                         auth=("lab-enterprise", "lab-enterprise-secret"))
    assert redeemed.status_code == 200


def test_an_owners_share_frees_as_its_ids_expire_or_are_released() -> None:
    from labkit.state.spent import SpentIds, SpentIdsFullError

    now = [float(NOW)]
    spent = SpentIds(lambda: now[0], capacity=10, owner_capacity=3)
    assert all(spent.claim(f"a{i}", NOW + 10 + i, owner="a") for i in range(3))
    with pytest.raises(SpentIdsFullError):
        spent.claim("a3", NOW + 10, owner="a")
    assert spent.claim("b0", NOW + 100, owner="b") and not spent.claim("a0", NOW + 10, owner="b")  # replay stays one
    spent.release("a2")
    assert spent.claim("a3", NOW + 40, owner="a")  # a released id frees its slot
    now[0] = NOW + 10.5  # a0 expired, a1 not yet
    assert spent.claim("a4", NOW + 50, owner="a") and "a1" in spent and "a0" not in spent
    with pytest.raises(SpentIdsFullError):
        spent.claim("a5", NOW + 50, owner="a")


# -- 4. one-time codes are kept until they expire, not forever ---------------------------------------------------

def test_expired_codes_are_swept_so_unauthenticated_authorize_requests_cannot_grow_memory(
        provider: MockProvider, http: AsgiClient, clock: Clock) -> None:
    store = provider.server().store
    for _ in range(20):
        _code(http)  # GET /authorize of a public client: no authentication, one code each
    clock.now += 61  # every code has expired
    store.code_sweep_at = 8  # the sweep's threshold, lowered so the test stays small
    live = _code(http)
    assert len(store.codes) == 1  # the 20 expired codes are gone; only the live one is held
    code, verifier = live
    redeemed = http.post("/token", data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                                         "client_id": "lab-app", "code_verifier": verifier})
    assert redeemed.status_code == 200  # a live code survives the sweep


# -- 5. a DPoP proof is used once, even when the request it came with was refused --------------------------------

def test_a_dpop_proof_seen_in_a_refused_request_never_replays(provider: MockProvider, http: AsgiClient) -> None:
    from labkit.auth.dpop import make_proof

    def proof() -> dict[str, str]:
        return {"DPoP": make_proof(KEY, method="POST", url=f"{BASE}/token", iat=NOW, jti=secrets.token_hex(8))}

    code, verifier = _code(http)
    first = http.post("/token", data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                                      "client_id": "lab-app", "code_verifier": verifier}, headers=proof()).json()
    seen = proof()  # the holder's proof, refused with its request (a scope the grant never had), then captured
    refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "client_id": "lab-app"}
    assert http.post("/token", data={**refresh, "scope": "admin"}, headers=seen).status_code == 400
    # RFC 9449 §11.1: the server saw this proof once; it never authorizes another request
    replay = http.post("/token", data=refresh, headers=seen)
    assert (replay.status_code, replay.json()["error"]) == (400, "invalid_dpop_proof")
    # a request whose client does not authenticate spends nothing (strangers cannot fill the cache)
    fresh = proof()
    assert http.post("/token", data={"grant_type": "client_credentials"}, auth=("lab-client", "wrong"),
                     headers=fresh).status_code == 401
    assert http.post("/token", data=refresh, headers=fresh).status_code == 200


# -- 6. "may request" a loopback resource means a URI, with a port that is a port --------------------------------

@pytest.mark.parametrize("resource", ["http://127.0.0.1:99999/", "http://localhost:abc/", "http://[::1]:-1/",
                                      "http://127.0.0.1:8080x/"])
def test_a_loopback_resource_with_a_malformed_port_is_never_an_audience(http: AsgiClient, resource: str) -> None:
    for name in ("resource", "audience"):
        refused = http.post("/token", data={"grant_type": "client_credentials", name: resource},
                            auth=("lab-client", "lab-client-secret"))
        assert (refused.status_code, refused.json()["error"]) == (400, "invalid_target"), name
    allowed = http.post("/token", data={"grant_type": "client_credentials", "resource": "http://127.0.0.1:8080/"},
                        auth=("lab-client", "lab-client-secret"))
    assert allowed.status_code == 200


# -- 6. issued tokens are kept until they expire (plus TOKEN_KEPT), not forever ----------------------------------

def test_issued_tokens_are_swept_and_reuse_detection_still_holds(provider: MockProvider, http: AsgiClient,
                                                                 clock: Clock) -> None:
    from labkit.provider.models import TOKEN_KEPT

    store = provider.server().store
    store.token_sweep_at = store.token_sweep_min = 8  # the sweep's threshold, lowered so the test stays small
    code, verifier = _code(http)
    first = http.post("/token", data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                                      "client_id": "lab-app", "code_verifier": verifier}).json()
    second = http.post("/token", data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
                                       "client_id": "lab-app"}).json()
    step, issued = 60, 600  # one client_credentials token a minute for ten hours (refresh tokens live a day)
    lifetime = store.clients["lab-client"].lifetime
    bound = 2 * ((lifetime + TOKEN_KEPT) // step + 8)
    revoked = None
    for n in range(issued):
        clock.now += step
        token = http.post("/token", data={"grant_type": "client_credentials"},
                          auth=("lab-client", "lab-client-secret")).json()["access_token"]
        if n == issued - 10:
            revoked = token
            assert http.post("/revoke", data={"token": token}, auth=("lab-client", "lab-client-secret")).is_success
        assert len(store.tokens) <= bound, n
    # the latest token is active, the revoked one inactive, and the rotated refresh token's reuse is still caught
    assert http.post("/introspect", data={"token": token}, auth=("lab-client", "lab-client-secret")).json()["active"]
    assert not http.post("/introspect", data={"token": revoked},
                         auth=("lab-client", "lab-client-secret")).json()["active"]
    reuse = http.post("/token", data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
                                      "client_id": "lab-app"})
    assert (reuse.status_code, reuse.json()["error"]) == (400, "invalid_grant")
    stolen = http.post("/token", data={"grant_type": "refresh_token", "refresh_token": second["refresh_token"],
                                       "client_id": "lab-app"})
    assert stolen.status_code == 400  # the family was revoked by the reuse
