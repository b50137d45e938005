"""``AuditEvent``: one authorization decision, metadata only, every string bounded and printable.

Events hold subject, client, scopes, the RFC 8693 ``act`` chain as ``actors``, decision, reason, endpoint,
strategy, latency and a 12-hex-digit token fingerprint; never a token. Every string an event holds is cleaned
(``safe_text``) by its constructor, whoever built it: ``allow``, ``deny`` and a line read back from a file all
go through it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .._text import MAX_TEXT, has_unsafe, safe_text
from ..auth.principal import Principal
from ..errors import AuthError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MAX_ACTORS", "MAX_SCOPES", "AuditEvent", "Decision", "events_to_dataframe"]

Decision = Literal["allow", "deny"]
MAX_SCOPES = 32
MAX_ACTORS = 8
_TEXT_FIELDS = ("reason", "detail", "subject", "client", "strategy", "endpoint", "method", "plugin", "tenant",
               "fingerprint", "request_id")


def _clean(event: AuditEvent) -> bool:
    """True when ``safe_text`` and the bounds would keep every text field, scope and actor as it is."""
    values = event.__dict__  # read only: the fields as given to the constructor
    scopes, actors = values["scopes"], values["actors"]
    if type(scopes) is not tuple or len(scopes) > MAX_SCOPES or type(actors) is not tuple or len(actors) > MAX_ACTORS:
        return False
    texts = [value for name in _TEXT_FIELDS if (value := values[name]) is not None]
    texts += scopes
    texts += actors
    # exact str only (a subclass may answer len() or the search differently); then one search over all of them:
    # a space joins them and is itself safe
    return (not texts or ({*map(type, texts)} == {str} and max(map(len, texts)) <= MAX_TEXT)) \
        and not has_unsafe(" ".join(texts))


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
    request_id: str | None = None  # the active trace id, else the X-Request-ID (correlation only, never decides)
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
        """An allow event for ``principal`` (``context`` adds endpoint, method, status, ...; a None value keeps
        the principal's). Raises ``TypeError`` for a context key that is not a field."""
        fields = cls.who(principal)
        fields["detail"] = "; ".join(principal.notes)
        for name, value in context.items():
            if value is not None or name not in fields:
                fields[name] = value
        return cls("allow", **fields)

    @classmethod
    def deny(cls, error: AuthError, **context: Any) -> AuditEvent:
        """A deny event for ``error`` (its reason and token-free detail)."""
        return cls(decision="deny", reason=error.reason.value, detail=error.detail, **context)

    def to_json(self) -> str:
        """One JSON line."""
        # asdict() without its deep copy: every field is a str, number, None or a tuple of str
        return json.dumps({name: getattr(self, name) for name in _NAMES}, ensure_ascii=False, separators=(",", ":"))


_NAMES = tuple(AuditEvent.__dataclass_fields__)


def events_to_dataframe(events: Iterable[AuditEvent]) -> pd.DataFrame:
    """A DataFrame of events (``time`` as UTC timestamps)."""
    import pandas as pd

    frame = pd.DataFrame([asdict(e) for e in events], columns=list(_NAMES))
    frame["time"] = pd.to_datetime(frame["time"], unit="s", utc=True)
    return frame
