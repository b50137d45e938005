"""Audit events, audit files and the CLI that prints them, against hostile input (issues #12.7, #20.6, #20.7)."""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from labkit._text import MAX_TEXT, safe_text
from labkit.audit import AuditEvent, AuditFileError, AuditLog, InvalidLine, read_audit_file, read_jsonl
from labkit.cli import main
from labkit.errors import AuthError, Reason
from labkit.servers import ServerThread

HOSTILE = ["[/]", "[bold red]x[/]", "\x1b[2J\x1b[H", "\x1b]0;owned\x07", "\x9b31m", "a\r\nb", "\x00", "\u202eevil",
           "\ud800", "é" * 5000, "x" * (1 << 20), "\\x1b", "<img src=x onerror=alert(1)>"]
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\ud800-\udfff]")  # what must never reach a terminal
BOUND = MAX_TEXT + 16  # the text plus the "…(+N)" marker


@pytest.mark.parametrize("value", HOSTILE)
def test_every_field_of_an_event_is_bounded_and_printable(value: str) -> None:
    fields = {name: value for name in ("reason", "detail", "subject", "client", "strategy", "endpoint", "method",
                                       "plugin", "tenant", "fingerprint")}
    events = [AuditEvent(decision="deny", scopes=(value,) * 100, **fields),
              AuditEvent.deny(AuthError(Reason.MALFORMED, value), method=value, endpoint=value, tenant=value)]
    for event in events:
        for name, held in vars(event).items():
            for text in (held if isinstance(held, tuple) else (held,)):
                if isinstance(text, str):
                    assert len(text) <= BOUND and not CONTROL.search(text), name
        assert len(event.scopes) <= 33
        assert len(event.to_json()) < 20_000


_PIECES = st.one_of(st.none(), st.text(max_size=140), st.sampled_from(HOSTILE[:-2]), st.integers())
_TEXTS = st.lists(st.one_of(st.text(max_size=140), st.sampled_from(HOSTILE[:-2]), st.integers()), max_size=40)


@given(st.lists(_PIECES, min_size=11, max_size=11), _TEXTS, _TEXTS)
def test_the_fast_clean_path_keeps_exactly_what_safe_text_keeps(values: list[object], scopes: list[object],
                                                                actors: list[object]) -> None:
    names = ("reason", "detail", "subject", "client", "strategy", "endpoint", "method", "plugin", "tenant",
             "fingerprint", "request_id")
    event = AuditEvent(decision="allow", scopes=tuple(scopes), actors=tuple(actors),  # type: ignore[arg-type]
                       **dict(zip(names, values, strict=True)))
    for name, value in zip(names, values, strict=True):
        assert getattr(event, name) == (None if value is None else safe_text(value))
    cut = f"\u2026(+{len(scopes) - 32})"
    assert event.scopes == tuple(safe_text(s) for s in scopes[:32]) + ((cut,) if len(scopes) > 32 else ())
    assert event.actors == tuple(safe_text(a) for a in actors[:8])


@given(st.text())
def test_safe_text_is_bounded_printable_and_marks_what_it_cut(value: str) -> None:
    text = safe_text(value)
    assert len(text) <= BOUND and not CONTROL.search(text)
    if text != value:
        assert "\\" in text or text.endswith(")")


def test_audit_file_is_created_0600_and_never_through_a_symlink(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path=path)
    log.record(AuditEvent(decision="allow"))
    log.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    target = tmp_path / "victim"
    target.write_text("precious\n")
    link = tmp_path / "link.jsonl"
    link.symlink_to(target)
    (tmp_path / "dir").mkdir()
    os.mkfifo(tmp_path / "fifo")
    for bad, words in [(link, "symbolic link"), (tmp_path / "dir", "directory"),
                       (tmp_path / "missing" / "a.jsonl", "does not exist"), (tmp_path / "fifo", "FIFO")]:
        with pytest.raises(AuditFileError, match=words) as caught:
            AuditLog(path=bad)
        assert caught.value.errors[0][0] == "audit.path"
    assert target.read_text() == "precious\n"


def test_serve_with_a_symlinked_audit_log_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    link = tmp_path / "audit.jsonl"
    link.symlink_to(tmp_path / "elsewhere")
    assert main(["serve", "--audit-log", str(link)]) == 1
    err = capsys.readouterr().err
    assert "symbolic link" in err and "Traceback" not in err and not (tmp_path / "elsewhere").exists()


