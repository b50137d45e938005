"""A webhook receiver for A2A push notifications that trusts nothing it cannot verify.

Each notification must carry a JWT signed by the agent's key (fetched from the agent's JWKS), issued
by the agent, addressed (``aud``) to exactly this webhook URL, fresh (``iat`` within ``max_age``), never
seen before (``jti``), about the task in the body (``taskId``), and, when one was registered, the
client's ``X-A2A-Notification-Token``. What it accepts and refuses is recorded for the lessons.
"""

from __future__ import annotations

import contextlib
import hmac
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .._json import BodyTooLargeError, loads_bounded, read_bounded
from .._text import safe_text
from ..auth.cache import CacheLimits
from ..auth.claims import ClaimPolicy
from ..auth.jwks import JWKSClient
from ..auth.jwt import JWTValidator
from ..errors import AuthError, Reason
from ..guard.rfc6750 import bearer_token
from ..hosts import HostCheck
from ..state import MemoryReplayCache, ReplayCache, StateUnavailableError
from ._tasks import task_state

__all__ = ["MAX_NOTIFICATION", "MAX_RECORDED", "Notification", "WebhookReceiver"]

MAX_NOTIFICATION = 256 * 1024  # bytes of one delivery's body
MAX_RECORDED = 10_000  # notifications remembered (oldest dropped)


@dataclass(frozen=True)
class Notification:
    """One accepted or refused delivery (no token in it)."""

    hook: str
    accepted: bool
    reason: str | None
    task_id: str | None
    state: str | None
    jti: str | None
    time: float


