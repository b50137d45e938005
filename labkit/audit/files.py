"""The JSONL audit file: opened append-only, never through a symlink, created 0600; read back line by line.

Writing: ``open_append_only`` (``AuditFileError`` saying what is wrong). Reading: ``read_audit_file`` checks
every line into an ``AuditEvent`` (whose constructor cleans its text) or an ``InvalidLine`` saying why, never
quoting the line; over-long lines are skipped unread.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._files import UnsafeFileError, open_regular
from .._json import loads_bounded
from .._text import safe_text
from ..errors import ConfigError
from .event import _TEXT_FIELDS, MAX_ACTORS, AuditEvent

__all__ = ["MAX_LINE", "AuditFileError", "InvalidLine", "open_append_only", "read_audit_file", "read_jsonl"]

MAX_LINE = 16 * 1024


class AuditFileError(ConfigError):
    """The audit file cannot be opened safely (a directory, a missing folder, a symlink, not a regular file)."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        super().__init__([("audit.path", f"{safe_text(os.fspath(path), 256)}: {problem}")])


def open_append_only(path: Path) -> Any:
    """Open ``path`` for appending: never through a symlink, created 0600, a regular file only (``labkit._files``).

    Raises ``AuditFileError`` saying what is wrong.
    """
    try:
        fd = open_regular(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    except UnsafeFileError as exc:
        raise AuditFileError(path, exc.problem) from None
    return os.fdopen(fd, "a", encoding="utf-8")


@dataclass(frozen=True)
class InvalidLine:
    """A line of an audit file that is not an audit event: where, and why (never its content)."""

    number: int
    problem: str


def _event_from(data: Any) -> AuditEvent:
    """An ``AuditEvent`` from one parsed line; raises ``ValueError`` naming the first bad field."""
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    unknown = set(data) - set(AuditEvent.__dataclass_fields__)
    if unknown:
        raise ValueError("unknown field")
    if data.get("decision") not in ("allow", "deny"):
        raise ValueError("decision is not allow or deny")
    for name in _TEXT_FIELDS:
        if data.get(name) is not None and not isinstance(data[name], str):
            raise ValueError(f"{name} is not a string")
    scopes = data.get("scopes") or []
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise ValueError("scopes is not a list of strings")
    actors = data.get("actors") or []
    if not isinstance(actors, list) or len(actors) > MAX_ACTORS or not all(isinstance(a, str) for a in actors):
        raise ValueError("actors is not a list of at most 8 strings")
    for name in ("status", "latency_ms", "time"):
        value = data.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not math.isfinite(value)):
            raise ValueError(f"{name} is not a finite number")
    if data.get("status") is not None and not isinstance(data["status"], int):
        raise ValueError("status is not an integer")
    return AuditEvent(**{**data, "scopes": tuple(scopes), "actors": tuple(actors), "detail": data.get("detail") or ""})


def read_audit_file(path: str | os.PathLike[str]) -> list[tuple[int, AuditEvent | InvalidLine]]:
    """(line number, event) for every non-blank line of a JSONL audit file, or an ``InvalidLine`` for a bad one.

    Lines longer than 16 KiB are skipped unread. Raises ``OSError`` if the file cannot be read.
    """
    rows: list[tuple[int, AuditEvent | InvalidLine]] = []
    # the audit file's rules when reading too: no symlink followed, a FIFO never blocks (labkit._files)
    with os.fdopen(open_regular(path, os.O_RDONLY), "rb") as handle:
        number = 0
        while line := handle.readline(MAX_LINE + 1):
            number += 1
            if len(line) > MAX_LINE and not line.endswith(b"\n"):
                while (rest := handle.readline(MAX_LINE)) and not rest.endswith(b"\n"):
                    pass  # skip the rest of an over-long line without holding it
                rows.append((number, InvalidLine(number, f"longer than {MAX_LINE} bytes")))
                continue
            if not line.strip():
                continue
            try:
                rows.append((number, _event_from(loads_bounded(line, max_depth=4))))
            except (ValueError, TypeError) as exc:
                rows.append((number, InvalidLine(number, safe_text(str(exc)))))
    return rows


def read_jsonl(path: str | os.PathLike[str]) -> list[AuditEvent]:
    """Events from a JSONL audit file; raises ``ValueError`` naming the first bad line (``OSError`` if unreadable)."""
    events: list[AuditEvent] = []
    for _, row in read_audit_file(path):
        if isinstance(row, InvalidLine):
            raise ValueError(f"{safe_text(os.fspath(path), 256)}:{row.number}: not an audit event ({row.problem})")
        events.append(row)
    return events
