"""The guard's attack grid as a table of expected outcomes (``grid_cases.expected``: status, challenge, audit
reason), first seen and again from the caches, plus routes changed at runtime, hostile strings and the issuer peek.

Every request is sent twice: the second answer comes from the verdict cache and the issuer memo, and must be the
table's too (a cached principal takes every step of the gate). Nothing here measures time.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route, Router

from labkit._text import MAX_TEXT, UNSAFE
from labkit.audit import MAX_SCOPES, AuditLog
from labkit.auth.cache import token_key
from labkit.auth.jws import b64url_decode, strict_json
from labkit.config import validate_security_config
from labkit.errors import AuthError
from labkit.guard import OAuth2Guard
from labkit.guard.build import gate_for
from labkit.guard.gate import Gate, TenantAuth
from labkit.guard.policy import Endpoint
from labkit.guard.rfc6750 import credentials
from labkit.guard.routing import resolve
from labkit.scopes import ScopeHierarchy

from ..helpers import ISSUER, NOW, Keys, examples, grid, mint
from .grid_cases import BODIES, KINDS, ROUTES, expected, headers_for, outcome, token_kinds
from .guard_app import asgi_request, guard_config, recording_guard


async def _ok(request: Any) -> PlainTextResponse:
    return PlainTextResponse("ok")


def _scope(path: str, method: str = "GET") -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "root_path": ""}


def test_the_guard_judges_a_renamed_route_by_its_new_name() -> None:
    """A public route replaced at runtime by a protected one at the same path is protected at once."""
    app = Starlette(routes=[Route("/export", _ok, methods=["GET"], name="open")])
    gate = Gate({None: TenantAuth(None, validator=None, hierarchy=ScopeHierarchy())})  # type: ignore[arg-type]
    guard = OAuth2Guard(app, gate=gate, routes=app.routes, audit=AuditLog(),
                        endpoints={"open": Endpoint(label="open", public=True)})
    assert asyncio.run(asgi_request(guard, "GET", "/export")).status_code == 200
    app.routes[0] = Route("/export", _ok, methods=["GET"], name="locked")  # the operator locks it down
    assert asyncio.run(asgi_request(guard, "GET", "/export")).status_code == 401


def test_routes_changed_in_place_or_given_to_a_mount_are_judged_as_they_stand_now() -> None:
    """An equal route with another name (``Route.__eq__`` ignores the name), a mount's router given a new list:
    the guard resolves every request on the tree as it is at that moment."""
    inner = Router(routes=[Route("/y", _ok, name="open")])
    app = Starlette(routes=[Route("/x", _ok, name="open"), Mount("/m", app=inner)])
    gate = Gate({None: TenantAuth(None, validator=None, hierarchy=ScopeHierarchy())})  # type: ignore[arg-type]
    guard = OAuth2Guard(app, gate=gate, routes=app.routes, audit=AuditLog(),
                        endpoints={"open": Endpoint(label="open", public=True)})
    for path in ("/x", "/m/y", "/x", "/m/y"):
        assert asyncio.run(asgi_request(guard, "GET", path)).status_code == 200
    app.router.routes[0] = Route("/x", _ok, name="locked")
    assert app.router.routes[0] == Route("/x", _ok, name="open")  # equal, yet another route
    inner.routes = [Route("/y", _ok, name="locked")]
    for path in ("/x", "/m/y"):
        assert asyncio.run(asgi_request(guard, "GET", path)).status_code == 401
        assert resolve(app.routes, _scope(path)).name == "locked"  # type: ignore[union-attr]


_HOSTILE = st.one_of(st.text(max_size=40), st.sampled_from(["\x1b[2J", "a" * 300, "\u202eevil", "x\r\ny",
                                                          "\u200b", "\x85", "é" * 129]))


@settings(max_examples=examples(40), deadline=None)
@given(sub=_HOSTILE, client=_HOSTILE, request_id=st.text(alphabet=st.characters(max_codepoint=255), max_size=80),
       path=st.sampled_from(["/mcp", "/t/acme/mcp", "/t/acme/%1b/mcp", "/nowhere"]))
def test_every_audited_string_stays_bounded(keys: Keys, sub: str, client: str,
                                                                   request_id: str, path: str) -> None:
    """Hostile subject, client, X-Request-ID and paths through the guard's allow and deny events."""
    guard, _, _, audit = recording_guard(keys)
    token = mint(keys.rsa, scope="api:read", sub=sub, client_id=client)
    headers = {"authorization": f"Bearer {token}", "x-request-id": request_id}
    answer = asyncio.run(asgi_request(guard, "GET", path, headers=headers))
    assert answer.status_code < 500
    events = audit.events()
    assert events and (path != "/mcp" or [e.decision for e in events] == ["allow"])
    for event in events:
        for name in ("reason", "detail", "subject", "client", "strategy", "endpoint", "method", "plugin", "tenant",
                     "fingerprint", "request_id", *(f"scopes{i}" for i in range(len(event.scopes))),
                     *(f"actors{i}" for i in range(len(event.actors)))):
            value = (event.scopes[int(name[6:])] if name.startswith("scopes") else event.actors[int(name[6:])]
                     if name.startswith("actors") else getattr(event, name))
            assert value is None or (type(value) is str and len(value) <= MAX_TEXT + 12
                                     and UNSAFE.search(value) is None), (name, value)
        assert len(event.scopes) <= MAX_SCOPES + 1


