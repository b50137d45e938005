"""The fast paths (issue #18) answer exactly what the plain code answers: routing memo, credentials, audit
events, decisions, the validator's cache."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.responses import PlainTextResponse
from starlette.routing import Host, Mount, Route, Router, WebSocketRoute

from labkit.audit import AuditEvent
from labkit.auth import Principal
from labkit.auth.cache import TTLCache, token_key
from labkit.errors import AuthError, Reason
from labkit.guard.decision import Decision, _decision
from labkit.guard.dpop import DPoPChallenge
from labkit.guard.policy import Requirement
from labkit.guard.rfc6750 import BEARER_GRAMMAR, DPOP_GRAMMAR, MAX_AUTHORIZATION, credentials
from labkit.guard.routing import MEMO_PATH, RouteMemo, resolve
from labkit.scopes import EffectiveScopes

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


_TEXT = st.one_of(st.none(), st.text(max_size=140), st.sampled_from(["\x1b[2J", "a\r\nb", "\u202eevil", "\ud800",
                                                                     "x" * 200]))


@settings(max_examples=examples(300))
@given(subject=_TEXT, client=_TEXT, scopes=st.frozensets(st.text(max_size=20), max_size=40),
       tenant=_TEXT, fingerprint=st.text(max_size=20), notes=st.lists(st.text(max_size=10), max_size=3),
       context=st.dictionaries(st.sampled_from(["endpoint", "method", "plugin", "tenant", "request_id", "status",
                                                "latency_ms", "detail"]),
                               st.one_of(_TEXT, st.integers(0, 599)), max_size=8))
def test_allow_events_equal_the_constructors(subject: str | None, client: str | None, scopes: frozenset[str],
                                             tenant: str | None, fingerprint: str, notes: list[str],
                                             context: dict[str, Any]) -> None:
    principal = Principal(subject=subject, scopes=scopes, client_id=client, tenant=tenant, fingerprint=fingerprint,
                          notes=tuple(notes))
    fields: dict[str, Any] = {"subject": subject, "client": client, "scopes": tuple(sorted(scopes)),
                              "strategy": "jwt", "tenant": tenant, "fingerprint": fingerprint,
                              "detail": "; ".join(notes)}
    fields.update({k: v for k, v in context.items() if v is not None or k not in fields})
    for _ in range(2):  # the second from the per-principal memo
        event = AuditEvent.allow(principal, **context)
        assert event == AuditEvent(decision="allow", **{**fields, "time": event.time})
        assert set(vars(event)) == set(AuditEvent.__dataclass_fields__)


def test_allow_events_refuse_what_the_constructor_refuses() -> None:
    principal = Principal(subject="alice", scopes=frozenset({"a"}))
    with pytest.raises(TypeError):
        AuditEvent.allow(principal, decision="deny")
    with pytest.raises(TypeError):
        AuditEvent.allow(principal, unknown="x")
    assert AuditEvent.allow(principal, scopes=("b",)).scopes == ("b",)


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


@settings(max_examples=examples(100))
@given(subject=_TEXT, scopes=st.frozensets(st.text(max_size=20), max_size=40),
       context=st.dictionaries(st.sampled_from(["endpoint", "method", "plugin", "tenant", "request_id", "status",
                                                "latency_ms", "detail"]),
                               st.one_of(_TEXT, st.integers(0, 599)), max_size=8),
       actors=st.lists(st.one_of(_TEXT.filter(lambda t: t is not None), st.just("\x1b[2J" + "a" * 200)),
                       max_size=10))
def test_allow_events_noted_now_and_built_on_read_equal_the_eager_ones(subject: str | None, scopes: frozenset[str],
                                                                       context: dict[str, Any],
                                                                       actors: list[str]) -> None:
    import dataclasses
    import json

    from labkit.audit import AuditLog

    act: Any = None
    for actor in reversed(actors):
        act = {"sub": actor, **({"act": act} if act else {})}
    principal = Principal(subject=subject, scopes=scopes, fingerprint="0123456789ab",
                          claims={"act": act} if act else {})
    # the plain constructor, no memo and no fast path: what every allow event must equal
    given_fields = {**AuditEvent.who(principal), "detail": ""}
    given_fields.update({k: v for k, v in context.items() if v is not None or k not in given_fields})
    reference = AuditEvent(decision="allow", **given_fields)
    fast = AuditEvent.allow(principal, **context)
    assert dataclasses.replace(fast, time=0) == dataclasses.replace(reference, time=0)
    lazy, eager = AuditLog(capacity=3), AuditLog(capacity=3)
    for _ in range(4):  # past the capacity: the ring drops the oldest, built or not
        lazy.record_allow(principal, **context)
        eager.record(AuditEvent.allow(principal, **context))
    assert len(lazy) == 3 and lazy.total == 4
    built = lazy.events()
    assert [dataclasses.replace(e, time=0) for e in built] == [dataclasses.replace(e, time=0) for e in eager.events()]
    assert lazy.events() == built and all(a is b for a, b in zip(lazy.events(), built, strict=True))
    for event in built:
        assert json.loads(event.to_json()) == json.loads(json.dumps(dataclasses.asdict(event)))
        assert event.to_json() == json.dumps(dataclasses.asdict(event), ensure_ascii=False, separators=(",", ":"))


def test_allow_events_are_built_at_once_when_a_sink_needs_them() -> None:
    from labkit.audit import AuditLog

    log = AuditLog()
    seen: list[AuditEvent] = []
    log.sinks.append(seen.append)
    principal = Principal(subject="alice", scopes=frozenset({"a"}))
    log.record_allow(principal, endpoint="/", status=200)
    assert [e.subject for e in seen] == ["alice"] and log.events() == seen
    with pytest.raises(TypeError):
        log.record_allow(principal, unknown="x")  # refused at once, as the constructor refuses it
