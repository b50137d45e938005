"""The instructor's board: a JupyterHub service (a Starlette app) that learners' labs report progress to and
instructors read, an OAuth2 resource server protected by labkit's own guard.

Tokens are the hub's own: a learner's lab reports with its ``JUPYTERHUB_API_TOKEN``, an instructor's browser holds
the token the hub's OAuth flow gave the board (``login``). The guard validates every one against the hub's token
API (``GET /hub/api/user``, the ``jupyterhub`` introspection dialect) and decides on scopes the hub's roles grant:

| route (under the service prefix) | needs |
|---|---|
| ``PUT api/progress/{learner}/{challenge}`` | ``custom:labkit-board:report``, and the token's user is ``learner`` |
| ``GET ``, ``GET api/progress``, ``GET progress.csv`` | ``custom:labkit-board:read`` (the ``instructors`` group) |

A refusal is 401/403 with its RFC 6750 challenge and one line in the audit log (``LABKIT_AUDIT_LOG``) saying why.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from ..audit import AuditLog
from ..challenges import CHALLENGES
from ..errors import AuthError, Reason
from ..guard import Decision, Gate, Requirement
from ..integrations.starlette import SCOPE_KEY, BearerBackend
from .login import COOKIE, HubLogin
from .page import render_csv, render_page
from .store import BoardStore, Report

__all__ = ["READ_SCOPE", "REPORT_SCOPE", "board_app"]

REPORT_SCOPE = "custom:labkit-board:report"
READ_SCOPE = "custom:labkit-board:read"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")  # a hub user name, as stored
_MAX_BODY = 4096


async def _decide(request: Request, scopes: tuple[str, ...], learner: str | None = None) -> Decision:
    """The guard's decision on this request (audited once): its header's token, else (a page read by a browser)
    the token the hub's OAuth flow left in the board's cookie."""
    backend, found = request.scope[SCOPE_KEY]
    gate: Gate = backend.gate
    label = str(getattr(request.scope.get("route"), "path", request.url.path))
    requirement = Requirement(scopes, label)
    cookie = request.cookies.get(COOKIE)
    if found.principal is None and found.error is not None and found.error.reason is Reason.MISSING_TOKEN \
            and request.method == "GET" and cookie:
        decision = await gate.decide(cookie, requirement)
    else:
        decision = await gate.decide(None, requirement, found.tenant, authenticated=found)
    # the board's ownership rule: a learner reports only their own progress (the hub's user of the token)
    if decision.allowed and learner is not None and decision.principal is not None \
            and decision.principal.subject != learner:
        decision = decision.refuse(AuthError(Reason.INSUFFICIENT_SCOPE,
                                             f"{decision.principal.subject} may report only their own progress"))
    if backend.audit is not None:
        backend.audit.record(decision.audit_event(endpoint=label, method=request.method, status=decision.status))
    return decision


def _refused(request: Request, decision: Decision) -> Response:
    backend: BearerBackend = request.scope[SCOPE_KEY][0]
    return backend.refusal(decision)


async def _report(request: Request) -> Response:
    learner, challenge = request.path_params["learner"], request.path_params["challenge"]
    decision = await _decide(request, (REPORT_SCOPE,), learner)
    if not decision.allowed:
        return _refused(request, decision)
    # bounded board: a report names one of the shipped challenges (labkit.challenges), never an invented key
    if not _NAME.fullmatch(learner) or challenge not in CHALLENGES:
        return JSONResponse({"error": "learner malformed or challenge unknown"}, 400)
    body = bytearray()
    async for chunk in request.stream():  # a bounded read: an allowed learner still cannot send megabytes
        body += chunk
        if len(body) > _MAX_BODY:
            return JSONResponse({"error": f"a report is at most {_MAX_BODY} bytes"}, 413)
    report = _parse(bytes(body))
    if report is None:
        return JSONResponse({"error": "expected a JSON object: solved, hints, solution_viewed, feedback"}, 400)
    store: BoardStore = request.app.state.store
    await store.record(learner, challenge, report)
    return JSONResponse({"recorded": challenge}, 200)


def _parse(body: bytes) -> Report | None:
    """The report in ``body``, or None when it is not one (wrong types, unknown keys)."""
    from .._json import loads_bounded

    try:
        document = loads_bounded(body)
    except ValueError:
        return None
    if not isinstance(document, dict) or not set(document) <= {"solved", "hints", "solution_viewed", "feedback"}:
        return None
    solved, hints = document.get("solved", False), document.get("hints", 0)
    viewed, feedback = document.get("solution_viewed", False), document.get("feedback")
    if type(solved) is not bool or type(viewed) is not bool or type(hints) is not int or not 0 <= hints <= 1000:
        return None
    if feedback is not None and not isinstance(feedback, str):
        return None
    return Report(solved, hints, viewed, feedback)


async def _rows(request: Request) -> Response:
    decision = await _decide(request, (READ_SCOPE,))
    if not decision.allowed:
        return _refused(request, decision)
    store: BoardStore = request.app.state.store
    return JSONResponse([asdict(row) for row in await store.rows()])


async def _page(request: Request) -> Response:
    login: HubLogin | None = request.app.state.login
    if login is not None and "authorization" not in request.headers and COOKIE not in request.cookies:
        return login.start(request)  # a browser without the board's cookie: sign in at the hub first
    decision = await _decide(request, (READ_SCOPE,))
    if login is not None and decision.status == 401 and "authorization" not in request.headers:
        return login.start(request)  # the cookie's token expired or was revoked: sign in again
    if not decision.allowed:
        return _refused(request, decision)
    store: BoardStore = request.app.state.store
    return HTMLResponse(render_page(await store.rows(), request.app.state.prefix))


async def _csv(request: Request) -> Response:
    decision = await _decide(request, (READ_SCOPE,))
    if not decision.allowed:
        return _refused(request, decision)
    store: BoardStore = request.app.state.store
    return Response(render_csv(await store.rows()), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="labkit-board.csv"'})


def board_app(store: BoardStore, gate: Gate, *, prefix: str = "/", audit: AuditLog | None = None,
              login: HubLogin | None = None) -> Starlette:
    """The board under ``prefix`` (the hub's ``JUPYTERHUB_SERVICE_PREFIX``), its progress in ``store``, tokens
    judged by ``gate``; ``login``: the hub's OAuth flow for browsers (None: tokens in headers only)."""
    base = "/" + prefix.strip("/") + "/" if prefix.strip("/") else "/"
    routes = [
        Route(base, _page, methods=["GET"]),
        Route(base + "api/progress", _rows, methods=["GET"]),
        Route(base + "progress.csv", _csv, methods=["GET"]),
        Route(base + "api/progress/{learner}/{challenge}", _report, methods=["PUT"]),
    ]
    if login is not None:
        routes.append(Route(base + "oauth_callback", login.callback, methods=["GET"]))
    audit = audit if audit is not None else AuditLog()  # an empty log is falsy (it has a length)
    backend = BearerBackend(gate, audit=audit)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.initialize()
        try:
            yield
        finally:
            await gate.aclose()
            await store.aclose()
            if login is not None:
                await login.aclose()
            audit.close()

    app = Starlette(routes=routes, lifespan=lifespan, middleware=[
        Middleware(AuthenticationMiddleware, backend=backend, on_error=backend.on_error)])
    app.state.store, app.state.login, app.state.prefix = store, login, base
    return app
