"""Attacks on the guard's fast paths: the route memo must answer what the routes answer after any change to
the tree, and the guard must judge the route as the tree stands now (a renamed route keeps no stale policy)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route, Router

from labkit._text import MAX_TEXT, UNSAFE
from labkit.audit import MAX_SCOPES, AuditLog
from labkit.auth._compact import b64url_decode, strict_json
from labkit.auth.cache import token_key
from labkit.auth.principal import principal_from
from labkit.config import validate_security_config
from labkit.errors import AuthError
from labkit.guard import OAuth2Guard
from labkit.guard.build import gate_for
from labkit.guard.decision import Gate, TenantAuth
from labkit.guard.policy import Endpoint
from labkit.guard.rfc6750 import credentials
from labkit.guard.routing import RouteMemo, resolve
from labkit.scopes import ScopeHierarchy

from ..helpers import ISSUER, NOW, Keys, examples, grid, mint
from .guard_app import asgi_request, guard_config, recording_guard


async def _ok(request: Any) -> PlainTextResponse:
    return PlainTextResponse("ok")


def _scope(path: str, method: str = "GET") -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "root_path": ""}


def test_a_route_replaced_by_an_equal_route_with_another_name_is_seen() -> None:
    # Starlette's Route.__eq__ compares path, endpoint and methods, not the name the guard judges by
    routes: list[Any] = [Route("/export", _ok, methods=["GET"], name="open")]
    memo = RouteMemo(routes)
    assert memo.resolve(_scope("/export")).name == "open"  # type: ignore[union-attr]
    routes[0] = Route("/export", _ok, methods=["GET"], name="locked")
    assert routes[0] == Route("/export", _ok, methods=["GET"], name="open")  # equal, yet another route
    assert memo.resolve(_scope("/export")) == resolve(routes, _scope("/export"))


def test_a_mount_given_a_new_route_list_is_seen() -> None:
    inner = Router(routes=[Route("/export", _ok, name="open")])
    routes: list[Any] = [Mount("/t/{tenant}", app=inner)]
    memo = RouteMemo(routes)
    scope = _scope("/t/acme/export")
    assert memo.resolve(scope).name == "open"  # type: ignore[union-attr]
    inner.routes = [Route("/export", _ok, name="locked")]  # the mount's router gets another list
    assert memo.resolve(scope) == resolve(routes, scope)


def test_the_guard_judges_a_renamed_route_by_its_new_name() -> None:
    """A public route replaced at runtime by a protected one at the same path is protected at once."""
    app = Starlette(routes=[Route("/export", _ok, methods=["GET"], name="open")])
    gate = Gate({None: TenantAuth(None, validator=None, hierarchy=ScopeHierarchy())})
    guard = OAuth2Guard(app, gate=gate, routes=app.routes, audit=AuditLog(),
                        endpoints={"open": Endpoint(label="open", public=True)})
    assert asyncio.run(asgi_request(guard, "GET", "/export")).status_code == 200
    app.routes[0] = Route("/export", _ok, methods=["GET"], name="locked")  # the operator locks it down
    assert asyncio.run(asgi_request(guard, "GET", "/export")).status_code == 401


def test_a_mount_of_an_app_without_routes_is_still_remembered() -> None:
    # Mount.routes hands out a new empty list on every read for such an app: that is no change of the tree
    routes: list[Any] = [Mount("/app", app=_ok, name="inner_app"), Route("/x", _ok, name="x")]
    memo = RouteMemo(routes)
    scope = _scope("/app/anything")
    assert memo.resolve(scope) == resolve(routes, scope) == memo.resolve(scope)
    assert memo.resolve(scope) is memo.resolve(scope) and len(memo._memo) == 1


def test_allow_events_noted_by_threads_while_another_reads_are_each_kept_once() -> None:
    """Threads note allow events (lazy) and deny events (built) while the log is read: none lost, none merged."""
    import threading

    from labkit.audit import AuditEvent
    from labkit.auth import Principal

    log = AuditLog(capacity=100_000)
    principal = Principal(subject="alice", scopes=frozenset({"a"}))
    writers, each = 4, 600
    start = threading.Barrier(writers + 1)

    def write(n: int) -> None:
        start.wait()
        for i in range(each):
            if i % 3:
                log.record_allow(principal, endpoint="/", request_id=f"{n}-{i}", status=200)
            else:
                log.record(AuditEvent(decision="deny", reason="expired", request_id=f"{n}-{i}"))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: interleavings a lock must cover
    try:
        for thread in threads:
            thread.start()
        start.wait()
        while any(thread.is_alive() for thread in threads):
            log.events()  # builds the pending ones while the others keep appending
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    events = log.events()
    assert log.total == len(events) == writers * each
    ids = [e.request_id for e in events]
    assert len(set(ids)) == len(ids)
    for n in range(writers):  # each writer's events in its own order
        mine = [int(i.split("-")[1]) for i in ids if i is not None and i.startswith(f"{n}-")]
        assert mine == list(range(each))
    assert all(e.decision == ("deny" if int(e.request_id.split("-")[1]) % 3 == 0 else "allow")  # type: ignore[union-attr]
               for e in events)


_HOSTILE = st.one_of(st.text(max_size=40), st.sampled_from(["\x1b[2J", "a" * 300, "\u202eevil", "x\r\ny",
                                                          "\u200b", "\x85", "é" * 129]))


@settings(max_examples=examples(40), deadline=None)
@given(sub=_HOSTILE, client=_HOSTILE, request_id=st.text(alphabet=st.characters(max_codepoint=255), max_size=80),
       path=st.sampled_from(["/mcp", "/t/acme/mcp", "/t/acme/%1b/mcp", "/nowhere"]))
def test_every_audited_string_stays_bounded_through_the_fast_paths(keys: Keys, sub: str, client: str,
                                                                   request_id: str, path: str) -> None:
    """Hostile subject, client, X-Request-ID and paths through the guard's allow (lazy) and deny events."""
    guard, _, _, audit = recording_guard(keys)
    token = mint(keys.rsa, scope="api:read", sub=sub, client_id=client)
    headers = {"authorization": f"Bearer {token}", "x-request-id": request_id}
    answer = asyncio.run(asgi_request(guard, "GET", path, headers=headers))
    assert answer.status_code < 500
    events = audit.events()
    assert events and (path != "/mcp" or [e.decision for e in events] == ["allow"])  # the lazy allow path ran
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
    gate = Gate({None: TenantAuth(None, validator=None, hierarchy=ScopeHierarchy())})
    guard = OAuth2Guard(app, gate=gate, routes=app.routes, audit=AuditLog(),
                        endpoints={"item": Endpoint(label="item", public=True)})
    assert asyncio.run(asgi_request(guard, "GET", "/items/" + "9" * 5000)).status_code == 401
    assert asyncio.run(asgi_request(guard, "GET", "/items/12")).status_code == 200


