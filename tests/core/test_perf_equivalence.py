"""The fast paths (issue #18) answer exactly what the plain code answers: routing memo, credentials, audit
events, decisions, the validator's cache."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.responses import PlainTextResponse
from starlette.routing import Host, Mount, Route, Router, WebSocketRoute

from labkit.auth import Principal
from labkit.auth.cache import TTLCache, token_key
from labkit.errors import AuthError, Reason
from labkit.guard.decision import Decision, _decision
from labkit.guard.dpop import DPoPChallenge
from labkit.guard.policy import PluginScopes, Requirement
from labkit.guard.rfc6750 import BEARER_GRAMMAR, DPOP_GRAMMAR, MAX_AUTHORIZATION, credentials
from labkit.guard.routing import MEMO_PATH, RouteMemo, resolve
from labkit.scopes import EffectiveScopes, ScopeHierarchy

from ..helpers import examples


async def _ok(request: Any) -> PlainTextResponse:
    return PlainTextResponse("ok")


def _tree() -> list[Any]:
    """The sample agent's route shapes: root routes, the same under ``Mount("/t/{tenant}")``, a websocket."""
    per_tenant = [
        Route("/", _ok, methods=["POST"], name="a2a"),
        Route("/mcp", _ok, methods=["GET", "POST", "DELETE"], name="mcp"),
        Route("/.well-known/agent-card.json", _ok, methods=["GET"], name="agent_card"),
        Route("/items/{item_id:int}", _ok, methods=["GET"], name="item"),
        Route("/files/{rest:path}", _ok, name="files"),
        WebSocketRoute("/ws", _ok, name="ws"),
    ]
    return [*per_tenant, Route("/stub/records", _ok, methods=["POST"], name="stub"),
            Mount("/t/{tenant}", routes=per_tenant)]


SEGMENTS = ["t", "acme", "globex", "", ".", "..", "%2e%2e", "%2F", "mcp", "MCP", ".well-known", "agent-card.json",
            "items", "7", "-1", "x", "files", "a/b", "ws", "stub", "records", "T", "é", "\x00"]
_MEMO = RouteMemo(_tree())  # shared across examples: answers from the memo are compared too


@settings(max_examples=examples(400), deadline=None)
@given(segments=st.lists(st.sampled_from(SEGMENTS), max_size=7), trailing=st.booleans(),
       kind=st.sampled_from(["http", "websocket"]),
       method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "get"]),
       root_path=st.sampled_from(["", "/t/acme", "/prefix", "/"]), prefixed=st.booleans())
def test_the_route_memo_answers_what_the_routes_answer(segments: list[str], trailing: bool, kind: str, method: str,
                                                      root_path: str, prefixed: bool) -> None:
    path = (root_path if prefixed else "") + "/" + "/".join(segments) + ("/" if trailing and segments else "")
    scope: dict[str, Any] = {"type": kind, "path": path, "root_path": root_path}
    if kind == "http":
        scope["method"] = method
    expected = resolve(_MEMO.routes, scope)
    assert _MEMO.resolve(dict(scope)) == expected
    assert _MEMO.resolve(dict(scope)) == expected  # the second answer comes from the memo


def test_the_route_memo_sees_a_changed_tree_and_stays_bounded() -> None:
    routes = _tree()
    memo = RouteMemo(routes, size=8)
    scope = {"type": "http", "method": "GET", "path": "/late", "root_path": ""}
    assert memo.resolve(scope) is None
    routes.insert(0, Route("/late", _ok, name="late"))  # added after the guard was built
    found = memo.resolve(scope)
    assert found is not None and found.name == "late"
    inner = routes[-1].routes
    inner.append(Route("/later", _ok, name="later"))  # inside the mount
    found = memo.resolve({**scope, "path": "/t/acme/later"})
    assert found is not None and found.name == "later" and found.path_params == {"tenant": "acme"}
    for n in range(50):
        memo.resolve({**scope, "path": f"/items/{n}"})
    assert len(memo._memo) <= 8
    memo.resolve({**scope, "path": "/" + "x" * (MEMO_PATH + 1)})  # long paths are resolved, never remembered
    assert all(len(key[3]) <= MEMO_PATH for key in memo._memo)


