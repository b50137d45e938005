"""The cluster's services as child processes on free loopback ports: ``redis-server``, PostgreSQL and ``nginx``.

Each runs from a folder in the cluster's temporary directory and stops with it. PostgreSQL refuses to run as
root: as root, ``initdb`` and ``postgres`` run as ``nobody`` (``runuser``) on a data folder that user owns.
A missing program raises ``MissingServiceError`` with the one line saying what to install.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "PACKAGES",
    "MissingServiceError",
    "Service",
    "find_program",
    "free_port",
    "missing_services",
    "nginx_config",
    "start_nginx",
    "start_postgres",
    "start_redis",
    "wait_for_port",
]

# program -> the Debian package that provides it
PACKAGES = {"redis-server": "redis-server", "postgres": "postgresql", "initdb": "postgresql", "nginx": "nginx"}


class MissingServiceError(RuntimeError):
    """A program the cluster needs is not installed; the message says what to install."""


def find_program(name: str) -> str:
    """The path of ``name`` (PostgreSQL's server programs are under ``/usr/lib/postgresql/*/bin``).

    Raises ``MissingServiceError``.
    """
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)),
                                       None)
    if found is None:
        package = PACKAGES.get(name, name)
        raise MissingServiceError(f"{name} is not installed: install it with `apt-get install {package}` "
                                  f"(labkit cluster needs redis-server, postgresql and nginx)")
    return found


def missing_services(*, shared: bool = True, database: bool = True) -> str | None:
    """What to install for a cluster with these services (``MissingServiceError``'s one line), or None."""
    programs = ["nginx", *(["redis-server"] if shared else []),
                *(["initdb", "postgres", "pg_isready"] if shared and database else [])]
    try:
        for program in programs:
            find_program(program)
    except MissingServiceError as exc:
        return str(exc)
    return None


def free_port() -> int:
    """A port free on 127.0.0.1 right now (for programs that bind their own socket)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], name: str, timeout: float = 30) -> None:
    """Return once ``127.0.0.1:port`` accepts connections; raises ``RuntimeError`` if ``process`` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with status {process.returncode} before it listened")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{name} did not listen on 127.0.0.1:{port} within {timeout:.0f}s")


class Service:
    """One child process in its own process group, with its log file; ``stop`` ends it (TERM, then KILL)."""

    def __init__(self, name: str, command: Sequence[str], log: Path, *, env: dict[str, str] | None = None,
                 port: int = 0) -> None:
        self.name = name
        self.port = port
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: S603 - our own command line, no shell
                list(command), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                start_new_session=True)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:port``."""
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        """True while the process runs."""
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL at once (a crash, for tests)."""
        self._signal(signal.SIGKILL)
        self.process.wait()

    def stop(self, timeout: float = 5) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds."""
        if self.process.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def _signal(self, sig: int) -> None:
        try:
            os.killpg(self.process.pid, sig)  # the group: runuser's child too
        except ProcessLookupError:
            pass


def _as_unprivileged(command: list[str]) -> list[str]:
    """``command`` as ``nobody`` when we are root (PostgreSQL refuses to run as root)."""
    if os.geteuid() != 0:
        return command
    return [find_program("runuser"), "-u", "nobody", "--", *command]


def start_redis(folder: Path) -> Service:
    """``redis-server`` on a free port, no persistence; raises ``MissingServiceError`` or ``RuntimeError``."""
    program = find_program("redis-server")
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [program, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--dir", str(folder), "--protected-mode", "yes"]
    service = Service("redis", command, folder / "redis.log", port=port)
    wait_for_port(port, service.process, "redis-server")
    return service


def start_postgres(folder: Path) -> Service:
    """PostgreSQL on a free port, trust auth on loopback only, fsync off (a scratch database)."""
    initdb, postgres = find_program("initdb"), find_program("postgres")
    data = folder / "data"
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:  # the unprivileged user owns its folder (the cluster's folder lets it pass through)
        shutil.chown(folder, "nobody")
    log = folder / "postgres.log"
    with log.open("ab") as out:
        done = subprocess.run(_as_unprivileged([initdb, "-D", str(data), "-U", "postgres", "--auth=trust",  # noqa: S603
                                                "-E", "UTF8", "--no-sync", "--no-instructions"]),
                              stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"initdb failed (status {done.returncode}); see {log}")
    port = free_port()
    command = _as_unprivileged([postgres, "-D", str(data), "-p", str(port), "-c", "listen_addresses=127.0.0.1",
                                "-c", f"unix_socket_directories={folder}", "-c", "fsync=off",
                                "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                                "-c", "max_connections=200", "-c", "log_connections=on",
                                *_statement_stats(postgres)])
    service = Service("postgres", command, log, port=port)
    wait_for_port(port, service.process, "postgres")
    _wait_accepting(port, service, log)
    return service


def _statement_stats(postgres: str) -> list[str]:
    """``pg_stat_statements`` preloaded when installed (``benchmarks/replicas.py`` counts statements with it)."""
    lib = Path(postgres).resolve().parent.parent / "lib" / "pg_stat_statements.so"
    return ["-c", "shared_preload_libraries=pg_stat_statements"] if lib.is_file() else []


def _wait_accepting(port: int, service: Service, log: Path, timeout: float = 30) -> None:
    """PostgreSQL listens before it accepts sessions: wait for ``pg_isready``."""
    ready = find_program("pg_isready")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise RuntimeError(f"postgres exited with status {service.process.returncode}; see {log}")
        done = subprocess.run([ready, "-h", "127.0.0.1", "-p", str(port), "-q"], check=False)  # noqa: S603
        if done.returncode == 0:
            return
        time.sleep(0.1)
    raise RuntimeError(f"postgres did not accept connections within {timeout:.0f}s; see {log}")


def nginx_config(port: int, upstreams: Sequence[int], folder: Path) -> str:
    """Round robin, no stickiness; a failed connect moves on to the next replica, a sent POST never does."""
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;" for p in upstreams)
    temp = "\n".join(f"    {kind}_temp_path {folder / kind};" for kind in
                     ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    user = "user root;\n" if os.geteuid() == 0 else ""
    return f"""{user}worker_processes 2;
