"""What the integrations share: a ``Gate`` from a config, the bearer token of a request, one audit event each.

Nothing here imports FastAPI or the mcp SDK: only the modules beside it do, each its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from http import HTTPStatus
from typing import Any

import httpx

from ..audit import AuditEvent, AuditLog
from ..auth import build_validator
from ..config import OAuth2Config, SecurityConfig
from ..guard import Admit, Decision, Gate, TenantAuth, bearer_token

__all__ = ["accepting", "audit_decision", "closing", "gate_for", "phrase", "request_token"]


def accepting(oauth2: OAuth2Config, resources: Sequence[str]) -> OAuth2Config:
    """``oauth2`` with the RFC 9728 ``resources`` an app advertises accepted as audiences.

    A client following RFC 8707 (and the MCP authorization spec) asks for a token with ``resource`` set to
    the advertised value, which becomes its ``aud``. When no audience is configured nothing is checked, so
    nothing is added.
    """
    if not oauth2.audiences or not resources:
        return oauth2
    return oauth2.model_copy(update={"jwt_audience": list(dict.fromkeys([*oauth2.audiences, *resources]))})


def gate_for(
    cfg: SecurityConfig,
    *,
    resources: Sequence[str] = (),
    clock: Callable[[], float] | None = None,
    http: httpx.AsyncClient | None = None,
    admit: Admit | None = None,
) -> Gate:
    """A ``Gate`` for the config's default tenant and its ``tenants:``; ``resources`` are accepted audiences of
    the default tenant (see ``accepting``). Raises nothing: a bad config is refused when it is loaded."""
    tenants: dict[str | None, TenantAuth] = {
        None: TenantAuth(None, build_validator(accepting(cfg.oauth2, resources), clock=clock, http=http),
                         cfg.scope_hierarchy, cfg.oauth2.issuers),
    }
    for name, tenant in cfg.tenants.items():
        validator = build_validator(tenant.oauth2, clock=clock, http=http, tenant=name)
        tenants[name] = TenantAuth(name, validator, tenant.scope_hierarchy, tenant.oauth2.issuers)
    return Gate(tenants, admit=admit)


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
    if audit is None:
        return
    context: dict[str, Any] = {"endpoint": endpoint, "method": method or decision.requirement.label or None,
                               "plugin": decision.requirement.plugin, "tenant": decision.tenant,
                               "status": status if status is not None else decision.status}
    principal = decision.principal
    if decision.error is None:
        assert principal is not None  # noqa: S101 - an allowed decision has a principal
        audit.record(AuditEvent.allow(principal, **context))
        return
    if principal is not None:
        context.update(subject=principal.subject, client=principal.client_id, scopes=tuple(sorted(principal.scopes)),
                       strategy=principal.strategy, fingerprint=principal.fingerprint)
    audit.record(AuditEvent.deny(decision.error, **context))
