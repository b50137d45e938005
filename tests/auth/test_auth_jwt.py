from __future__ import annotations

import asyncio
from typing import Any

import jwt as pyjwt
import pytest
from joserfc import jwt as jfc_jwt
from joserfc.jwk import KeySet

from labkit import validate_security_config
from labkit.auth import Principal, build_validator, verify_signature
from labkit.auth.keys import KeySet as LabKeySet
from labkit.errors import AuthError, Reason

from ..helpers import AUDIENCE, HMAC_SECRET, ISSUER, NOW, Keys, claims, mint, oauth2


def validator(settings: dict[str, Any], now: float = NOW, **extra: Any) -> Any:
    cfg = validate_security_config({"oauth2": settings, **extra}, env={})
    return build_validator(cfg.oauth2, clock=lambda: now)


def check(v: Any, token: str) -> Principal:
    return asyncio.run(v.validate(token))


def reason(v: Any, token: str) -> Reason:
    with pytest.raises(AuthError) as info:
        check(v, token)
    assert str(info.value) == "Unauthorized"
    return info.value.reason


@pytest.mark.parametrize(("alg", "attr"), [("RS256", "rsa"), ("PS256", "rsa"), ("ES256", "ec"), ("EdDSA", "ed"),
                                           ("Ed25519", "ed")])
def test_asymmetric_algorithms(keys: Keys, alg: str, attr: str) -> None:
    private = getattr(keys, attr).as_dict(private=True)
    private.pop("alg")
    key = type(getattr(keys, attr)).import_key(private)
    jwk = key.as_dict(private=False)
    v = validator(oauth2(jwks={"keys": [jwk]}, jwt_algorithms=[alg]))
    principal = check(v, mint(key, alg))
    assert principal.subject == "alice" and principal.scopes == {"api:read"} and principal.client_id == "lab-client"
    assert principal.issuer == ISSUER and principal.strategy == "jwt" and len(principal.fingerprint) == 12


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_hmac_secret(keys: Keys, alg: str) -> None:
    v = validator(oauth2(jwt_secret=HMAC_SECRET, jwt_algorithm=alg))
    assert check(v, mint(keys.hmac, alg)).subject == "alice"


def test_hs384_token_refused_when_hs256_pinned(keys: Keys) -> None:
    # AgentUp 0.7.5 accepted this: the header may not choose the algorithm (RFC 8725 §3.1).
    v = validator(oauth2(jwt_secret=HMAC_SECRET, jwt_algorithm="HS256"))
    assert reason(v, mint(keys.hmac, "HS384")) is Reason.ALGORITHM
    assert reason(v, mint(keys.hmac, "HS512")) is Reason.ALGORITHM


CLAIM_TABLE = [
    ("expired", {"exp": NOW - 1}, Reason.EXPIRED),
    ("expired-now", {"exp": NOW}, Reason.EXPIRED),
    ("not-yet-valid", {"nbf": NOW + 30}, Reason.NOT_YET_VALID),
    ("issued-in-future", {"iat": NOW + 30}, Reason.ISSUED_IN_FUTURE),
    ("missing-exp", {"exp": None}, Reason.CLAIMS),
    ("missing-iss", {"iss": None}, Reason.CLAIMS),
    ("missing-aud", {"aud": None}, Reason.CLAIMS),
    ("wrong-iss", {"iss": "https://evil.test/"}, Reason.ISSUER),
    ("iss-prefix", {"iss": ISSUER.rstrip("/")}, Reason.ISSUER),
    ("wrong-aud", {"aud": "api://other"}, Reason.AUDIENCE),
    ("aud-list-without-ours", {"aud": ["a", "b"]}, Reason.AUDIENCE),
    ("exp-string", {"exp": str(NOW + 60)}, Reason.CLAIMS),
    ("exp-bool", {"exp": True}, Reason.CLAIMS),
    ("sub-number", {"sub": 42}, Reason.CLAIMS),
    ("scope-number", {"scope": 7}, Reason.SCOPE),
    ("scope-scp-disagree", {"scope": "api:read", "scp": ["admin"]}, Reason.SCOPE),
]


