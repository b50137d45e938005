"""Plain helpers for tests (no fixtures): paths, the fixed clock, signing keys, claims and tokens, ports.

Import them explicitly (``from ..helpers import NOW, Keys, mint``); fixtures and hooks live in ``conftest.py``.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey, Key, OctKey, OKPKey, RSAKey

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
NOW = 1_767_225_600  # 2026-01-01T00:00:00Z, the lab's fixed clock

ISSUER = "https://issuer.lab.test/"
AUDIENCE = "api://lab-agent"
HMAC_SECRET = "lab-hmac-secret-0123456789abcdef-0123456789abcdef-0123456789abcdef"


def free_port() -> int:
    """A loopback port that was free a moment ago (for subprocesses that bind it themselves, or a refused port)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_ok(url: str, process: Any, timeout: float, log: Any) -> None:
    """Poll ``url`` until it answers 200 while ``process`` lives; ``log()`` explains a failure."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert process.poll() is None and time.monotonic() < deadline, log()
        time.sleep(0.2)


class Keys:
    """Signing keys for tests, each with a kid (the ``keys`` fixture loads one set per session).

    Fixed, from ``data/test_keys.json`` (TEST-ONLY, committed): the same keys, tokens and verdicts on every run.
    ``attacker`` reuses ``rsa``'s kid with other key material.
    """

    def __init__(self) -> None:
        fixed = json.loads((DATA / "test_keys.json").read_text(encoding="utf-8"))
        self.rsa = RSAKey.import_key(fixed["rsa"])
        self.rsa2 = RSAKey.import_key(fixed["rsa2"])
        self.ec = ECKey.import_key(fixed["ec"])
        self.ed = OKPKey.import_key(fixed["ed"])
        self.attacker = RSAKey.import_key(fixed["attacker"])
        self.hmac = OctKey.import_key(HMAC_SECRET)

    def jwks(self, *keys: Key) -> dict[str, Any]:
        chosen = keys or (self.rsa, self.ec, self.ed)
        return {"keys": [k.as_dict(private=False) for k in chosen]}


def claims(**overrides: Any) -> dict[str, Any]:
    """Good claims at the fixed clock; override or drop (value None) any of them."""
    base: dict[str, Any] = {
        "iss": ISSUER, "sub": "alice", "aud": AUDIENCE, "iat": NOW - 60, "nbf": NOW - 60, "exp": NOW + 3600,
        "scope": "api:read", "client_id": "lab-client", "jti": "t-1",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def mint(key: Key, alg: str = "RS256", header: dict[str, Any] | None = None, **claim_overrides: Any) -> str:
    """Sign a JWT with joserfc."""
    protected = {"alg": alg, "typ": "at+jwt"}
    kid = key.kid
    if kid:
        protected["kid"] = kid
    protected.update(header or {})
    protected = {k: v for k, v in protected.items() if v is not None}
    return jwt.encode(protected, claims(**claim_overrides), key, algorithms=[alg])


def oauth2(**settings: Any) -> dict[str, Any]:
    """An oauth2 block for JWT tests with the lab issuer and audience."""
    return {"validation_strategy": "jwt", "jwt_issuer": ISSUER, "jwt_audience": AUDIENCE, **settings}


class Budget:
    """How many examples a property runs: every one as written (``uv run pytest``, CI), or at most 10 (``quick``).

    The root ``conftest.py`` chooses before any test module is imported: ``LABKIT_HYPOTHESIS=quick`` or ``=full``
    when set, else ``quick`` for the unit layer (``pytest -m "not integration"``, the inner loop that must stay
    under 10 s) and ``full`` for every other run. Properties, not timings: no per-example deadline (a loaded CI
    machine must not turn a slow example into a failure), and fixtures shared across examples are fine.
    """

    quick = False

    @classmethod
    def choose(cls, *, quick: bool) -> None:
        from hypothesis import HealthCheck, settings

        cls.quick = quick
        budget = {"max_examples": 10} if quick else {}
        settings.register_profile("labkit", deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
                                  **budget)
        settings.load_profile("labkit")


def examples(count: int) -> int:
    """A property's example count: ``count``, or at most 10 under the quick budget (``Budget``)."""
    return min(count, 10) if Budget.quick else count


T = TypeVar("T")


def grid(cases: Iterable[T], quick: int) -> list[T]:
    """An exhaustive grid's cases: all of them, or a fixed sample of ``quick`` under the quick budget (seeded, so the
    same on every run; random rather than strided, so no dimension's value is skipped by the stride)."""
    every = list(cases)
    if not Budget.quick or quick >= len(every):
        return every
    return random.Random(0).sample(every, quick)


class AsgiClient:
    """A blocking client over an ASGI app in this thread's own event loop: no sockets and no thread hop.

    What Starlette's ``TestClient`` does for an app without a lifespan, about seven times faster (it crosses to a
    portal thread on every request): the same ``httpx.Response``, redirects followed unless told otherwise, and
    with ``raise_app_exceptions=False`` an app's exception is the 500 a server would send.
    """

    def __init__(self, app: Any, base_url: str, *, raise_app_exceptions: bool = True) -> None:
        self._loop = asyncio.new_event_loop()
        transport = httpx.ASGITransport(app, raise_app_exceptions=raise_app_exceptions)
        self._client = httpx.AsyncClient(transport=transport, base_url=base_url, follow_redirects=True)

    def request(self, method: str, url: str, **options: Any) -> httpx.Response:
        return self._loop.run_until_complete(self._client.request(method, url, **options))

    def get(self, url: str, **options: Any) -> httpx.Response:
        return self.request("GET", url, **options)

    def post(self, url: str, **options: Any) -> httpx.Response:
        return self.request("POST", url, **options)

    def close(self) -> None:
        self._loop.run_until_complete(self._client.aclose())
        self._loop.close()

    def __enter__(self) -> AsgiClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


class LifespanClient(AsgiClient):
    """An ``AsgiClient`` over an app whose Starlette ``lifespan`` runs: entered and left by one task on the client's
    loop (a lifespan's task groups must be left by the task that entered them), so stores and sessions exist."""

    def __init__(self, app: Any, starlette: Any, base_url: str) -> None:
        super().__init__(app, base_url)
        self._stop = asyncio.Event()
        ready = asyncio.Event()

        async def hold() -> None:
            async with starlette.router.lifespan_context(starlette):
                ready.set()
                await self._stop.wait()

        self._held = self._loop.create_task(hold())
        waiting = self._loop.create_task(ready.wait())
        self._loop.run_until_complete(asyncio.wait({self._held, waiting}, return_when=asyncio.FIRST_COMPLETED))
        if self._held.done():  # the start-up failed: say why
            waiting.cancel()
            self._held.result()

    def close(self) -> None:
        self._stop.set()
        self._loop.run_until_complete(self._held)
        # what the app left running (the a2a-sdk's event queues after a failed store) ends with the loop
        left = [task for task in asyncio.all_tasks(self._loop) if not task.done()]
        for task in left:
            task.cancel()
        if left:
            self._loop.run_until_complete(asyncio.wait(left))
        super().close()


class ManualClock:
    """A clock a test moves by hand (``clock.now += 61``); starts at ``NOW``."""

    def __init__(self, now: float = NOW) -> None:
        self.now = float(now)

    def __call__(self) -> float:
        return self.now
