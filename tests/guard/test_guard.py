"""The guard in process (httpx.ASGITransport, no sockets): the table, deny by default, routing, bodies, effects."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labkit.errors import Reason
from labkit.guard import bearer_token
from labkit.guard.jsonrpc import BodyError, parse_call
from labkit.guard.rfc6750 import OUTCOMES, challenge

from ..helpers import ISSUER, Keys, examples, mint
from .guard_app import PUBLIC, Answer, asgi_request, recording_guard


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def request(app: Any, method: str, path: str, *, token: str | None = None, body: Any = None,
                  raw: bytes | None = None, headers: dict[str, str] | None = None, root_path: str = "") -> Answer:
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    content = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
    sent.setdefault("content-length", str(len(content)))
    return await asgi_request(app, method, path, headers=sent, body=content, root_path=root_path)


def rpc(method: str, params: Any = None, rpc_id: Any = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rpc_id, "method": method, "params": params if params is not None else {}}


@pytest.fixture(scope="module")
def guarded(keys: Keys) -> Any:
    return recording_guard(keys)


def root_token(keys: Keys, scope: str = "api:read", **claims: Any) -> str:
    return mint(keys.rsa, scope=scope, **claims)


def acme_token(keys: Keys, scope: str = "api:read") -> str:
    return mint(keys.ec, "ES256", iss=ISSUER + "acme", scope=scope)


# -- the one table ---------------------------------------------------------------------------------

@pytest.mark.parametrize("reason", list(Reason))
def test_every_reason_has_one_answer(reason: Reason) -> None:
    answer = OUTCOMES[reason]
    value = challenge(reason, realm="lab", scopes=["api:write"])
    if reason is Reason.MISSING_TOKEN:
        assert (answer.status, value) == (401, 'Bearer realm="lab"')
    elif reason is Reason.INSUFFICIENT_SCOPE:
        assert (answer.status, value) == (403, 'Bearer realm="lab", error="insufficient_scope", scope="api:write"')
    elif reason is Reason.INVALID_REQUEST:
        assert (answer.status, value) == (400, 'Bearer realm="lab", error="invalid_request"')
    elif reason in (Reason.RATE_LIMITED, Reason.SIZE):
        assert answer.status in (413, 429) and value is None
    elif reason is Reason.DELEGATION:  # a valid token, refused by policy: 403, and nothing to re-authorize for
        assert (answer.status, value) == (403, None)
    elif reason is Reason.STATE_UNAVAILABLE:  # the state cannot answer: not the credentials' fault, retry later
        assert (answer.status, value, answer.retry_after) == (503, None, 5)
    elif reason in (Reason.DPOP_PROOF, Reason.DPOP_NONCE, Reason.DPOP_REQUIRED):  # RFC 9449 §7.1, §8
        code = {Reason.DPOP_PROOF: "invalid_dpop_proof", Reason.DPOP_NONCE: "use_dpop_nonce"}.get(
            reason, "invalid_token")
        assert answer.status == 401 and value is not None
        assert value.startswith(f'DPoP realm="lab", error="{code}", algs="') and "ES256" in value
    else:  # every token problem, a malformed scope claim included, is 401 invalid_token
        assert (answer.status, value) == (401, 'Bearer realm="lab", error="invalid_token"')


@pytest.mark.parametrize(("headers", "token"), [
    ([b"Bearer abc.def-_~+/="], "abc.def-_~+/="),
    ([b"bearer   abc  "], "abc"),
    ([b"Bearer abc", b"Bearer abc"], None),  # two Authorization headers
    ([b"Basic YTpi"], None),
    ([b"Bearer"], None),
    ([b"Bearer a b"], None),
    ([b"Bearer a\x00b"], None),
    ([b"Bearer \xc3\xa9"], None),
    ([b"Bearer a=b"], None),  # '=' only as padding at the end
    ([b"Bearer " + b"a" * 20_000], None),
])
def test_bearer_parser_is_strict(headers: list[bytes], token: str | None) -> None:
    assert bearer_token(headers) == token


@pytest.mark.parametrize("scope_claim", [7, 1.5, True, {"a": 1}, ["api:read", 3], ["api:read", None], [["x"]]])
def test_malformed_scope_claim_is_401_invalid_token(guarded: Any, keys: Keys, scope_claim: Any) -> None:
    guard, _recorder, _, audit = guarded
    token = mint(keys.rsa, scope=scope_claim)
    response = run(request(guard, "POST", "/", token=token, body=rpc("capabilities")))
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer realm="oauth2-lab", error="invalid_token"')
    assert audit.events()[-1].reason == "scope"


# -- deny by default ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/items", "/t/acme/items", "/admin", "/mcp/", "/stub", "/.well-known/", "/t/acme"])
@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"])
def test_unknown_routes_need_a_token(guarded: Any, path: str, method: str) -> None:
    guard, recorder, _, audit = guarded
    before = len(recorder.calls)
    response = run(request(guard, method, path))
    assert response.status_code == 401 and len(recorder.calls) == before
    assert response.headers["www-authenticate"] == 'Bearer realm="oauth2-lab"'
    assert audit.events()[-1].reason == "missing_token"


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"])
def test_other_methods_on_protected_routes_are_judged(guarded: Any, keys: Keys, method: str) -> None:
    guard, recorder, _, _ = guarded
    before = len(recorder.calls)
    assert run(request(guard, method, "/")).status_code == 401
    answered = run(request(guard, method, "/", token=root_token(keys)))
    assert answered.status_code == 405 and len(recorder.calls) == before  # the router's answer, after the guard


def test_public_routes_and_unknown_tenants(guarded: Any) -> None:
    guard, recorder, _, audit = guarded
    for path in ("/.well-known/agent-card.json", "/t/acme/.well-known/oauth-protected-resource/mcp",
                 "/.well-known/jwks.json"):
        assert run(request(guard, "GET", path)).status_code == 200
    assert recorder.calls[-1] == ("jwks", None)
    before = len(recorder.calls)
    response = run(request(guard, "GET", "/t/initech/.well-known/agent-card.json"))
    assert response.status_code == 401 and len(recorder.calls) == before
    assert audit.events()[-1].reason == "tenant"


def test_a_valid_token_reaches_an_unknown_path_as_the_apps_404(guarded: Any, keys: Keys) -> None:
    guard, _, _, audit = guarded
    assert run(request(guard, "GET", "/items", token=root_token(keys))).status_code == 404
    assert audit.events()[-1].decision == "allow" and audit.events()[-1].endpoint == "unknown route"


# -- routing: the guard judges the route the router runs ------------------------------------------------

def test_nested_tenant_prefix_never_reaches_a2a(guarded: Any, keys: Keys) -> None:
    guard, recorder, _, _ = guarded
    before = len(recorder.calls)
    for path in ("/t/acme/t/acme/", "/t/acme/t/acme/mcp", "/t/acme//", "/t/acme/%2F", "//t/acme/"):
        assert run(request(guard, "POST", path, body=rpc("SendMessage"))).status_code == 401
    assert len(recorder.calls) == before
    # with acme's own token the nested path is simply not a route (the app's 404), never A2A
    assert run(request(guard, "POST", "/t/acme/t/acme/", token=acme_token(keys), body=rpc("ListTasks"))).status_code == 404
    assert len(recorder.calls) == before


def test_tenant_tokens_stay_in_their_tenant(guarded: Any, keys: Keys) -> None:
    guard, recorder, _, _ = guarded
    assert run(request(guard, "POST", "/t/acme/", token=acme_token(keys), body=rpc("ListTasks"))).status_code == 200
    assert recorder.calls[-1] == ("a2a", "acme")
    for path, token in (("/t/acme/", root_token(keys)), ("/t/globex/", acme_token(keys))):
        assert run(request(guard, "POST", path, token=token, body=rpc("ListTasks"))).status_code == 401


def test_root_path_is_honoured_like_the_router(keys: Keys) -> None:
    guard, recorder, _, _ = recording_guard(keys)
    response = run(request(guard, "POST", "/prefix/", token=root_token(keys), body=rpc("ListTasks"), root_path="/prefix"))
    assert response.status_code == 200 and recorder.calls[-1] == ("a2a", None)
    assert run(request(guard, "POST", "/prefix/", body=rpc("ListTasks"), root_path="/prefix")).status_code == 401


SEGMENTS = ["t", "acme", "globex", "initech", "", ".", "..", "%2e%2e", "%2F", "mcp", "MCP", ".well-known",
            "agent-card.json", "oauth-protected-resource", "jwks.json", "stub", "external-api", "records", "T", "Acme"]


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    segments=st.lists(st.sampled_from(SEGMENTS), max_size=7),
    trailing=st.booleans(),
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS"]),
    root_path=st.sampled_from(["", "/t/acme", "/prefix"]),
    token=st.sampled_from(["none", "garbage", "expired", "other-tenant"]),
)
def test_path_fuzz_never_reaches_a_protected_handler_without_a_valid_token(
    keys: Keys, segments: list[str], trailing: bool, method: str, root_path: str, token: str
) -> None:
    guard, recorder, _, _ = _FUZZ_GUARD.get(keys)
    path = root_path + "/" + "/".join(segments) + ("/" if trailing and segments else "")
    tokens = {"none": None, "garbage": "abc.def.ghi", "expired": root_token(keys, exp=1),
              "other-tenant": mint(keys.attacker, scope="admin")}
    before = len(recorder.calls)
    body = rpc("SendMessage", {"message": {"parts": []}})
    response = run(request(guard, method, path, token=tokens[token], body=body, root_path=root_path))
    assert response.status_code < 500
    reached = recorder.calls[before:]
    assert all(name in PUBLIC for name, _ in reached), (path, reached)
    if not reached:
        assert response.status_code in (401, 404, 405, 307)


class _Guards:
    def __init__(self) -> None:
        self._value: Any = None

    def get(self, keys: Keys) -> Any:
        if self._value is None:
            self._value = recording_guard(keys)
        return self._value


_FUZZ_GUARD = _Guards()


# -- bodies ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "code"), [
    (b'{"jsonrpc":"2.0","id":NaN,"method":"capabilities"}', -32700),
    (b'{"jsonrpc":"2.0","id":Infinity,"method":"capabilities"}', -32700),
    (b'{"jsonrpc":"2.0","id":1e400,"method":"capabilities"}', -32700),
    (b'{"jsonrpc":"2.0","id":1,"method":"capabilities","method":"execute"}', -32700),
    (b'\xef\xbb\xbf{"jsonrpc":"2.0","id":1,"method":"capabilities"}', -32700),
    ('{"jsonrpc":"2.0","id":1,"method":"capabilities"}'.encode("utf-16"), -32700),
    (b"[" * 5000 + b"]" * 5000, -32700),
    (b'{"a":' * 100 + b"1" + b"}" * 100, -32700),
    (b'[{"jsonrpc":"2.0","id":1,"method":"capabilities"},{"jsonrpc":"2.0","id":2,"method":"execute"}]', -32600),
    (b'{"jsonrpc":"2.0","id":[1],"method":"capabilities"}', -32600),
    (b'{"jsonrpc":"2.0","id":true,"method":"capabilities"}', -32600),
    (b'{"jsonrpc":"2.0","id":1,"method":7}', -32600),
    (b'"capabilities"', -32600),
    (b"\xff\xfe\x00", -32700),
])
def test_bodies_the_guard_will_not_pass_on(guarded: Any, keys: Keys, raw: bytes, code: int) -> None:
    guard, recorder, _, audit = guarded
    before = len(recorder.calls)
    response = run(request(guard, "POST", "/", token=root_token(keys), raw=raw))
    # answered in-band with HTTP 200, as the a2a-sdk behind "/" answers (test_malformed_parity.py)
    assert response.status_code == 200 and response.json()["error"]["code"] == code
    assert response.json()["id"] == (1 if raw == b'{"jsonrpc":"2.0","id":1,"method":7}' else None)
    assert len(recorder.calls) == before and audit.events()[-1].reason == "invalid_request"
    with pytest.raises(BodyError):
        parse_call(raw)


def test_oversized_bodies_are_refused_before_they_are_read(guarded: Any, keys: Keys) -> None:
    guard, _, _, audit = guarded
    response = run(request(guard, "POST", "/", token=root_token(keys), raw=b"x", headers={"content-length": "9" * 12}))
    assert response.status_code == 413 and audit.events()[-1].reason == "size"
    big = json.dumps(rpc("capabilities", {"pad": "x" * (1 << 20)})).encode()
    assert run(request(guard, "POST", "/", token=root_token(keys), raw=big)).status_code == 413
    # without a token the body is never read at all
    assert run(request(guard, "POST", "/", raw=big)).status_code == 401


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rpc_id=JSON, method=st.one_of(JSON, st.sampled_from(["capabilities", "execute", "SendMessage", "tools/call"])),
       params=JSON, path=st.sampled_from(["/", "/mcp", "/t/acme/"]))
def test_body_fuzz_never_5xx(keys: Keys, rpc_id: Any, method: Any, params: Any, path: str) -> None:
    guard, _, _, _ = _FUZZ_GUARD.get(keys)
    token = acme_token(keys, "admin") if path.startswith("/t/") else root_token(keys, "admin")
    body = {"jsonrpc": "2.0", "id": rpc_id, "method": method, "params": params}
    response = run(request(guard, "POST", path, token=token, body=body))
    assert response.status_code in (200, 400, 403)


# -- scopes for what a call does -------------------------------------------------------------------------

PUSH = {"url": "http://127.0.0.1:9/hook", "token": "t"}


@pytest.mark.parametrize(("method", "params"), [
    ("message/send", {"message": {}, "configuration": {"pushNotificationConfig": PUSH}}),
    ("message/send", {"message": {}, "configuration": {"push_notification_config": PUSH}}),
    ("message/stream", {"message": {}, "configuration": {"pushNotificationConfig": PUSH}}),
    ("SendMessage", {"message": {}, "configuration": {"taskPushNotificationConfig": PUSH}}),
    ("SendMessage", {"message": {}, "configuration": {"task_push_notification_config": PUSH}}),
    ("SendStreamingMessage", {"message": {}, "Configuration": {"TaskPushNotificationConfig": PUSH}}),
])
def test_a_push_config_inside_send_message_needs_push_write(guarded: Any, keys: Keys, method: str, params: Any) -> None:
    guard, recorder, _, audit = guarded
    before = len(recorder.calls)
    response = run(request(guard, "POST", "/", token=root_token(keys, "api:read"), body=rpc(method, params)))
    assert response.status_code == 403 and len(recorder.calls) == before
    assert 'scope="api:read push:write"' in response.headers["www-authenticate"]
    assert audit.events()[-1].reason == "insufficient_scope"
    ok = run(request(guard, "POST", "/", token=root_token(keys, "api:read push:write"), body=rpc(method, params)))
    assert ok.status_code == 200


def test_a_body_tenant_must_match_the_route(guarded: Any, keys: Keys) -> None:
    guard, _, _, _ = guarded
    body = rpc("ListTasks", {"tenant": "globex"})
    assert run(request(guard, "POST", "/t/acme/", token=acme_token(keys), body=body)).status_code == 400
    assert run(request(guard, "POST", "/t/acme/", token=acme_token(keys), body=rpc("ListTasks", {"tenant": "acme"}))).status_code == 200


def test_websockets_are_closed_without_a_token(guarded: Any) -> None:
    guard, _recorder, _, _ = guarded
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/mcp", "raw_path": b"/mcp", "root_path": "", "headers": [],
             "query_string": b"", "scheme": "ws", "server": ("agent.test", 80), "subprotocols": []}
    run(guard(scope, receive, send))
    assert sent == [{"type": "websocket.close", "code": 1008}]