def test_the_route_memo_is_off_where_matching_reads_more_than_the_path() -> None:
    hosted = [Host("api.example", Router([Route("/", _ok, name="api")])), Route("/", _ok, name="root")]
    memo = RouteMemo(hosted)
    for host in (b"api.example", b"other.example"):
        scope = {"type": "http", "method": "GET", "path": "/", "root_path": "", "headers": [(b"host", host)]}
        assert memo.resolve(scope) == resolve(hosted, scope)
    assert not memo._memo
    plain = RouteMemo(_tree())
    scope = {"type": "http", "method": "GET", "path": "/mcp", "root_path": "", "path_params": {"outer": "1"}}
    found = plain.resolve(scope)
    assert found == resolve(plain.routes, scope) and found is not None and found.path_params == {"outer": "1"}
    assert not plain._memo  # a scope with path parameters of its own is never remembered


_HEADER = st.one_of(
    st.binary(max_size=40),
    st.builds(lambda scheme, spaces, token, pad, tail: scheme + spaces + token + pad + tail,
              st.sampled_from([b"Bearer", b"bearer", b"BEARER", b"BeArEr", b"DPoP", b"dpop", b"DPOP", b"Basic",
                               b"Bearer\t", b"Bearerx", b"", b"B\xc3\xa9arer"]),
              st.sampled_from([b"", b" ", b"  ", b"\t", b" \t"]),
              st.text(alphabet="ABCxyz019-._~+/=! \t,\"\x00\x7f\u00e9", max_size=30).map(
                  lambda text: text.encode("utf-8")),
              st.sampled_from([b"", b"=", b"==", b"= ", b"=a"]),
              st.sampled_from([b"", b" ", b"  ", b"\n", b"\xff"]))
)


def _reference(values: list[bytes]) -> tuple[str, str] | None:
    if len(values) != 1 or len(values[0]) > MAX_AUTHORIZATION:
        return None
    try:
        header = values[0].decode("ascii")
    except UnicodeDecodeError:
        return None
    for scheme, grammar in (("bearer", BEARER_GRAMMAR), ("dpop", DPOP_GRAMMAR)):
        match = grammar.fullmatch(header)
        if match:
            return scheme, match.group(1)
    return None


@settings(max_examples=examples(600))
@given(st.lists(_HEADER, min_size=0, max_size=2))
def test_credentials_parse_exactly_the_rfc6750_grammar(values: list[bytes]) -> None:
    assert credentials(values) == _reference(values)
    assert credentials(iter(values)) == _reference(values)


def test_credentials_at_the_size_limit() -> None:
    token = b"a" * (MAX_AUTHORIZATION - 7)
    assert credentials([b"Bearer " + token]) == ("bearer", token.decode())
    assert credentials([b"Bearer " + token + b"a"]) is None


def test_decisions_filled_in_one_step_equal_the_constructors() -> None:
    principal = Principal(subject="alice", scopes=frozenset({"a"}))
    effective = EffectiveScopes({"a"})
    requirement = Requirement(("a",), "x")
    for args in ((requirement, "acme", principal, effective, None, True, DPoPChallenge()),
                 (requirement, None, None, None, AuthError(Reason.EXPIRED, "old"), False, None)):
        fast = _decision(*args)
        assert fast == Decision(*args[:5], fresh=args[5], dpop=args[6])
        assert set(vars(fast)) == set(Decision.__dataclass_fields__)
        assert fast.refuse(AuthError(Reason.RATE_LIMITED, "x"), retry_after=3).retry_after == 3