# -- The multi-tenant issuer peek over HTTP (issue #18): routed and judged as the lenient read and the tenant's
# validator alone did, whatever the signer, the issuer, one byte changed; never a 5xx, the second sight too.

_SIGNERS = {"rsa": "RS256", "ec": "ES256", "ed": "EdDSA", "attacker": "RS256"}
_GUARDS: dict[int, Any] = {}


def _reference_gate(keys: Keys) -> Gate:
    """The agent's tenants with the plain claim checks (principal_from), for a reference answer."""
    gate = gate_for(validate_security_config(guard_config(keys)), clock=lambda: NOW)
    for auth in gate.tenants.values():
        validator = auth.validator
        validator._principal = lambda claims, now, fp, v=validator: principal_from(
            claims, v.policy, now=now, fingerprint=fp, strategy="jwt", tenant=v.tenant, required=v.policy.required)
    return gate


@settings(max_examples=examples(80), deadline=None)
@given(signer=st.sampled_from(sorted(_SIGNERS)), issuer=st.sampled_from(["", "acme", "globex", "ACME", None]),
       scope=st.sampled_from(["api:read", "admin", ""]), exp=st.sampled_from([3600, 0, -1]),
       where=st.integers(0, 1200), edit=st.sampled_from(["", "A", "-", "=", ".", "+", "%"]))
