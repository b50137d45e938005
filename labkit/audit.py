"""The audit log: one ``AuditEvent`` per decision, in a memory ring and optionally a JSONL file.

Events hold metadata only (subject, client, scopes, the RFC 8693 ``act`` chain as ``actors``, decision,
reason, endpoint, strategy, latency, a 12-hex-digit token fingerprint); never a token. Every string an event
holds is bounded and printable (``safe_text``), whoever built it. Recording is thread-safe and loses no
event. The file is opened append-only, never through a symlink, created 0600 (``AuditFileError`` otherwise).
About 400 lines on purpose: the event, the cleaning of its fields and the log's lazy allow path (the guard's
per-request note) are one invariant, "every recorded string is clean", and read together.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ._files import UnsafeFileError, open_regular
from ._json import loads_bounded
from ._text import MAX_TEXT, UNSAFE, safe_text
from .auth.principal import Principal
from .errors import AuthError, ConfigError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MAX_ACTORS", "MAX_LINE", "MAX_SCOPES", "AuditEvent", "AuditFileError", "AuditLog", "Decision", "InvalidLine",
    "events_to_dataframe", "open_append_only", "read_audit_file", "read_jsonl"
]

Decision = Literal["allow", "deny"]
_log = logging.getLogger(__name__)
MAX_SCOPES = 32
MAX_ACTORS = 8
MAX_LINE = 16 * 1024
_TEXT_FIELDS = ("reason", "detail", "subject", "client", "strategy", "endpoint", "method", "plugin", "tenant",
                "fingerprint", "request_id")
_LIST_FIELDS = {"scopes": MAX_SCOPES, "actors": MAX_ACTORS}  # tuples of text, and how many an event keeps


def _clean(event: AuditEvent) -> bool:
    """True when ``safe_text`` and the bounds would keep every text field, scope and actor as it is."""
    return _clean_values([getattr(event, name) for name in _TEXT_FIELDS],
                         {name: getattr(event, name) for name in _LIST_FIELDS})


def _clean_values(values: list[Any], lists: dict[str, Any] | None = None) -> bool:
    """``_clean`` on the values of text fields (None skipped) and of list fields by name (``_LIST_FIELDS``)."""
    texts: list[str] = []
    for value in values:
        if value is None:
            continue
        if type(value) is not str or len(value) > MAX_TEXT:
            return False
        texts.append(value)
    for name, items in (lists or {}).items():
        if type(items) is not tuple or len(items) > _LIST_FIELDS[name]:
            return False
        for value in items:
            if type(value) is not str or len(value) > MAX_TEXT:
                return False
            texts.append(value)
    # one search over all of them: a space joins them and is itself safe
    return UNSAFE.search(" ".join(texts)) is None


@dataclass(frozen=True)
class AuditEvent:
    """One authorization decision."""

    decision: Decision
    reason: str | None = None
    detail: str = ""
    subject: str | None = None
    client: str | None = None
    scopes: tuple[str, ...] = ()
    strategy: str | None = None
    endpoint: str | None = None
    method: str | None = None
    plugin: str | None = None
    tenant: str | None = None
    status: int | None = None
    latency_ms: float | None = None
    fingerprint: str | None = None
    request_id: str | None = None  # the caller's X-Request-ID, for correlation (never used to decide)
    time: float = field(default_factory=time.time)
    actors: tuple[str, ...] = ()  # RFC 8693 §4.1: who acts for the subject, current actor first

    def __post_init__(self) -> None:
        # DESIGN.md: every client-supplied string in an audit event is bounded and safe to print
        if _clean(self):
            return  # the common case, checked in one pass: nothing to escape or cut
        for name in _TEXT_FIELDS:
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, safe_text(value))
        scopes = tuple(safe_text(s) for s in self.scopes[:MAX_SCOPES])
        if len(self.scopes) > MAX_SCOPES:
            scopes += (f"\u2026(+{len(self.scopes) - MAX_SCOPES})",)
        object.__setattr__(self, "scopes", scopes)
        if self.actors:
            object.__setattr__(self, "actors", tuple(safe_text(a) for a in self.actors[:MAX_ACTORS]))

    @staticmethod
    def who(principal: Principal) -> dict[str, Any]:
        """The fields of an event that name ``principal``: subject, client, scopes, actors, strategy, ..."""
        return {"subject": principal.subject, "client": principal.client_id, "scopes": tuple(sorted(principal.scopes)),
                "actors": principal.actors, "strategy": principal.strategy, "tenant": principal.tenant,
                "fingerprint": principal.fingerprint}

    @classmethod
    def allow(cls, principal: Principal, **context: Any) -> AuditEvent:
        """An allow event for ``principal`` (``context`` adds endpoint, method, status, ...)."""
        fields, clean = _principal_fields(principal)
        return _allow(fields, clean, context, time.time())

    @classmethod
    def deny(cls, error: AuthError, **context: Any) -> AuditEvent:
        """A deny event for ``error`` (its reason and token-free detail)."""
        return cls(decision="deny", reason=error.reason.value, detail=error.detail, **context)

    def to_json(self) -> str:
        """One JSON line."""
        # asdict() without its deep copy: every field is a str, number, None or a tuple of str
        return json.dumps({name: getattr(self, name) for name in _NAMES}, ensure_ascii=False, separators=(",", ":"))


_NAMES = tuple(AuditEvent.__dataclass_fields__)
_TEXT_SET = frozenset(_TEXT_FIELDS)
_FIELDS = frozenset(AuditEvent.__dataclass_fields__) - {"decision", "time"}
_PRINCIPAL_FIELDS = ("subject", "client", "scopes", "actors", "strategy", "tenant", "fingerprint", "detail")
_DEFAULTS: dict[str, Any] = {name: AuditEvent.__dataclass_fields__[name].default for name in _FIELDS}
_MEMO = "_labkit_audit_fields"  # where _principal_fields keeps its answer on a principal


def _allow(fields: dict[str, Any], clean: bool, context: dict[str, Any], when: float) -> AuditEvent:
    """``AuditEvent.allow`` from the principal's ``_principal_fields`` and ``context``, at time ``when``."""
    if clean and context.keys() <= _FIELDS:  # the common case: only the context's text is left to check
        values = fields.copy()
        unchecked: list[Any] = []
        for name, value in context.items():
            if value is not None:  # None keeps the principal's value or the default (None for the others)
                values[name] = value
                if name in _TEXT_SET or name in _LIST_FIELDS:
                    unchecked.append(value)  # a list field's tuple is not a str: the event takes the slow path
        if _clean_values(unchecked):
            values["time"] = when
            event = object.__new__(AuditEvent)
            object.__setattr__(event, "__dict__", values)
            return event
    given = {k: v for k, v in fields.items() if k in _PRINCIPAL_FIELDS}
    given.update({k: v for k, v in context.items() if v is not None or k not in given})
    if "time" not in given:
        given["time"] = when
    return AuditEvent(decision="allow", **given)