def test_the_cache_never_serves_an_expired_entry_and_counts() -> None:
    now = [100.0]
    cache: TTLCache[str] = TTLCache(4, lambda: now[0])
    key = token_key("a.b.c")
    cache.put(key, "principal", 110.0)
    assert cache.get(key) == "principal" and cache.hits == 1
    now[0] = 109.999
    assert cache.get(key) == "principal"
    now[0] = 110.0
    assert cache.get(key) is None and cache.misses == 1 and len(cache) == 0
    for n in range(10):
        cache.put(token_key(str(n)), str(n), 200.0)
    assert len(cache) == 4 and cache.get(token_key("9")) == "9" and cache.get(token_key("0")) is None


def test_a_cached_validation_is_keyed_by_the_tokens_sha256() -> None:
    from labkit.auth.claims import ClaimPolicy
    from labkit.auth.jwt import JWTValidator, StaticKeys
    from labkit.auth.keys import KeySet

    validator = JWTValidator(["HS256"], StaticKeys(KeySet.from_jwks({"keys": []})), ClaimPolicy(issuers=("i",)))
    principal = Principal(subject="alice", scopes=frozenset())
    validator.cache.put(token_key("x.y.z"), principal, validator.clock() + 60)
    assert asyncio.run(validator.validate("x.y.z")) is principal
    assert all(isinstance(key, bytes) and len(key) == 32 for key in validator.cache._data)


_NAMES = st.sampled_from([b"authorization", b"Authorization", b"dpop", b"DPoP", b"content-length", b"x-request-id",
                          b"X-Request-ID", b"x-request-ie", b"host", b"accept"])
_VALUES = st.sampled_from([b"Bearer abc.def.ghi", b"bearer  x", b"DPoP abc", b"dpop abc.def", b"Basic x", b"",
                           b"12", b"-1", b"0x10", b"req-1", b"a" * 70, b"bad id", b"proof.jwt.here", b"\xff"])


@settings(max_examples=examples(400))
@given(headers=st.lists(st.tuples(_NAMES, _VALUES), max_size=6), method=st.sampled_from(["GET", "POST"]))
def test_the_guards_one_header_pass_reads_what_each_reader_reads(headers: list[tuple[bytes, bytes]],
                                                                  method: str) -> None:
    import re

    from labkit.guard.asgi import _Headers
    from labkit.guard.dpop import presented
    from labkit.guard.jsonrpc import content_length

    scope = {"type": "http", "method": method, "scheme": "http", "path": "/", "raw_path": b"/",
             "server": ("127.0.0.1", 8000), "headers": headers}
    read = _Headers(headers)
    token, presentation = read.presented(scope, None)
    expected_token, expected = presented(scope, None)
    assert token == expected_token
    if presentation is None:  # only when the reference says Bearer without a proof
        assert expected.scheme == "bearer" and expected.proofs == ()
    else:
        assert presentation == expected
    assert content_length(read.lengths) == content_length(headers)
    ids = [v for k, v in headers if k.lower() == b"x-request-id"]
    valid = len(ids) == 1 and re.fullmatch(rb"[A-Za-z0-9._:\-]{1,64}", ids[0])
    assert read.request_id() == (ids[0].decode("ascii") if valid else None)


# -- s3-guard: the guard's answers without waiting (Gate.authenticate_now / decide_now), its body read, its
#    requirement memo, its audit note; each held to the plain code it replaced (``plain_gate``: the reference).

from .plain_gate import plain_authenticate as _plain_authenticate  # noqa: E402 - this block's own imports
from .plain_gate import plain_decide as _plain_decide  # noqa: E402


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
    """Two gates from the guard tests' three-tenant configuration (fixed clock): one per path, same state."""
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


@settings(max_examples=examples(150), deadline=None)
@given(calls=st.lists(st.tuples(st.integers(0, 9), st.one_of(st.just(-1), st.integers(0, 400)),
                                st.sampled_from([None, "acme", "globex", "x"]),
                                st.booleans(), st.sampled_from(["none", "none", "bearer+proof", "dpop", "dpop-none"]),
                                st.booleans()), min_size=1, max_size=8),
       required=st.booleans())
