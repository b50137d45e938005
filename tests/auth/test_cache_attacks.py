"""Attacks on what is remembered between requests (the verdict caches, the header and scope memos, the issuer
routing memo) from outside: the gate answers what the routed tenant's validator alone answers on a fresh read, for
edited, forged and expired tokens, shared headers, ten thousand distinct tokens and a clock that moves on."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import json
from dataclasses import fields
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc import jws as joserfc_jws
from joserfc.jwk import OctKey

from labkit.auth import jws
from labkit.auth.cache import CacheLimits, token_key
from labkit.auth.claims import ClaimPolicy, _space_delimited
from labkit.auth.jws import b64url_decode, parse_compact, strict_json
from labkit.auth.jwt import JWTValidator, StaticKeys
from labkit.auth.keys import KeySet
from labkit.auth.principal import Principal
from labkit.errors import AuthError, Reason
from labkit.guard.gate import Gate, TenantAuth
from labkit.scopes import ScopeHierarchy

from ..helpers import examples

NOW = 1_767_225_600
AUD = "api://a"
SECRETS = {None: b"d" * 32, "acme": b"a" * 32, "globex": b"g" * 32}
ISSUERS = {None: "https://i/", "acme": "https://acme/", "globex": "https://globex/"}


def _answer(build: Any) -> Any:
    """What a call answers: the refusal (reason and detail) or the principal, field for field with types."""
    try:
        principal = build()
    except AuthError as error:
        return ("refused", error.reason, error.detail, error.scopes)
    assert isinstance(principal, Principal)
    return ("accepted", repr(sorted((f.name, repr(getattr(principal, f.name))) for f in fields(principal))))


def _sign(payload: bytes, secret: bytes, header: dict[str, Any] | None = None) -> str:
    """A compact JWS of ``payload`` exactly as given (any bytes: duplicate members, NaN, whitespace) under HS256."""
    protected = {"alg": "HS256", **(header or {})}
    return joserfc_jws.serialize_compact(protected, payload, _oct_key(secret), algorithms=[protected["alg"]])


@functools.cache
def _oct_key(secret: bytes) -> OctKey:
    return OctKey.import_key(secret)


def _token(sub: str = "alice", *, tenant: str | None = None, exp: Any = NOW + 3600, **more: Any) -> str:
    claims = {"iss": ISSUERS[tenant], "aud": AUD, "sub": sub, "exp": exp, "scope": "read", **more}
    return _sign(json.dumps(claims).encode(), SECRETS[tenant])


def _validator(tenant: str | None = None, *, algorithms: tuple[str, ...] = ("HS256",), clock: Any = None,
               cache: CacheLimits = CacheLimits(), leeway: int = 0) -> JWTValidator:  # noqa: B008
    policy = ClaimPolicy(issuers=(ISSUERS[tenant],), audiences=(AUD,), required=("exp", "iss", "aud"), leeway=leeway)
    return JWTValidator(algorithms, StaticKeys(KeySet.from_secret(SECRETS[tenant])), policy,
                        clock=clock or (lambda: NOW), cache=cache, tenant=tenant)


def _tenants(cache: CacheLimits = CacheLimits()) -> dict[str | None, TenantAuth]:  # noqa: B008
    return {name: TenantAuth(name, _validator(name, cache=cache), ScopeHierarchy(),
                             issuers=(ISSUERS[name],)) for name in ISSUERS}


# -- 2. The one-pass compact parse against the segment-by-segment reading, hostile headers included --------

def _step_by_step(token: str) -> tuple[Any, ...]:
    """parse_compact's answer read one segment at a time without the one-pass shortcut; raises AuthError."""
    if not token or len(token) > jws.MAX_TOKEN_BYTES or not token.isascii():
        raise AuthError(Reason.MALFORMED, "shape")
    parts = token.split(".")
    header = jws._read_header(parts[0].encode())  # not the memo
    if "enc" in header or len(parts) != 3 or not parts[1]:
        raise AuthError(Reason.MALFORMED, "shape")
    try:
        return header, b64url_decode(parts[1]), b64url_decode(parts[2]), f"{parts[0]}.{parts[1]}".encode()
    except ValueError:
        raise AuthError(Reason.MALFORMED, "segment") from None


