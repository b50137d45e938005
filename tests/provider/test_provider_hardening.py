"""The provider as an attacker sees it (issue #20): resource binding, no side effect before a check, no 5xx, RFC 9207.

In process (Starlette's AsgiClient over the ASGI app), so the properties run fast and deterministically.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labkit.provider import Client, MockProvider
from labkit.provider.app import LAB_REDIRECTS, LAB_SCOPES

from ..helpers import AsgiClient, examples

BASE = "http://127.0.0.1"
REDIRECT = LAB_REDIRECTS[0]
RS_A, RS_B, EVIL = "https://rs-a.example/", "https://rs-b.example/", "https://evil.example/"
TENANTS = (None, "acme", "globex")
RFC6749_ERRORS = {"invalid_request", "invalid_client", "invalid_grant", "unauthorized_client", "unsupported_grant_type",
                  "invalid_scope", "invalid_target", "unsupported_token_type", "unsupported_response_type",
                  "access_denied", "not_found", "invalid_redirect_uri", "invalid_client_metadata"}  # + RFC 7591 §3.2.2
DESCRIPTION = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*")  # RFC 6749 §5.2


@pytest.fixture(scope="module")
def provider() -> MockProvider:
    provider = MockProvider(base_url=BASE, clock=lambda: 1_700_000_000)
    for tenant in TENANTS:
        provider.register_client(Client("rs-client", "rs-secret", grant_types=("authorization_code", "refresh_token",
                                                                               "client_credentials"),
                                        scopes=LAB_SCOPES, redirect_uris=LAB_REDIRECTS, resources=(RS_A, RS_B)), tenant)
    return provider


@pytest.fixture(scope="module")
def http(provider: MockProvider) -> Iterator[AsgiClient]:
    with AsgiClient(provider.app, BASE, raise_app_exceptions=False) as client:
        yield client


def prefix(tenant: str | None) -> str:
    return f"/{tenant}" if tenant else ""


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def authorize(http: AsgiClient, client_id: str = "rs-client", tenant: str | None = None,
              **params: str | list[str]) -> tuple[str, str, dict[str, list[str]]]:
    """(code, verifier, query of the redirect) of one headless authorization."""
    verifier = secrets.token_urlsafe(32)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "scope": "api:read",
             "state": "s1", "code_challenge": challenge, "code_challenge_method": "S256", **params}
    response = http.get(prefix(tenant) + "/authorize?" + urlencode(query, doseq=True), follow_redirects=False)
    assert response.status_code == 302, response.text
    answer = parse_qs(urlsplit(response.headers["location"]).query)
    return answer.get("code", [""])[0], verifier, answer


def exchange(http: AsgiClient, code: str, verifier: str, client: tuple[str, str | None] = ("rs-client", "rs-secret"),
             tenant: str | None = None, **extra: str) -> Any:
    data = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier, "redirect_uri": REDIRECT,
            **extra}
    return token_call(http, data, client, tenant)


def token_call(http: AsgiClient, data: dict[str, str], client: tuple[str, str | None], tenant: str | None = None) -> Any:
    client_id, secret = client
    if secret is None:
        return http.post(prefix(tenant) + "/token", data={**data, "client_id": client_id})
    return http.post(prefix(tenant) + "/token", data=data, auth=(client_id, secret))


def refresh(http: AsgiClient, token: str, client: tuple[str, str | None] = ("rs-client", "rs-secret"),
            **extra: str) -> Any:
    return token_call(http, {"grant_type": "refresh_token", "refresh_token": token, **extra}, client)


def snapshot(provider: MockProvider) -> Any:
    """Everything a refused request must leave alone, in every tenant."""
    state = []
    for tenant in TENANTS:
        store = provider.server(tenant).store
        state.append((sorted((h, r.revoked, r.rotated) for h, r in store.tokens.items()),
                      sorted((h, c.used) for h, c in store.codes.items()), sorted(store.clients),
                      sorted(store.used_jtis)))
    return state


# -- 1. RFC 8707: the grant remembers its resources --------------------------------------------------------------

def test_code_and_refresh_token_keep_the_authorized_resource(http: AsgiClient) -> None:
    code, verifier, _ = authorize(http, resource=RS_A)
    assert exchange(http, code, verifier, resource=RS_B).json()["error"] == "invalid_target"
    assert exchange(http, code, verifier, resource=EVIL).json()["error"] == "invalid_target"
    granted = exchange(http, code, verifier).json()  # the refused exchanges did not burn the code
    assert claims_of(granted["access_token"])["aud"] == RS_A
    rt = granted["refresh_token"]
    for resource in (EVIL, RS_B, "api://oauth2-lab-agent"):
        assert refresh(http, rt, resource=resource).json()["error"] == "invalid_target"
    again = refresh(http, rt).json()
    assert claims_of(again["access_token"])["aud"] == RS_A
    narrowed = refresh(http, again["refresh_token"], resource=RS_A).json()
    assert claims_of(narrowed["access_token"])["aud"] == RS_A


def test_narrowing_from_several_resources_keeps_the_others_for_refresh(http: AsgiClient) -> None:
    code, verifier, _ = authorize(http, resource=[RS_A, RS_B])
    first = exchange(http, code, verifier, resource=RS_B).json()
    assert claims_of(first["access_token"])["aud"] == RS_B
    both = refresh(http, first["refresh_token"]).json()
    assert claims_of(both["access_token"])["aud"] == [RS_A, RS_B]
    only_a = refresh(http, both["refresh_token"], resource=RS_A).json()
    assert claims_of(only_a["access_token"])["aud"] == RS_A


def test_without_resource_the_grant_is_for_the_default_audience_only(http: AsgiClient) -> None:
    code, verifier, _ = authorize(http)
    assert exchange(http, code, verifier, resource=RS_A).json()["error"] == "invalid_target"
    granted = exchange(http, code, verifier).json()
    assert claims_of(granted["access_token"])["aud"] == "api://oauth2-lab-agent"
    assert refresh(http, granted["refresh_token"], resource=RS_A).json()["error"] == "invalid_target"


def test_authorize_refuses_a_resource_the_client_may_not_have(http: AsgiClient) -> None:
    _, _, answer = authorize(http, resource=EVIL)
    assert answer["error"] == ["invalid_target"] and answer["state"] == ["s1"] and answer["iss"] == [BASE]
    _, _, answer = authorize(http, resource="not-a-uri")
    assert answer["error"] == ["invalid_target"] and "code" not in answer


@pytest.mark.parametrize("tenant", TENANTS)
def test_client_credentials_use_the_clients_allowed_resources(http: AsgiClient, tenant: str | None) -> None:
    lab, rs = ("lab-client", "lab-client-secret"), ("rs-client", "rs-secret")
    cases = [
        (lab, None, "api://oauth2-lab-agent"),
        (lab, "api://oauth2-lab-agent", "api://oauth2-lab-agent"),
        (lab, "http://127.0.0.1:8123/", "http://127.0.0.1:8123/"),  # the agent's RFC 9728 resource values
        (lab, "http://127.0.0.1:8123/mcp", "http://127.0.0.1:8123/mcp"),
        (lab, "http://localhost:8123/t/acme/mcp", "http://localhost:8123/t/acme/mcp"),
        (lab, RS_A, None),
        (lab, "http://127.0.0.1@evil.example/", None),
        (lab, "http://127.0.0.1.evil.example/", None),
        (rs, RS_B, RS_B),
        (rs, "http://127.0.0.1:8123/", None),
        (rs, EVIL, None),
    ]
    for client, resource, audience in cases:
        data = {"grant_type": "client_credentials", "scope": "api:read"}
        if resource:
            data["resource"] = resource
        response = token_call(http, data, client, tenant)
        if audience is None:
            assert response.status_code == 400 and response.json()["error"] == "invalid_target", (client, resource)
        else:
            assert claims_of(response.json()["access_token"])["aud"] == audience, (client, resource)


# -- 2. No side effect before the check -----------------------------------------------------------------------------

def test_a_rotated_refresh_token_of_another_client_revokes_nothing(provider: MockProvider, http: AsgiClient) -> None:
    code, verifier, _ = authorize(http, "lab-web")
    old = exchange(http, code, verifier, ("lab-web", "lab-web-secret")).json()["refresh_token"]
    live = refresh(http, old, ("lab-web", "lab-web-secret")).json()
    before = snapshot(provider)
    refused = refresh(http, old, ("lab-app", None))  # the public client, no secret
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert snapshot(provider) == before
    assert refresh(http, live["refresh_token"], ("lab-web", "lab-web-secret")).status_code == 200


def test_every_refused_request_leaves_the_store_unchanged(provider: MockProvider, http: AsgiClient) -> None:
    code, verifier, _ = authorize(http)
    first = exchange(http, code, verifier).json()
    rt = first["refresh_token"]
    rotated = refresh(http, rt).json()["refresh_token"]  # rt is now rotated: reuse would revoke the family
    code2, verifier2, _ = authorize(http)
    used_code, used_verifier = code, verifier
    refused: dict[str, Any] = {
        "reuse of a rotated refresh token by another client": lambda: refresh(http, rt, ("lab-client",
                                                                                         "lab-client-secret")),
        "reuse of a rotated refresh token, wrong secret": lambda: refresh(http, rt, ("rs-client", "nope")),
        "reuse of a rotated refresh token, broader scope": lambda: refresh(http, rt, scope="api:read admin"),
        "reuse of a rotated refresh token, foreign resource": lambda: refresh(http, rt, resource=EVIL),
        "refresh, foreign resource": lambda: refresh(http, rotated, resource=EVIL),
        "refresh, broader scope": lambda: refresh(http, rotated, scope="admin"),
        "code, wrong verifier": lambda: exchange(http, code2, secrets.token_urlsafe(32)),
        "code, another client": lambda: exchange(http, code2, verifier2, ("lab-web", "lab-web-secret")),
        "code, wrong redirect_uri": lambda: exchange(http, code2, verifier2, redirect_uri=LAB_REDIRECTS[1]),
        "code, foreign resource": lambda: exchange(http, code2, verifier2, resource=EVIL),
        "used code, wrong verifier": lambda: exchange(http, used_code, secrets.token_urlsafe(32)),
        "used code, another client": lambda: exchange(http, used_code, used_verifier, ("lab-client",
                                                                                       "lab-client-secret")),
        "revoke, another client": lambda: http.post("/revoke", data={"token": rotated},
                                                    auth=("lab-web", "lab-web-secret")),
        "revoke, wrong secret": lambda: http.post("/revoke", data={"token": rotated}, auth=("rs-client", "x")),
        "revoke, no credentials": lambda: http.post("/revoke", data={"token": rotated}),
        "revoke, malformed Basic": lambda: http.post("/revoke", data={"token": rotated},
                                                     headers={"Authorization": "Basic //79"}),
        "revoke at another tenant": lambda: http.post("/acme/revoke", data={"token": rotated},
                                                      auth=("rs-client", "rs-secret")),
    }
    for name, call in refused.items():
        before = snapshot(provider)
        response = call()
        assert response.status_code >= 400 or name.startswith("revoke"), (name, response.text)
        assert snapshot(provider) == before, name
    assert exchange(http, code2, verifier2).status_code == 200  # the code survived every refused attempt
    assert refresh(http, rotated).status_code == 200  # and the family was never revoked


# -- 3. No 5xx from any input; never echo the request ----------------------------------------------------------------

_NOT_UTF8 = base64.b64encode(b"\xff\xfe:\x80").decode()
BASIC = ["Basic " + _NOT_UTF8, "Basic !!!", "Basic", "Basic ", "Basic " + base64.b64encode(b"nocolon").decode(),
         "Basic " + base64.b64encode("é:é".encode()).decode(), "Basic " + base64.b64encode(b":").decode(),
         "Basic " + "A" * 5000, "basic " + base64.b64encode(b"lab-client:%ZZ").decode()]
RAW_HEADERS = [b"Basic \xff\xfe", b"Basic \xc3\xa9", "Basic é".encode("latin-1"), b"Bearer \x80"]


@pytest.mark.parametrize("tenant", TENANTS)
@pytest.mark.parametrize("path", ["/token", "/introspect", "/revoke"])
def test_malformed_basic_credentials_are_invalid_client(http: AsgiClient, tenant: str | None, path: str) -> None:
    data = {"grant_type": "client_credentials", "token": "x"}
    for header in [*BASIC, *RAW_HEADERS]:
        response = http.post(prefix(tenant) + path, data=data, headers={"Authorization": header})  # type: ignore[dict-item]
        assert response.status_code in (400, 401), (header, response.text)
        assert response.json()["error"] in ("invalid_client", "invalid_request"), header


HOSTILE = ['"', "\\", "\r\n", "é", "\x00", "\x1b[2J", "<img src=x onerror=alert(1)>", "%ff", "\ud800", "x" * 9000,
           "MARKER-1337"]


def assert_rfc6749_error(response: Any) -> None:
    assert response.status_code < 500, response.text
    if response.status_code == 302:
        query = parse_qs(urlsplit(response.headers["location"]).query)
        assert "iss" in query
        return
    if response.status_code >= 400:
        body = response.json()
        assert body["error"] in RFC6749_ERRORS, body
        description = body.get("error_description", "")
        assert DESCRIPTION.fullmatch(description) and len(description) <= 200, body
        assert "MARKER" not in description, body


@pytest.mark.parametrize(("value", "tenant"), [(value, TENANTS[i % len(TENANTS)]) for i, value in enumerate(HOSTILE)])
def test_hostile_values_in_every_parameter_get_an_rfc6749_error(http: AsgiClient, tenant: str | None,
                                                                value: str) -> None:
    # every value in every parameter of every endpoint; the tenants take turns (one code path with its own store)
    valid = {"response_type": "code", "client_id": "lab-app", "redirect_uri": REDIRECT, "scope": "api:read",
             "code_challenge": "a" * 43, "code_challenge_method": "S256", "state": "s"}
    for name in [*valid, "resource", "audience", "login_hint"]:
        query = urlencode({**valid, name: value.encode("utf-8", "surrogatepass")})
        assert_rfc6749_error(http.get(prefix(tenant) + "/authorize?" + query, follow_redirects=False))
    for path in ("/token", "/introspect", "/revoke"):
        for name in ("grant_type", "scope", "client_id", "client_secret", "token", "resource", "code",
                     "refresh_token", "redirect_uri", "token_type_hint"):
            form = {"grant_type": "client_credentials", "token": "t", name: value}
            body = urlencode({k: v.encode("utf-8", "surrogatepass") for k, v in form.items()})
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            assert_rfc6749_error(http.post(prefix(tenant) + path, content=body, headers=headers))
            assert_rfc6749_error(http.post(prefix(tenant) + path, content=body, headers=headers,
                                           auth=("lab-client", "lab-client-secret")))


def test_an_unregistered_redirect_uri_is_not_repeated_back(http: AsgiClient) -> None:
    query = urlencode({"response_type": "code", "client_id": "lab-app", "redirect_uri": "https://MARKER.example/cb"})
    response = http.get("/authorize?" + query, follow_redirects=False)
    assert response.status_code == 400 and "MARKER" not in response.text
    response = http.get("/authorize?" + urlencode({"response_type": "MARKER", "client_id": "lab-app",
                                                   "redirect_uri": REDIRECT}), follow_redirects=False)
    assert response.status_code == 302 and "MARKER" not in response.headers["location"]


def test_deep_json_and_huge_bodies_are_4xx(http: AsgiClient, provider: MockProvider) -> None:
    github = "/applications/lab-client/token"
    auth = ("lab-client", "lab-client-secret")
    for body in ("[" * 30_000 + "]" * 30_000, '{"access_token": NaN}', '{"a":' * 5000 + "1" + "}" * 5000):
        assert http.post(github, content=body, auth=auth).status_code == 400
    admin = {"X-Lab-Admin": provider.admin_token}
    assert http.post("/admin/faults", content="[" * 20_000, headers=admin).status_code == 400
    big = b"a=" + b"x" * (70 * 1024)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert http.post("/token", content=big, headers=form).status_code == 400
    assert http.post("/token", content=b"a=b", headers={**form, "Content-Length": "99999999"}).status_code == 400


_ENDPOINTS = ["/token", "/introspect", "/revoke", "/authorize", "/applications/lab-client/token",
              "/.well-known/oauth-authorization-server", "/jwks", "/admin/faults", "/admin/mint", "/register",
              "/admin/clients", "/idp/token", "/idp/jwks"]
_NAMES = st.sampled_from(["grant_type", "scope", "code", "redirect_uri", "client_id", "client_secret", "refresh_token",
                          "code_verifier", "code_challenge", "code_challenge_method", "response_type", "state",
                          "resource", "audience", "token", "token_type_hint", "login_hint", "x", "assertion",
                          "client_assertion", "client_assertion_type", "subject_token", "subject_token_type",
                          "actor_token", "actor_token_type", "requested_token_type"])
_TEXT = st.one_of(st.sampled_from(["client_credentials", "authorization_code", "refresh_token", "code", "api:read",
                                   "", REDIRECT, "lab-client", "lab-client-secret", "lab-app", "S256", RS_A,
                                   "urn:ietf:params:oauth:grant-type:jwt-bearer", "lab-agent", "lab-enterprise",
                                   "urn:ietf:params:oauth:grant-type:token-exchange", "eyJhbGciOiJub25lIn0.e30.",
                                   "urn:ietf:params:oauth:token-type:access_token",
                                   "urn:ietf:params:oauth:token-type:id-jag",
                                   "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"]),
                  st.text(max_size=30), st.sampled_from(HOSTILE))
_HEADER = st.one_of(st.none(), st.sampled_from([*BASIC, "Bearer x"]), st.sampled_from(RAW_HEADERS),
                    st.binary(max_size=40).map(lambda b: b"Basic " + base64.b64encode(b)),
                    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30))
_CONTENT_TYPE = st.sampled_from(["application/x-www-form-urlencoded", "application/json", "text/plain", "",
                                 "application/x-www-form-urlencoded; charset=latin-1", "multipart/form-data"])


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tenant=st.sampled_from(TENANTS), path=st.sampled_from(_ENDPOINTS), method=st.sampled_from(["GET", "POST"]),
       pairs=st.lists(st.tuples(_NAMES, _TEXT), max_size=7), in_query=st.booleans(), content_type=_CONTENT_TYPE,
       authorization=_HEADER, raw=st.one_of(st.none(), st.binary(max_size=80),
                                            st.sampled_from([b"[" * 5000, b'{"access_token": Infinity}', b"%ff=%fe"])),
       encoding=st.sampled_from(["utf-8", "latin-1", "utf-16"]))
def test_fuzz_every_endpoint_and_tenant_never_5xx(http: AsgiClient, tenant: str | None, path: str, method: str,
                                                  pairs: list[tuple[str, str]], in_query: bool, content_type: str,
                                                  authorization: str | bytes | None, raw: bytes | None,
                                                  encoding: str) -> None:
    encoded = [(k, v.encode(encoding, "surrogatepass" if encoding != "latin-1" else "replace")) for k, v in pairs]
    body = raw if raw is not None else urlencode(encoded).encode()
    headers: dict[str, Any] = {"content-type": content_type} if content_type else {}
    if authorization is not None:
        headers["authorization"] = authorization
    query = urlencode(encoded)
    url = prefix(tenant) + path + ("?" + query if in_query and len(query) < 8000 else "")  # clients cap URLs
    response = http.request(method, url, content=body if method == "POST" else None, headers=headers,
                            follow_redirects=False)
    assert response.status_code < 500, (url, response.text)
    if path in ("/token", "/introspect", "/revoke", "/authorize", "/register") and response.status_code not in (
            404, 405):
        assert_rfc6749_error(response)


# -- 4. RFC 9207: the issuer in every authorization response ------------------------------------------------------

@pytest.mark.parametrize("tenant", TENANTS)
def test_every_authorization_response_names_its_issuer(http: AsgiClient, tenant: str | None) -> None:
    from mcp.client.auth.utils import validate_authorization_response_iss
    from mcp.shared.auth import OAuthMetadata

    raw = http.get(prefix(tenant) + "/.well-known/oauth-authorization-server").json()
    assert raw["authorization_response_iss_parameter_supported"] is True
    metadata = OAuthMetadata.model_validate(raw)
    issuer = BASE + prefix(tenant)
    _, _, success = authorize(http, "lab-app", tenant)
    _, _, scope_error = authorize(http, "lab-app", tenant, scope="not-a-lab-scope")
    _, _, pkce_error = authorize(http, "lab-app", tenant, code_challenge_method="plain")
    _, _, type_error = authorize(http, "lab-app", tenant, response_type="token")
    assert "code" in success and scope_error["error"] == ["invalid_scope"]
    for answer in (success, scope_error, pkce_error, type_error):
        assert answer["iss"] == [issuer], answer
        validate_authorization_response_iss(answer["iss"][0], metadata)  # what the mcp SDK client checks
    from mcp.client.auth.exceptions import OAuthFlowError

    other = BASE + "/globex" if tenant != "globex" else BASE
    with pytest.raises(OAuthFlowError):  # a response from another tenant's issuer is a mix-up
        validate_authorization_response_iss(other, metadata)