def test_authenticate_now_answers_what_the_plain_authenticate_answers(keys: Any, calls: list[Any],
                                                                      required: bool) -> None:
    # first-seen and repeated tokens, one byte changed or not, every tenant, fresh or not, every presentation
    fast_gate, plain_gate = _gates(keys, required)
    tokens = _tokens(keys)

    async def run() -> None:
        for index, flip, tenant, fresh, kind, dpop_checked in calls:
            token = tokens[index]
            if 0 <= flip < len(token):
                token = token[:flip] + ("A" if token[flip] != "A" else "B") + token[flip + 1:]
            presentation = _presentation(kind)
            now = fast_gate.authenticate_now(token, tenant, fresh=fresh, presentation=presentation,
                                             dpop_checked=dpop_checked)
            fast = now if isinstance(now, Decision) else await now
            plain = await _plain_authenticate(plain_gate, token, tenant, fresh, presentation, dpop_checked)
            _same(fast, plain)
            again = await fast_gate.authenticate(token, tenant, fresh=fresh, presentation=presentation,
                                                 dpop_checked=dpop_checked)
            _same(again, await _plain_authenticate(plain_gate, token, tenant, fresh, presentation, dpop_checked))
        assert fast_gate.authenticate_now(None, None).reason is Reason.MISSING_TOKEN  # type: ignore[union-attr]

    asyncio.run(run())


def test_a_remembered_bearer_answer_follows_the_policy_and_the_tenant(keys: Any) -> None:
    fast_gate, plain_gate = _gates(keys)
    token = _tokens(keys)[0]

    async def both() -> tuple[Decision, Decision]:
        now = fast_gate.authenticate_now(token, None)
        fast = now if isinstance(now, Decision) else await now
        return fast, await _plain_authenticate(plain_gate, token, None, False, None, False)

    first = asyncio.run(both())
    assert first[0].allowed
    remembered = fast_gate.authenticate_now(token, None)  # answered at once from the memo (its scopes, no cycle)
    assert isinstance(remembered, Decision) and remembered == first[0] and remembered.effective is first[0].effective
    for gate in (fast_gate, plain_gate):
        gate.tenants[None].dpop.required = True  # turned on after the answer was remembered
    fast, plain = asyncio.run(both())
    _same(fast, plain)
    assert fast.reason is Reason.DPOP_REQUIRED
    for gate in (fast_gate, plain_gate):
        gate.tenants[None].dpop.required = False
        gate.tenants[None].hierarchy = ScopeHierarchy({"api:read": ["files:read"]})  # a new hierarchy
    fast, plain = asyncio.run(both())
    _same(fast, plain)
    assert fast.effective is not None and "files:read" in fast.effective


_REQUIREMENTS = [Requirement(), Requirement(("api:read",), "a"), Requirement(("api:write", "push:read"), "b"),
                 Requirement(("files:read",), "c", plugin="files", capability="read_file"),
                 Requirement(("api:read",), "d", plugin="system_tools", capability="echo"),
                 Requirement((), "e", invalid="the body names another tenant"),
                 Requirement(("api:read",), "f", fresh=True), Requirement(("admin",), "g")]


@settings(max_examples=examples(150), deadline=None)
@given(calls=st.lists(st.tuples(st.integers(0, 9), st.integers(0, len(_REQUIREMENTS) - 1),
                                st.sampled_from([None, "acme"]), st.sampled_from(["none", "dpop"])),
                      min_size=1, max_size=6),
       admit=st.sampled_from(["none", "open", "wait", "zero", "async-open", "async-wait"]))