@pytest.mark.parametrize(("overrides", "expected"), [c[1:] for c in CLAIM_TABLE], ids=[c[0] for c in CLAIM_TABLE])
def test_claim_table(keys: Keys, overrides: dict[str, Any], expected: Reason) -> None:
    v = validator(oauth2(jwks=keys.jwks(keys.rsa)))
    assert reason(v, mint(keys.rsa, **overrides)) is expected


def test_leeway(keys: Keys) -> None:
    v = validator(oauth2(jwks=keys.jwks(keys.rsa), leeway=30))
    assert check(v, mint(keys.rsa, exp=NOW - 29)).subject == "alice"
    assert reason(v, mint(keys.rsa, exp=NOW - 30)) is Reason.EXPIRED
    assert check(v, mint(keys.rsa, nbf=NOW + 30)).subject == "alice"
    assert reason(v, mint(keys.rsa, nbf=NOW + 31)) is Reason.NOT_YET_VALID


def test_aud_array_and_issuer_list(keys: Keys) -> None:
    v = validator(oauth2(jwks=keys.jwks(keys.rsa), jwt_issuer=["accounts.google.com", "https://accounts.google.com"]))
    assert check(v, mint(keys.rsa, iss="accounts.google.com", aud=["x", AUDIENCE])).issuer == "accounts.google.com"


def test_scope_claims_and_hierarchy(keys: Keys) -> None:
    settings = oauth2(jwks=keys.jwks(keys.rsa), scope_claims=["scope", "permissions"], required_scopes=["api:read"])
    v = validator(settings, scope_hierarchy={"api:write": ["api:read"]})
    # api:write implies api:read through the hierarchy, so the required scope is met.
    principal = check(v, mint(keys.rsa, scope="openid", permissions=["api:write"]))
    assert principal.scopes == {"openid", "api:write"}  # granted, before expansion
    assert reason(v, mint(keys.rsa, scope="openid", permissions=["files:read"])) is Reason.INSUFFICIENT_SCOPE


def test_literal_star_is_not_a_wildcard(keys: Keys) -> None:
    v = validator(oauth2(jwks=keys.jwks(keys.rsa), required_scopes=["api:read"]), scope_hierarchy={"admin": ["*"]})
    assert reason(v, mint(keys.rsa, scope="*")) is Reason.INSUFFICIENT_SCOPE
    assert check(v, mint(keys.rsa, scope="admin")).scopes == {"admin"}


def test_allowed_scopes_drop_the_rest(keys: Keys) -> None:
    v = validator(oauth2(jwks=keys.jwks(keys.rsa), allowed_scopes=["api:read", "api:write"]))
    assert check(v, mint(keys.rsa, scope="api:read admin files:write")).scopes == {"api:read"}


def test_kid_rules(keys: Keys) -> None:
    v = validator(oauth2(jwks=keys.jwks(keys.rsa, keys.rsa2)))
    assert check(v, mint(keys.rsa2)).subject == "alice"
    assert reason(v, mint(keys.rsa, header={"kid": None})) is Reason.KEY  # two keys fit: a kid is needed
    single = validator(oauth2(jwks=keys.jwks(keys.rsa)))
    assert check(single, mint(keys.rsa, header={"kid": None})).subject == "alice"
    assert reason(single, mint(keys.rsa, header={"kid": "other"})) is Reason.KEY
    assert reason(single, mint(keys.attacker)) is Reason.SIGNATURE


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ({"jku": "http://127.0.0.1:1/jwks"}, Reason.HEADER),
        ({"x5u": "http://127.0.0.1:1/cert"}, Reason.HEADER),
        ({"x5c": ["MIIBAA"]}, Reason.HEADER),
        ({"typ": "JOSE+JSON"}, Reason.TOKEN_TYPE),
        ({"cty": "JWT"}, Reason.TOKEN_TYPE),
    ],
)
def test_header_policy(keys: Keys, header: dict[str, Any], expected: Reason) -> None:
    v = validator(oauth2(jwks=keys.jwks(keys.rsa)))
    token = jfc_jwt.encode({"alg": "RS256", "kid": "rsa-1", **header}, claims(), keys.rsa, algorithms=["RS256"])
    assert reason(v, token) is expected


