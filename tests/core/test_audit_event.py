"""``AuditEvent.allow``: the principal's fields and the request's context through the constructor, built when
recorded, and nothing written anywhere else (issue 25 item 3: frozen means frozen)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labkit._text import MAX_TEXT, safe_text
from labkit.audit import AuditEvent, AuditLog
from labkit.auth import Principal

from ..helpers import examples

_TEXT = st.one_of(st.none(), st.text(max_size=140), st.sampled_from(["\x1b[2J", "a\r\nb", "\u202eevil", "\ud800",
                                                                     "x" * 200]))


class _Text(str):
    """A str subclass equal to its plain text (a hand-built principal may hold one)."""


_CONTEXT = st.dictionaries(st.sampled_from(["endpoint", "method", "plugin", "tenant", "request_id", "status",
                                            "latency_ms", "detail", "fingerprint"]),
                           st.one_of(_TEXT, st.integers(0, 599)), max_size=8)


@settings(max_examples=examples(300))
@given(subject=st.one_of(_TEXT, st.builds(_Text, st.sampled_from(["alice", "a\x00"]))), client=_TEXT,
       scopes=st.frozensets(st.text(max_size=20), max_size=40), tenant=_TEXT,
       fingerprint=st.one_of(st.text(max_size=20), st.just("\x1b[2J"), st.just("x" * 200)),
       notes=st.lists(st.text(max_size=10), max_size=3),
       actors=st.lists(st.one_of(st.text(max_size=20), st.just("\x1b[2J" + "a" * 200)), max_size=10),
       context=_CONTEXT)
def test_allow_events_are_the_constructors_and_hold_only_clean_text(
        subject: str | None, client: str | None, scopes: frozenset[str], tenant: str | None, fingerprint: str,
        notes: list[str], actors: list[str], context: dict[str, Any]) -> None:
    act: Any = None
    for actor in reversed(actors):
        act = {"sub": actor, **({"act": act} if act else {})}
    principal = Principal(subject=subject, scopes=scopes, client_id=client, tenant=tenant, fingerprint=fingerprint,
                          notes=tuple(notes), claims={"act": act} if act else {})
    fields: dict[str, Any] = {"subject": subject, "client": client, "scopes": tuple(sorted(scopes)),
                              "actors": principal.actors, "strategy": "jwt", "tenant": tenant,
                              "fingerprint": fingerprint, "detail": "; ".join(notes)}
    fields.update({k: v for k, v in context.items() if v is not None or k not in fields})
    log = AuditLog(capacity=3)
    for _ in range(4):  # past the capacity: the ring drops the oldest
        event = log.record_allow(principal, **context)
        assert event == AuditEvent(decision="allow", **{**fields, "time": event.time})
    assert len(log) == 3 and log.total == 4 and log.events()[-1] is event
    for name, held in vars(event).items():
        if name in ("status", "latency_ms", "time"):
            continue  # numbers (a str the caller put there is the caller's: not a text field)
        for text in held if isinstance(held, tuple) else (held,):
            if isinstance(text, str):
                assert len(text) <= MAX_TEXT + 16 and safe_text(text) == text, name
    assert event.to_json() == json.dumps(dataclasses.asdict(event), ensure_ascii=False, separators=(",", ":"))


def test_auditing_writes_nothing_into_the_principal() -> None:
    # issue 25 item 3: no memo kept in another object's __dict__ (the old log kept its allow fields there)
    principal = Principal(subject="alice", scopes=frozenset({"b", "a"}), client_id="c", fingerprint="0123456789ab")
    before = dict(vars(principal))
    log = AuditLog()
    AuditEvent.allow(principal, endpoint="/")
    log.record_allow(principal, endpoint="/", status=200)
    log.note_allow(principal, {"endpoint": "/mcp", "status": 200})
    assert vars(principal) == before
    assert [e.endpoint for e in log.events()] == ["/", "/mcp"]


def test_allow_events_are_built_when_recorded() -> None:
    # what a reader of the ring gets is the very event a sink saw, built once when recorded
    log = AuditLog()
    seen: list[AuditEvent] = []
    log.sinks.append(seen.append)
    principal = Principal(subject="alice", scopes=frozenset({"a"}))
    recorded = log.record_allow(principal, endpoint="/", status=200)
    assert isinstance(recorded, AuditEvent) and log.events() == seen == [recorded]
    assert log.events()[0] is recorded
    with pytest.raises(TypeError):
        log.record_allow(principal, unknown="x")  # refused at once, as the constructor refuses it
    with pytest.raises(TypeError):
        AuditEvent.allow(principal, decision="deny")
    assert AuditEvent.allow(principal, scopes=("b",)).scopes == ("b",)


def test_a_principal_with_unhashable_fields_is_audited() -> None:
    principal = Principal(subject="alice", scopes={"b", "a"}, notes=["n"], fingerprint="0123456789ab")  # type: ignore[arg-type]
    event = AuditEvent.allow(principal)
    assert event == AuditEvent(decision="allow", subject="alice", scopes=("a", "b"), strategy="jwt",
                               fingerprint="0123456789ab", detail="n", time=event.time)
