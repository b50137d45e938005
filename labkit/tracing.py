"""OpenTelemetry spans around validation, JWKS fetches, introspection and authorization (the API only; a no-op
without it).

Spans carry the strategy, the endpoint host and, on a refusal, the decision's reason class; never a token
or a claim value. ``labkit.authorize`` (``Gate.decide``) carries every front door's outcome: ``labkit.decision``,
``labkit.status`` (403 included) and ``labkit.reason``. ``trace_id()`` joins audit events to their traces.
Install the ``[otel]`` extra and configure an SDK tracer provider to export them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from .errors import AuthError, Reason

__all__ = ["NO_SPAN", "TRACER_NAME", "active_tracer", "mark_decision", "span", "trace_id", "tracing_on"]

TRACER_NAME = "labkit"

try:
    from opentelemetry import trace as _trace
    from opentelemetry.trace import NoOpTracerProvider, ProxyTracerProvider, Status, StatusCode
except ImportError:  # pragma: no cover - opentelemetry-api is optional
    _trace = None  # type: ignore[assignment]

NO_SPAN: AbstractContextManager[Any] = nullcontext()  # what span() returns while nothing records
_NO_SPAN = NO_SPAN
_tracer: Any = None  # the labkit tracer, once an SDK provider is installed (OpenTelemetry sets it only once)


_UNKNOWN = object()
# opentelemetry loads a provider named by this variable on first use; otherwise one must be set in code.
_PROVIDER_FROM_ENV = "OTEL_PYTHON_TRACER_PROVIDER" in os.environ


def active_tracer() -> Any:
    """The tracer of an installed SDK provider, or None while spans would be dropped anyway."""
    global _tracer
    if _tracer is None and _trace is not None:
        # get_tracer_provider() reads the environment on every call until a provider is set (about a
        # microsecond); the API module's own slot says "none yet" for free. Unknown slot: ask the API.
        if not _PROVIDER_FROM_ENV and getattr(_trace, "_TRACER_PROVIDER", _UNKNOWN) is None:
            return None
        provider = _trace.get_tracer_provider()
        if not isinstance(provider, (ProxyTracerProvider, NoOpTracerProvider)):
            _tracer = provider.get_tracer(TRACER_NAME)
    return _tracer


def tracing_on() -> bool:
    """True when an SDK tracer provider records spans (callers skip building a span's attributes otherwise)."""
    return active_tracer() is not None


def trace_id() -> str | None:
    """The trace id of the span active now, as 32 hex digits (W3C Trace Context), or None: no SDK provider, or
    no valid span. The audit event's ``request_id`` takes it, so a decision joins its trace. Raises nothing."""
    if active_tracer() is None:
        return None  # nothing records: no trace to join (and the hot path stays cheap)
    context = _trace.get_current_span().get_span_context()
    return _trace.format_trace_id(context.trace_id) if context.is_valid else None


def span(name: str, **attributes: str | int | float | bool | None) -> AbstractContextManager[Any]:
    """A span named ``name`` with ``attributes`` (None values dropped); an ``AuthError`` inside sets the
    status to error and ``labkit.reason``/``labkit.reason_class``, then propagates. Raises nothing itself.

    Without an SDK tracer provider nothing would be recorded, so no span is started (the hot path stays cheap).
    """
    tracer = active_tracer()
    if tracer is None:
        return _NO_SPAN
    return _recording_span(tracer, name, attributes)


@contextmanager
def _recording_span(tracer: Any, name: str, attributes: dict[str, Any]) -> Iterator[Any]:
    clean = {f"labkit.{k}": v for k, v in attributes.items() if v is not None}
    # no exception text on spans: it could quote what a client sent
    with tracer.start_as_current_span(name, attributes=clean, record_exception=False,
                                      set_status_on_exception=False) as current:
        try:
            yield current
        except AuthError as exc:
            current.set_attribute("labkit.decision", "deny")
            current.set_attribute("labkit.reason", exc.reason.value)
            current.set_attribute("labkit.reason_class", exc.reason.reason_class)
            current.set_status(Status(StatusCode.ERROR, exc.reason.value))
            raise
        except BaseException as exc:
            current.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise


def mark_decision(current: Any, status: int, reason: Reason | None) -> None:
    """Set a decision's outcome on ``current`` (a recording span): ``labkit.decision``, ``labkit.status`` and,
    on a refusal (401, 403, 429, ...), ``labkit.reason``/``labkit.reason_class`` and the error status, so a refused
    request shows in traces. Raises nothing."""
    current.set_attribute("labkit.decision", "allow" if reason is None else "deny")
    current.set_attribute("labkit.status", status)
    if reason is not None:
        current.set_attribute("labkit.reason", reason.value)
        current.set_attribute("labkit.reason_class", reason.reason_class)
        current.set_status(Status(StatusCode.ERROR, reason.value))
