from __future__ import annotations

import threading
from pathlib import Path

from labkit.audit import AuditEvent, AuditLog, read_jsonl
from labkit.auth import Principal
from labkit.errors import AuthError, Reason


def test_concurrent_recording_loses_nothing(tmp_path: Path) -> None:
    log = AuditLog(capacity=100_000, path=tmp_path / "audit.jsonl")

    def worker(n: int) -> None:
        for i in range(100):
            log.record(AuditEvent(decision="allow", subject=f"u{n}", endpoint=f"/e{i}"))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.close()
    assert log.total == len(log) == 1600
    assert len(read_jsonl(tmp_path / "audit.jsonl")) == 1600


def test_events_from_principal_and_error_hold_no_token(tmp_path: Path) -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJlLXZhbHVl"
    principal = Principal(subject="alice", scopes=frozenset({"b", "a"}), client_id="c", strategy="jwt",
                          fingerprint="0123456789ab")
    log = AuditLog(path=tmp_path / "a.jsonl")
    log.record(AuditEvent.allow(principal, endpoint="/", method="message/send", status=200, latency_ms=1.5))
    log.record(AuditEvent.deny(AuthError(Reason.EXPIRED, "expired at 1"), endpoint="/mcp", status=401))
    log.close()
    text = (tmp_path / "a.jsonl").read_text()
    assert token not in text and "signature" not in text
    events = read_jsonl(tmp_path / "a.jsonl")
    assert events[0].scopes == ("a", "b") and events[1].reason == "expired"
    frame = log.to_dataframe()
    assert list(frame["decision"]) == ["allow", "deny"] and str(frame["time"].dt.tz) == "UTC"


def test_ring_is_bounded() -> None:
    log = AuditLog(capacity=10)
    for i in range(25):
        log.record(AuditEvent(decision="deny", reason="malformed", endpoint=str(i)))
    assert len(log) == 10 and log.total == 25 and log.events()[0].endpoint == "15"


def test_env_path(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LABKIT_AUDIT_LOG", str(tmp_path / "env.jsonl"))
    log = AuditLog()
    log.record(AuditEvent(decision="allow"))
    log.close()
    assert len(read_jsonl(tmp_path / "env.jsonl")) == 1


def test_since_returns_only_what_came_after_a_total_even_past_the_ring() -> None:
    log = AuditLog(capacity=3)
    events = [AuditEvent.deny(AuthError(Reason.MISSING_TOKEN, "none"), endpoint=f"/{i}") for i in range(5)]
    log.record(events[0])
    mark = log.total
    assert log.since(mark) == []
    for event in events[1:]:
        log.record(event)
    assert [e.endpoint for e in log.since(mark)] == ["/2", "/3", "/4"]  # /1 left the ring; nothing before the mark
    assert [e.endpoint for e in log.since(log.total - 1)] == ["/4"]
    log.clear()
    assert log.since(mark) == []
