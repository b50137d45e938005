"""The first-seen fast paths (issue #18) answer exactly what the plain code answers, attacked on what they read:
the compiled claim checks against ``principal_from``, the one-pass compact parse against the segment-by-segment
decoding, and the verified-token cache against a token differing in one byte."""

from __future__ import annotations

import asyncio
import base64
import json
import math
from dataclasses import fields
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import OctKey

from labkit.auth._compact import b64url_decode, parse_compact, strict_json
from labkit.auth.cache import token_key
from labkit.auth.claims import ClaimPolicy
from labkit.auth.jwt import JWTValidator, StaticKeys
from labkit.auth.keys import KeySet
from labkit.auth.principal import Principal, principal_from
from labkit.auth.reader import PrincipalReader
from labkit.errors import AuthError, Reason
from labkit.scopes import ScopeHierarchy

from ..helpers import examples

NOW = 1_767_225_600
_DATES = st.one_of(
    st.integers(NOW - 100, NOW + 100), st.integers(-(2**1100), 2**1100), st.floats(allow_nan=True),
    st.sampled_from([True, False, None, "1767225600", [NOW], {"n": NOW}, 2**1000, 2**1000 - 1, -(2**1000), NOW]),
)
_STRINGS = st.one_of(st.sampled_from(["https://i/", "https://j/", "api://a", "api://b", "", "alice"]),
                     st.text(max_size=8))
_VALUES = st.one_of(_STRINGS, st.none(), st.integers(), st.booleans(), st.lists(_STRINGS, max_size=3),
                    st.dictionaries(st.sampled_from(["sub", "act"]), st.text(max_size=4), max_size=2))
_SCOPES = st.one_of(
    st.sampled_from(["read", "read write", " read  write ", "", "a\x7fb", "read\u00e9", "x" * 1100, "read " * 300]),
    st.lists(st.sampled_from(["read", "write", "", "bad scope", "ok"]), max_size=3), st.integers(), st.none(),
)
_CLAIM = st.one_of(
    st.tuples(st.sampled_from(["exp", "nbf", "iat", "auth_time"]), _DATES),
    st.tuples(st.sampled_from(["iss", "aud", "sub", "client_id", "azp", "cid", "appid", "jti"]), _VALUES),
    st.tuples(st.sampled_from(["scope", "scp", "roles", "realm_access"]), _SCOPES),
    st.tuples(st.sampled_from(["typ", "token_type", "token_use"]),
              st.sampled_from(["Bearer", "at+jwt", "refresh", "ID", 3, None])),
    st.tuples(st.just("act"), st.sampled_from([{"sub": "agent"}, {"sub": ""}, "agent", {"sub": "b", "act": {}}])),
)
_POLICY = st.builds(
    ClaimPolicy,
    issuers=st.sampled_from([(), ("https://i/",), ("https://i/", "https://j/")]),
    audiences=st.sampled_from([(), ("api://a",), ("api://a", "api://b")]),
    leeway=st.sampled_from([0, 30]),
    required=st.sampled_from([(), ("exp",), ("exp", "iss", "aud"), ("sub",)]),
    scope_claims=st.sampled_from([("scope", "scp"), ("scope",), ("scp",), ("roles",), ("scope", "roles"),
                                  ("realm_access.roles",)]),
    required_scopes=st.sampled_from([(), ("read",), ("admin",)]),
    allowed_scopes=st.sampled_from([None, frozenset({"read"})]),
    hierarchy=st.sampled_from([ScopeHierarchy(), ScopeHierarchy({"admin": ["read"]})]),
)


def _answer(build: Any) -> Any:
    try:
        principal = build()
    except AuthError as error:
        return ("refused", error.reason, error.detail, error.scopes)
    assert isinstance(principal, Principal)
    # the principal's fields, not its __dict__: the guard and the audit log keep memos there (``_labkit_*``)
    return ("accepted", principal, {field.name: getattr(principal, field.name) for field in fields(principal)})


