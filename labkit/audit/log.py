"""``AuditLog``: a bounded, thread-safe ring of events, an optional JSONL file and more sinks.

Recording is thread-safe and loses no event: each is built before it is recorded (``AuditEvent.allow``), so
what a reader of the ring sees is what a sink or the file saw. A failing sink is logged, never raised.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..auth.principal import Principal
from .event import AuditEvent, events_to_dataframe
from .files import open_append_only

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["AuditLog"]


def _without(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        text = text.replace(secret, "<secret>")
    return text

_log = logging.getLogger("labkit.audit")  # the name operators configure (lesson 11 shows its debug lines)


class AuditLog:
    """A bounded in-memory ring of events plus an optional JSONL file sink.

    ``path`` defaults to ``$LABKIT_AUDIT_LOG`` when set. ``redact``: secrets no event may carry (a private lab's
    capability, which its URLs hold: a token's ``iss`` or ``aud`` quoted in a refusal's detail), each replaced by
    ``<secret>`` before the event is kept. Raises ``AuditFileError`` if the file cannot be opened safely (see
    ``open_append_only``).
    """

    def __init__(self, capacity: int = 10_000, path: str | os.PathLike[str] | None = None, *,
                 redact: Iterable[str] = ()) -> None:
        self._redact = tuple(s for s in redact if s)
        self._lock = threading.Lock()
        self._ring: deque[AuditEvent] = deque(maxlen=capacity)
        self.total = 0
        target = path if path is not None else os.environ.get("LABKIT_AUDIT_LOG") or None
        self.path = Path(target) if target else None
        self._file = open_append_only(self.path) if self.path else None
        # more sinks (labkit.observability: logging, Prometheus): called with each event after it is recorded
        self.sinks: list[Callable[[AuditEvent], None]] = []

    def record(self, event: AuditEvent) -> AuditEvent:
        """Append ``event`` (its text without any ``redact`` secret) to the ring and the file (one line, flushed),
        then hand it to each sink; the event kept."""
        if self._redact:
            event = self._redacted(event)
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

    def _redacted(self, event: AuditEvent) -> AuditEvent:
        """``event``, or a copy whose text fields, scopes and actors have each secret replaced."""
        changed: dict[str, Any] = {}
        for name, value in event.__dict__.items():
            texts = value if isinstance(value, tuple) else (value,)
            if any(isinstance(t, str) and secret in t for t in texts for secret in self._redact):
                cleaned = tuple(_without(t, self._redact) if isinstance(t, str) else t for t in texts)
                changed[name] = cleaned if isinstance(value, tuple) else cleaned[0]
        return dataclasses.replace(event, **changed) if changed else event

    def record_allow(self, principal: Principal, **context: Any) -> AuditEvent:
        """``record(AuditEvent.allow(principal, **context))``; raises ``TypeError`` for an unknown context key."""
        return self.record(AuditEvent.allow(principal, **context))

    def note_allow(self, principal: Principal, context: dict[str, Any]) -> AuditEvent:
        """``record_allow`` with the context as a dict (the guard's call)."""
        return self.record(AuditEvent.allow(principal, **context))

    def events(self) -> list[AuditEvent]:
        """The events in the ring, oldest first."""
        with self._lock:
            return list(self._ring)

    def since(self, total: int) -> list[AuditEvent]:
        """The events recorded after the log's ``total`` was ``total`` (those still in the ring), oldest first."""
        with self._lock:
            fresh = self.total - total
            return list(self._ring)[-fresh:] if fresh > 0 else []

    def __iter__(self) -> Iterator[AuditEvent]:
        return iter(self.events())

    def __len__(self) -> int:
        with self._lock:
            return len(self._ring)

    def clear(self) -> None:
        """Empty the ring (the file keeps its lines)."""
        with self._lock:
            self._ring.clear()

    def to_dataframe(self) -> pd.DataFrame:
        """The ring as a pandas DataFrame, one row per event, columns as in ``AuditEvent``."""
        return events_to_dataframe(self.events())

    def close(self) -> None:
        """Close the file sink."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