# An allow event the ring holds until it is read: ``_allow``'s arguments (fields, clean, context, time), as a
# plain tuple (cheaper to make than a NamedTuple; no AuditEvent is a tuple, so the ring tells them apart).
_Pending = tuple[dict[str, Any], bool, dict[str, Any], float]


def _principal_fields(principal: Principal) -> tuple[dict[str, Any], bool]:
    """Every field of an allow event for ``principal`` before its context (defaults for the others, scopes
    sorted) and whether they are clean; remembered on the principal.

    Principals are immutable and a validator's cache hands out the same object, so this is made and checked
    once per principal and lives as long as it (kept in the instance's ``__dict__``, as
    ``functools.cached_property`` does on a frozen dataclass; never compared, never shown).
    """
    known: tuple[dict[str, Any], bool] | None = principal.__dict__.get(_MEMO)
    if known is not None:
        return known
    # First-seen tokens of one caller differ in their fingerprint only: the rest is made and checked once per
    # caller (bounded; only clean fields are kept, so equal values give an equal event, test_perf_equivalence)
    group = (principal.subject, principal.client_id, principal.scopes, principal.actors, principal.strategy,
             principal.tenant, principal.notes)
    try:
        template = _templates.get(group)
        hashable = True
    except TypeError:  # a hand-built principal with an unhashable field (a set of scopes): the plain path
        template, hashable = None, False
    fingerprint = principal.fingerprint
    if template is not None and type(fingerprint) is str and len(fingerprint) <= MAX_TEXT \
            and UNSAFE.search(fingerprint) is None:
        fields = template.copy()
        fields["fingerprint"] = fingerprint
        known = principal.__dict__[_MEMO] = (fields, True)
        return known
    fields = _DEFAULTS.copy()
    fields.update({**AuditEvent.who(principal), "decision": "allow", "detail": "; ".join(principal.notes)})
    clean = _clean_values([fields[name] for name in _TEXT_FIELDS], {name: fields[name] for name in _LIST_FIELDS})
    principal.__dict__[_MEMO] = (fields, clean)
    if clean and hashable:
        if len(_templates) >= _TEMPLATES:
            _templates.clear()
        _templates[group] = fields
    return fields, clean


