"""What the integrations share: a ``Gate`` from a config, the token of a request and how it was presented
(``presented``: Bearer or DPoP, the proofs, the method and URL; the ASGI guard reads requests with it too), one
audit event each.

Nothing here imports FastAPI or the mcp SDK: only the modules beside it do, each its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from http import HTTPStatus
from typing import Any

from ..audit import AuditLog
from ..guard import Decision, Gate, bearer_token
from ..guard.build import accepting, gate_for
from ..guard.dpop import presented

__all__ = ["AUTHENTICATED", "accepting", "audit_decision", "closing", "gate_for", "phrase", "presented",
           "request_token"]

# scope key: the authentication of this request, once per gate (a DPoP proof's jti is spent once per request)
AUTHENTICATED = "labkit.authenticated"


def closing(gate: Gate) -> Callable[[Any], contextlib.AbstractAsyncContextManager[None]]:
    """A lifespan (Starlette, FastAPI, ``MCPServer``) that closes the gate's HTTP clients at shutdown."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await gate.aclose()

    return lifespan


def request_token(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The bearer token of raw ASGI headers by the guard's strict parser (RFC 6750 §2.1), or None."""
    return bearer_token(value for key, value in headers if key == b"authorization")


def phrase(status: int) -> str:
    """The body text of a refusal: the status phrase and nothing more (the audit log says why)."""
    return HTTPStatus(status).phrase


def audit_decision(audit: AuditLog | None, decision: Decision, *, endpoint: str, method: str | None = None,
                   status: int | None = None) -> None:
    """Record ``decision`` in ``audit`` (if any): an allow event, or a deny event with the principal when known."""
    if audit is not None:
        audit.record(decision.audit_event(endpoint=endpoint, method=method or decision.requirement.label or None,
                                          plugin=decision.requirement.plugin, tenant=decision.tenant,
                                          status=status if status is not None else decision.status))