def test_the_issuer_peek_over_http_routes_and_judges_as_the_reference(keys: Keys, signer: str, issuer: str | None,
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
# ---------------------------------------------------------------------------------------------------------------
# s3-guard (issue #18): the guard's answers without waiting (a cached verdict answered at once, the Bearer DPoP check
# and the admission answered synchronously, the found decision remembered per principal, requirements remembered per
# method), its slotted request as the app's send, its body read. An attacker's request sequence gets, through the
# fast guard, exactly what the plain gate of bb698ea (tests/core/test_perf_equivalence.py) gives it: status, body,
# the handler that ran, and every audit event. Nothing here measures time.
# ---------------------------------------------------------------------------------------------------------------

_BODIES = [
    b'{"jsonrpc":"2.0","id":1,"method":"capabilities"}',
    b'{"jsonrpc":"2.0","id":2,"method":"tasks/get","params":{"id":"t"}}',
    b'{"jsonrpc":"2.0","id":3,"method":"tasks/cancel","params":{"id":"t"}}',
    b'{"jsonrpc":"2.0","id":4,"method":"message/send","params":{"configuration":{"pushNotificationConfig":{"url":"x"}}}}',
    b'{"jsonrpc":"2.0","id":5,"method":"message/send","params":{"tenant":"globex"}}',
    b'{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"read_file","arguments":{}}}',
    b'{"jsonrpc":"2.0","id":7,"method":"execute","params":{"capability":"write_operation"}}',
    b'{"jsonrpc":"2.0","id":8,"method":"capabilities","id":9}',  # duplicate member: refused
    b'[{"jsonrpc":"2.0","id":1,"method":"capabilities"}]', b'{"jsonrpc":"2.0","id":1.5e400,"method":"x"}', b"",
    b"\xff\xfe{}",
]
_ROUTES = {"a2a": "/", "mcp": "/mcp", "card": "/.well-known/agent-card.json", "unknown": "/nowhere",
           "dotted": "/%2e%2e/mcp"}
_KINDS = ["read", "read", "admin", "write", "bound", "expired", "forged", "other tenant", "delegated", None]


def _token_kinds(keys: Keys) -> dict[tuple[str | None, str | None], str | None]:
    """A token of each kind for each tenant (the root's RSA key, acme's EC key, globex's Ed25519 key)."""
    from ..helpers import ISSUER, NOW

    made: dict[tuple[str | None, str | None], str | None] = {}
    for tenant, key, alg in ((None, keys.rsa, "RS256"), ("acme", keys.ec, "ES256"), ("globex", keys.ed, "EdDSA")):
        issuer = ISSUER + (tenant or "")
        other = mint(keys.rsa) if tenant else mint(keys.ec, "ES256", iss=ISSUER + "acme")
        for kind, token in (("read", mint(key, alg, iss=issuer)),
                            ("admin", mint(key, alg, iss=issuer, scope="admin")),
                            ("write", mint(key, alg, iss=issuer, scope="api:write push:write files:read")),
                            ("bound", mint(key, alg, iss=issuer, cnf={"jkt": "A" * 43})),
                            ("expired", mint(key, alg, iss=issuer, exp=NOW - 5)),
                            ("forged", mint(keys.attacker, iss=issuer)),
                            ("other tenant", other),
                            ("delegated", mint(key, alg, iss=issuer, scope="admin", act={"sub": "agent-7"})),
                            (None, None)):
            made[tenant, kind] = token
    return made


def _plain_gate(gate: Gate) -> None:
    """``gate`` answering every request through the plain (bb698ea) authenticate and decide, never at once."""
    from ..core.plain_gate import plain_authenticate, plain_decide

    def authenticate_now(token: Any, tenant: Any = None, *, fresh: bool = False, presentation: Any = None,
                         dpop_checked: bool = False) -> Any:
        return plain_authenticate(gate, token, tenant, fresh, presentation, dpop_checked)

    def decide_now(token: Any, requirement: Any, tenant: Any = None, *, authenticated: Any = None,
                   presentation: Any = None) -> Any:
        return plain_decide(gate, token, requirement, tenant, authenticated, presentation)

    gate.authenticate_now = authenticate_now  # type: ignore[method-assign]
    gate.decide_now = decide_now  # type: ignore[method-assign]


def _event_view(event: Any) -> tuple[Any, ...]:
    import dataclasses

    return dataclasses.astuple(dataclasses.replace(event, time=0, latency_ms=0))


@settings(max_examples=examples(80), deadline=None)
@given(requests=st.lists(st.tuples(st.sampled_from([None, None, "acme", "globex", "nobody"]), st.sampled_from(_KINDS),
                                   st.sampled_from(list(_ROUTES)), st.integers(0, len(_BODIES) - 1),
                                   st.sampled_from(["POST", "POST", "POST", "GET"]),
                                   st.sampled_from(["bearer", "bearer", "bearer", "dpop", "bearer+proof", "lower"])),
                         min_size=1, max_size=6))
def test_an_attackers_requests_get_what_the_plain_gate_gives_them(keys: Keys, requests: list[Any]) -> None:
    tokens = _token_kinds(keys)
    fast, fast_recorder, _, fast_audit = recording_guard(keys)
    plain, plain_recorder, _, plain_audit = recording_guard(keys)
    _plain_gate(plain.gate)

    async def run() -> None:
        for tenant, kind, route, body, method, scheme in requests * 2:  # every request twice: first-seen, then cached
            token = tokens[None if tenant == "nobody" else tenant, kind]
            path = (f"/t/{tenant}" if tenant else "") + _ROUTES[route]
            headers: dict[str, str] = {"content-type": "application/json", "x-request-id": f"r-{kind}"}
            if token is not None:
                headers["authorization"] = {"dpop": f"DPoP {token}", "lower": f"bearer   {token}"}.get(
                    scheme, f"Bearer {token}")
            if scheme in ("dpop", "bearer+proof"):
                headers["dpop"] = "a.b.c"
            answers = []
            for guard in (fast, plain):
                answer = await asgi_request(guard, method, path, headers=dict(headers), body=_BODIES[body])
                answers.append((answer.status_code, answer.headers.get("www-authenticate"),
                                answer.headers.get("retry-after"), answer.content))
            assert answers[0] == answers[1], (tenant, kind, route, body, method, scheme)

    asyncio.run(run())
    assert fast_recorder.calls == plain_recorder.calls
    assert [_event_view(e) for e in fast_audit.events()] == [_event_view(e) for e in plain_audit.events()]
    assert fast_audit.total == plain_audit.total


def test_a_principal_whose_tenant_policy_changes_is_judged_afresh(keys: Keys) -> None:
    """The Bearer answer remembered on a cached principal is not used once the tenant requires DPoP."""
    guard, recorder, agent, audit = recording_guard(keys)
    token = mint(keys.rsa)
    headers = {"authorization": f"Bearer {token}"}
    body = _BODIES[0]
    assert asyncio.run(asgi_request(guard, "POST", "/", headers=headers, body=body)).status_code == 200
    assert asyncio.run(asgi_request(guard, "POST", "/", headers=headers, body=body)).status_code == 200
    policy = agent.gate.tenants[None].dpop
    assert policy is not None
    policy.required = True
    refused = asyncio.run(asgi_request(guard, "POST", "/", headers=headers, body=body))
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("DPoP ")
    assert [e.reason for e in audit.events()] == [None, None, "dpop_required"]
    assert len(recorder.calls) == 2


def test_route_lists_changed_after_the_memo_paired_them_are_seen() -> None:
    """``_unchanged`` pairs each route list with its snapshot once; changes made afterwards are still seen."""
    public, protected = Route("/x", _ok, name="public"), Route("/x", _ok, name="protected")
    inner = Router(routes=[Route("/y", _ok, name="inner-public")])
    app = Starlette(routes=[public, Mount("/m", app=inner)])
    memo = RouteMemo(app.routes)
    for _ in range(2):  # the second answer comes from the memo, paired
        found = memo.resolve(_scope("/x"))
        assert found is not None and found.name == "public"
    app.router.routes[0] = protected  # in place
    found = memo.resolve(_scope("/x"))
    assert found is not None and found.name == "protected"
    app.router.routes.insert(0, public)  # longer
    found = memo.resolve(_scope("/x"))
    assert found is not None and found.name == "public"
    found = memo.resolve(_scope("/m/y"))
    assert found is not None and found.name == "inner-public"
    inner.routes = [Route("/y", _ok, name="inner-protected")]  # the mount's router given a new list
    found = memo.resolve(_scope("/m/y"))
    assert found is not None and found.name == "inner-protected"
    assert memo.resolve(_scope("/m/y")) == resolve(app.routes, _scope("/m/y"))


def test_every_tenant_token_route_body_and_scheme_gets_what_the_plain_gate_gives(keys: Keys) -> None:
    """The grid the property samples, whole: each combination first-seen, then again from the caches."""
    import itertools

    tokens = _token_kinds(keys)
    fast, fast_recorder, _, fast_audit = recording_guard(keys)
    plain, plain_recorder, _, plain_audit = recording_guard(keys)
    _plain_gate(plain.gate)

    async def run() -> None:
        for tenant, kind, route, body, scheme in grid(itertools.product(  # a quarter of it in the unit layer
                [None, "acme", "globex"], dict.fromkeys(_KINDS), ["a2a", "mcp"], range(len(_BODIES)), ["bearer", "dpop"]),
                quick=270):
            token = tokens[tenant, kind]
            headers = {} if token is None else {"authorization": f"{'DPoP' if scheme == 'dpop' else 'Bearer'} {token}"}
            if scheme != "bearer":
                headers["dpop"] = "a.b.c"
            path = (f"/t/{tenant}" if tenant else "") + _ROUTES[route]
            for _ in range(2):
                answers = []
                for guard in (fast, plain):
                    answer = await asgi_request(guard, "POST", path, headers=dict(headers), body=_BODIES[body])
                    answers.append((answer.status_code, answer.headers.get("www-authenticate"), answer.content))
                assert answers[0] == answers[1], (tenant, kind, route, body, scheme)

    asyncio.run(run())
    assert fast_recorder.calls == plain_recorder.calls
    assert [_event_view(e) for e in fast_audit.events()] == [_event_view(e) for e in plain_audit.events()]
    assert fast_audit.total == plain_audit.total