def test_a_path_no_convertor_can_read_is_an_unknown_route_never_a_5xx() -> None:
    """``{x:int}`` with 5,000 digits makes Starlette's ``int()`` raise: the guard denies by default, no 500."""
    routes: list[Any] = [Route("/items/{x:int}", _ok, methods=["GET"], name="item")]
    assert resolve(routes, _scope("/items/" + "9" * 5000)) is None
    app = Starlette(routes=routes)
    gate = Gate({None: TenantAuth(None, validator=None, hierarchy=ScopeHierarchy())})  # type: ignore[arg-type]
    guard = OAuth2Guard(app, gate=gate, routes=app.routes, audit=AuditLog(),
                        endpoints={"item": Endpoint(label="item", public=True)})
    assert asyncio.run(asgi_request(guard, "GET", "/items/" + "9" * 5000)).status_code == 401
    assert asyncio.run(asgi_request(guard, "GET", "/items/12")).status_code == 200


# -- The multi-tenant issuer peek over HTTP (issue #18): routed and judged as the lenient read and the tenant's
# validator alone did, whatever the signer, the issuer, one byte changed; never a 5xx, the second sight too.

_SIGNERS = {"rsa": "RS256", "ec": "ES256", "ed": "EdDSA", "attacker": "RS256"}
_GUARDS: dict[int, Any] = {}


def _reference_gate(keys: Keys) -> Gate:
    """Another gate for the agent's tenants, asked with ``fresh=True``: nothing remembered."""
    return gate_for(validate_security_config(guard_config(keys)), clock=lambda: NOW)


@settings(max_examples=examples(80), deadline=None)
@given(signer=st.sampled_from(sorted(_SIGNERS)), issuer=st.sampled_from(["", "acme", "globex", "ACME", None]),
       scope=st.sampled_from(["api:read", "admin", ""]), exp=st.sampled_from([3600, 0, -1]),
       where=st.integers(0, 1200), edit=st.sampled_from(["", "A", "-", "=", ".", "+", "%"]))
def test_the_issuer_peek_over_http_routes_and_judges_as_a_fresh_read(keys: Keys, signer: str, issuer: str | None,
                                                                       scope: str, exp: int, where: int,
                                                                       edit: str) -> None:
    if id(keys) not in _GUARDS:  # one guard for every example: its memos and caches carry over, as in production
        _GUARDS[id(keys)] = (recording_guard(keys), _reference_gate(keys))
    (guard, _, _, audit), reference = _GUARDS[id(keys)]
    token = mint(getattr(keys, signer), _SIGNERS[signer], iss=None if issuer is None else ISSUER + issuer,
                 scope=scope, exp=NOW + exp)
    asyncio.run(asgi_request(guard, "GET", "/mcp", headers={"authorization": f"Bearer {token}"}))  # remembered
    where %= len(token) + 1
    token = token[:where] + edit + token[where + (1 if edit else 0):]
    header = f"Bearer {token}"
    if credentials([header.encode()]) is None:  # outside RFC 6750's b64token: refused before any tenant is chosen
        answer = asyncio.run(asgi_request(guard, "GET", "/mcp", headers={"authorization": header}))
        assert answer.status_code == 401 and audit.events()[-1].reason == "missing_token"
        return
    found = None
    with contextlib.suppress(ValueError, IndexError, AttributeError, TypeError):
        found = strict_json(b64url_decode(token.split(".")[1])).get("iss")
    chosen = next((a for a in reference.tenants.values() if a.name is not None and found in a.issuers),
                  reference.tenants[None])  # how the gate chose before the peek: the payload's iss, read leniently
    refusal: AuthError | None = None
    try:
        asyncio.run(chosen.validator.validate(token, fresh=True))
    except AuthError as error:
        refusal = error
    for _ in range(2):  # the first sight, then the issuer memo's and the verdict cache's
        answer = asyncio.run(asgi_request(guard, "GET", "/mcp", headers={"authorization": header}))
        event = audit.events()[-1]
        assert answer.status_code < 500 and event.tenant == chosen.name
        if refusal is not None:
            assert (answer.status_code, event.reason) == (401, refusal.reason.value)
        else:
            assert event.fingerprint == token_key(token).hex()[:12]
            assert (answer.status_code, event.reason) in ((200, None), (403, "insufficient_scope"))