def test_decide_now_answers_what_the_plain_decide_answers(keys: Any, calls: list[Any], admit: str) -> None:
    async def later(value: float | None) -> float | None:
        return value

    def admitting(principal: Principal, requirement: Requirement) -> Any:
        if admit.startswith("async"):
            return later(None if admit == "async-open" else 7.2)
        return {"open": None, "wait": 2.5, "zero": 0}[admit]

    fast_gate, plain_gate = _gates(keys, admit=None if admit == "none" else admitting)
    tokens = _tokens(keys)

    async def run() -> None:
        for index, which, tenant, kind in calls:
            token, requirement, presentation = tokens[index], _REQUIREMENTS[which], _presentation(kind)
            found = await fast_gate.authenticate(token, tenant, presentation=presentation)
            plain_found = await _plain_authenticate(plain_gate, token, tenant, False, presentation, False)
            judged = fast_gate.decide_now(token, requirement, found.tenant, authenticated=found,
                                          presentation=presentation)
            fast = judged if isinstance(judged, Decision) else await judged
            _same(fast, await _plain_decide(plain_gate, token, requirement, plain_found.tenant, plain_found,
                                            presentation))
            whole = await fast_gate.decide(token, requirement, tenant, presentation=presentation)
            _same(whole, await _plain_decide(plain_gate, token, requirement, tenant, None, presentation))

    asyncio.run(run())


@settings(max_examples=examples(300), deadline=None)
@given(chunks=st.lists(st.tuples(st.sampled_from(["http.request", "http.disconnect", "other"]),
                                 st.binary(max_size=40), st.booleans(), st.booleans()), max_size=6),
       cap=st.integers(0, 120))
def test_the_guards_body_read_answers_what_the_bounded_reader_answers(chunks: list[Any], cap: int) -> None:
    from collections.abc import AsyncIterator

    from labkit._json import BodyTooLargeError, read_bounded
    from labkit.guard.jsonrpc import BodyError, read_body

    def receiver() -> Any:
        messages = [{"type": kind, **({"body": body} if has_body else {}), "more_body": more}
                    for kind, body, has_body, more in chunks]

        async def receive() -> dict[str, Any]:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        return receive

    async def plain() -> bytes | int:
        async def pieces(receive: Any) -> AsyncIterator[bytes]:  # the async generator it replaced (bb698ea)
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ConnectionError  # s3-attack2: a body that never ended is refused (RFC 9112 §8)
                yield message.get("body", b"")
                if not message.get("more_body", False):
                    return

        try:
            return await read_bounded(pieces(receiver()), cap)
        except BodyTooLargeError:
            return -32092
        except ConnectionError:
            return -32600

    async def fast() -> bytes | int:
        try:
            return await read_body(receiver(), cap)
        except BodyError as error:
            return error.code

    assert asyncio.run(fast()) == asyncio.run(plain())


@settings(max_examples=examples(200))
@given(body=st.one_of(st.sampled_from([b'{"jsonrpc":"2.0","id":1,"method":"capabilities"}', b'{"id":"x","result":1}',
                                       b'{"method":"m","params":{"a":[1,2]},"id":null}', b"[]", b"{}", b"1"]),
                      st.binary(max_size=30)))
def test_parsed_calls_equal_the_constructors(body: bytes) -> None:
    from labkit.guard.jsonrpc import BodyError, RpcCall, parse_call, parse_json

    try:
        call = parse_call(body)
    except BodyError:
        return
    data = parse_json(body)
    assert call == RpcCall(data.get("id"), data.get("method"), data.get("params"), data)
    assert set(vars(call)) == set(RpcCall.__dataclass_fields__)
    assert hash(call.id) == hash(data.get("id"))


def _plain_for_method(policy: Any, method: str | None, params: Any) -> Requirement:
    """``EndpointPolicy.for_method`` as it was before the memo (bb698ea)."""
    need = policy.method_scopes.get(method or "")
    if isinstance(need, PluginScopes):
        plugin = need.plugin_id
        requirement = Requirement(policy.plugin_scopes.get(plugin, ()), str(method), plugin=plugin)
    else:
        requirement = Requirement(need or (), str(method or ""))
    for effect in policy.effects.get(method or "", ()):
        if effect.present(params):
            requirement = requirement.plus(effect.scopes)
    return requirement