_B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_SEGMENT = st.one_of(st.text(alphabet=_B64URL, max_size=12), st.text(alphabet="ABCDQEgwIMUYcko048AZaz09-_=+/ .",
                                                                      max_size=12))
_HEADERS = st.sampled_from([b'{"alg":"HS256"}', b'{"alg":"HS256","enc":"A128GCM"}', b"[]", b'{"a":1,"a":2}',
                            b'{"alg":NaN}', b"\xef\xbb\xbf{}", b" {}", b"{}", b'{"alg":"HS256"} ', b'"x"'])


@settings(max_examples=examples(1500), deadline=None)
@given(header=_HEADERS, encoded=st.booleans(), raw_head=_SEGMENT, body=_SEGMENT, tail=_SEGMENT,
       extra=st.one_of(st.just([]), st.lists(_SEGMENT, max_size=2)))
def test_the_one_pass_parse_refuses_and_reads_what_the_segments_do(header: bytes, encoded: bool, raw_head: str,
                                                                   body: str, tail: str, extra: list[str]) -> None:
    head = base64.urlsafe_b64encode(header).rstrip(b"=").decode() if encoded else raw_head
    token = ".".join([head, body, tail, *extra])
    fast = _answer_tuple(lambda: tuple(parse_compact(token)))
    assert fast == _answer_tuple(lambda: _step_by_step(token))
    assert fast == _answer_tuple(lambda: tuple(parse_compact(token)))  # again, from the header memo


def _answer_tuple(read: Any) -> Any:
    try:
        return read()
    except AuthError:
        return "refused"


# -- 3. One header memo, many validators: what one pinned is never what another allows ----------------------

_SHARED_HEADER = {"alg": "HS256", "typ": "at+jwt"}


@settings(max_examples=examples(150), deadline=None)
@given(steps=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 4)), min_size=1, max_size=12))
def test_a_header_memo_entry_never_carries_one_validators_decision_to_another(steps: list[tuple[int, int]]) -> None:
    """The same header bytes reach validators pinned to other algorithms, other keys, other tenants, in any order;
    each answers what a new validator of its own configuration answers (and the shared header stays as sent)."""
    validators = [_validator(None), _validator(None, algorithms=("HS384",)), _validator("acme"),
                  _validator(None, algorithms=("RS256",))]
    payloads = [{"iss": ISSUERS[None], "sub": "alice"}, {"iss": ISSUERS["acme"], "sub": "bob"},
                {"iss": ISSUERS[None], "sub": "carol", "scope": "admin"}]
    tokens = [_sign(json.dumps({**p, "aud": AUD, "exp": NOW + 60}).encode(), SECRETS[s], _SHARED_HEADER)
              for p, s in zip(payloads, [None, "acme", None], strict=True)]
    tokens += [tokens[0].rsplit(".", 1)[0] + "." + tokens[1].rsplit(".", 1)[1],  # same header, signature of another
               _sign(json.dumps(payloads[0] | {"aud": AUD, "exp": NOW + 60}).encode(), SECRETS[None], {"alg": "HS384"})]
    configs = [(None, ("HS256",)), (None, ("HS384",)), ("acme", ("HS256",)), (None, ("RS256",))]
    expected = {}
    for which, index in set(steps):  # each answer alone: a new validator, the header read anew
        jws._remembered_header.cache_clear()
        fresh = _validator(configs[which][0], algorithms=configs[which][1])
        expected[which, index] = _answer(lambda v=fresh, t=tokens[index]: asyncio.run(v.validate(t)))
    for which, index in steps:
        token = tokens[index]
        answer = _answer(lambda v=validators[which], t=token: asyncio.run(v.validate(t)))
        assert answer == expected[which, index], (which, token)
        assert parse_compact(token).header == strict_json(b64url_decode(token.split(".")[0]))


# -- 5. The gate's peek routes and judges as the lenient read and the tenant's validator alone did ----------

