"""The audit log: one ``AuditEvent`` per decision, in a memory ring and optionally a JSONL file.

Events hold metadata only (subject, client, scopes, decision, reason, endpoint, strategy, latency, a
12-hex-digit token fingerprint); never a token. Recording is thread-safe and loses no event.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .auth.principal import Principal
from .errors import AuthError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["AuditEvent", "AuditLog", "read_jsonl"]

Decision = Literal["allow", "deny"]
_log = logging.getLogger(__name__)


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
    time: float = field(default_factory=time.time)

    @classmethod
    def allow(cls, principal: Principal, **context: Any) -> AuditEvent:
        """An allow event for ``principal`` (``context`` adds endpoint, method, status, ...)."""
        fields: dict[str, Any] = {
            "subject": principal.subject, "client": principal.client_id, "scopes": tuple(sorted(principal.scopes)),
            "strategy": principal.strategy, "tenant": principal.tenant, "fingerprint": principal.fingerprint,
            "detail": "; ".join(principal.notes),
        }
        fields.update({k: v for k, v in context.items() if v is not None or k not in fields})
        return cls(decision="allow", **fields)

    @classmethod
    def deny(cls, error: AuthError, **context: Any) -> AuditEvent:
        """A deny event for ``error`` (its reason and token-free detail)."""
        return cls(decision="deny", reason=error.reason.value, detail=error.detail, **context)

    def to_json(self) -> str:
        """One JSON line."""
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))


class AuditLog:
    """A bounded in-memory ring of events plus an optional JSONL file sink.

    ``path`` defaults to ``$LABKIT_AUDIT_LOG`` when set. Raises ``OSError`` if the file cannot be opened.
    """

    def __init__(self, capacity: int = 10_000, path: str | os.PathLike[str] | None = None) -> None:
        self._lock = threading.Lock()
        self._ring: deque[AuditEvent] = deque(maxlen=capacity)
        self.total = 0
        target = path if path is not None else os.environ.get("LABKIT_AUDIT_LOG") or None
        self.path = Path(target) if target else None
        self._file = self.path.open("a", encoding="utf-8") if self.path else None
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
        for sink in self.sinks:
            try:
                sink(event)
            except Exception:  # a broken sink never turns a decision into a 500
                _log.exception("audit sink %r failed", sink)
        return event

    def events(self) -> list[AuditEvent]:
        """The events in the ring, oldest first."""
        with self._lock:
            return list(self._ring)

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


def events_to_dataframe(events: Iterable[AuditEvent]) -> pd.DataFrame:
    """A DataFrame of events (``time`` as UTC timestamps)."""
    import pandas as pd

    columns = list(AuditEvent.__dataclass_fields__)
    frame = pd.DataFrame([asdict(e) for e in events], columns=columns)
    frame["time"] = pd.to_datetime(frame["time"], unit="s", utc=True)
    return frame


def read_jsonl(path: str | os.PathLike[str]) -> list[AuditEvent]:
    """Events from a JSONL audit file; raises ``ValueError`` naming the first bad line."""
    events: list[AuditEvent] = []
    with Path(path).open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                data["scopes"] = tuple(data.get("scopes") or ())
                events.append(AuditEvent(**data))
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: not an audit event ({exc.__class__.__name__})") from None
    return events