# -- The grid as a table: tenant x token x route x body x scheme, first seen and from the caches -----------------


def _send_and_check(guard: Any, recorder: Any, audit: Any, tokens: Any, tenant: str | None, kind: str | None,
                    route: str, body: int, scheme: str, method: str = "POST") -> None:
    token = tokens[tenant, kind]
    path = (f"/t/{tenant}" if tenant else "") + ROUTES[route]
    ran, logged = len(recorder.calls), audit.total
    answer = asyncio.run(asgi_request(guard, method, path, headers=headers_for(token, scheme), body=BODIES[body]))
    found = outcome(answer, audit.events()[-1].reason)
    assert found == expected(tenant, kind, route, body, scheme), (tenant, kind, route, body, scheme)
    assert len(recorder.calls) - ran == (found[0] == 200 and found[4] is None)  # the handler ran exactly when allowed
    assert audit.total - logged == 1  # one audit event per request


def test_every_tenant_token_route_body_and_scheme_gets_the_tables_answer(keys: Keys) -> None:
    """The whole grid (a sample in the unit layer): each case first seen, then again from the caches."""
    tokens = token_kinds(keys)
    guard, recorder, _, audit = recording_guard(keys)
    for case in grid(itertools.product([None, "acme", "globex"], dict.fromkeys(KINDS), ["a2a", "mcp"],
                                       range(len(BODIES)), ["bearer", "dpop"]), quick=270):
        for _ in range(2):
            _send_and_check(guard, recorder, audit, tokens, *case)


@settings(max_examples=examples(80), deadline=None)
@given(requests=st.lists(st.tuples(st.sampled_from([None, None, "acme", "globex"]), st.sampled_from(KINDS),
                                   st.sampled_from(["a2a", "mcp"]), st.integers(0, len(BODIES) - 1),
                                   st.sampled_from(["bearer", "bearer", "dpop"])), min_size=1, max_size=8))
def test_an_attackers_request_sequences_get_the_tables_answers(keys: Keys, requests: list[Any]) -> None:
    """Any order of the grid's requests, each twice: what one request leaves in a cache changes no other's answer."""
    tokens = token_kinds(keys)
    guard, recorder, _, audit = recording_guard(keys)
    for case in requests * 2:
        _send_and_check(guard, recorder, audit, tokens, *case)


def test_a_principal_whose_tenant_policy_changes_is_judged_afresh(keys: Keys) -> None:
    """The Bearer answer remembered on a cached principal is not used once the tenant requires DPoP."""
    guard, recorder, agent, audit = recording_guard(keys)
    token = mint(keys.rsa)
    headers = {"authorization": f"Bearer {token}"}
    body = BODIES[0]
    assert asyncio.run(asgi_request(guard, "POST", "/", headers=headers, body=body)).status_code == 200
    assert asyncio.run(asgi_request(guard, "POST", "/", headers=headers, body=body)).status_code == 200
    policy = agent.gate.tenants[None].dpop
    assert policy is not None
    policy.required = True
    refused = asyncio.run(asgi_request(guard, "POST", "/", headers=headers, body=body))
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("DPoP ")
    assert [e.reason for e in audit.events()] == [None, None, "dpop_required"]
    assert len(recorder.calls) == 2
