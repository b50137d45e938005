"""An outsider's attacks on the guard's handling of one request: its body, the app's send, memory, rate limits,
and configuration changed between requests.

The guard reaches no handler without a valid decision, never answers 5xx, keeps memory bounded by its caches alone
(no reference cycle left for the collector), acts on no request whose body never ended, applies every rate limit,
audits each decision exactly once with its own subject, scopes and request id, and answers from a cached verdict
what it answers on a fresh read, whatever changed at runtime. Nothing here measures time or listens on a socket.
"""

from __future__ import annotations

import asyncio
import gc
import json
from pathlib import Path
from typing import Any

import httpx
from hypothesis import example, given, settings
from hypothesis import strategies as st

from labkit.auth import Principal
from labkit.config import validate_security_config
from labkit.guard.decision import Decision
from labkit.guard.dpop import Presentation
from labkit.guard.gate import Gate
from labkit.guard.jsonrpc import MAX_BODY, BodyError, read_body
from sample_agent import create_app

from ..helpers import HMAC_SECRET, ISSUER, NOW, Keys, examples, mint
from .grid_cases import token_kinds
from .guard_app import guard_config, recording_guard

_CANCEL = b'{"jsonrpc":"2.0","id":3,"method":"tasks/cancel","params":{"id":"t"}}'


def _scope(path: str, headers: dict[str, str], method: str = "POST") -> dict[str, Any]:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
            "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
            "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
            "server": ("agent.test", 80), "client": ("127.0.0.1", 5000)}


