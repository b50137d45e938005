"""OIDC where it is real: the provider advertises ``openid``, so ``scope=openid`` on the authorization-code grant
returns an ID token (OIDC Core §3.1.3.3, §2), verified here with joserfc against the published keys; a refresh
returns one too, without a nonce and with the original ``auth_time`` (§12.2)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from labkit.provider import MockProvider

from ..helpers import AsgiClient, ManualClock

BASE = "http://127.0.0.1:9401"
REDIRECT = "http://127.0.0.1:8765/callback"
WEB = ("lab-web", "lab-web-secret")


Clock = ManualClock


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def provider(clock: Clock) -> MockProvider:
    return MockProvider(base_url=BASE, clock=clock)


@pytest.fixture()
def http(provider: MockProvider) -> Iterator[AsgiClient]:
    with AsgiClient(provider.app, BASE) as client:
        yield client


def authorize(http: AsgiClient, prefix: str = "", client_id: str = "lab-web", **extra: str) -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "scope": "openid api:read",
             "state": "s1", "code_challenge": challenge, "code_challenge_method": "S256", "login_hint": "alice",
             **extra}
    response = http.get(f"{prefix}/authorize?" + urlencode(query), follow_redirects=False)
    assert response.status_code == 302, response.text
    return parse_qs(urlsplit(response.headers["location"]).query)["code"][0], verifier


def redeem(http: AsgiClient, code: str, verifier: str, prefix: str = "") -> dict[str, Any]:
    response = http.post(f"{prefix}/token", auth=WEB, data={
        "grant_type": "authorization_code", "code": code, "code_verifier": verifier, "redirect_uri": REDIRECT})
    assert response.status_code == 200, response.text
    return dict(response.json())


def verify(http: AsgiClient, token: str, prefix: str = "") -> tuple[dict[str, Any], dict[str, Any]]:
    keys = KeySet.import_key_set(http.get(f"{prefix}/jwks").json())
    decoded = jwt.decode(token, keys, algorithms=["RS256"])
    return dict(decoded.header), dict(decoded.claims)


def half_hash(value: str) -> str:
    digest = hashlib.sha256(value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


@pytest.mark.parametrize("tenant", [None, "acme"])
def test_the_code_grant_returns_a_real_id_token(http: AsgiClient, clock: Clock, tenant: str | None) -> None:
    prefix = f"/{tenant}" if tenant else ""
    issuer = BASE + prefix
    code, verifier = authorize(http, prefix, nonce="n-0S6_WzA2Mj")
    signed_in = int(clock.now)
    clock.now += 30
    answer = redeem(http, code, verifier, prefix)
    assert "id_token" in answer, answer
    header, claims = verify(http, answer["id_token"], prefix)
    assert header["typ"] == "JWT" and header["alg"] == "RS256" and header["kid"]  # an ID token, not at+jwt
    assert claims["iss"] == issuer and claims["sub"] == "alice"
    assert claims["aud"] in ("lab-web", ["lab-web"]) and claims["azp"] == "lab-web"  # §2: aud is the client
    assert claims["nonce"] == "n-0S6_WzA2Mj"  # §3.1.3.6: echoed from the authorization request
    assert claims["auth_time"] == signed_in  # when alice signed in, not when the code was redeemed
    assert claims["iat"] == int(clock.now) and claims["exp"] > claims["iat"]
    assert claims["at_hash"] == half_hash(answer["access_token"])  # §3.1.3.6
    meta = http.get(f"/.well-known/openid-configuration{'/' + tenant if tenant else ''}").json()
    assert meta["issuer"] == claims["iss"] and header["alg"] in meta["id_token_signing_alg_values_supported"]
    assert "openid" in meta["scopes_supported"]


def test_refresh_returns_an_id_token_without_nonce(http: AsgiClient, clock: Clock) -> None:
    code, verifier = authorize(http, nonce="abc123")
    signed_in = int(clock.now)
    first = redeem(http, code, verifier)
    clock.now += 600
    response = http.post("/token", auth=WEB, data={"grant_type": "refresh_token",
                                                   "refresh_token": first["refresh_token"]})
    assert response.status_code == 200, response.text
    refreshed = response.json()
    _, before = verify(http, first["id_token"])
    header, claims = verify(http, refreshed["id_token"])
    assert header["typ"] == "JWT"
    assert "nonce" not in claims  # OIDC Core §12.2
    assert (claims["iss"], claims["sub"], claims["aud"], claims["azp"]) == (
        before["iss"], before["sub"], before["aud"], before["azp"])
    assert claims["auth_time"] == signed_in and claims["iat"] == int(clock.now)
    assert claims["at_hash"] == half_hash(refreshed["access_token"])
    _, access = verify(http, refreshed["access_token"])
    assert access["auth_time"] == signed_in  # the access token says the same sign-in time


def test_no_id_token_without_openid_or_without_a_user(http: AsgiClient) -> None:
    code, verifier = authorize(http, scope="api:read")
    assert "id_token" not in redeem(http, code, verifier)
    answer = http.post("/token", auth=("lab-client", "lab-client-secret"),
                       data={"grant_type": "client_credentials", "scope": "openid api:read"}).json()
    assert "id_token" not in answer


def test_without_a_nonce_the_id_token_has_none(http: AsgiClient) -> None:
    code, verifier = authorize(http)
    _, claims = verify(http, redeem(http, code, verifier)["id_token"])
    assert "nonce" not in claims


def test_a_replayed_nonce_is_refused(http: AsgiClient) -> None:
    authorize(http, nonce="once-only-nonce")
    query = {"response_type": "code", "client_id": "lab-web", "redirect_uri": REDIRECT, "scope": "openid",
             "code_challenge": "x" * 43, "code_challenge_method": "S256", "nonce": "once-only-nonce"}
    response = http.get("/authorize?" + urlencode(query), follow_redirects=False)
    assert response.status_code in (302, 400)
    assert "code=" not in response.headers.get("location", "")
