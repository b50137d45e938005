"""Validators from narrow parts: dialects, ``principal_from``, the one token hash, a JWTValidator without config."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import OctKey

from labkit._http import Response
from labkit.auth import fingerprint
from labkit.auth.cache import CacheLimits, token_key
from labkit.auth.claims import ClaimPolicy, check_claims
from labkit.auth.dialects import DIALECTS, RFC7662, ClientCredentials, GitHub, JupyterHub
from labkit.auth.introspection import introspection_subject
from labkit.auth.jwt import JWTValidator, StaticKeys
from labkit.auth.keys import KeySet
from labkit.auth.principal import principal_from
from labkit.errors import AuthError, Reason

from ..helpers import examples

NOW = 1_767_225_600
SECRET = b"k" * 32


def answer(status: int, body: bytes) -> Response:
    return Response(status, httpx.Headers(), body)


def test_one_token_hash() -> None:
    token = "a.b.c\udcff"  # a lone surrogate still hashes (surrogatepass), never raises
    digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
    assert token_key(token) == digest
    assert fingerprint(token) == digest.hex()[:12]


def test_rfc7662_request_and_answers() -> None:
    basic = RFC7662().request("tok", ClientCredentials("rs id", "s:cret"))
    assert basic["data"] == {"token": "tok", "token_type_hint": "access_token"}
    assert basic["auth"] == ("rs%20id", "s%3Acret")  # RFC 6749 §2.3.1
    post = RFC7662().request("tok", ClientCredentials("rs", "x", "client_secret_post"))
    assert post["data"]["client_secret"] == "x" and "auth" not in post
    assert RFC7662().claims(answer(200, b'{"active": true, "sub": "u"}'))["sub"] == "u"
    for status, body, reason in [(200, b'{"active": "true"}', Reason.INACTIVE),
                                 (200, b'{"active": true, "active": true}', Reason.INACTIVE),
                                 (500, b"{}", Reason.INTROSPECTION_ERROR),
                                 (200, b"[]", Reason.INTROSPECTION_ERROR),
                                 (200, b"\xff", Reason.INTROSPECTION_ERROR)]:
        with pytest.raises(AuthError) as info:
            RFC7662().claims(answer(status, body))
        assert info.value.reason is reason


def test_github_dialect() -> None:
    github = DIALECTS["github"]
    assert isinstance(github, GitHub) and github.scope_claims == ("scopes",)
    assert github.request("tok", ClientCredentials("app", "sec"))["json"] == {"access_token": "tok"}
    claims = github.claims(answer(200, b'{"scopes": ["repo"], "user": {"login": "octo"}, "app": {"client_id": "a"}}'))
    assert claims == {"active": True, "scopes": ["repo"], "sub": "octo", "client_id": "a"}
    with pytest.raises(AuthError) as info:
        github.claims(answer(404, b""))
    assert info.value.reason is Reason.INACTIVE


def test_jupyterhub_dialect() -> None:
    hub = DIALECTS["jupyterhub"]
    assert isinstance(hub, JupyterHub) and hub.method == "GET" and hub.scope_claims == ("scope",)
    # the hub authenticates the token itself: the resource server's own credentials are never sent
    asked = hub.request("tok", ClientCredentials("service-board", "board-secret"))
    assert asked == {"headers": {"Authorization": "token tok", "Accept": "application/json"}}
    model = (b'{"kind": "user", "name": "ada", "groups": ["instructors", 5], "scopes": '
             b'["custom:labkit-board:read", "read:users!user=ada", "access:servers!server=ada/", 7]}')
    assert hub.claims(answer(200, model)) == {"active": True, "sub": "ada", "scope": "custom:labkit-board:read",
                                              "groups": ["instructors"]}
    for status, body in [(403, b'{"status": 403}'), (401, b""), (200, b'{"kind": "service", "name": "board"}'),
                         (200, b'{"kind": "user", "name": ""}'), (200, b'{"kind": "user"}')]:
        with pytest.raises(AuthError) as info:
            hub.claims(answer(status, body))
        assert info.value.reason is Reason.INACTIVE, (status, body)
    with pytest.raises(AuthError) as info:
        hub.claims(answer(500, b""))
    assert info.value.reason is Reason.INTROSPECTION_ERROR
    assert {d.method for d in (DIALECTS["rfc7662"], DIALECTS["github"])} == {"POST"}


def test_principal_from_both_subject_rules() -> None:
    policy = ClaimPolicy()
    claims: dict[str, Any] = {"exp": NOW + 60, "sub": 5, "username": "u", "scope": "a b"}
    with pytest.raises(AuthError) as info:
        principal_from(claims, policy, now=NOW, strategy="jwt", fingerprint="f")
    assert info.value.reason is Reason.CLAIMS
    principal = principal_from(claims, policy, now=NOW, strategy="introspection", fingerprint="f",
                               subject=introspection_subject)
    assert principal.subject is None and principal.scopes == {"a", "b"} and principal.expires_at == NOW + 60
    assert introspection_subject({"username": "u"}) == "u"
    expired = {**claims, "exp": NOW - 1, "sub": "x"}
    with pytest.raises(AuthError) as info:  # claims are checked before the subject
        principal_from({**expired, "sub": 5}, policy, now=NOW, strategy="jwt", fingerprint="f")
    assert info.value.reason is Reason.EXPIRED


@pytest.mark.anyio
async def test_jwt_validator_from_small_values() -> None:
    policy = ClaimPolicy(issuers=("https://issuer",), required=("exp", "iss"))
    validator = JWTValidator(("HS256",), StaticKeys(KeySet.from_secret(SECRET)), policy, clock=lambda: NOW,
                             cache=CacheLimits(ttl=0))
    token = jwt.encode({"alg": "HS256"}, {"exp": NOW + 60, "iss": "https://issuer", "sub": "s"},
                       OctKey.import_key(SECRET))
    principal = await validator.validate(token)
    assert principal.subject == "s" and principal.fingerprint == fingerprint(token)
    assert len(validator.cache) == 0  # ttl 0: nothing remembered
    with pytest.raises(AuthError) as info:
        await validator.validate(jwt.encode({"alg": "HS256"}, {"exp": NOW + 60, "iss": "https://other"},
                                            OctKey.import_key(SECRET)))
    assert info.value.reason is Reason.ISSUER


def test_claim_policy_build_precomputes_frozensets_as_ordinary_fields() -> None:
    import dataclasses

    from labkit.auth.build import claim_policy
    from labkit.config import validate_security_config

    built = ClaimPolicy.build(issuers=["https://a", "https://b"], audiences=("api",), allowed_scopes=["x"])
    assert built.issuers == frozenset({"https://a", "https://b"}) and type(built.issuers) is frozenset
    assert type(built.audiences) is frozenset and built.allowed_scopes == frozenset({"x"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.issuers = frozenset()  # type: ignore[misc]
    hash(built)
    cfg = validate_security_config({"security": {"oauth2": {"validation_strategy": "jwt", "jwt_secret": "s" * 40,
                                                            "jwt_issuer": "https://a", "jwt_audience": "api"}}})
    policy = claim_policy(cfg.oauth2)  # what every validator gets
    assert type(policy.issuers) is frozenset and type(policy.audiences) is frozenset


@settings(max_examples=examples(60), deadline=None)
@given(iss=st.sampled_from(["https://a", "https://b", "https://A", "https://a/", ""]),
       aud=st.one_of(st.sampled_from(["api", "API", "other"]),
                     st.lists(st.sampled_from(["api", "other", "x"]), max_size=3)))
def test_a_built_policy_decides_as_the_tuple_policy(iss: str, aud: Any) -> None:
    # the precomputed sets change speed only: every verdict and its reason stay the same
    plain = ClaimPolicy(issuers=("https://a",), audiences=("api", "x"), required=("exp", "iss", "aud"))
    built = ClaimPolicy.build(issuers=("https://a",), audiences=("api", "x"), required=("exp", "iss", "aud"))
    claims = {"iss": iss, "aud": aud, "exp": NOW + 60}

    def verdict(policy: ClaimPolicy) -> Any:
        try:
            check_claims(claims, policy, NOW, required=policy.required)
        except AuthError as error:
            return error.reason, error.detail
        return None

    assert verdict(plain) == verdict(built)
