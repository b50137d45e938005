from __future__ import annotations

import gc
import threading
import time
import warnings

import pytest

from labkit.lab import Lab

from ..helpers import NOW

pytestmark = pytest.mark.integration


def test_lab_starts_and_leaves_nothing_behind() -> None:
    before = {t.name for t in threading.enumerate()}
    started = time.perf_counter()
    with Lab() as lab:
        elapsed = time.perf_counter() - started
        token = lab.token(["api:read"])
        assert lab.rpc("capabilities", token=token).status_code == 200
        assert lab.provider_url.startswith("http://127.0.0.1:") and lab.agent_url.startswith("http://127.0.0.1:")
    print(f"lab start: {elapsed:.2f}s")  # a figure, not an assertion (shared, noisy machines)
    time.sleep(0.05)
    leftover = {t.name for t in threading.enumerate()} - before
    assert not {n for n in leftover if n.startswith("labkit-")}
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        gc.collect()


def test_token_options() -> None:
    with Lab(clock=lambda: NOW) as lab:  # the lab clock: a 1-second token is not a race
        short = lab.token(["api:read"], lifetime=1)
        assert lab.rpc("capabilities", token=short).status_code == 200
        with pytest.raises(ValueError):
            lab.token(persona="nobody")
        with pytest.raises(RuntimeError, match="invalid_scope"):
            lab.token(["admin"], persona="limited")
        # a persona token carries its own issuer shape: the default agent config refuses it (lesson 06)
        assert lab.rpc("capabilities", token=lab.token(["api:read"], persona="okta")).status_code == 401


def test_serve_wraps_the_agent_app_at_start_and_on_reload() -> None:
    served: list[object] = []

    def baseline(app: object) -> object:
        served.append(app)
        inner = app.starlette  # type: ignore[attr-defined]  # the agent's routes without the guard

        async def unguarded(scope: dict[str, object], receive: object, send: object) -> None:
            await inner(scope, receive, send)

        return unguarded

    with Lab(serve=baseline) as lab:
        assert served == [lab.app]
        # no token, yet the call is answered: the guard is what `serve` left out
        assert lab.rpc("capabilities").status_code != 401
        lab.reload(lab.config)
        assert served == [served[0], lab.app] and served[0] is not lab.app
        assert lab.rpc("capabilities").status_code != 401
    with Lab() as guarded:
        assert guarded.rpc("capabilities").status_code == 401
