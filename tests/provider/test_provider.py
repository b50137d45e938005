"""The mock provider over real HTTP on loopback: discovery, grants and their failures, personas, tenants, faults."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt as pyjwt
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jwt as jfc_jwt
from joserfc.jwk import KeySet

from labkit import validate_security_config
from labkit.auth import build_validator
from labkit.errors import AuthError
from labkit.provider import MockProvider, persona_oauth2
from labkit.servers import ServerThread

from ..helpers import examples

pytestmark = pytest.mark.integration
AUD = "api://oauth2-lab-agent"
REDIRECT = "http://127.0.0.1:8765/callback"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[MockProvider, str]]:
    provider = MockProvider()
    server = ServerThread(provider.app, name="provider")
    provider.base_url = server.url
    with server:
        yield provider, server.url


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def token_request(http: httpx.Client, url: str, data: dict[str, str], auth: tuple[str, str] | None = None,
                  path: str = "/token") -> httpx.Response:
    return http.post(url + path, data=data, auth=auth)


def cc_token(http: httpx.Client, url: str, scope: str = "api:read", client: tuple[str, str] = ("lab-client", "lab-client-secret"),
             **extra: str) -> dict[str, Any]:
    response = token_request(http, url, {"grant_type": "client_credentials", "scope": scope, **extra}, auth=client)
    assert response.status_code == 200, response.text
    return dict(response.json())


def validate(url: str, token: str, **settings: Any) -> Any:
    block = {"jwks_url": f"{url}/jwks", "jwt_issuer": url, "jwt_audience": AUD, **settings}
    cfg = validate_security_config({"oauth2": block}, env={})
    validator = build_validator(cfg.oauth2)

    async def run() -> Any:
        try:
            return await validator.validate(token)
        finally:
            await validator.aclose()

    return asyncio.run(run())


def test_discovery(served: tuple[MockProvider, str], http: httpx.Client) -> None:
    _, url = served
    for path in ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"):
        meta = http.get(url + path).json()
        AuthorizationServerMetadata(meta).validate()
        assert meta["issuer"] == url
        assert meta["token_endpoint"] == f"{url}/token" and meta["jwks_uri"] == f"{url}/jwks"
        assert meta["code_challenge_methods_supported"] == ["S256"]
        assert {"client_credentials", "authorization_code", "refresh_token"} <= set(meta["grant_types_supported"])
        assert "api:read" in meta["scopes_supported"]
    jwks = http.get(url + "/jwks").json()
    assert {k["kty"] for k in jwks["keys"]} == {"RSA", "EC", "OKP"}
    assert all(k["use"] == "sig" and k["kid"] and k["alg"] and "d" not in k for k in jwks["keys"])


def test_client_credentials_basic_and_post(served: tuple[MockProvider, str], http: httpx.Client) -> None:
    _, url = served
    basic = cc_token(http, url, "api:read api:write")
    assert basic["token_type"] == "Bearer" and basic["scope"] == "api:read api:write" and basic["expires_in"] == 3600
    principal = validate(url, basic["access_token"])
    assert principal.subject == "lab-client" and principal.scopes == {"api:read", "api:write"}
    post = token_request(http, url, {"grant_type": "client_credentials", "client_id": "lab-client",
                                     "client_secret": "lab-client-secret", "scope": "api:read"})
    assert post.status_code == 200 and post.headers["cache-control"] == "no-store"
    header = jfc_jwt.decode(post.json()["access_token"], KeySet.import_key_set(http.get(url + "/jwks").json())).header
    assert header["typ"] == "at+jwt" and header["alg"] == "RS256"


def test_resource_parameter_sets_audience(served: tuple[MockProvider, str], http: httpx.Client) -> None:
    _, url = served
    agent = "http://127.0.0.1:9999/mcp"  # a loopback agent's RFC 9728 resource: allowed for lab clients
    token = cc_token(http, url, resource=agent)["access_token"]
    assert validate(url, token, jwt_audience=agent).subject == "lab-client"
    for resource in ("not-a-uri", "https://agent.example/"):  # malformed; not allowed for this client
        bad = token_request(http, url, {"grant_type": "client_credentials", "resource": resource},
                            auth=("lab-client", "lab-client-secret"))
        assert bad.status_code == 400 and bad.json()["error"] == "invalid_target"


@pytest.mark.parametrize(
    ("data", "auth", "status", "error"),
    [
        ({"grant_type": "client_credentials"}, ("lab-client", "wrong"), 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, ("nobody", "x"), 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, None, 401, "invalid_client"),
        ({"grant_type": "password", "username": "a", "password": "b"}, ("lab-client", "lab-client-secret"), 400,
         "unsupported_grant_type"),
        ({"grant_type": "client_credentials", "scope": "admin"}, ("lab-limited", "lab-limited-secret"), 400,
         "invalid_scope"),
        ({"grant_type": "client_credentials"}, ("lab-agent", "lab-agent-secret"), 400, "unauthorized_client"),
        ({"grant_type": "authorization_code", "code": "nope", "redirect_uri": REDIRECT},
         ("lab-web", "lab-web-secret"), 400, "invalid_grant"),
        ({"grant_type": "refresh_token", "refresh_token": "nope"}, ("lab-web", "lab-web-secret"), 400, "invalid_grant"),
        ({}, ("lab-client", "lab-client-secret"), 400, "invalid_request"),  # grant_type missing
    ],
)
def test_token_errors(served: tuple[MockProvider, str], http: httpx.Client, data: dict[str, str],
                      auth: tuple[str, str] | None, status: int, error: str) -> None:
    _, url = served
    response = token_request(http, url, data, auth=auth)
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"content": b"grant_type=client_credentials&grant_type=client_credentials",
         "headers": {"content-type": "application/x-www-form-urlencoded"}},
        {"json": {"grant_type": "client_credentials"}},
        {"content": b"grant_type=client_credentials&scope=" + b"a" * 70_000,
         "headers": {"content-type": "application/x-www-form-urlencoded"}},
        {"content": b"\xff\xfe", "headers": {"content-type": "application/x-www-form-urlencoded"}},
        {"content": b"grant_type=client_credentials", "headers": {"content-type": "text/plain"}},
    ],
)
def test_malformed_token_requests_are_4xx(served: tuple[MockProvider, str], http: httpx.Client,
                                          request_kwargs: dict[str, Any]) -> None:
    _, url = served
    response = http.post(url + "/token", auth=("lab-client", "lab-client-secret"), **request_kwargs)
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize(http: httpx.Client, url: str, client_id: str, challenge: str, **extra: str) -> httpx.Response:
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "scope": "api:read files:read",
              "state": "xyz", "code_challenge": challenge, "code_challenge_method": "S256", **extra}
    return http.get(url + "/authorize", params=params, follow_redirects=False)


def test_authorization_code_with_pkce_and_code_reuse(served: tuple[MockProvider, str], http: httpx.Client) -> None:
    _, url = served
    verifier, challenge = pkce()
    response = authorize(http, url, "lab-app", challenge)
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    query = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT and query["state"] == ["xyz"]
    code = query["code"][0]
    exchange = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "client_id": "lab-app",
                "code_verifier": verifier}
    first = token_request(http, url, exchange)
    assert first.status_code == 200, first.text
    tokens = first.json()
    principal = validate(url, tokens["access_token"])
    assert principal.subject == "alice" and principal.scopes == {"api:read", "files:read"}
    again = token_request(http, url, exchange)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    # the reused code revoked what it was exchanged for
    introspected = http.post(url + "/introspect", data={"token": tokens["access_token"]},
                             auth=("lab-agent", "lab-agent-secret")).json()
    assert introspected == {"active": False}
    # the store says why (lesson 20's check reads it): code reuse, and what /authorize was asked for
    provider = served[0]
    store = provider.server().store
    record = store.find_token(tokens["access_token"])
    assert record is not None and record.revoked_reason == "code reuse" and record.revoked_at is not None
    asked = [c.requested_scope for c in store.codes.values() if c.family == record.family]
    assert asked and asked[0] == "api:read files:read"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"code_verifier": "x" * 50}, "invalid_grant"),
        ({"redirect_uri": "http://127.0.0.1:8765/other"}, "invalid_grant"),
        ({"code_verifier": None}, "invalid_request"),
    ],
)
def test_code_exchange_failures(served: tuple[MockProvider, str], http: httpx.Client, change: dict[str, Any],
                                error: str) -> None:
    _, url = served
    verifier, challenge = pkce()
    code = parse_qs(urlsplit(authorize(http, url, "lab-app", challenge).headers["location"]).query)["code"][0]
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "client_id": "lab-app",
            "code_verifier": verifier, **change}
    response = token_request(http, url, {k: v for k, v in data.items() if v is not None})
    assert response.status_code == 400 and response.json()["error"] == error, response.text


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"redirect_uri": "http://evil.example/cb"}, "json"),  # never redirect to an unregistered URI
        ({"code_challenge": None, "code_challenge_method": None}, "redirect"),  # PKCE required
        ({"code_challenge_method": "plain"}, "redirect"),
        ({"scope": "not-a-lab-scope"}, "redirect"),
        ({"login_hint": "mallory"}, "json"),
    ],
)
def test_authorize_failures(served: tuple[MockProvider, str], http: httpx.Client, params: dict[str, Any],
                            where: str) -> None:
    _, url = served
    _, challenge = pkce()
    response = authorize(http, url, "lab-app", challenge, **{k: v for k, v in params.items() if v is not None})
    if None in params.values():
        query = {"response_type": "code", "client_id": "lab-app", "redirect_uri": REDIRECT, "state": "xyz",
                 "scope": "api:read"}
        response = http.get(url + "/authorize", params=query, follow_redirects=False)
    if where == "json":
        assert response.status_code == 400 and "error" in response.json()
    else:
        assert response.status_code == 302
        query = parse_qs(urlsplit(response.headers["location"]).query)
        assert "error" in query and "code" not in query and query["state"] == ["xyz"]


def test_refresh_rotation_and_reuse_detection(served: tuple[MockProvider, str], http: httpx.Client) -> None:
    _, url = served
    verifier, challenge = pkce()
    code = parse_qs(urlsplit(authorize(http, url, "lab-web", challenge).headers["location"]).query)["code"][0]
    client = ("lab-web", "lab-web-secret")
    tokens = token_request(http, url, {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                                       "code_verifier": verifier}, auth=client).json()
    first_refresh = tokens["refresh_token"]
    rotated = token_request(http, url, {"grant_type": "refresh_token", "refresh_token": first_refresh}, auth=client)
    assert rotated.status_code == 200
    second = rotated.json()
    assert second["refresh_token"] != first_refresh
    reuse = token_request(http, url, {"grant_type": "refresh_token", "refresh_token": first_refresh}, auth=client)
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    # reuse revoked the family: the newest refresh token and its access token are dead too
    after = token_request(http, url, {"grant_type": "refresh_token", "refresh_token": second["refresh_token"]}, auth=client)
    assert after.status_code == 400
    active = http.post(url + "/introspect", data={"token": second["access_token"]}, auth=("lab-agent", "lab-agent-secret"))
    assert active.json() == {"active": False}
    # the store says the family died of refresh reuse (RFC 9700 §4.14.2), not of a revocation request
    store = served[0].server().store
    record = store.find_token(second["refresh_token"])
    assert record is not None and record.revoked and record.revoked_reason == "refresh reuse"
    http.post(url + "/revoke", data={"token": tokens["access_token"]}, auth=client)
    assert store.find_token(tokens["access_token"]).revoked_reason == "refresh reuse"  # revoked before: unchanged


def test_introspection_and_revocation(served: tuple[MockProvider, str], http: httpx.Client) -> None:
    provider, url = served
    opaque = cc_token(http, url, "api:read", client=("lab-opaque", "lab-opaque-secret"))["access_token"]
    assert opaque.startswith("lab-at-")
    rs = ("lab-agent", "lab-agent-secret")
    body = http.post(url + "/introspect", data={"token": opaque, "token_type_hint": "access_token"}, auth=rs).json()
    assert body["active"] is True and body["scope"] == "api:read" and body["client_id"] == "lab-opaque"
    assert body["iss"] == url and body["aud"] == AUD and body["exp"] > body["iat"]
    assert http.post(url + "/introspect", data={"token": opaque}).status_code == 401  # client auth required
    assert http.post(url + "/introspect", data={"token": opaque}, auth=("lab-agent", "bad")).status_code == 401
    # a client that is not a resource server may not introspect someone else's token
    other = http.post(url + "/introspect", data={"token": opaque}, auth=("lab-client", "lab-client-secret")).json()
    assert other == {"active": False}
    revoked = http.post(url + "/revoke", data={"token": opaque}, auth=("lab-opaque", "lab-opaque-secret"))
    assert revoked.status_code == 200
    assert http.post(url + "/introspect", data={"token": opaque}, auth=rs).json() == {"active": False}
    expired = provider.mint(["api:read"], lifetime=-10, opaque=True)
    assert http.post(url + "/introspect", data={"token": expired}, auth=rs).json() == {"active": False}
    unknown = http.post(url + "/revoke", data={"token": "never-issued"}, auth=("lab-opaque", "lab-opaque-secret"))
    assert unknown.status_code == 200  # RFC 7009 §2.2


def test_github_dialect(served: tuple[MockProvider, str], http: httpx.Client) -> None:
    _, url = served
    app = ("Iv1.lab-github-app", "lab-github-secret")
    token = cc_token(http, url, "repo api:read", client=app)["access_token"]
    block = persona_oauth2("github", url, AUD)
    cfg = validate_security_config({"oauth2": block}, env={})
    assert cfg.oauth2.dialect == "github"
    validator = build_validator(cfg.oauth2)

    async def run() -> None:
        principal = await validator.validate(token)
        assert principal.scopes == {"repo", "api:read"}
        with pytest.raises(AuthError) as info:
            await validator.validate("gho_unknown")
        assert info.value.reason.value == "inactive"
        await validator.aclose()

    asyncio.run(run())
    wrong = http.post(f"{url}/applications/Iv1.lab-github-app/token", json={"access_token": token}, auth=("x", "y"))
    assert wrong.status_code == 401


@pytest.mark.parametrize("persona", ["default", "google", "auth0", "azure", "okta", "keycloak"])
def test_personas_validate_with_their_seed_config(served: tuple[MockProvider, str], persona: str) -> None:
    provider, url = served
    token = provider.mint(["api:read", "api:write"], subject="alice", persona=persona)
    audience = "lab-client" if persona == "google" else AUD  # Google's audience is the client id
    principal = validate(url, token, **{k: v for k, v in persona_oauth2(persona, url, audience).items()
                                        if k not in ("validation_strategy",)})
    claims = principal.claims
    if persona == "google":
        assert "scope" not in claims and claims["azp"] == "lab-client" and claims["email"] == "alice@lab.test"
        assert principal.scopes == set()
    else:
        assert principal.scopes == {"api:read", "api:write"}
    if persona == "auth0":
        assert claims["iss"].endswith("/") and claims["permissions"] == ["api:read", "api:write"]
    if persona == "azure":
        assert claims["scp"] == "api:read api:write" and "tid" in claims and "/v2.0" in claims["iss"]
    if persona == "okta":
        assert claims["scp"] == ["api:read", "api:write"] and claims["cid"] == "lab-client"
    if persona == "keycloak":
        assert claims["realm_access"] == {"roles": ["api:read", "api:write"]}


def test_tokens_verify_in_pyjwt_and_joserfc(served: tuple[MockProvider, str], http: httpx.Client) -> None:
    provider, url = served
    jwks = http.get(url + "/jwks").json()
    for alg in ("RS256", "ES256", "EdDSA"):
        token = provider.mint(["api:read"], alg=alg)
        kid = pyjwt.get_unverified_header(token)["kid"]
        key = pyjwt.PyJWK(next(k for k in jwks["keys"] if k["kid"] == kid))
        claims = pyjwt.decode(token, key, algorithms=[alg], audience=AUD, issuer=url)
        assert claims["client_id"] == "lab-client"
        assert jfc_jwt.decode(token, KeySet.import_key_set(jwks), algorithms=[alg]).claims["scope"] == "api:read"


def test_authlib_client_credentials_and_pkce(served: tuple[MockProvider, str]) -> None:
    _, url = served
    with OAuth2Client("lab-client", "lab-client-secret", scope="api:read") as client:
        token = client.fetch_token(url + "/token", grant_type="client_credentials")
    assert validate(url, token["access_token"]).scopes == {"api:read"}
    verifier = secrets.token_urlsafe(48)
    with OAuth2Client("lab-app", redirect_uri=REDIRECT, scope="api:read", code_challenge_method="S256",
                      token_endpoint_auth_method="none") as client:
        uri, _state = client.create_authorization_url(url + "/authorize", code_verifier=verifier)
        redirected = httpx.get(uri, follow_redirects=False).headers["location"]
        token = client.fetch_token(url + "/token", authorization_response=redirected, code_verifier=verifier)
    assert validate(url, token["access_token"]).subject == "alice"


def test_tenant_isolation(served: tuple[MockProvider, str], http: httpx.Client) -> None:
    provider, url = served
    acme = http.post(url + "/acme/token", data={"grant_type": "client_credentials", "scope": "api:read"},
                     auth=("lab-client", "lab-client-secret")).json()["access_token"]
    assert validate(f"{url}/acme", acme).issuer == f"{url}/acme"
    with pytest.raises(AuthError) as info:
        validate(f"{url}/globex", acme)
    assert info.value.reason.value in ("key", "issuer")
    assert http.get(url + "/acme/.well-known/oauth-authorization-server").json()["issuer"] == f"{url}/acme"
    assert http.get(url + "/nowhere/jwks").status_code == 404
    assert {k["kid"] for k in provider.jwks("acme")["keys"]}.isdisjoint(k["kid"] for k in provider.jwks()["keys"])


def test_key_rotation_keeps_retired_keys_published(served: tuple[MockProvider, str], http: httpx.Client) -> None:
    provider, url = served
    old = provider.mint(["api:read"], tenant="globex")
    assert http.post(url + "/globex/admin/rotate").status_code == 401
    rotated = http.post(url + "/globex/admin/rotate", headers={"X-Lab-Admin": provider.admin_token}).json()["rotated"]
    assert len(rotated) == 3
    new = provider.mint(["api:read"], tenant="globex")
    assert pyjwt.get_unverified_header(new)["kid"] in rotated
    assert validate(f"{url}/globex", old).scopes == {"api:read"}
    assert validate(f"{url}/globex", new).scopes == {"api:read"}


@pytest.mark.parametrize(
    ("fault", "check"),
    [
        ({"status": 503}, lambda r: r.status_code == 503),
        ({"malformed": True}, lambda r: r.status_code == 200 and r.text.startswith('{"keys": [ this')),
        ({"missing_key": True}, lambda r: r.json() == {"keys": []}),
        ({"latency": 0.3}, lambda r: r.elapsed.total_seconds() >= 0.3 and r.status_code == 200),
    ],
)
def test_faults(served: tuple[MockProvider, str], http: httpx.Client, fault: dict[str, Any], check: Any) -> None:
    provider, url = served
    provider.faults.set("jwks", **fault)
    try:
        assert check(http.get(url + "/jwks"))
    finally:
        provider.faults.reset()
    assert http.get(url + "/jwks").status_code == 200


def test_dropped_connection_and_admin_faults(served: tuple[MockProvider, str], http: httpx.Client) -> None:
    provider, url = served
    admin = {"X-Lab-Admin": provider.admin_token}
    set_fault = http.post(url + "/admin/faults", json={"endpoint": "introspect", "drop": True}, headers=admin)
    assert set_fault.json()["faults"] == {"default/introspect": {"drop": True}}
    with pytest.raises(httpx.HTTPError):
        http.post(url + "/introspect", data={"token": "x"}, auth=("lab-agent", "lab-agent-secret"))
    assert http.post(url + "/admin/faults", json={"endpoint": "nope"}, headers=admin).status_code == 400
    assert http.delete(url + "/admin/faults", headers=admin).json() == {"faults": {}}
    ok = http.post(url + "/introspect", data={"token": "x"}, auth=("lab-agent", "lab-agent-secret"))
    assert ok.json() == {"active": False}


_PARAMS = st.sampled_from(["grant_type", "scope", "code", "redirect_uri", "client_id", "client_secret", "refresh_token",
                           "code_verifier", "resource", "audience", "token", "token_type_hint", "x"])
_VALUES = st.one_of(st.sampled_from(["client_credentials", "authorization_code", "refresh_token", "api:read", "",
                                     REDIRECT, "lab-client", "lab-client-secret"]), st.text(max_size=40))


@settings(max_examples=examples(100), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from(["/token", "/introspect", "/revoke", "/acme/token", "/applications/lab-client/token"]),
    form=st.lists(st.tuples(_PARAMS, _VALUES), max_size=6),
    content_type=st.sampled_from(["application/x-www-form-urlencoded", "application/json", "text/plain", "",
                                  "application/x-www-form-urlencoded; charset=latin-1"]),
    authorization=st.one_of(st.none(), st.sampled_from(["Basic bGFiLWNsaWVudDpsYWItY2xpZW50LXNlY3JldA==",
                                                        "Basic !!!", "Bearer x", "Basic " + "A" * 300]),
                            st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30)
                            .map(lambda v: v.strip() or "x")),  # h11 refuses values with edge whitespace
    raw=st.one_of(st.none(), st.binary(max_size=64)),
)
def test_fuzzed_requests_never_5xx(served: tuple[MockProvider, str], path: str, form: list[tuple[str, str]],
                                   content_type: str, authorization: str | None, raw: bytes | None) -> None:
    _, url = served
    from urllib.parse import urlencode

    body = raw if raw is not None else urlencode(form).encode()
    headers = {"content-type": content_type} if content_type else {}
    if authorization is not None:
        headers["authorization"] = authorization
    with httpx.Client(timeout=10) as client:
        response = client.post(url + path, content=body, headers=headers)
        assert response.status_code < 500, (path, form, response.text)
        query = {k: v for k, v in form}
        assert client.get(url + "/authorize", params=query, follow_redirects=False).status_code < 500


def test_unsafe_attack_tokens_are_all_refused(served: tuple[MockProvider, str]) -> None:
    from labkit.provider import unsafe

    provider, url = served
    good = provider.mint(["api:read"])
    attacks = {
        "alg none": unsafe.unsafe_alg_none(provider),
        "alg None": unsafe.unsafe_alg_none(provider, alg="None"),
        "foreign key, trusted kid": unsafe.unsafe_foreign_key(provider),
        "HS256 keyed with the RSA public key": unsafe.unsafe_hs256_with_public_key(provider),
        "jku": unsafe.unsafe_url_header(provider, "jku"),
        "x5u": unsafe.unsafe_url_header(provider, "x5u"),
        "embedded jwk": unsafe.unsafe_embedded_jwk(provider),
        "kid path": unsafe.unsafe_kid(provider),
        "kid sql": unsafe.unsafe_kid(provider, kid="x' UNION SELECT 'a"),
        "tampered scope": unsafe.unsafe_tamper_payload(good, scope="admin"),
    }
    reasons = {}
    for name, token in attacks.items():
        with pytest.raises(AuthError) as info:
            validate(url, token, jwt_algorithms=["RS256", "ES256"])
        reasons[name] = info.value.reason.value
    assert reasons == {
        "alg none": "algorithm", "alg None": "algorithm", "foreign key, trusted kid": "signature",
        "HS256 keyed with the RSA public key": "algorithm", "jku": "header", "x5u": "header",
        "embedded jwk": "header", "kid path": "algorithm", "kid sql": "algorithm", "tampered scope": "signature",
    }