def _typed(value: Any) -> Any:
    """Values with their types (True == 1 and 1 == 1.0 in Python: the fast path must not confuse them)."""
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, frozenset)):
        return (type(value).__name__, [_typed(v) for v in value])
    if isinstance(value, float) and math.isnan(value):
        return ("nan",)
    return (type(value).__name__, value)


@settings(max_examples=examples(1500), deadline=None)
@given(claims=st.lists(_CLAIM, max_size=9).map(dict), policy=_POLICY, now=st.sampled_from([NOW, NOW + 0.5]),
       tenant=st.sampled_from([None, "acme"]))
def test_the_compiled_claim_checks_answer_what_principal_from_answers(claims: dict[str, Any], policy: ClaimPolicy,
                                                                      now: float, tenant: str | None) -> None:
    reader = PrincipalReader(policy, required=policy.required, strategy="jwt", tenant=tenant)
    fast = _answer(lambda: reader(dict(claims), now, "fp"))
    plain = _answer(lambda: principal_from(dict(claims), policy, now=now, strategy="jwt", fingerprint="fp",
                                           tenant=tenant, required=policy.required))
    assert fast[0] == plain[0]
    if fast[0] == "refused":
        assert fast == plain
    else:
        assert fast[1] == plain[1]
        assert _typed(fast[2]) == _typed(plain[2])  # expires_at a float, scopes the same frozenset, field for field


def test_the_compiled_claim_checks_on_the_common_token() -> None:
    policy = ClaimPolicy(issuers=("https://i/",), audiences=("api://a",), required=("exp", "iss", "aud"))
    reader = PrincipalReader(policy, required=policy.required, strategy="jwt")
    claims = {"iss": "https://i/", "aud": ["x", "api://a"], "sub": "alice", "exp": NOW + 60, "nbf": NOW,
              "iat": NOW, "scope": "read write", "azp": "app"}
    principal = reader(claims, NOW, "fp")
    assert principal == principal_from(claims, policy, now=NOW, strategy="jwt", fingerprint="fp",
                                       required=policy.required)
    assert principal.expires_at == float(NOW + 60) and principal.client_id == "app"
    for changed, reason in [({"exp": NOW}, Reason.EXPIRED), ({"nbf": NOW + 1}, Reason.NOT_YET_VALID),
                            ({"iat": NOW + 1}, Reason.ISSUED_IN_FUTURE), ({"iss": "https://i"}, Reason.ISSUER),
                            ({"aud": "api://A"}, Reason.AUDIENCE), ({"exp": True}, Reason.CLAIMS),
                            ({"exp": 1e999}, Reason.CLAIMS), ({"scope": "a\tb"}, Reason.SCOPE),
                            ({"typ": "refresh"}, Reason.TOKEN_TYPE), ({"act": "agent"}, Reason.CLAIMS)]:
        with pytest.raises(AuthError) as info:
            reader({**claims, **changed}, NOW, "fp")
        assert info.value.reason is reason, changed


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment_by_segment(token: str) -> tuple[Any, ...]:
    """The compact JWS read one segment at a time with the strict decoders (the reference for the fast path)."""
    head, body, tail = token.split(".")
    header = strict_json(b64url_decode(head))
    if not isinstance(header, dict) or not body:
        raise ValueError("not a JWS")
    return header, b64url_decode(body), b64url_decode(tail), f"{head}.{body}".encode()


_PIECES = st.sampled_from(["A", "B", "Q", "g", "w", "E", "_", "-", "=", "+", "/", " ", "\n", ".", "é", "AA", "AAA"])


@settings(max_examples=examples(1500), deadline=None)
@given(header=st.sampled_from([{"alg": "HS256"}, {"alg": "RS256", "kid": "k"}]),
       payload=st.binary(max_size=12), signature=st.binary(max_size=8),
       edits=st.lists(st.tuples(st.integers(0, 80), _PIECES, st.booleans()), max_size=3))