_METHODS = ["capabilities", "message/send", "tasks/get", "tasks/cancel", "unknown", "", None, "execute"]


@settings(max_examples=examples(200), deadline=None)
@given(steps=st.lists(st.one_of(
    st.tuples(st.just("call"), st.sampled_from(_METHODS),
              st.sampled_from([None, {}, {"configuration": {"pushNotificationConfig": {"url": "x"}}}])),
    st.tuples(st.just("plugin"), st.sampled_from(["system_tools", "files"]),
              st.sampled_from([(), ("api:read",), ("admin", "x:y")])),
    st.tuples(st.just("method"), st.sampled_from(_METHODS[:5]),
              st.sampled_from([None, ("api:read",), PluginScopes("files"), PluginScopes("system_tools")])),
    st.tuples(st.just("capability"), st.sampled_from(["echo", "read_file"]), st.sampled_from(["a", "b"]))),
    max_size=12))
def test_requirements_remembered_per_method_follow_the_tables(steps: list[Any]) -> None:
    # the tables change under the memo (in place): every answer still equals the plain computation
    from labkit.guard.policy import Capability, Effect, EndpointPolicy

    capabilities = {"echo": Capability("echo", "system_tools", ("api:read",)),
                    "read_file": Capability("read_file", "files", ("files:read",), tool="read_file")}
    policy = EndpointPolicy(capabilities, {"system_tools": ("api:read",), "files": ("files:read",)},
                            {"capabilities": None, "message/send": PluginScopes("system_tools"), "tasks/get": ("api:read",)},
                            {"message/send": (Effect(("configuration", "pushNotificationConfig"), ("push:write",)),)})
    for kind, first, second in steps:
        if kind == "call":
            assert policy.for_method(first, second) == _plain_for_method(policy, first, second)
        elif kind == "plugin":
            policy.plugin_scopes[first] = second
        elif kind == "method":
            policy.method_scopes[first] = second  # type: ignore[index]
        else:
            capability = capabilities[first]
            if second == "b":
                capability = Capability(capability.capability_id, capability.plugin_id, ("other:scope",))
                capabilities[first] = capability
            plain = Requirement(capability.scopes, f"execute:{first}", capability.plugin_id, capability.capability_id,
                                capability.fresh)
            assert policy.for_capability(capability, f"execute:{first}") == plain
        for method in _METHODS:
            assert policy.for_method(method, {}) == _plain_for_method(policy, method, {})


def test_the_audit_note_equals_record_allow_and_sorted_scopes_equal_sorted() -> None:
    import dataclasses

    from labkit.audit import AuditLog
    from labkit.guard.asgi import GuardContext, _sorted_scopes

    principal = Principal(subject="alice", scopes=frozenset({"b", "a"}), fingerprint="0123456789ab")
    context = {"endpoint": "/", "method": "capabilities", "plugin": None, "tenant": None, "status": 200,
               "latency_ms": 0.5, "request_id": "r-1"}
    noted, recorded = AuditLog(), AuditLog()
    noted.note_allow(principal, dict(context))
    recorded.record_allow(principal, **context)
    assert [dataclasses.replace(e, time=0) for e in noted.events()] == \
        [dataclasses.replace(e, time=0) for e in recorded.events()]
    effective = EffectiveScopes({"z", "a", "m"})
    assert _sorted_scopes(effective) == tuple(sorted(effective)) and _sorted_scopes(effective) is _sorted_scopes(effective)
    assert effective == EffectiveScopes({"z", "a", "m"})  # the memo changes nothing the set compares
    one, two = GuardContext(None), GuardContext("acme", "a2a")
    assert one.timings == {} and one.timings is not two.timings and two.requirement == Requirement()
    assert "tenant='acme'" in repr(two) and two.rpc_method is None
