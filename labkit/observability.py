"""Audit sinks for operators: each decision as a JSON log line, and as Prometheus metrics.

Attach them to an ``AuditLog`` (``attach(lab.audit, LoggingSink(), PrometheusSink())``); the ring and the
JSONL file stay as they are. Sinks see ``AuditEvent`` metadata only, never a token. Label values that a
client chooses (endpoint, tenant) are bounded: at most ``max_values`` distinct ones per label, each cut to
64 characters, the rest counted as ``other``, so a scan of random paths cannot grow memory without bound.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import deque
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from .audit import AuditEvent, AuditLog

__all__ = ["LATENCY_BUCKETS", "AuditSink", "LogCapture", "LoggingSink", "PrometheusSink", "attach"]

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class AuditSink(Protocol):
    """Anything called with each recorded ``AuditEvent``; it must not raise (``AuditLog`` logs it if it does)."""

    def __call__(self, event: AuditEvent) -> None: ...


def attach(audit: AuditLog, *sinks: AuditSink) -> AuditLog:
    """Add ``sinks`` to ``audit`` (each is then called after every recorded event); returns ``audit``."""
    audit.sinks.extend(sinks)
    return audit


class LoggingSink:
    """Logs each event as one JSON line (``AuditEvent.to_json``) on ``labkit.audit.events``: allow at INFO,
    deny at WARNING. Route it with the standard ``logging`` configuration (or ``python-json-logger``)."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or logging.getLogger("labkit.audit.events")

    def __call__(self, event: AuditEvent) -> None:
        level = logging.INFO if event.decision == "allow" else logging.WARNING
        if self.logger.isEnabledFor(level):
            self.logger.log(level, "%s", event.to_json())


class LogCapture(logging.Handler):
    """Keeps the ``labkit`` logger tree's records in a bounded ring instead of passing them to the root logger
    (the lab's notebooks stay deterministic even when an SDK configured the root logger); ``records``
    holds the latest ``capacity``. ``start()``/``stop()`` install and restore; raises nothing."""

    def __init__(self, capacity: int = 1_000, logger: str = "labkit") -> None:
        super().__init__(logging.DEBUG)
        self.records: deque[logging.LogRecord] = deque(maxlen=capacity)
        self.logger = logging.getLogger(logger)
        self._propagate = self.logger.propagate

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def messages(self) -> list[str]:
        """The captured records as ``LEVEL name: message`` lines, oldest first."""
        return [f"{r.levelname} {r.name}: {r.getMessage()}" for r in list(self.records)]

    def start(self) -> LogCapture:
        """Capture from now on (the logger stops propagating to the root)."""
        self._propagate = self.logger.propagate
        self.logger.addHandler(self)
        self.logger.propagate = False
        return self

    def stop(self) -> None:
        """Stop capturing; the logger propagates as before."""
        self.logger.removeHandler(self)
        self.logger.propagate = self._propagate


class _Bounded:
    """Maps client-chosen label values onto at most ``limit`` distinct ones (then ``other``)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.seen: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self, value: str | None) -> str:
        text = (value or "")[:64]
        with self.lock:
            if text in self.seen:
                return text
            if len(self.seen) < self.limit:
                self.seen.add(text)
                return text
        return "other"


class PrometheusSink:
    """Prometheus metrics from audit events (needs the ``[metrics]`` extra, ``prometheus-client``):

    - ``labkit_decisions_total{decision, reason, tenant, endpoint}``;
    - ``labkit_decision_latency_seconds{decision}``, a histogram of the time each front door took to decide
      (``Decision.latency_ms``: from the gate's authentication to the decision, the app's own time excluded).

    ``registry``: where the metrics are registered; by default prometheus_client's global ``REGISTRY``, which
    ``prometheus_client.start_http_server``, ``make_asgi_app()`` and ``app`` all expose. Pass a
    ``CollectorRegistry()`` to keep them apart (then serve them with ``app`` or ``exposition``). One sink per
    registry: attach the same sink to every ``AuditLog``. Raises ``ImportError`` without prometheus-client and
    ``ValueError`` (prometheus-client's "Duplicated timeseries") for a second sink on the same registry.
    """

    def __init__(self, registry: Any = None, *, max_values: int = 100) -> None:
        from ._extras import require

        require("labkit.observability.PrometheusSink", "prometheus_client")
        from prometheus_client import REGISTRY, Counter, Histogram

        self.registry = registry if registry is not None else REGISTRY
        self.decisions = Counter("labkit_decisions", "Authorization decisions by outcome and reason",
                                 ["decision", "reason", "tenant", "endpoint"], registry=self.registry)
        self.latency = Histogram("labkit_decision_latency_seconds", "Time to reach a decision",
                                 ["decision"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self._endpoint = _Bounded(max_values)
        self._tenant = _Bounded(max_values)

    def close(self) -> None:
        """Remove the metrics from the registry (a new sink may then register them again). Raises nothing."""
        for collector in (self.decisions, self.latency):
            with contextlib.suppress(KeyError):
                self.registry.unregister(collector)

    def __call__(self, event: AuditEvent) -> None:
        self.decisions.labels(event.decision, event.reason or "", self._tenant(event.tenant),
                              self._endpoint(event.endpoint)).inc()
        if event.latency_ms is not None and event.latency_ms >= 0:
            self.latency.labels(event.decision).observe(event.latency_ms / 1000)

    def exposition(self) -> bytes:
        """The metrics in the Prometheus text format."""
        from prometheus_client import generate_latest

        return bytes(generate_latest(self.registry))

    async def app(self, request: Request) -> Response:
        """A Starlette endpoint serving the sink's registry: ``Route("/metrics", sink.app)`` (mark the route public
        under ``OAuth2Guard``, or serve it on another port with ``prometheus_client.start_http_server``)."""
        from prometheus_client import CONTENT_TYPE_LATEST
        from starlette.responses import Response

        return Response(self.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})
