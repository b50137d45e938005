"""The gate's multi-tenant issuer memo (issue #18) remembers the issuer of a token only once the token verified,
and remembering it never changes an answer: a gate with the memo is held to a gate without it."""

from __future__ import annotations

import asyncio
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from labkit.auth.cache import token_key
from labkit.auth.claims import ClaimPolicy
from labkit.auth.jwt import JWTValidator, StaticKeys
from labkit.auth.keys import KeySet
from labkit.guard.gate import Gate, TenantAuth
from labkit.scopes import ScopeHierarchy

from ..auth.test_cache_attacks import AUD, ISSUERS, NOW, SECRETS, _decided, _sign, _tenants, _token
from ..helpers import examples


def _claims(issuer: str, **more: object) -> bytes:
    return json.dumps({"iss": issuer, "aud": AUD, "sub": "mallory", "exp": NOW + 3600, "scope": "read", **more}).encode()


GOOD = [_token(f"user-{tenant}", tenant=tenant) for tenant in ISSUERS]
TOKENS = [
    *GOOD,
    *(_sign(_claims(issuer), b"x" * 32) for issuer in ISSUERS.values()),  # a tenant's issuer, the wrong key
    _sign(_claims(ISSUERS["acme"]), SECRETS[None]),  # acme's issuer, signed with the default tenant's key
    _sign(_claims("https://elsewhere/"), SECRETS[None]),  # no tenant's issuer
    _token("old", tenant="acme", exp=NOW - 1),  # verifies, then refused as expired
    GOOD[1][:-1],  # one byte short of acme's token
    "x.y.z",
    "",
]


@settings(max_examples=examples(150), deadline=None)
@given(sent=st.lists(st.tuples(st.integers(0, len(TOKENS) - 1), st.booleans()), min_size=1, max_size=24))
def test_the_memo_holds_verified_tokens_only_and_changes_no_answer(sent: list[tuple[int, bool]]) -> None:
    gate, reference = Gate(_tenants()), Gate(_tenants())
    reference._routed.max_size = 0  # remembers nothing: every request peeks afresh
    verified: set[bytes] = set()
    for index, forget in sent:
        token = TOKENS[index]
        found = asyncio.run(gate.authenticate(token))
        expected = asyncio.run(reference.authenticate(token))
        assert (found.tenant, _decided(found)) == (expected.tenant, _decided(expected)), index
        if found.principal is not None:
            verified.add(token_key(token))
            # verified, of a tenant: routed from the memo from now on (again after the memo lost it)
            assert token_key(token) in gate._routed._data, index
        assert set(gate._routed._data) <= verified, index  # never a forged, expired or malformed token's issuer
        if forget:
            gate._routed.clear()  # as eviction or expiry would
    assert len(reference._routed) == 0


def test_a_verified_token_of_no_tenants_issuer_is_not_remembered() -> None:
    """A default tenant that accepts any issuer verifies a token of a foreign issuer: routed by the peek every
    time, never remembered (the memo holds tenants' issuers only, not strings a token brings)."""
    policy = ClaimPolicy(issuers=(), audiences=(AUD,), required=("exp",))
    anyone = JWTValidator(("HS256",), StaticKeys(KeySet.from_secret(SECRETS[None])), policy, clock=lambda: NOW)
    tenants = {**_tenants(), None: TenantAuth(None, anyone, ScopeHierarchy(), issuers=(ISSUERS[None],))}
    gate = Gate(tenants)
    foreign, own = _sign(_claims("https://elsewhere/"), SECRETS[None]), _sign(_claims(ISSUERS[None]), SECRETS[None])
    assert asyncio.run(gate.authenticate(foreign)).principal is not None
    assert len(gate._routed) == 0
    assert asyncio.run(gate.authenticate(own)).principal is not None
    assert list(gate._routed._data) == [token_key(own)]
