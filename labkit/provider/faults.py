"""Fault injection for the reliability lessons: latency, error statuses, malformed bodies, drops."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import asdict, dataclass
from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

__all__ = ["ENDPOINTS", "DroppedResponse", "Fault", "Faults", "apply_fault"]

ENDPOINTS = ("metadata", "jwks", "token", "authorize", "introspect", "revoke", "github")


@dataclass(frozen=True)
class Fault:
    """What goes wrong at one endpoint."""

    latency: float = 0.0  # seconds added before answering
    status: int | None = None  # answer with this HTTP status (e.g. 500, 503)
    malformed: bool = False  # answer 200 with a body that is not JSON
    drop: bool = False  # drop the connection mid-response
    missing_key: bool = False  # JWKS only: publish without the active signing keys

    def describe(self) -> dict[str, Any]:
        """The fault as a plain mapping (only what is set)."""
        return {k: v for k, v in asdict(self).items() if v not in (0.0, None, False)}


class Faults:
    """Per-tenant, per-endpoint faults; thread-safe. Raises ``ValueError`` for an unknown endpoint."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: dict[tuple[str | None, str], Fault] = {}

    def set(self, endpoint: str, *, tenant: str | None = None, **fault: Any) -> Fault:
        """Inject a fault at ``endpoint`` (one of ``ENDPOINTS``)."""
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; use one of {', '.join(ENDPOINTS)}")
        value = Fault(**fault)
        if value.latency < 0 or value.latency > 60:
            raise ValueError("latency must be between 0 and 60 seconds")
        if value.status is not None and not 100 <= value.status <= 599:
            raise ValueError("status must be an HTTP status code")
        with self._lock:
            self._faults[(tenant, endpoint)] = value
        return value

    def get(self, endpoint: str, tenant: str | None = None) -> Fault | None:
        """The fault at ``endpoint`` of ``tenant``, if any."""
        with self._lock:
            return self._faults.get((tenant, endpoint))

    def reset(self, endpoint: str | None = None, *, tenant: str | None = None) -> None:
        """Clear one endpoint's fault, or every fault when ``endpoint`` is None."""
        with self._lock:
            if endpoint is None:
                self._faults.clear()
            else:
                self._faults.pop((tenant, endpoint), None)

    def active(self) -> dict[str, dict[str, Any]]:
        """Every fault, as ``{"tenant/endpoint": {...}}``."""
        with self._lock:
            return {f"{t or 'default'}/{e}": f.describe() for (t, e), f in self._faults.items()}


async def apply_fault(fault: Fault) -> Response | None:
    """The response a fault answers with instead of the endpoint (after its latency), or None to go on."""
    if fault.latency:
        await asyncio.sleep(fault.latency)
    if fault.drop:
        return DroppedResponse()
    if fault.status is not None:
        return JSONResponse({"error": "server_error", "error_description": "injected fault"}, fault.status)
    if fault.malformed:
        return Response(b'{"keys": [ this is not json', 200, media_type="application/json")
    return None


class DroppedResponse(Response):
    """Starts a response and never finishes it: the client sees the connection drop."""

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"trunc', "more_body": True})
        raise ConnectionAbortedError("injected fault: connection dropped")