_TEMPLATES = 1024  # callers whose allow fields are remembered (each entry's text is at most ~40 x MAX_TEXT)
_templates: dict[tuple[Any, ...], dict[str, Any]] = {}


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


class AuditLog:
    """A bounded in-memory ring of events plus an optional JSONL file sink.

    ``path`` defaults to ``$LABKIT_AUDIT_LOG`` when set. Raises ``AuditFileError`` if the file cannot be
    opened safely (see ``open_append_only``).
    """

    def __init__(self, capacity: int = 10_000, path: str | os.PathLike[str] | None = None) -> None:
        self._lock = threading.Lock()
        self._ring: deque[AuditEvent | _Pending] = deque(maxlen=capacity)
        self._pending = False  # the ring holds allow events not built yet
        self.total = 0
        target = path if path is not None else os.environ.get("LABKIT_AUDIT_LOG") or None
        self.path = Path(target) if target else None
        self._file = open_append_only(self.path) if self.path else None
        # more sinks (labkit.observability: logging, Prometheus): called with each event after it is recorded
        self.sinks: list[Callable[[AuditEvent], None]] = []

    def record(self, event: AuditEvent) -> AuditEvent:
        """Append ``event`` to the ring and the file (one line, flushed)."""
        line = event.to_json() if self._file else None
        with self._lock:
            self._ring.append(event)
            self.total += 1
            if self._file is not None and line is not None:
                self._file.write(line + "\n")
                self._file.flush()
        # debug logging (logging.getLogger("labkit").setLevel(logging.DEBUG)): the decision, never a token
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug("%s %s: %s %s%s%s", event.decision, event.reason or "-", event.endpoint or "-",
                       event.method or "-", f" ({event.detail})" if event.detail else "",
                       f" fingerprint={event.fingerprint}" if event.fingerprint else "")
        for sink in self.sinks:
            try:
                sink(event)
            except Exception:  # a broken sink never turns a decision into a 500
                _log.exception("audit sink %r failed", sink)
        return event

    def record_allow(self, principal: Principal, **context: Any) -> None:
        """``record(AuditEvent.allow(principal, **context))``; unless a file, a sink or debug logging needs the event
        now, it is built when the ring is first read (with the time of this call): a request only notes it."""
        self.note_allow(principal, context)

    def note_allow(self, principal: Principal, context: dict[str, Any]) -> None:
        """``record_allow(principal, **context)``, taking ``context`` as it is (the caller hands it over)."""
        if self._file is not None or self.sinks or not context.keys() <= _FIELDS or _log.isEnabledFor(logging.DEBUG):
            self.record(AuditEvent.allow(principal, **context))
            return
        fields, clean = _principal_fields(principal)
        pending: _Pending = (fields, clean, context, time.time())
        with self._lock:
            self._ring.append(pending)
            self._pending = True
            self.total += 1

    def events(self) -> list[AuditEvent]:
        """The events in the ring, oldest first."""
        with self._lock:
            if self._pending:
                self._ring = deque((_allow(*e) if type(e) is tuple else e for e in self._ring),
                                   maxlen=self._ring.maxlen)
                self._pending = False
            return list(self._ring)  # type: ignore[arg-type] # every entry is built now

    def __iter__(self) -> Iterator[AuditEvent]:
        return iter(self.events())

    def __len__(self) -> int:
        with self._lock:
            return len(self._ring)

    def clear(self) -> None:
        """Empty the ring (the file keeps its lines)."""
        with self._lock:
            self._ring.clear()
            self._pending = False

    def to_dataframe(self) -> pd.DataFrame:
        """The ring as a pandas DataFrame, one row per event, columns as in ``AuditEvent``."""
        return events_to_dataframe(self.events())

    def close(self) -> None:
        """Close the file sink."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def events_to_dataframe(events: Iterable[AuditEvent]) -> pd.DataFrame:
    """A DataFrame of events (``time`` as UTC timestamps)."""
    import pandas as pd

    columns = list(AuditEvent.__dataclass_fields__)
    frame = pd.DataFrame([asdict(e) for e in events], columns=columns)
    frame["time"] = pd.to_datetime(frame["time"], unit="s", utc=True)
    return frame


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