def _lenient_issuer(token: str) -> str | None:
    """How the gate chose a tenant before the peek: the payload's iss read leniently."""
    with contextlib.suppress(ValueError, IndexError, AttributeError, TypeError):
        found = strict_json(b64url_decode(token.split(".")[1])).get("iss")
        return found if isinstance(found, str) else None
    return None


_PIECES = st.sampled_from([f'"iss":"{ISSUERS["acme"]}"', f'"iss":"{ISSUERS[None]}"', f'"iss":"{ISSUERS["globex"]}"',
                           '"iss":"https://acm\\u0065/"', '"iss":null', f'"iss":["{ISSUERS["acme"]}"]',
                           f'"aud":"{AUD}"', f'"aud":["{AUD}",1]', f'"exp":{NOW + 60}', f'"exp":{NOW}', '"exp":1e400',
                           '"exp":true', '"exp":NaN', f'"exp":{NOW + 60}.5', f'"nbf":{NOW}', f'"iat":{NOW + 1}',
                           '"scope":"read"', '"scope":["admin"]', '"scp":"admin"', '"sub":"alice"', '"sub":1',
                           '"typ":"REFRESH"', '"act":{"sub":"agent"}', '"act":"x"'])


@settings(max_examples=examples(500), deadline=None)
@given(signer=st.sampled_from(list(SECRETS)), pieces=st.lists(_PIECES, max_size=8),
       wrap=st.sampled_from(["{%s}", " {%s}", "\ufeff{%s}", "[{%s}]", "{%s}x"]), where=st.integers(0, 400),
       edit=st.sampled_from(["", "A", "-", "=", ".", "+"]), rounds=st.integers(1, 3))
def test_the_gate_judges_any_payload_as_the_routed_validator_alone(signer: str | None, pieces: list[str], wrap: str,
                                                                   where: int, edit: str, rounds: int) -> None:
    """Duplicate iss, escaped iss, an iss naming another tenant than the signer, payloads the strict parser refuses
    (routed leniently), one byte edited after the unedited token was judged (its verdict and issuer remembered); the
    first sight and the memo's: the reference's tenant and answer."""
    token = _sign((wrap % ",".join(pieces)).encode(), SECRETS[signer])
    where %= len(token) + 1
    token = token[:where] + edit + token[where + (1 if edit else 0):]
    gate, reference = Gate(_tenants()), _tenants()
    asyncio.run(gate.authenticate(_sign((wrap % ",".join(pieces)).encode(), SECRETS[signer])))  # the unedited one first
    issuer = _lenient_issuer(token)
    chosen = next((auth for auth in reference.values() if auth.name is not None and issuer in auth.issuers),
                  reference[None])
    expected = _answer(lambda: asyncio.run(chosen.validator.validate(token, fresh=True)))
    for _ in range(rounds):
        decision = asyncio.run(gate.authenticate(token))
        assert decision.tenant == chosen.name
        assert _decided(decision) == expected


def _decided(decision: Any) -> Any:
    """A gate's decision as ``_answer`` shows a validator's."""
    if decision.error is not None:
        return ("refused", decision.error.reason, decision.error.detail, decision.error.scopes)
    return _answer(lambda: decision.principal)


@settings(max_examples=examples(300), deadline=None)
@given(tenant=st.sampled_from(list(SECRETS)), where=st.integers(0, 400),
       edit=st.sampled_from(["A", "B", "Q", "a", "-", "_", "0", "=", ".", "+", "/", "AA"]), insert=st.booleans())