class WebhookReceiver:
    """A Starlette app: ``POST /hooks/{name}``; ``GET /hooks/{name}/received`` lists what arrived."""

    def __init__(self, *, clock: Callable[[], float] = time.time, max_age: int = 300,
                 replay: ReplayCache | None = None) -> None:
        self.clock = clock
        self.max_age = max_age
        self.base_url: str | None = None
        self.tokens: dict[str, str] = {}  # hook name -> expected X-A2A-Notification-Token
        self.notifications: deque[Notification] = deque(maxlen=MAX_RECORDED)
        self._arrived = threading.Condition()  # notified on every recorded delivery (wait_for needs no polling)
        self._validator: JWTValidator | None = None
        # validators replaced by a later trust(): their JWKS client's sockets belong to the serving loop, so they are
        # closed there, at shutdown, not left to the garbage collector
        self._retired: list[JWTValidator] = []
        # jti values seen: in this process by default; a Redis ReplayCache when receivers run as replicas
        self.replay: ReplayCache = replay if replay is not None else MemoryReplayCache(clock)
        self.app = Starlette(routes=[
            Route("/hooks/{name}", self._receive, methods=["POST"]),
            Route("/hooks/{name}/received", self._received, methods=["GET"]),
        ], lifespan=self._lifespan,  # DNS rebinding: Host and Origin must name this receiver (labkit.hosts)
            middleware=[Middleware(HostCheck, urls=lambda: (self.base_url,), name="webhook receiver")])

    def trust(self, agent_url: str, jwks_url: str | None = None) -> None:
        """Trust notifications signed by the agent at ``agent_url`` (keys from its JWKS)."""
        keys = JWKSClient(jwks_url or f"{agent_url}/.well-known/jwks.json", clock=self.clock)
        policy = ClaimPolicy(issuers=(agent_url,), required=("exp", "iat", "jti", "iss", "aud"))
        if self._validator is not None:
            self._retired.append(self._validator)
        self._validator = JWTValidator(("ES256",), keys, policy, clock=self.clock, cache=CacheLimits(ttl=0))

    def expect_token(self, hook: str, token: str) -> None:
        """Require ``X-A2A-Notification-Token: token`` on ``hook``."""
        self.tokens[hook] = token

    def url(self, hook: str) -> str:
        """The full URL of a hook (what the agent signs as ``aud``)."""
        if self.base_url is None:
            raise RuntimeError("the receiver is not served yet")
        return f"{self.base_url}/hooks/{hook}"

    def received(self, hook: str | None = None, *, accepted: bool | None = True) -> list[Notification]:
        """Recorded notifications, optionally for one hook and by verdict."""
        return [n for n in self.notifications
                if (hook is None or n.hook == hook) and (accepted is None or n.accepted == accepted)]

    def wait_for(self, hook: str, until: Callable[[list[Notification]], bool] | None = None, *,
                 accepted: bool | None = True, timeout: float = 10) -> list[Notification]:
        """Block until the notifications of ``hook`` (by verdict, as ``received``) satisfy ``until`` (default: there
        is one), and return them. Raises ``TimeoutError`` after ``timeout`` seconds, naming the hook."""
        done = until or bool
        with self._arrived:
            if not self._arrived.wait_for(lambda: done(self.received(hook, accepted=accepted)), timeout):
                raise TimeoutError(f"no matching notification on hook {safe_text(hook)!r} within {timeout} s")
        return self.received(hook, accepted=accepted)

    def deliver(self, hook: str, jwt: str, *, task: str = "task-1", state: str = "TASK_STATE_COMPLETED",
                notification_token: str | None = None) -> int:
        """POST a task status update to ``hook`` as an agent would (``Authorization: Bearer jwt``, the
        ``X-A2A-Notification-Token``); the receiver's HTTP status. Raises ``httpx.HTTPError`` if unreachable."""
        import httpx

        headers = {"Authorization": f"Bearer {jwt}"}
        if notification_token is not None:
            headers["X-A2A-Notification-Token"] = notification_token
        body = {"statusUpdate": {"taskId": task, "status": {"state": state}}}
        return httpx.post(self.url(hook), json=body, headers=headers, timeout=10).status_code

    async def _receive(self, request: Request) -> Response:
        hook = request.path_params["name"]
        task_id = state = None
        try:
            # Unauthenticated requests cost O(1): headers first, then a body read that stops at the cap.
            validator, token = self._bearer(request)
            body_bytes = await read_bounded(request.stream(), MAX_NOTIFICATION,
                                            declared=request.headers.getlist("content-length"))
            try:
                body = loads_bounded(body_bytes)
            except ValueError:
                body = None
            task_id, state = task_state(body)
            jti = await self._verify(validator, request, hook, token, task_id)
        except BodyTooLargeError:
            self._note(hook, False, f"body larger than {MAX_NOTIFICATION} bytes", None, None)
            return JSONResponse({"error": "Payload Too Large"}, 413)
        except AuthError as error:
            self._note(hook, False, error.reason.value + (f": {error.detail}" if error.detail else ""), task_id, state)
            return JSONResponse({"error": "Unauthorized"}, 401, headers={"WWW-Authenticate": 'Bearer realm="webhook"'})
        self._note(hook, True, None, task_id, state, jti)
        return JSONResponse({"received": True})

    def _bearer(self, request: Request) -> tuple[JWTValidator, str]:
        """The validator and the notification token from the headers (before any body is read); raises ``AuthError``."""
        if self._validator is None:
            raise AuthError(Reason.KEY, "this receiver trusts no agent yet")
        # RFC 6750 §2.1: exactly one Authorization header, scheme Bearer, a b64token (the guard's strict parser)
        token = bearer_token(value for name, value in request.headers.raw if name == b"authorization")
        if token is None:
            raise AuthError(Reason.MISSING_TOKEN, "no signed notification token")
        return self._validator, token

    async def _verify(self, validator: JWTValidator, request: Request, hook: str, token: str,
                      task_id: str | None) -> str:
        principal = await validator.validate(token)
        claims = principal.claims
        if claims.get("aud") != self.url(hook):
            raise AuthError(Reason.AUDIENCE, "the token was signed for another webhook")
        if self.clock() - float(claims["iat"]) > self.max_age:
            raise AuthError(Reason.EXPIRED, f"issued more than {self.max_age}s ago")
        if task_id is None or claims.get("taskId") != task_id:
            raise AuthError(Reason.CLAIMS, "taskId does not match the notification body")
        expected = self.tokens.get(hook)
        given = request.headers.get("x-a2a-notification-token", "")
        if expected is not None and not hmac.compare_digest(expected.encode(), given.encode()):
            raise AuthError(Reason.CLAIMS, "wrong X-A2A-Notification-Token")
        jti = str(claims["jti"])
        # RFC 7519 §4.1.7: a jti is used once; check and remember in one step
        try:
            first = await self.replay.first_use(f"{self.url(hook)}|{jti}", float(claims["exp"]) + 1)
        except StateUnavailableError as down:  # a full or unreachable replay cache refuses (fail closed)
            raise AuthError(Reason.STATE_UNAVAILABLE, f"replay cache: {down}") from None
        if not first:
            raise AuthError(Reason.CLAIMS, "replayed notification (jti seen before)")
        return jti

    def _note(self, hook: str, accepted: bool, reason: str | None, task_id: str | None, state: str | None,
              jti: str | None = None) -> None:
        with self._arrived:
            self.notifications.append(Notification(
                safe_text(hook), accepted, None if reason is None else safe_text(reason),
                None if task_id is None else safe_text(task_id), None if state is None else safe_text(state), jti,
                self.clock()))
            self._arrived.notify_all()

    async def _received(self, request: Request) -> Response:
        hook = request.path_params["name"]
        return JSONResponse([n.__dict__ for n in self.received(hook, accepted=None)])

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Close the JWKS client and the replay cache's connections (a Redis one has them)."""
        retired, self._retired = self._retired, []
        for validator in (*retired, *((self._validator,) if self._validator is not None else ())):
            await validator.aclose()
        close = getattr(self.replay, "aclose", None)
        if close is not None:
            await close()

