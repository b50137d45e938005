"""Real servers on loopback: a uvicorn server in a thread, bound to a free port with no race; stop signals."""

from __future__ import annotations

import gc
import select
import signal
import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

from .capability import CapabilityGate

__all__ = ["STOP_SIGNALS", "ServerThread", "StopSignals", "freeze_start_up"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class ServerThread:
    """Runs an ASGI app with uvicorn in a background thread on ``127.0.0.1``.

    The socket is bound to port 0 before uvicorn starts (no port races); ``url`` is known at once, so
    an app that must know its own URL can be set after construction. ``capability``: serve privately, behind
    ``labkit.capability.CapabilityGate`` (``url`` then ends with the secret; a request without it never reaches the
    app). Use as a context manager or call ``start()``/``stop()``. Raises ``RuntimeError`` if it fails to start,
    ``ValueError`` for a capability that is not a URL-safe path segment.
    """

    def __init__(self, app: Any = None, *, host: str = "127.0.0.1", port: int = 0, name: str = "server",
                 ssl_files: tuple[str, str] | None = None, capability: str | None = None) -> None:
        self.app = app
        if capability is not None:
            CapabilityGate(app, capability)  # a bad capability is refused before any socket is bound
        self.capability = capability
        self.ssl_files = ssl_files  # (certfile, keyfile): serve https (labkit.tls makes a lab CA's leaf)
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
        """The base URL, without a trailing slash (over loopback when bound to every address); a private server's
        ends with its capability, the path every request must start with."""
        host = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(self.host, self.host)  # noqa: S104 - a comparison
        origin = f"{'https' if self.ssl_files else 'http'}://{host}:{self.port}"
        return f"{origin}/{self.capability}" if self.capability else origin

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
        app = CapabilityGate(self.app, self.capability) if self.capability else self.app
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="auto", timeout_graceful_shutdown=2,
            ws="none", ssl_certfile=self.ssl_files[0] if self.ssl_files else None,
            ssl_keyfile=self.ssl_files[1] if self.ssl_files else None,
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

    def stop(self, timeout: float = 10) -> None:
        """Ask uvicorn to exit, wait for the thread, close the socket.

        uvicorn skips the app's lifespan shutdown once forced, and that shutdown is what closes the app's own HTTP
        clients: the wait before forcing covers the graceful 2 s and the shutdown on a loaded machine (a thread
        that ends sooner returns at once)."""
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


def freeze_start_up() -> None:
    """Collect once, then keep what start-up built (modules, apps, keys) out of every later cyclic collection.

    ``gc.freeze``: the collector stops walking the start-up heap each time the serving code's allocations
    trigger a full collection. For a process whose start-up heap lives until it exits: ``labkit serve`` and the
    benchmark server once their servers run, a test run once collection is done (the root ``conftest.py``); never
    mid-way in a notebook kernel, whose objects of the moment may become garbage the collector must still find.
    Raises nothing.
    """
    gc.collect()
    gc.freeze()


def _ignore(signum: int, frame: object) -> None:
    """The Python-level handler: nothing at all (the C handler has already written the wakeup byte)."""


class StopSignals:
    """Waits for SIGINT/SIGTERM without running Python code in a signal handler that could block.

    The interpreter's C-level handler writes each signal's number to a socket pair
    (``signal.set_wakeup_fd``) and ``wait()`` reads it; the Python-level handler does nothing, so a burst
    of signals (Ctrl-C twice, ``uv run`` forwarding plus a process-group kill) can never deadlock on a
    lock the main thread holds, as ``threading.Event.set`` in a handler can. ``notify()`` wakes ``wait()``
    from another thread. Use in the main thread as a context manager; the handlers stay quiet after
    exit (the process is stopping), only the wakeup descriptor is restored. Raises ``ValueError`` outside
    the main thread.
    """

    def __init__(self) -> None:
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._previous_fd = -1

    def __enter__(self) -> StopSignals:
        self._previous_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        for sig in STOP_SIGNALS:
            signal.signal(sig, _ignore)
        return self

    def notify(self) -> None:
        """Wake ``wait()`` (it returns 0); safe from any thread."""
        try:
            self._writer.send(b"\0")
        except (BlockingIOError, OSError):
            pass  # a wakeup is pending already, or we are closed

    def wait(self, timeout: float | None = None) -> int | None:
        """Block until a stop signal (its number), ``notify()`` (0) or the timeout (None)."""
        while True:
            readable, _, _ = select.select([self._reader], [], [], timeout)
            if not readable:
                return None
            try:
                data = self._reader.recv(1)
            except (BlockingIOError, InterruptedError):
                continue
            if data:
                return data[0]

    def __exit__(self, *exc: object) -> None:
        signal.set_wakeup_fd(self._previous_fd)
        self._reader.close()
        self._writer.close()
