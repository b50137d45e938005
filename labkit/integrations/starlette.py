"""Starlette's ``AuthenticationMiddleware`` on the guard's decision, and a ``requires(...)`` that sends challenges.

    backend = BearerBackend(gate_for(cfg), audit=AuditLog())
    app = Starlette(routes=[Route("/items", items)],
                    middleware=[Middleware(AuthenticationMiddleware, backend=backend, on_error=backend.on_error)])

    @requires("api:read")
    async def items(request: Request) -> Response: ...

Decided deliberately, in Starlette's model: a request **without** a token is anonymous (``UnauthenticatedUser``)
and reaches routes that do not ask for one; a request with a token that fails validation is refused on every
route (``on_error``: 401 ``invalid_token``). ``requires(scopes)`` answers an anonymous request with a bare
401 challenge and a missing scope with 403 ``insufficient_scope, scope="..."`` (Starlette's own ``requires``
sends 403 and no challenge), 429 with ``Retry-After`` when the gate's admission check says so. Tokens come as
``Bearer`` or ``DPoP`` (RFC 9449): a DPoP-bound token needs its proof (the gate's ``DPoPPolicy``, against
``public_url``), and DPoP refusals carry the ``DPoP`` challenge and ``DPoP-Nonce`` as ``OAuth2Guard``'s do. For
deny by default on every route, use ``labkit.guard.OAuth2Guard`` instead.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from starlette.authentication import AuthCredentials, AuthenticationBackend, AuthenticationError, BaseUser
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from ..audit import AuditLog
from ..auth import Principal
from ..errors import AuthError, Reason
from ..guard import Decision, Gate, GuardUser, Requirement
from ..guard.routing import resolve
from ..scopes import EffectiveScopes
from ._common import audit_decision, phrase, presented

__all__ = ["SCOPE_KEY", "BearerBackend", "TokenRefused", "UserFactory", "requires"]

SCOPE_KEY = "labkit.backend"  # the backend and its decision, for requires()
UserFactory = Callable[[Principal, EffectiveScopes], BaseUser]
_Endpoint = TypeVar("_Endpoint", bound=Callable[..., Any])


class TokenRefused(AuthenticationError):
    """A bearer token that failed validation; carries the ``Decision`` that ``on_error`` answers from."""

    def __init__(self, decision: Decision) -> None:
        super().__init__("Unauthorized")
        self.decision = decision


class BearerBackend(AuthenticationBackend):
    """Authenticates ``Authorization: Bearer`` with the gate: ``AuthCredentials(effective scopes)`` and a user.

    ``tenant_param``: the path parameter naming the tenant; ``routes``: the app's routes, so that the tenant is
    read from the route the router will run (``labkit.guard.routing.resolve``), as the ASGI guard does; without them
    it is read from the path parameters already matched (the middleware inside ``Mount("/t/{tenant}", ...)``).
    ``realm``: the RFC 6750 §3 ``realm`` of the challenges (None: none is sent);
    ``resource_metadata``: the RFC 9728 metadata URL sent in challenges; ``public_url``: the app's public origin
    (plus a path prefix a proxy strips unannounced) that DPoP proofs name (default: the ASGI server's address).
    ``authenticate`` raises ``TokenRefused`` for a token that fails validation or its DPoP proof.
    """

    def __init__(
        self,
        gate: Gate,
        *,
        audit: AuditLog | None = None,
        realm: str | None = None,
        tenant_param: str = "tenant",
        routes: Sequence[BaseRoute] | None = None,
        resource_metadata: str | None = None,
        user_factory: UserFactory = GuardUser,
        public_url: str | None = None,
    ) -> None:
        self.gate = gate
        self.routes = routes
        self.public_url = public_url
        self.audit = audit
        self.realm = realm
        self.tenant_param = tenant_param
        self.resource_metadata = resource_metadata
        self.user_factory = user_factory

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        """The credentials and user of a valid token; None (anonymous) without one."""
        token, presentation = presented(conn.scope, self.public_url)
        found = await self.gate.authenticate(token, self._tenant(conn), presentation=presentation)
        conn.scope[SCOPE_KEY] = (self, found)
        if token is None:
            return None  # anonymous: requires() answers with a bare challenge
        if not found.allowed:
            audit_decision(self.audit, found, endpoint=_label(conn), method=conn.scope.get("method"))
            raise TokenRefused(found)
        assert found.principal is not None and found.effective is not None  # noqa: S101 - allowed
        return AuthCredentials(sorted(found.effective)), self.user_factory(found.principal, found.effective)

    def _tenant(self, conn: HTTPConnection) -> str | None:
        """The tenant named by the route the app will run (the guard's rule: one routing, never re-derived)."""
        params = conn.scope.get("path_params", {})
        if self.routes is not None:
            resolved = resolve(self.routes, conn.scope)
            params = resolved.path_params if resolved else {}
        tenant = params.get(self.tenant_param)
        return str(tenant) if tenant is not None else None

    def on_error(self, conn: HTTPConnection, exc: AuthenticationError) -> Response:
        """``AuthenticationMiddleware``'s answer to a refused token: 401 and the RFC 6750 challenge."""
        if isinstance(exc, TokenRefused):
            return self.refusal(exc.decision)
        # Another AuthenticationError (from code around the backend): a malformed credential, by the same table.
        return self.refusal(Decision(Requirement(), error=AuthError(Reason.MALFORMED, "authentication failed")))

    def refusal(self, decision: Decision) -> Response:
        """The response to a refused decision: the table's status, challenge and ``Retry-After``."""
        status = decision.status
        return JSONResponse({"error": phrase(status)}, status,
                            headers=decision.headers(self.realm, self.resource_metadata))


def requires(scopes: str | Sequence[str] = ()) -> Callable[[_Endpoint], _Endpoint]:
    """Decorate an endpoint (with a ``request`` parameter) so that it needs a valid token and ``scopes``.

    Anonymous: 401 with a bare challenge; a missing scope: 403 ``insufficient_scope``; the admission check:
    429. Raises ``TypeError`` at decoration time when the endpoint has no ``request`` parameter, and
    ``RuntimeError`` at request time when ``AuthenticationMiddleware`` with a ``BearerBackend`` is not installed.
    """
    needed = (scopes,) if isinstance(scopes, str) else tuple(scopes)

    def decorate(endpoint: _Endpoint) -> _Endpoint:
        names = list(inspect.signature(endpoint).parameters)
        if "request" not in names:
            raise TypeError(f'{endpoint.__qualname__}: requires() needs a parameter named "request"')
        index = names.index("request")

        @functools.wraps(endpoint)
        async def guarded(*args: Any, **kwargs: Any) -> Any:
            request = kwargs.get("request", args[index] if index < len(args) else None)
            if not isinstance(request, Request):
                raise TypeError(f"{endpoint.__qualname__}: no Request in the call")
            answer = await _decide(request, needed, endpoint.__qualname__)
            if answer is not None:
                return answer
            if inspect.iscoroutinefunction(endpoint):
                return await endpoint(*args, **kwargs)
            return await run_in_threadpool(endpoint, *args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorate


async def _decide(request: Request, scopes: tuple[str, ...], name: str) -> Response | None:
    """The refusal for this request, or None when it may run; audited once."""
    stored: tuple[BearerBackend, Decision] | None = request.scope.get(SCOPE_KEY)
    if stored is None:
        raise RuntimeError(f"{name}: requires() needs AuthenticationMiddleware with a labkit BearerBackend")
    backend, found = stored
    label = _label(request)
    decision = await backend.gate.decide(None, Requirement(scopes, label), found.tenant, authenticated=found)
    audit_decision(backend.audit, decision, endpoint=label, method=request.method)
    return None if decision.allowed else backend.refusal(decision)


def _label(conn: HTTPConnection) -> str:
    # The route's path template, never the client's path: audit strings stay bounded and app-defined.
    # Before routing (the middleware at the app's root) there is no route yet: the backend is named instead.
    route = conn.scope.get("route")
    return str(getattr(route, "path", "bearer backend"))