def test_a_token_one_byte_away_never_gets_a_remembered_verdict_through_the_gate(tenant: str | None, where: int,
                                                                                 edit: str, insert: bool) -> None:
    """The gate judged (and remembered) a good token; one byte changed, added, or its base64 spelled otherwise
    (padding, ``+/``, trailing bits), the other token is judged as itself, never from the first one's entries."""
    gate, reference = Gate(_tenants()), _tenants()
    token = _token("alice", tenant=tenant)
    assert asyncio.run(gate.authenticate(token)).allowed and asyncio.run(gate.authenticate(token)).allowed
    where %= len(token) + 1
    other = token[:where] + edit + token[where + (0 if insert else 1):]
    if other == token:
        return
    issuer = _lenient_issuer(other)
    chosen = next((auth for auth in reference.values() if auth.name is not None and issuer in auth.issuers),
                  reference[None])
    expected = _answer(lambda: asyncio.run(chosen.validator.validate(other, fresh=True)))
    for _ in range(2):
        decision = asyncio.run(gate.authenticate(other))
        assert decision.tenant == chosen.name and _decided(decision) == expected
        if decision.allowed:  # only a token that is itself good passes, under its own fingerprint
            assert decision.principal is not None and decision.principal.fingerprint == token_key(other).hex()[:12]


# -- 6. Ten thousand and one distinct tokens: every memo and cache stays bounded ----------------------------

def test_more_distinct_tokens_than_any_memo_holds_leave_every_memo_bounded() -> None:
    """5,000 signed tokens, each with its own scope string (the 4,096-entry issuer memo, which holds verified tokens,
    the 64-entry verdict caches, the 256-entry scope memo), and 1,001 forged ones, each with its own header (the
    256-entry header memo; a forged token is never remembered by the issuer memo)."""
    limits = CacheLimits(300, 64)
    gate = Gate(_tenants(cache=limits))
    jws._remembered_header.cache_clear()

    async def send_all() -> None:
        for i in range(6_001):
            tenant = (None, "acme", "globex")[i % 3]
            if i % 6:  # signed, each with its own scope string: cached by its validator, its issuer remembered
                token = _token(f"u{i}", tenant=tenant, scope=f"s{i}")
            else:  # forged, each with its own header: refused
                token = _sign(json.dumps({"iss": ISSUERS[tenant], "n": i}).encode(), b"x" * 32, {"kid": f"k{i}"})
            decision = await gate.authenticate(token)
            assert decision.tenant == tenant and decision.allowed is bool(i % 6), i

    asyncio.run(send_all())
    assert len(gate._routed) == gate._routed.max_size == 4096  # full, and no further
    assert jws._remembered_header.cache_info().currsize <= 256
    assert _space_delimited.cache_info().currsize <= 256
    for auth in gate.tenants.values():
        assert len(auth.validator.cache) <= limits.max_size


# -- 7. A cached verdict is never served past the token's exp (+ leeway), whatever the cache's TTL ----------

@settings(max_examples=examples(200), deadline=None)
@given(leeway=st.sampled_from([0, 30]), ttl=st.sampled_from([0.5, 60, 300, 100_000]), life=st.sampled_from([1, 59, 3600]),
       steps=st.lists(st.sampled_from([0, 0.25, 0.5, 1, 29, 30, 59.5, 60, 299.5, 300]), min_size=1, max_size=8),
       via_gate=st.booleans())
def test_a_cached_verdict_is_never_served_after_expiry(leeway: int, ttl: float, life: int, steps: list[float],
                                                       via_gate: bool) -> None:
    clock = [float(NOW)]
    cached = _validator(clock=lambda: clock[0], cache=CacheLimits(ttl, 100), leeway=leeway)
    plain = _validator(clock=lambda: clock[0], cache=CacheLimits(0, 100), leeway=leeway)  # remembers nothing
    token = _token(exp=NOW + life)
    gate = Gate({None: TenantAuth(None, cached, ScopeHierarchy(), (ISSUERS[None],)),
                 "acme": TenantAuth("acme", _validator("acme"), ScopeHierarchy(), (ISSUERS["acme"],))})
    for boundary in [0.0, *sorted({life + leeway - step for step in steps} | {life + leeway + step for step in steps})]:
        clock[0] = max(clock[0], NOW + boundary)  # the clock only moves forward
        expected = _answer(lambda: asyncio.run(plain.validate(token)))
        if via_gate:
            assert _decided(asyncio.run(gate.authenticate(token))) == expected, boundary
        else:
            assert _answer(lambda: asyncio.run(cached.validate(token))) == expected, boundary