daemon off;
pid {folder / 'nginx.pid'};
error_log {folder / 'error.log'} warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
{temp}
    upstream agents {{
{servers}
        keepalive 32;
        keepalive_timeout 30s;
    }}
    # DNS rebinding: a Host naming another server gets 421 here (RFC 9110 §15.5.20); the replicas check the port
    server {{
        listen 127.0.0.1:{port} default_server;
        default_type text/plain;
        return 421 "misdirected request: this server does not serve that Host\n";
    }}
    server {{
        listen 127.0.0.1:{port};
        server_name 127.0.0.1 localhost [::1];
        client_max_body_size 2m;
        location / {{
            proxy_pass http://agents;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_buffering off;
            proxy_read_timeout 60s;
            # retry on another replica only when nothing reached the first (connect refused or timed out);
            # a POST that was sent is never replayed (non_idempotent is not set)
            proxy_next_upstream error timeout;
            proxy_next_upstream_tries 3;
            add_header X-Upstream $upstream_addr always;
        }}
    }}
}}
"""


def start_nginx(folder: Path, upstreams: Sequence[int], port: int | None = None) -> Service:
    """``nginx`` in front of ``upstreams`` on a free port (or ``port``)."""
    program = find_program("nginx")
    folder.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    config = folder / "nginx.conf"
    config.write_text(nginx_config(port, upstreams, folder))
    command = [program, "-p", str(folder), "-c", str(config), "-e", str(folder / "error.log")]
    service = Service("nginx", command, folder / "nginx.log", port=port)
    wait_for_port(port, service.process, "nginx")
    return service
