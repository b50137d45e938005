"""OpenTelemetry spans around validation, JWKS fetches and introspection (the API only; a no-op without it).

Spans carry the strategy, the endpoint host and, on a refusal, the decision's reason class; never a token
or a claim value. Install the ``[otel]`` extra and configure an SDK tracer provider to export them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .errors import AuthError

__all__ = ["TRACER_NAME", "span"]

TRACER_NAME = "labkit"

try:
    from opentelemetry import trace as _trace
    from opentelemetry.trace import Status, StatusCode
except ImportError:  # pragma: no cover - opentelemetry-api is optional
    _trace = None  # type: ignore[assignment]


@contextmanager
def span(name: str, **attributes: str | int | float | bool | None) -> Iterator[Any]:
    """A span named ``name`` with ``attributes`` (None values dropped); an ``AuthError`` inside sets the
    status to error and ``labkit.reason``/``labkit.reason_class``, then propagates. Raises nothing itself."""
    if _trace is None:
        yield None
        return
    tracer = _trace.get_tracer(TRACER_NAME)
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
