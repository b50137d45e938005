"""Any ``DPoP`` header value, through every front door (the README's guard, FastAPI, Starlette and MCP apps), with a
valid DPoP-bound token: never 5xx, never the handler, nothing spent in the replay cache, bounded work.

The values: huge ones (up to 1 MiB), bytes that are no JWS, non-UTF-8 and control bytes, JWS-shaped values whose
header says the wrong ``typ``, ``alg`` ``none``/``HS256``/garbage, a ``jwk`` with private or symmetric parts or
nested garbage, deeply nested JSON, and proofs really signed by the bound key but with claims that miss a check.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey

from labkit.audit import AuditLog

from ..helpers import Keys, examples
from .test_integrations import KINDS
from .test_integrations_dpop import BASE, KEY, bound_token, readme_apps, target

pytestmark = pytest.mark.anyio

OTHER = ECKey.generate_key("P-256")


def b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def compact(header: Any, claims: Any, signature: bytes) -> bytes:
    """A JWS-shaped value from any JSON header and claims (unsigned: the signature is whatever we are given)."""
    def part(value: Any) -> bytes:
        return b64(value if isinstance(value, bytes) else json.dumps(value).encode())

    return b".".join([part(header), part(claims), b64(signature)])


def nested(depth: int) -> Any:
    value: Any = "x"
    for i in range(depth):
        value = [value] if i % 2 else {"a": value}
    return value


def deep(depth: int) -> bytes:
    """JSON text nested ``depth`` levels (deeper than Python's own recursion limit when asked)."""
    return b'{"typ":"dpop+jwt","alg":"ES256","jwk":' + b'{"a":[' * depth + b"1" + b"]}" * depth + b"}"


_text = st.text(max_size=40)
_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | _text,
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
                     max_leaves=12)
_jwks = st.sampled_from([
    KEY.as_dict(private=False), KEY.as_dict(private=True), OTHER.as_dict(private=False),
    OctKey.generate_key(256).as_dict(private=True), {"kty": "EC"}, {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
    {"kty": "OKP", "crv": "X25519", "x": "AAAA"}, "not an object", None,
]) | _json | st.integers(1, 300).map(nested)
_headers = st.fixed_dictionaries({}, optional={
    "typ": st.sampled_from(["dpop+jwt", "JWT", "DPOP+JWT", "at+jwt", "", None]) | _json,
    "alg": st.sampled_from(["none", "None", "HS256", "ES256", "RS256", "EdDSA", "", None]) | _json,
    "jwk": _jwks,
    "jku": st.just("https://evil.example/jwks"), "x5c": st.lists(_text, max_size=2), "crit": st.just(["exp"]),
    "kid": _text, "b64": st.booleans(),
})
_claims = st.fixed_dictionaries({}, optional={
    "jti": _json, "htm": st.sampled_from(["GET", "POST", "get", ""]) | _json,
    "htu": st.sampled_from([BASE + "/items", BASE + "/mcp", "http://evil.example/items", ""]) | _json,
    "iat": st.integers() | st.floats(allow_nan=True, allow_infinity=True) | _json,
    "ath": _text, "nonce": _json,
}) | _json


@st.composite
def signed_by_the_bound_key(draw: st.DrawFn) -> bytes:
    """A proof the bound key really signed, with claims drawn at random (an ``ath`` of no token ever presented)."""
    claims = draw(st.dictionaries(st.sampled_from(["jti", "htm", "htu", "iat", "nonce"]), _json, max_size=5))
    claims.update(draw(st.fixed_dictionaries({"ath": _text})))
    header = {"typ": draw(st.sampled_from(["dpop+jwt", "JWT"])), "alg": "ES256", "jwk": KEY.as_dict(private=False)}
    return jwt.encode(header, claims, KEY, algorithms=["ES256"]).encode()


_values = st.one_of(
    st.builds(compact, _headers, _claims, st.binary(max_size=80)),
    signed_by_the_bound_key(),
    st.binary(max_size=600),  # no JWS at all: NUL, CR/LF, non-UTF-8, anything
    st.integers(8_000, 1 << 20).map(lambda n: b"e" * n),  # huge
    st.integers(8_000, 1 << 20).map(lambda n: compact({"typ": "dpop+jwt", "alg": "ES256"}, {}, b"s" * n)),
    st.integers(100, 50_000).map(lambda depth: compact(deep(depth), deep(depth), b"s")),  # deep nesting
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
)


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> dict[str, dict[str, Any]]:
    return readme_apps(tmp_path_factory.mktemp("dpop-fuzz"), keys)


async def raw_call(app: Any, kind: str, headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
    """One request straight into the ASGI app (any header bytes, as a server would hand them over)."""
    method, path = target(kind)
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).encode() if kind == "mcp" else b""
    extra = [(b"accept", b"application/json, text/event-stream"), (b"content-type", b"application/json")]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
             "headers": [*headers, *(extra if kind == "mcp" else [])], "server": ("127.0.0.1", 8000),
             "client": ("127.0.0.1", 5000)}
    sent = [body]
    answer: dict[str, Any] = {"status": 0, "body": b""}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": sent.pop() if sent else b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return answer["status"], answer["body"]


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow, HealthCheck.data_too_large])
@given(value=_values, scheme=st.sampled_from([b"DPoP", b"dpop", b"Bearer"]), twice=st.booleans())
async def test_any_dpop_header_is_refused_without_reaching_the_handler(apps: dict[str, dict[str, Any]], keys: Keys,
                                                                       kind: str, value: bytes, scheme: bytes,
                                                                       twice: bool) -> None:
    namespace = apps[kind]
    audit: AuditLog = namespace["audit"]
    token = bound_token(keys).encode()
    proofs = [(b"dpop", value)] * (2 if twice else 1)
    policy = (namespace.get("gate") or namespace["verifier"].gate).dpop_policy(None)
    spent = len(policy.replay)
    before = audit.total
    started = time.perf_counter()
    status, body = await raw_call(namespace["app"], kind, [(b"authorization", scheme + b" " + token), *proofs])
    assert status == 401, (status, body[:200])
    assert b"hello" not in body and b"tools" not in body  # the handler never ran
    assert len(policy.replay) == spent  # a refused proof spends nothing
    events = audit.events()[before - audit.total:] if audit.total > before else []
    assert events and all(e.decision == "deny" for e in events), events
    assert all(e.reason in ("dpop_proof", "dpop_required") for e in events), [e.reason for e in events]
    assert time.perf_counter() - started < 30  # bounded work, even for 1 MiB (a generous bound, never tight)