async def _drive(app: Any, scope: dict[str, Any], messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``app`` fed ``messages`` (then disconnects), answering into a list."""
    sent: list[dict[str, Any]] = []
    queue = list(messages)

    async def receive() -> dict[str, Any]:
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


# -- The body: an incomplete request is never acted on ------------------------------------------------------------

def test_a_client_that_disconnects_mid_body_reaches_no_handler(keys: Keys) -> None:
    """RFC 9112 §8: a request whose body never ended (``http.disconnect`` before ``more_body`` false) is not run,
    even when the bytes that came parse as a whole call; the refusal is audited once."""
    guard, recorder, _, audit = recording_guard(keys)
    token = mint(keys.rsa, scope="api:write")
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json", "x-request-id": "cut"}
    for cut in (_CANCEL, b"", _CANCEL[:10]):
        messages = [{"type": "http.request", "body": cut, "more_body": True}, {"type": "http.disconnect"}]
        asyncio.run(_drive(guard, _scope("/", headers), messages))
    assert recorder.calls == []
    events = audit.events()
    assert [(e.decision, e.reason, e.request_id, e.subject) for e in events] == [
        ("deny", "invalid_request", "cut", "alice")] * 3
    # the same bytes, ended: run once
    sent = asyncio.run(_drive(guard, _scope("/", headers), [{"type": "http.request", "body": _CANCEL}]))
    assert sent[0]["status"] == 200 and recorder.calls == [("a2a", None)]


@settings(max_examples=examples(200), deadline=None)
@given(chunks=st.lists(st.binary(max_size=24), max_size=6), ended=st.booleans(), cap=st.integers(0, 80),
       extra=st.lists(st.sampled_from([b"", b"x"]), max_size=3))
def test_the_body_read_keeps_the_cap_and_ends_only_when_the_client_says_so(chunks: list[bytes], ended: bool,
                                                                           cap: int, extra: list[bytes]) -> None:
    """Chunks (empty ones too) then either the last chunk or a disconnect; messages after the end are not read."""
    messages: list[dict[str, Any]] = [{"type": "http.request", "body": c, "more_body": True} for c in chunks]
    messages.append({"type": "http.request", "body": b"", "more_body": False} if ended else {"type": "http.disconnect"})
    messages += [{"type": "http.request", "body": e, "more_body": False} for e in extra]
    queue = list(messages)

    async def receive() -> dict[str, Any]:
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    async def read() -> bytes | int:
        try:
            return await read_body(receive, cap)
        except BodyError as error:
            return error.code

    whole = b"".join(chunks)
    got = asyncio.run(read())
    if len(whole) > cap:
        assert got == -32092
    elif not ended:
        assert got == -32600
    else:
        assert got == whole and len(queue) == len(extra)


def test_a_body_of_exactly_the_cap_passes_and_one_byte_more_is_refused(keys: Keys) -> None:
    guard, recorder, _, audit = recording_guard(keys)
    headers = {"authorization": f"Bearer {mint(keys.rsa, scope='api:write')}", "content-type": "application/json"}
    exact = _CANCEL + b" " * (MAX_BODY - len(_CANCEL))
    for body, declared in ((exact, True), (exact, False), (exact + b" ", True), (exact + b" ", False)):
        sized = {**headers, "content-length": str(len(body))} if declared else headers
        pieces = [body[i:i + 65_536] for i in range(0, len(body), 65_536)]
        messages = [{"type": "http.request", "body": p, "more_body": i < len(pieces) - 1} for i, p in enumerate(pieces)]
        sent = asyncio.run(_drive(guard, _scope("/", sized), messages))
        assert sent[0]["status"] == (200 if body is exact else 413)
    assert recorder.calls == [("a2a", None)] * 2
    assert [e.reason for e in audit.events()] == [None, None, "size", "size"]


@settings(max_examples=examples(60), deadline=None)
@given(lengths=st.lists(st.sampled_from(["0", "5", "-1", "+5", " 5", "5 ", "0x10", "1e3", "٣", str(MAX_BODY),
                                         str(MAX_BODY + 1), "9" * 19, "9" * 20, "0" * 25 + "5", ""]), max_size=3),
       body=st.sampled_from([_CANCEL, b"", b"{}", _CANCEL + b"garbage"]))
def test_content_length_lies_never_reach_a_handler_unjudged_or_a_5xx(keys: Keys, lengths: list[str],
                                                                     body: bytes) -> None:
    guard, recorder, _, audit = recording_guard(keys)
    scope = _scope("/", {"authorization": f"Bearer {mint(keys.rsa, scope='api:write')}"})
    scope["headers"] += [(b"content-length", v.encode()) for v in lengths]
    sent = asyncio.run(_drive(guard, scope, [{"type": "http.request", "body": body}]))
    status = sent[0]["status"]
    assert status < 500 and len(audit.events()) == 1
    good = len(lengths) == 0 or (len(lengths) == 1 and lengths[0].isascii() and lengths[0].isdigit()
                                 and len(lengths[0]) <= 19 and int(lengths[0]) <= MAX_BODY)
    if recorder.calls:  # a malformed body is answered 200 too (as the a2a-sdk does), but never reaches the app
        assert status == 200 and good and body == _CANCEL and recorder.calls == [("a2a", None)]
    else:
        assert audit.events()[0].decision == "deny"


# -- The send wrapper: the app's misbehaviour is audited once, never turned into an unaudited pass ----------------

def test_a_handler_that_misbehaves_after_the_decision_is_audited_exactly_once(keys: Keys) -> None:
    from starlette.applications import Starlette
    from starlette.routing import Route

    from labkit.guard import OAuth2Guard

    _, _, agent, audit = recording_guard(keys)

    class Raw:  # a plain ASGI app per route (Starlette calls a function endpoint with a Request)
        def __init__(self, run: Any) -> None:
            self.run, self.__name__ = run, run.__name__

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            await self.run(scope, receive, send)

    async def twice(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.start", "status": 202, "headers": []})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        await send({"type": "http.response.body", "body": b"b"})
        await send({"type": "http.response.body", "body": b"late"})

    async def raises(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError("boom")

    async def silent(scope: Any, receive: Any, send: Any) -> None:
        return

    async def body_first(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.body", "body": b"x"})

    app = Starlette(routes=[Route(f"/{f.__name__}", Raw(f)) for f in (twice, raises, silent, body_first)])
    guard = OAuth2Guard(app, gate=agent.gate, routes=app.routes, audit=audit, endpoints={})
    token = mint(keys.rsa)
    statuses = []
    for name in ("twice", "raises", "silent", "body_first"):
        headers = {"authorization": f"Bearer {token}", "x-request-id": name}
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any], sent: list[dict[str, Any]] = sent) -> None:
            sent.append(message)

        async def receive() -> dict[str, Any]:
            return {"type": "http.disconnect"}

        try:
            asyncio.run(guard(_scope(f"/{name}", headers, "GET"), receive, send))
        except RuntimeError as error:
            assert name == "raises" and str(error) == "boom"
        statuses.append([m.get("status") for m in sent if m["type"] == "http.response.start"])
    assert statuses == [[201, 202], [200], [], []]
    assert [(e.decision, e.request_id, e.status, e.subject) for e in audit.events()] == [
        ("allow", "twice", 202, "alice"), ("allow", "raises", 200, "alice"), ("allow", "silent", None, "alice"),
        ("allow", "body_first", None, "alice")]
    asyncio.run(_drive(guard, _scope("/twice", {"x-request-id": "anon"}, "GET"), []))
    assert audit.events()[-1].decision == "deny" and audit.total == 5


# -- The audit: every decision once, its own subject, scopes and request id, never the token -----------------------

def test_concurrent_requests_are_each_audited_once_with_their_own_caller(keys: Keys) -> None:
    guard, recorder, _, audit = recording_guard(keys)
    audit._ring = type(audit._ring)(maxlen=10_000)
    people = [(f"user-{n}", ["api:read", "api:write", "admin", "push:read"][n % 4]) for n in range(24)]
    tokens = {sub: mint(keys.rsa, sub=sub, scope=scope) for sub, scope in people}
    bodies = [_CANCEL, b'{"jsonrpc":"2.0","id":2,"method":"tasks/get","params":{"id":"t"}}']

    async def one(n: int, round_: int) -> None:
        sub, _ = people[n % len(people)]
        token = None if n % 7 == 6 else tokens[sub]
        headers = [(b"x-request-id", f"{sub}.{round_}.{n}".encode()), (b"content-type", b"application/json")]
        if token is not None:
            headers.append((b"authorization", f"Bearer {token}".encode()))
        scope = _scope("/", {})
        scope["headers"] = headers
        body = bodies[n % 2]
        await _drive(guard, scope, [{"type": "http.request", "body": body[:9], "more_body": True},
                                    {"type": "http.request", "body": body[9:]}])

    async def run() -> None:
        for round_ in range(3):  # first sight (validated), then the cached verdict and the remembered answer
            await asyncio.gather(*(one(n, round_) for n in range(96)))

    asyncio.run(run())
    events = audit.events()
    assert audit.total == len(events) == 3 * 96
    assert len({e.request_id for e in events}) == len(events)
    scopes = dict(people)
    for event in events:
        sub, _, n = str(event.request_id).split(".")
        if int(n) % 7 == 6:
            assert (event.decision, event.reason, event.subject) == ("deny", "missing_token", None)
            continue
        assert event.subject == sub and event.scopes == (scopes[sub],)
        needs_write = int(n) % 2 == 0
        allowed = scopes[sub] in ("api:write", "admin") if needs_write else scopes[sub] != "push:read"
        assert event.decision == ("allow" if allowed else "deny"), event
    assert len(recorder.calls) == sum(e.decision == "allow" for e in events)
    text = json.dumps([e.__dict__ for e in events], default=str)
    assert not any(token in text or token.split(".")[2] in text for token in tokens.values())


# -- Memory: a principal leaves with its cache entry (no cycle through its remembered answer) ----------------------

def test_ten_times_the_cache_in_tokens_leaves_no_principal_beyond_the_cache(keys: Keys) -> None:
    """Each token seen twice (the second answer from the verdict cache); with the collector off, only what the
    verdict cache holds stays alive: reference counting alone frees the rest. The cache holds 64: 641 tokens
    are ten times that (the 4096-entry issuer memo has its own in ``tests/auth/test_cache_attacks.py``)."""
    from labkit.guard.build import gate_for

    size = 64
    cfg = validate_security_config({"security": {"enabled": True, "type": "oauth2", "oauth2": {
        "validation_strategy": "jwt", "jwt_secret": HMAC_SECRET, "jwt_algorithms": ["HS256"], "jwt_issuer": ISSUER,
        "max_cache_size": size}}})
    gate = gate_for(cfg, clock=lambda: NOW)
    count = 10 * size + 1
    tokens = [mint(keys.hmac, "HS256", jti=f"t-{n}", sub=f"s-{n}", aud=None) for n in range(count)]

    async def run() -> None:
        for token in tokens:
            for _ in range(2):
                decision = await gate.authenticate(token, None)
                assert decision.allowed
        del decision

    gc.collect()
    before = sum(type(o) is Principal for o in gc.get_objects())
    gc.disable()
    try:
        asyncio.run(run())
        alive = sum(type(o) is Principal for o in gc.get_objects())
    finally:
        gc.enable()
    assert len(gate.tenants[None].validator.cache) == size
    assert alive - before <= size + 2, alive - before


# -- Rate limits: every front door's requests count against the one budget ----------------------------------------------------

def _limited_app(keys: Keys, tmp: Path, middleware: list[dict[str, Any]], plugins: list[Any] | None = None) -> Any:
    config = guard_config(keys)
    config["middleware"] = middleware
    if plugins is not None:
        config["plugins"] = plugins
    return create_app(validate_security_config(config), clock=lambda: NOW, sandbox=tmp)


def _rpc(client: httpx.AsyncClient, token: str, method: str, params: dict[str, Any], path: str = "/") -> Any:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    return client.post(path, json=body, headers={"authorization": f"Bearer {token}"})


def test_every_rate_limit_applies(keys: Keys, tmp_path: Path) -> None:
    """A capability's limit (execute and MCP tools/call alike), per principal and per tenant; a call that is no
    capability's is not limited; the refusals are audited as rate limited."""
    limited = [{"name": "rate_limited", "params": {"requests_per_minute": 2}}]  # a local plugin's own override
    app = _limited_app(keys, tmp_path, [], [{"plugin_id": "system_tools", "plugin_type": "local",
                                             "required_scopes": ["api:read"], "middleware": limited}])
    alice, bob = mint(keys.rsa, scope="admin"), mint(keys.rsa, scope="admin", sub="bob")
    acme = mint(keys.ec, "ES256", iss=ISSUER + "acme", scope="admin")
    echo = {"capability": "echo", "arguments": {"text": "x"}}
    tool = {"name": "echo", "arguments": {"text": "x"}}

    async def run() -> list[int]:
        transport = httpx.ASGITransport(app)
        async with (app.starlette.router.lifespan_context(app.starlette),
                    httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client):
            statuses = [(await _rpc(client, alice, "execute", echo)).status_code for _ in range(3)]
            statuses += [(await _rpc(client, bob, "execute", echo)).status_code for _ in range(3)]
            statuses += [(await _rpc(client, acme, "execute", echo, "/t/acme/")).status_code for _ in range(3)]
            statuses += [(await _rpc(client, alice, "capabilities", {})).status_code for _ in range(3)]
            mcp = {"accept": "application/json, text/event-stream"}
            for _ in range(3):
                answer = await client.post("/mcp", headers={"authorization": f"Bearer {bob}", **mcp},
                                           json={"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": tool})
                statuses.append(answer.status_code)
            return statuses

    statuses = asyncio.run(run())
    assert statuses[:12] == [200, 200, 429] * 3 + [200, 200, 200]
    assert statuses[12:] == [429, 429, 429]  # bob's budget is the echo capability's, whatever the front door
    assert [e.reason for e in app.agent.audit.events()].count("rate_limited") == 6


# -- The cached verdict: what a fresh read answers, whatever changes at runtime ----------------------------------

def _presentation(kind: str, token: str) -> tuple[str, Presentation | None]:
    if kind == "bearer":
        return token, None
    proofs = {"bearer+proof": (b"a.b.c",), "dpop": (b"a.b.c",), "dpop-no-proof": (), "dpop-two": (b"a", b"b")}[kind]
    scheme = "bearer" if kind.startswith("bearer") else "dpop"
    return token, Presentation(scheme, proofs, "POST", "http://agent.test/")


_CHANGES = ["none", "require dpop", "unrequire dpop", "new hierarchy", "new policy", "swap tenants", "expire",
            "new tenant object", "clear cache"]


@settings(max_examples=examples(80), deadline=None)
@given(steps=st.lists(st.tuples(st.sampled_from(_CHANGES), st.sampled_from([None, "acme", "globex"]),
                                st.sampled_from(["read", "admin", "bound", "delegated", "expired", "forged",
                                                 "other tenant"]),
                                st.sampled_from(["bearer", "bearer", "bearer+proof", "dpop", "dpop-no-proof",
                                                 "dpop-two"]),
                                st.sampled_from([None, "acme", "globex", "nobody"])), min_size=1, max_size=10))
@example(steps=[("new hierarchy", None, "read", "bearer", None), ("swap tenants", "acme", "admin", "bearer", "acme"),
                ("require dpop", "acme", "read", "bearer+proof", "acme"), ("new policy", "acme", "read", "bearer", "acme"),
                ("new tenant object", "globex", "admin", "bearer", "nobody"), ("clear cache", None, "read", "bearer", None),
                ("expire", "globex", "read", "bearer", "globex")])
def test_the_remembered_answer_follows_every_runtime_change(keys: Keys, steps: list[Any]) -> None:
    """Config changed between requests (DPoP required for one tenant, a new hierarchy or policy, tenants swapped,
    the clock past a token's expiry): the gate answers from its caches what a twin on the same state answers with
    nothing remembered (its verdict caches and issuer memo emptied before every request)."""
    from dataclasses import replace

    from labkit.guard.dpop import DPoPPolicy
    from labkit.scopes import ScopeHierarchy

    tokens = token_kinds(keys)
    now = [float(NOW)]
    fast = _clocked_gate(keys, now)
    plain_twin = _clocked_gate(keys, now)

    async def ask(target: str | None, kind: str, how: str, path_tenant: str | None, label: Any) -> None:
        token = tokens[target, kind]
        assert token is not None
        token, presentation = _presentation(how, token)
        tenant = None if path_tenant == "nobody" else path_tenant
        for _ in range(2):  # first sight (or the cached verdict), then the cached verdict
            got = await fast.authenticate(token, tenant, presentation=presentation)
            for auth in plain_twin.tenants.values():
                auth.validator.cache.clear()  # type: ignore[attr-defined]
            plain_twin._routed.clear()
            want = await plain_twin.authenticate(token, tenant, presentation=presentation)
            assert _view(got) == _view(want), label
            if now[0] > NOW + 3600 + 60:  # every token has expired (past the leeway): no cached verdict answers
                assert not got.allowed, label

    async def run() -> None:
        for change, target, kind, how, path_tenant in steps:
            await ask(target, kind, how, path_tenant, ("before", change, target, kind, how, path_tenant))
            for gate in (fast, plain_twin):
                auth = gate.tenants[target]
                if change in ("require dpop", "unrequire dpop"):
                    assert auth.dpop is not None
                    auth.dpop.required = change == "require dpop"
                elif change == "new hierarchy":
                    auth.hierarchy = ScopeHierarchy({"api:read": ["files:read"], "admin": ["api:write"]})
                elif change == "new policy":
                    auth.dpop = DPoPPolicy(clock=lambda: now[0], required=False)
                elif change == "swap tenants" and target is not None:
                    other = "globex" if target == "acme" else "acme"
                    gate.tenants[target], gate.tenants[other] = (replace(gate.tenants[other], name=target),
                                                                 replace(gate.tenants[target], name=other))
                elif change == "new tenant object":
                    gate.tenants[target] = replace(auth)
                elif change == "clear cache":
                    auth.validator.cache.clear()
            if change == "expire":
                now[0] += 3600 + 120  # past exp and the leeway: the cache entry must not answer
            await ask(target, kind, how, path_tenant, ("after", change, target, kind, how, path_tenant))

    asyncio.run(run())


def _clocked_gate(keys: Keys, now: list[float]) -> Gate:
    from labkit.guard.build import gate_for

    return gate_for(validate_security_config(guard_config(keys)), clock=lambda: now[0])


def _view(decision: Decision) -> tuple[Any, ...]:
    error = decision.error
    return (decision.tenant, decision.principal and decision.principal.subject, decision.effective,
            error and (error.reason, str(error)), decision.fresh, decision.dpop and decision.dpop.algs,
            decision.requirement)


# -- Through the whole guard: DPoP required for one tenant at runtime changes that tenant's answers only -----------

def test_dpop_required_for_one_tenant_at_runtime_changes_only_that_tenant(keys: Keys) -> None:
    """``tasks/cancel`` (api:write) by Bearer: a read token 403, a bound one 401 (RFC 9449 §7.2), admin 200 where the
    hierarchy gives it everything (not globex's); under ``require_dpop`` every Bearer token is 401 with a DPoP
    challenge, and only in the tenant that requires it, first seen and cached alike."""
    from .guard_app import asgi_request

    tokens = token_kinds(keys)
    guard, recorder, agent, audit = recording_guard(keys)
    allowed = {(None, "admin"), ("acme", "admin")}
    required: set[str | None] = set()

    async def run() -> None:
        for flip in (None, "acme", "acme", None, "globex"):
            if flip is not None:
                policy = agent.gate.tenants[flip].dpop
                assert policy is not None
                policy.required = not policy.required
                required.symmetric_difference_update({flip})
            for tenant in (None, "acme", "globex"):
                for kind in ("read", "bound", "admin"):
                    path = (f"/t/{tenant}" if tenant else "") + "/"
                    ran = len(recorder.calls)
                    answer = await asgi_request(guard, "POST", path, body=_CANCEL,
                                                headers={"authorization": f"Bearer {tokens[tenant, kind]}"})
                    reason = audit.events()[-1].reason
                    challenge = answer.headers.get("www-authenticate", "")
                    if tenant in required or kind == "bound":
                        assert (answer.status_code, reason) == (401, "dpop_required"), (flip, tenant, kind)
                        assert challenge.startswith("DPoP ") and 'error="invalid_token"' in challenge
                    elif (tenant, kind) in allowed:
                        assert (answer.status_code, reason) == (200, None), (flip, tenant, kind)
                    else:
                        assert (answer.status_code, reason) == (403, "insufficient_scope"), (flip, tenant, kind)
                        assert challenge.startswith("Bearer ") and 'scope="api:write"' in challenge
                    assert len(recorder.calls) - ran == (answer.status_code == 200)

    asyncio.run(run())
