"""Real servers on loopback: a uvicorn server in a thread, bound to a free port with no race."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

__all__ = ["ServerThread"]


class ServerThread:
    """Runs an ASGI app with uvicorn in a background thread on ``127.0.0.1``.

    The socket is bound to port 0 before uvicorn starts (no port races); ``url`` is known at once, so
    an app that must know its own URL can be set after construction. Use as a context manager or call
    ``start()``/``stop()``. Raises ``RuntimeError`` if it fails to start.
    """

    def __init__(self, app: Any = None, *, host: str = "127.0.0.1", port: int = 0, name: str = "server") -> None:
        self.app = app
        self.name = name
        # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted sockets only when it is explicit;
        # without it every response waits out the client's delayed ACK (about 40 ms on loopback).
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.host, self.port = self._socket.getsockname()[:2]
        self._server: uvicorn.Server | None = None
        self._thread = threading.Thread(target=self._run, name=f"labkit-{name}", daemon=True)
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        """The base URL, without a trailing slash."""
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        assert self._server is not None  # noqa: S101 - set by start()
        try:
            self._server.run(sockets=[self._socket])
        except BaseException as exc:  # reported by start()
            self._error = exc

    def start(self, timeout: float = 10) -> ServerThread:
        """Start serving and wait until the server accepts requests."""
        if self.app is None:
            raise RuntimeError(f"{self.name}: no app to serve")
        config = uvicorn.Config(
            self.app, log_level="warning", access_log=False, lifespan="auto", timeout_graceful_shutdown=2,
            ws="none",
        )
        self._server = uvicorn.Server(config)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if self._error is not None or not self._thread.is_alive():
                raise RuntimeError(f"{self.name} failed to start: {self._error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} did not start within {timeout}s")
            time.sleep(0.005)
        return self

    def stop(self, timeout: float = 5) -> None:
        """Ask uvicorn to exit, wait for the thread, close the socket."""
        if self._server is not None:
            self._server.should_exit = True
            if self._thread.is_alive():
                self._thread.join(timeout)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(timeout)
        self._socket.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
