"""Crafted tokens (duplicate or non-string ``iss``, strict-vs-lenient parse, another tenant's key, DPoP, tenant
paths): the issuer memo routes as reading ``iss`` again would, and holds only tokens that verified."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc import jws

from labkit.auth.cache import token_key
from labkit.guard.decision import Decision

from ..core.test_perf_equivalence import _gates, _presentation, _same, _tokens
from ..helpers import ISSUER, NOW, claims, examples, mint

_CRAFTED: dict[int, list[str]] = {}


def _raw(key: Any, alg: str, payload: bytes) -> str:
    return jws.serialize_compact({"alg": alg, "typ": "at+jwt", "kid": key.kid}, payload, key, algorithms=[alg])


def _crafted(keys: Any) -> list[str]:
    """Tokens whose issuer a lenient reader and a strict one might read differently, or that verify elsewhere."""
    if id(keys) not in _CRAFTED:
        acme = json.dumps(claims(iss=ISSUER + "acme"))
        _CRAFTED[id(keys)] = [
            _raw(keys.ec, "ES256", (acme[:-1] + f', "iss": "{ISSUER}globex"}}').encode()),  # duplicate iss
            _raw(keys.ed, "EdDSA", (acme[:-1] + f', "iss": "{ISSUER}globex"}}').encode()),
            _raw(keys.ec, "ES256", json.dumps(claims(iss=[ISSUER + "acme"])).encode()),  # iss not a string
            _raw(keys.ec, "ES256", json.dumps({**claims(iss=ISSUER + "acme"), "exp": NOW - 1}).encode()),
            mint(keys.ed, "EdDSA", iss=ISSUER + "acme"),  # acme's issuer, globex's key
            mint(keys.ec, "ES256", iss=ISSUER + "globex"),
            mint(keys.ec, "ES256", iss=ISSUER + "acme") + "=",  # the strict parser refuses it, a lenient one not
            mint(keys.ec, "ES256", iss=ISSUER + "acme").replace(".", " .", 1),
        ]
    return _CRAFTED[id(keys)]


@settings(max_examples=examples(100), deadline=None)
@given(calls=st.lists(st.tuples(st.integers(0, 17), st.sampled_from([None, None, "acme", "globex"]), st.booleans(),
                                st.sampled_from(["none", "dpop"])), min_size=1, max_size=10),
       required=st.booleans())
def test_the_memo_routes_as_a_fresh_read_and_holds_only_verified_tokens(keys: Any, calls: list[Any],
                                                                         required: bool) -> None:
    memo_gate, forgetful = _gates(keys, required)
    tokens = _tokens(keys) + _crafted(keys)
    verified: set[bytes] = set()

    async def run() -> None:
        for index, tenant, fresh, kind in calls:
            token, presentation = tokens[index], _presentation(kind)
            now = memo_gate.authenticate_now(token, tenant, fresh=fresh, presentation=presentation)
            remembered = now if isinstance(now, Decision) else await now
            forgetful._issuers._data.clear()  # this gate reads every token's issuer again
            read_again = await forgetful.authenticate(token, tenant, fresh=fresh, presentation=presentation)
            _same(remembered, read_again)
            if remembered.principal is not None:
                verified.add(token_key(token))
        assert set(memo_gate._issuers._data) <= verified

    asyncio.run(run())
