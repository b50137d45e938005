"""``labkit.capability``: a private lab's gate admits a request only under its secret path prefix (first segment, or
the segment RFC 8414 §3.1 / RFC 9728 §3.1 insert after ``/.well-known/<name>``), hands the app the path without it,
and answers anything else with the same 404 without ever calling the app."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labkit.capability import CapabilityGate, new_capability, private_by_default
from labkit.servers import ServerThread

from ..helpers import examples

SECRET = "qZcO0pJy8C2BjJNm_nmhC1LfIAwgsObpnjHtrv-EulM"  # a fixed capability (TEST-ONLY)


class Counting:
    """An app that records each scope it is called with and answers 200."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.seen.append(scope)
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"handler"})


def call(gate: CapabilityGate, raw_path: bytes, *, kind: str = "http", query: bytes = b"") -> list[dict[str, Any]]:
    """What the gate sends for one request whose path on the wire is ``raw_path`` (decoded as uvicorn does)."""
    from urllib.parse import unquote_to_bytes

    sent: list[dict[str, Any]] = []
    scope = {"type": kind, "method": "GET", "path": unquote_to_bytes(raw_path).decode("utf-8", "replace"),
             "raw_path": raw_path, "query_string": query, "headers": [], "root_path": ""}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(gate(scope, receive, send))
    return sent


@pytest.mark.parametrize(("wire", "path"), [
    (f"/{SECRET}", "/"), (f"/{SECRET}/", "/"), (f"/{SECRET}/token", "/token"), (f"/{SECRET}/acme/token", "/acme/token"),
    (f"/{SECRET}/.well-known/openid-configuration", "/.well-known/openid-configuration"),
    (f"/.well-known/oauth-authorization-server/{SECRET}", "/.well-known/oauth-authorization-server"),
    (f"/.well-known/oauth-authorization-server/{SECRET}/acme", "/.well-known/oauth-authorization-server/acme"),
    (f"/.well-known/oauth-protected-resource/{SECRET}/t/acme/mcp", "/.well-known/oauth-protected-resource/t/acme/mcp"),
    (f"/{SECRET}/a%2Fb/../c", "/a/b/../c"),  # what follows the secret reaches the app as it came
])
def test_the_secret_admits_and_the_app_sees_the_path_without_it(wire: str, path: str) -> None:
    app = Counting()
    sent = call(CapabilityGate(app, SECRET), wire.encode(), query=b"login_hint=alice")
    assert sent[0]["status"] == 200 and len(app.seen) == 1
    seen = app.seen[0]
    assert (seen["path"], seen["query_string"]) == (path, b"login_hint=alice")
    assert seen["raw_path"] == wire.replace(f"/{SECRET}", "", 1).encode() or seen["raw_path"] == b"/"
    assert SECRET not in repr(seen)


REFUSED = [b"", b"/", b"/token", b"/admin/mint", b"/authorize", b"/.well-known/oauth-authorization-server",
           f"/{SECRET[:-1]}".encode(), f"/{SECRET}x".encode(), f"/{SECRET.upper()}".encode(),
           f"/{SECRET[:-1]}%{ord(SECRET[-1]):02X}".encode(),  # the secret, one character percent-encoded
           f"//{SECRET}".encode(), f"/x/{SECRET}".encode(), f"/.well-known/{SECRET}".encode(),
           f"/.well-known//{SECRET}".encode(), f"/.well-known/a%2Fb/{SECRET}".encode(), SECRET.encode(),
           f"/.%77ell-known/x/{SECRET}".encode()]


def refusal(sent: list[dict[str, Any]]) -> tuple[Any, ...]:
    return tuple((m.get("status"), tuple(m.get("headers", ())), m.get("body")) for m in sent)


def test_every_other_path_gets_the_same_404_and_the_app_is_never_called() -> None:
    app = Counting()
    gate = CapabilityGate(app, SECRET)
    answers = {refusal(call(gate, wire)) for wire in REFUSED}
    assert app.seen == [] and len(answers) == 1
    (((status, headers, _), (_, _, body)),) = answers
    assert (status, body, dict(headers)[b"content-type"]) == (404, b"Not Found", b"text/plain; charset=utf-8")


_NEAR = st.sampled_from([SECRET[:-1], SECRET + "A", SECRET.swapcase(), SECRET[1:], "", ".", "..", "%2F", new_capability()])
_SEGMENT = st.one_of(_NEAR, st.text(st.characters(codec="utf-8", exclude_characters="/?#"), max_size=50))
_REST = st.text(st.characters(codec="utf-8", exclude_characters="?#"), max_size=60)