HOSTILE_LINES = ["[" * 100_000 + "]" * 100_000, json.dumps([1, 2]), json.dumps({"decision": "allow", "latency_ms": "1"}),
                 json.dumps({"decision": ["allow"]}), json.dumps({"decision": "deny", "status": "401"}), "{bad",
                 '{"decision": "allow", "latency_ms": NaN}', json.dumps({"decision": "allow", "extra": 1}),
                 json.dumps({"decision": "allow", "scopes": [{"a": 1}]}), "x" * 100_000, "\xff\xfe",
                 json.dumps({"decision": "allow", "time": 1e400}), json.dumps({"decision": "allow", "status": True})]


# A lone surrogate escape is not JSON the strict parser reads (RFC 7493 §2.1): that line is an invalid row.
READABLE = [v for v in HOSTILE if v != "\ud800"]
BAD_LINES = [json.dumps({"decision": "deny", "method": "\ud800", "time": 1.0}), *HOSTILE_LINES]


@pytest.fixture
def hostile_file(tmp_path: Path) -> Path:
    good = [{"decision": "deny", "reason": "missing_token", "method": v[:500], "endpoint": v[:500], "subject": v[:500],
             "time": 1.0} for v in READABLE]  # lines a writer could have made (each under the 16 KiB line cap)
    lines = [json.dumps(g) for g in good] + BAD_LINES + [""]
    path = tmp_path / "hostile.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
    return path


def test_hostile_lines_become_invalid_rows_with_their_line_numbers(hostile_file: Path) -> None:
    rows = read_audit_file(hostile_file)
    events = [r for _, r in rows if isinstance(r, AuditEvent)]
    invalid = [(n, r) for n, r in rows if isinstance(r, InvalidLine)]
    assert len(events) == len(READABLE) and len(invalid) == len(BAD_LINES)
    assert [n for n, _ in invalid] == list(range(len(READABLE) + 1, len(READABLE) + len(BAD_LINES) + 1))
    with pytest.raises(ValueError, match=rf":{len(READABLE) + 1}: not an audit event"):
        read_jsonl(hostile_file)


def test_labkit_audit_prints_hostile_logs_without_markup_or_control_bytes(
        hostile_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "300")
    assert main(["audit", str(hostile_file), "--last", "100"]) == 1  # some lines are not audit events
    out, err = capsys.readouterr()
    assert "[/]" in out and "[bold red]x[/]" in out  # shown as text, not parsed as markup
    assert not CONTROL.search(out + err) and "\x1b" not in out
    assert err == f"labkit audit: {hostile_file}:{len(READABLE) + 1}: {len(BAD_LINES)} line(s) are not audit events\n"
    for words in ("invalid", "longer than", "not a JSON object", "decision is not allow or deny"):
        assert words in out


@pytest.mark.parametrize("target", ["directory", "missing"])
def test_labkit_audit_errors_are_one_line(tmp_path: Path, target: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path if target == "directory" else tmp_path / "nope\x1b[2J.jsonl"
    assert main(["audit", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\x1b" not in err and "Traceback" not in err


@pytest.fixture(scope="module")
def hostile_provider() -> Iterator[str]:
    answers = {
        "/plain/token": Response(b"<html>not json", 200),
        "/deep/token": Response(b"[" * 100_000, 200),
        "/escape/token": JSONResponse({"access_token": "\x1b]0;owned\x07\x1b[2J", "token_type": "Bearer"}),
        "/number/token": JSONResponse({"access_token": 12}),
        "/refuse/token": JSONResponse({"error": "\x1b[2Jinvalid_client" + "x" * 5000}, 401),
        "/refuse-plain/token": Response(b"\x1b[2J nope", 500),
    }

    async def answer(request: object) -> Response:
        return answers[request.url.path]  # type: ignore[attr-defined]

    app = Starlette(routes=[Route(path, answer, methods=["POST"]) for path in answers])
    with ServerThread(app, name="hostile-provider") as server:
        yield server.url


@pytest.mark.integration
@pytest.mark.parametrize("tenant", ["plain", "deep", "escape", "number", "refuse", "refuse-plain"])
def test_labkit_mint_never_prints_what_a_hostile_provider_sends(hostile_provider: str, tenant: str,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mint", "--provider", hostile_provider, "--tenant", tenant]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "\x1b" not in err and len(err) < 400


@pytest.mark.parametrize(("url", "status"), [("http://[::1", 2), ("not a url", 2), ("ftp://127.0.0.1:1/", 2),
                                            ("http://127.0.0.1:1", 1)])
def test_labkit_mint_bad_provider_urls_are_one_line(url: str, status: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mint", "--provider", url]) == status  # 2: not a URL (usage); 1: nobody answers there
    _, err = capsys.readouterr()
    assert err.startswith("labkit mint: ") and err.count("\n") == 1 and "Traceback" not in err
