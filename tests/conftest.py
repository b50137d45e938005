"""Fixtures and hooks only (plain helpers are in ``tests/helpers.py``): the fixed clock, session keys, a fake
identity provider, the shared lab. Which layer a run is (and hypothesis's budget) is the root ``conftest.py``'s."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from .helpers import NOW, Keys


@pytest.fixture(autouse=True)
def _unit_tests_listen_on_nothing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test that is not marked ``integration`` fails if it (or a server it starts) listens on a socket.

    The unit layer (``pytest -m "not integration"``) stays in process and fast; this keeps the marker honest.
    """
    if request.node.get_closest_marker("integration") is not None:
        return
    test = request.node.nodeid

    def refuse(sock: socket.socket, *args: Any) -> None:
        raise AssertionError(f"{test} listens on a socket: mark it @pytest.mark.integration (tests/README.md)")

    monkeypatch.setattr(socket.socket, "listen", refuse)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> int:
    return NOW


@pytest.fixture(scope="session")
def keys() -> Keys:
    """Signing keys, generated once per session (verdicts do not depend on the key bytes)."""
    return Keys()


@pytest.fixture
def idp() -> Any:
    """A fake identity provider on a loopback port (JWKS, introspection, faults): (state, base URL)."""
    from labkit.servers import ServerThread

    from .auth.fake_idp import IdpState, fake_idp

    state = IdpState()
    with ServerThread(fake_idp(state), name="idp") as server:
        yield state, server.url


@pytest.fixture(scope="session")
def lab() -> Iterator[Any]:
    """One default ``Lab()`` for the session, for tests that only read it (tokens, calls, the audit log).

    A test that reloads the configuration, injects faults, needs the lab clock or a vulnerable agent starts its
    own lab. Its logs go to the root logger (``capture_logs=False``) so ``caplog`` elsewhere still sees labkit's.
    """
    from labkit.lab import Lab

    with Lab(capture_logs=False) as running:
        yield running
