"""A local JupyterHub for a class: its proxy found (or installed from npm), free loopback ports, the hub started on
the shipped ``jupyterhub_config.py`` and stopped with everything it started.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from ..errors import LabkitError

__all__ = ["CONFIG", "PROXY_VERSION", "Classroom", "ClassroomError", "find_proxy", "proxy_cache"]

CONFIG = Path(__file__).with_name("jupyterhub_config.py")
PROXY_VERSION = "5.3.0"  # configurable-http-proxy, JupyterHub's own proxy, from npm


class ClassroomError(LabkitError):
    """The class cannot start: no proxy and no npm to install it, or the hub did not come up (its log's tail)."""


def proxy_cache() -> Path:
    """Where ``find_proxy`` installs the proxy: ``$LABKIT_PROXY_CACHE``, else ``~/.cache/labkit/classroom-proxy``."""
    configured = os.environ.get("LABKIT_PROXY_CACHE")
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return Path(configured) if configured else base / "labkit" / "classroom-proxy"


def find_proxy(*, install: bool = True) -> str:
    """``configurable-http-proxy`` on PATH, else in the cache, else installed there with npm (``install``).

    Raises ``ClassroomError`` when it is nowhere and cannot be installed (no npm, or npm failed).
    """
    found = shutil.which("configurable-http-proxy")
    cached = proxy_cache() / "node_modules" / ".bin" / "configurable-http-proxy"
    if found or cached.exists():
        return found or str(cached)
    npm = shutil.which("npm")
    if not install or npm is None:
        raise ClassroomError("JupyterHub's proxy is missing: install Node.js and npm, then run `npm install -g "
                             f"configurable-http-proxy@{PROXY_VERSION}` (or let labkit classroom install it)")
    proxy_cache().mkdir(parents=True, exist_ok=True)
    done = subprocess.run([npm, "install", "--prefix", str(proxy_cache()), "--no-audit", "--no-fund",  # noqa: S603
                           "--loglevel=error", f"configurable-http-proxy@{PROXY_VERSION}"],
                          capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0 or not cached.exists():
        raise ClassroomError(f"npm could not install configurable-http-proxy: {done.stderr.strip()[-500:]}")
    return str(cached)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Classroom:
    """A hub in ``folder`` on ``port`` (0: a free one); ``start()`` it, ``stop()`` it (or use ``with``).

    ``password`` and ``instructor_password`` are generated when not given (read them here to hand them out);
    ``admin_token``: a token for scripts (the ``classroom-admin`` service); ``database``: the board's SQLAlchemy
    URL (default SQLite in ``folder``).
    """

    folder: Path
    port: int = 0
    ip: str = "127.0.0.1"
    password: str = field(default_factory=lambda: secrets.token_urlsafe(9), repr=False)
    instructor_password: str = field(default_factory=lambda: secrets.token_urlsafe(18), repr=False)
    admin_token: str | None = field(default=None, repr=False)
    database: str | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    board_port: int = 0

    @property
    def url(self) -> str:
        """The hub's URL (what learners open)."""
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        """The ``LABKIT_CLASSROOM_*`` variables ``jupyterhub_config.py`` reads."""
        self.port = self.port or _free_port()
        self.board_port = self.board_port or _free_port()
        env = {"LABKIT_CLASSROOM_DIR": str(self.folder), "LABKIT_CLASSROOM_IP": self.ip,
               "LABKIT_CLASSROOM_PORT": str(self.port), "LABKIT_CLASSROOM_HUB_PORT": str(_free_port()),
               "LABKIT_CLASSROOM_PROXY_API_PORT": str(_free_port()),
               "LABKIT_CLASSROOM_BOARD_PORT": str(self.board_port),
               "LABKIT_CLASSROOM_PROXY": find_proxy(), "LABKIT_CLASSROOM_PASSWORD": self.password,
               "LABKIT_CLASSROOM_INSTRUCTOR_PASSWORD": self.instructor_password}
        if self.admin_token:
            env["LABKIT_CLASSROOM_ADMIN_TOKEN"] = self.admin_token
        if self.database:
            env["LABKIT_BOARD_DATABASE"] = self.database
        return env

    def start(self, *, timeout: float = 120) -> Classroom:
        """Start the hub and wait until it answers; raises ``ClassroomError`` with its log's tail if it does not."""
        self.folder = self.folder.resolve()
        self.folder.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.environment()}
        log = (self.folder / "jupyterhub.log").open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and config
            [sys.executable, "-m", "jupyterhub", "-f", str(CONFIG)], cwd=self.folder, env=env,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if httpx.get(f"{self.url}/hub/api/", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        tail = (self.folder / "jupyterhub.log").read_text(errors="replace")[-3000:]
        raise ClassroomError(f"the hub did not start within {timeout:.0f}s; its log ends:\n{tail}")

    def stop(self, timeout: float = 20) -> None:
        """Stop the hub (it stops the learners' servers, the board and the proxy first), then anything left."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the hub's own session: its proxy, board and servers
            process.wait(5)

    def __enter__(self) -> Classroom:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