def test_key_policy_refuses_small_rsa_and_mixed_sets(keys: Keys) -> None:
    from joserfc.jwk import RSAKey

    with pytest.warns(UserWarning, match="2048"):
        small = RSAKey.generate_key(1024, parameters={"kid": "small"}, private=True)
    v = validator(oauth2(jwks={"keys": [small.as_dict(private=False)]}))
    assert reason(v, mint(small)) is Reason.KEY
    mixed = LabKeySet.from_jwks({"keys": [keys.rsa.as_dict(private=False), {"kty": "oct", "k": "A" * 43}]})
    assert mixed.refused and "symmetric" in mixed.refused
    remote = LabKeySet.from_jwks({"keys": [{"kty": "oct", "k": "A" * 43, "kid": "h"}]}, allow_symmetric=False)
    assert not remote.keys and "never published" in remote.ignored[0]


def test_pyjwt_tokens_validate_and_ours_validate_in_pyjwt(keys: Keys) -> None:
    pem = keys.rsa.as_pem(private=True)
    token = pyjwt.encode(claims(), pem, algorithm="RS256", headers={"kid": "rsa-1"})
    v = validator(oauth2(jwks=keys.jwks(keys.rsa)))
    assert check(v, token).subject == "alice"
    ours = mint(keys.rsa)
    public = keys.rsa.as_pem(private=False)
    decoded = pyjwt.decode(ours, public, algorithms=["RS256"], audience=AUDIENCE, issuer=ISSUER,
                           options={"verify_iat": False, "verify_exp": False, "verify_nbf": False})
    assert decoded["sub"] == "alice"
    hs = pyjwt.encode(claims(), HMAC_SECRET, algorithm="HS256")
    assert check(validator(oauth2(jwt_secret=HMAC_SECRET)), hs).subject == "alice"


def test_verify_signature_alone(keys: Keys) -> None:
    token = mint(keys.ec, "ES256", exp=NOW - 10_000)  # claims are not this step's business
    header, payload = verify_signature(token, keys.jwks(), algorithms=["ES256"])
    assert header["kid"] == "ec-1" and payload["sub"] == "alice"
    with pytest.raises(AuthError) as info:
        verify_signature(token, keys.jwks(keys.rsa), algorithms=["ES256"])
    assert info.value.reason is Reason.KEY
    with pytest.raises(AuthError):
        verify_signature(token, KeySet([keys.ec]).as_dict(private=False), algorithms=["RS256"])


def test_verified_token_cache(keys: Keys) -> None:
    now = [float(NOW)]
    cfg = validate_security_config({"oauth2": oauth2(jwks=keys.jwks(keys.rsa), jwt_cache_ttl=60)}, env={})
    v = build_validator(cfg.oauth2, clock=lambda: now[0])
    token = mint(keys.rsa, exp=NOW + 100)
    check(v, token)
    check(v, token)
    assert v.cache.hits == 1  # type: ignore[union-attr]
    now[0] = NOW + 100  # expired: the cache must not outlive exp
    assert reason(v, token) is Reason.EXPIRED
    assert len(v.cache) == 0  # type: ignore[union-attr]


def test_cache_is_bounded(keys: Keys) -> None:
    v = validator(oauth2(jwt_secret=HMAC_SECRET, max_cache_size=5))
    for i in range(20):
        check(v, mint(keys.hmac, "HS256", jti=f"t-{i}"))
    assert len(v.cache) == 5


def test_principal_never_holds_the_token(keys: Keys) -> None:
    token = mint(keys.rsa)
    principal = check(validator(oauth2(jwks=keys.jwks(keys.rsa))), token)
    assert token not in repr(principal)
    assert token.split(".")[2] not in repr(principal.__dict__)


@pytest.mark.parametrize("junk", ["", "a", "a.b", "a.b.c", "....", "é.é.é", "x" * 9000, "Bearer x.y.z"])
def test_garbage_raises_only_auth_error(junk: str) -> None:
    v = validator(oauth2(jwt_secret=HMAC_SECRET))
    with pytest.raises(AuthError):
        check(v, junk)