@settings(max_examples=examples(400))
@given(segment=_SEGMENT.filter(lambda s: s != SECRET), rest=_REST,
       well_known=st.one_of(st.none(), st.sampled_from(["oauth-authorization-server", "openid-configuration", "x"])))
def test_no_handler_runs_for_any_prefix_but_the_secret(segment: str, rest: str, well_known: str | None) -> None:
    # the property: wherever the secret would stand, anything but the secret never reaches the app's handlers
    from urllib.parse import quote

    app = Counting()
    gate = CapabilityGate(app, SECRET)
    head = f"/.well-known/{well_known}" if well_known else ""
    wire = (head + "/" + quote(segment, safe="%") + "/" + quote(rest, safe="/%")).encode("ascii")
    assert refusal(call(gate, wire)) == refusal(call(gate, b"/"))
    assert app.seen == []


def test_lifespan_passes_and_a_websocket_is_closed() -> None:
    app = Counting()
    gate = CapabilityGate(app, SECRET)
    assert call(gate, b"/", kind="websocket") == [{"type": "websocket.close", "code": 1008}] and app.seen == []
    call(gate, b"/", kind="lifespan")
    assert [s["type"] for s in app.seen] == ["lifespan"]


@pytest.mark.parametrize("bad", ["", "a/b", "a b", "é", "a%2F", "../x"])
def test_a_capability_that_is_not_a_plain_segment_is_refused_before_a_socket_is_bound(bad: str) -> None:
    with pytest.raises(ValueError, match="URL-safe path segment"):
        ServerThread(Counting(), capability=bad)


def test_a_new_capability_is_a_long_url_safe_segment() -> None:
    made = {new_capability() for _ in range(50)}
    assert len(made) == 50 and all(len(c) >= 43 for c in made)
    for capability in made:
        CapabilityGate(Counting(), capability)


@pytest.mark.parametrize(("environ", "private"), [
    ({}, False), ({"JUPYTERHUB_USER": "alice"}, True), ({"LABKIT_PRIVATE": "1"}, True),
    ({"JUPYTERHUB_USER": "alice", "LABKIT_PRIVATE": "0"}, False), ({"LABKIT_PRIVATE": "off"}, False),
    ({"JUPYTERHUB_USER": ""}, False),
])
def test_private_by_default_under_jupyterhub_or_when_asked(environ: dict[str, str], private: bool) -> None:
    assert private_by_default(environ) is private


def test_an_audit_log_never_keeps_the_lab_secret(tmp_path: Any) -> None:
    from labkit.audit import AuditEvent, AuditLog

    log = AuditLog(path=tmp_path / "audit.jsonl", redact=(SECRET,))
    url = f"http://127.0.0.1:1/{SECRET}"
    kept = log.record(AuditEvent("deny", "issuer", detail=f"iss {url!r} is not the configured issuer",
                                 endpoint=f"{url}/mcp", scopes=("api:read", SECRET), actors=(url,)))
    log.close()
    assert SECRET not in repr(kept) and SECRET not in (tmp_path / "audit.jsonl").read_text()
    assert kept.detail == "iss 'http://127.0.0.1:1/<secret>' is not the configured issuer"
    assert kept.scopes == ("api:read", "<secret>") and kept.actors == ("http://127.0.0.1:1/<secret>",)
    plain = AuditEvent("allow", detail="nothing secret")
    assert AuditLog(redact=(SECRET,)).record(plain) is plain


_BEFORE = st.text(st.characters(codec="utf-8", exclude_characters="?#"), min_size=1, max_size=40)


@settings(max_examples=examples(300))
@given(before=st.one_of(_BEFORE, st.sampled_from([".", "..", "%2e", ".well-known", ".well-known/", ".well-known//x",
                                                   ".well-known/x/y", "./.well-known/x", ".Well-Known/x", "/",
                                                   ".well-known/\u00e9", ".well-known/a%2Fb"])),
       rest=_REST, encode=st.booleans())
def test_the_secret_anywhere_but_its_own_places_admits_nothing(before: str, rest: str, encode: bool) -> None:
    # the property, from the other side: the secret itself, after any other path (dot segments, an empty segment,
    # an encoded slash, a look-alike of /.well-known/<name>), never reaches the app's handlers
    import re
    from urllib.parse import quote

    app = Counting()
    gate = CapabilityGate(app, SECRET)
    prefix = quote(before, safe="/%" if encode else "/")
    wire = f"/{prefix}/{SECRET}/{quote(rest, safe='/%')}".encode("ascii")
    admitted = re.fullmatch(r"\.well-known/[^/%]+", prefix) is not None  # RFC 8414 §3.1 / RFC 9728 §3.1
    sent = call(gate, wire)
    assert (sent[0]["status"] == 200) is admitted and len(app.seen) == int(admitted)