def test_the_one_pass_parse_reads_what_the_segments_read(header: dict[str, Any], payload: bytes, signature: bytes,
                                                          edits: list[tuple[int, str, bool]]) -> None:
    token = f"{_b64(json.dumps(header).encode())}.{_b64(payload)}.{_b64(signature)}"
    for where, piece, replace in edits:  # hostile edits: padding, whitespace, foreign alphabets, dots, bits
        where = min(where, len(token))
        token = token[:where] + piece + token[where + (1 if replace else 0):]
    try:
        expected: Any = _segment_by_segment(token)
    except (ValueError, IndexError):
        expected = None
    try:
        parsed: Any = tuple(parse_compact(token))
    except AuthError:
        parsed = None
    assert parsed == expected


_KEY = OctKey.import_key(b"s" * 32)
_VALIDATOR_POLICY = ClaimPolicy(issuers=("https://i/",), audiences=("api://a",), required=("exp", "iss", "aud"))


def _token(sub: str) -> str:
    claims = {"iss": "https://i/", "aud": "api://a", "sub": sub, "exp": NOW + 3600, "scope": "read"}
    return jwt.encode({"alg": "HS256"}, claims, _KEY)


@settings(max_examples=examples(300), deadline=None)
@given(where=st.integers(0, 200), piece=st.sampled_from(["A", "B", "a", "-", "_", "0", "=", "."]))
def test_a_token_differing_in_one_byte_never_hits_another_tokens_entry(where: int, piece: str) -> None:
    validator = JWTValidator(["HS256"], StaticKeys(KeySet.from_secret(b"s" * 32)), _VALIDATOR_POLICY,
                             clock=lambda: NOW)
    token = _token("alice")
    known = asyncio.run(validator.validate(token))
    where = where % len(token)
    forged = token[:where] + piece + token[where + 1:]
    if forged == token:
        return
    assert token_key(forged) not in validator.cache._data
    try:
        answer = asyncio.run(validator.validate(forged))
    except AuthError:
        return
    # a forged token may only pass as itself (an equivalent base64 spelling is refused by the strict parser)
    assert answer is not known and answer.fingerprint != known.fingerprint


def _tenant_validators() -> dict[str | None, Any]:
    from labkit.guard.decision import TenantAuth

    def validator(issuer: str) -> JWTValidator:
        policy = ClaimPolicy(issuers=(issuer,), audiences=("api://a",), required=("exp", "iss", "aud"))
        return JWTValidator(["HS256"], StaticKeys(KeySet.from_secret(b"s" * 32)), policy, clock=lambda: NOW)

    return {None: TenantAuth(None, validator("https://i/"), ScopeHierarchy()),
            "acme": TenantAuth("acme", validator("https://acme/"), ScopeHierarchy(), issuers=("https://acme/",))}


@settings(max_examples=examples(300), deadline=None)
@given(issuer=st.sampled_from(["https://i/", "https://acme/", "https://other/", 7]), where=st.integers(0, 400),
       piece=st.sampled_from(["", "A", "-", "=", ".", "é"]), twice=st.booleans())
def test_the_issuer_peek_hands_on_what_the_validator_would_read(issuer: Any, where: int, piece: str,
                                                                twice: bool) -> None:
    from labkit.guard.decision import Gate

    claims = {"iss": issuer, "aud": "api://a", "sub": "alice", "exp": NOW + 3600, "scope": "read"}
    token = jwt.encode({"alg": "HS256"}, claims, _KEY)
    where = where % (len(token) + 1)
    token = token[:where] + piece + token[where + (1 if piece else 0):]  # one byte changed (or none)
    gate, plain = Gate(_tenant_validators()), Gate(_tenant_validators())
    rounds = [gate.authenticate(token) for _ in range(2 if twice else 1)]  # the second: the peek's cache hit

    async def both() -> list[Any]:
        return [await r for r in rounds]

    for peeked in asyncio.run(both()):
        auth = plain.tenant_auth(None, token)  # the reference: the chosen tenant's validator reading it alone
        assert auth is not None and peeked.tenant == auth.name
        expected = _answer(lambda a=auth: asyncio.run(a.validator.validate(token, fresh=True)))
        if peeked.error is not None:
            assert expected[:3] == ("refused", peeked.error.reason, peeked.error.detail)
        else:
            assert expected[0] == "accepted" and expected[1] == peeked.principal
            assert peeked.principal.fingerprint == token_key(token).hex()[:12]
