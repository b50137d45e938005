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

from ..helpers import ISSUER, NOW, claims, examples, mint


def _same(fast: Decision, plain: Decision) -> None:
    """Two decisions say the same: every field, the error by reason, detail and scopes (errors compare by identity)."""
    assert (fast.requirement, fast.tenant, fast.principal, fast.effective, fast.retry_after, fast.fresh, fast.dpop) \
        == (plain.requirement, plain.tenant, plain.principal, plain.effective, plain.retry_after, plain.fresh,
            plain.dpop)
    assert fast.effective is None or fast.effective.wildcard == plain.effective.wildcard  # type: ignore[union-attr]
    if plain.error is None:
        assert fast.error is None
    else:
        assert fast.error is not None
        assert (fast.error.reason, fast.error.detail, fast.error.scopes) == \
            (plain.error.reason, plain.error.detail, plain.error.scopes)


def _gates(keys: Any, required: bool = False, admit: Any = None) -> tuple[Any, Any]:
    """Two gates from the guard tests' three-tenant configuration (fixed clock), in the same state."""
    from labkit.config import validate_security_config
    from labkit.guard.build import gate_for

    from ..guard.guard_app import guard_config
    from ..helpers import NOW

    made = []
    for _ in range(2):
        gate = gate_for(validate_security_config(guard_config(keys)), clock=lambda: NOW, admit=admit)
        for auth in gate.tenants.values():
            assert auth.dpop is not None
            auth.dpop.required = required
        made.append(gate)
    return made[0], made[1]


_TOKENS: dict[int, list[str]] = {}


def _tokens(keys: Any) -> list[str]:
    """Tokens of every tenant, DPoP-bound ones, a malformed ``cnf``, expired, other scopes, unknown issuer."""
    from ..helpers import ISSUER, NOW, mint

    if id(keys) not in _TOKENS:
        _TOKENS[id(keys)] = [
            mint(keys.rsa), mint(keys.rsa, scope="api:write push:write"), mint(keys.rsa, scope="admin"),
            mint(keys.rsa, cnf={"jkt": "A" * 43}), mint(keys.rsa, cnf="x"), mint(keys.rsa, exp=NOW - 10),
            mint(keys.ec, "ES256", iss=ISSUER + "acme"), mint(keys.ed, "EdDSA", iss=ISSUER + "globex"),
            mint(keys.rsa, iss="https://elsewhere.example/"), mint(keys.attacker),
        ]
    return _TOKENS[id(keys)]


def _presentation(kind: str) -> Any:
    from labkit.guard.dpop import Presentation

    return {"none": None, "bearer+proof": Presentation("bearer", (b"a.b.c",), "POST", "http://agent.test/"),
            "dpop": Presentation("dpop", (b"a.b.c",), "POST", "http://agent.test/"),
            "dpop-none": Presentation("dpop", (), "POST", "http://agent.test/")}[kind]


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
            remembered = await memo_gate.authenticate(token, tenant, fresh=fresh, presentation=presentation)
            forgetful._routed.clear()  # this gate reads every token's issuer again
            read_again = await forgetful.authenticate(token, tenant, fresh=fresh, presentation=presentation)
            _same(remembered, read_again)
            if remembered.principal is not None:
                verified.add(token_key(token))
        assert set(memo_gate._routed._data) <= verified

    asyncio.run(run())
