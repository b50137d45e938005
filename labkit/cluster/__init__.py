"""``Cluster``: the protected agent as N replica processes behind nginx, sharing Redis and PostgreSQL.

    with Cluster(replicas=3) as cluster:
        cluster.agent_url       # nginx, round robin over the replicas
        cluster.provider_url    # the mock provider (in this process)
        cluster.rpc("capabilities", {}, token=cluster.token(["api:read"]))   # one JSON-RPC call through nginx

Everything runs on free loopback ports from one temporary directory, removed on ``close()``. The replicas
share the rate limits, caches and quotas (Redis), the A2A tasks and push configs (PostgreSQL) and one push
signing key (a file in the directory). Raises ``MissingServiceError`` (what to install), ``ConfigError`` or
``RuntimeError`` (a service did not start; its log is named).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import yaml
from joserfc.jwk import ECKey

from ..config import load_config
from ..provider import MockProvider
from ..servers import ServerThread
from .replica import ThreadReplica, build_app
from .services import (
    MissingServiceError,
    Service,
    find_program,
    free_port,
    missing_services,
    start_nginx,
    start_postgres,
    start_redis,
)

__all__ = ["Cluster", "MissingServiceError", "ThreadReplica", "missing_services"]


class Cluster:
    """Redis, PostgreSQL, the provider, ``replicas`` agent processes and nginx in front; ``close()`` stops all.

    ``config``: the agent's ``agentup.yml`` or the same as a mapping (default: the sample agent's);
    ``${LAB_PROVIDER_URL}`` in it is the provider's URL. ``env``: more variables for the replicas' configuration
    (e.g. ``LAB_WEBHOOK_HOSTPORT``). ``shared=False``: no Redis and no database, each replica keeps its state in
    memory (what goes wrong, for the lesson); ``database=False``: Redis only (tasks in each replica's memory).
    ``in_process``: the replicas are threads of this process (``ThreadReplica``: the same app, its own state and
    port; a lesson starts in a second instead of importing the agent in new processes). ``profile_dir``: each
    replica process runs under cProfile and writes ``agent-N.prof`` there when stopped.
    """

    def __init__(self, replicas: int = 3, *, config: str | os.PathLike[str] | Mapping[str, Any] | None = None,
                 env: dict[str, str] | None = None, shared: bool = True, database: bool = True,
                 profile_dir: str | os.PathLike[str] | None = None, in_process: bool = False) -> None:
        if not 1 <= replicas <= 32:
            raise ValueError("replicas: between 1 and 32")
        from sample_agent import default_config_path

        self.count = replicas
        self.shared = shared
        self.database = database and shared
        self.profile_dir = Path(profile_dir) if profile_dir else None
        self.in_process = in_process
        self.redis_url: str | None = None
        self.config = config if isinstance(config, Mapping) else None
        self.config_path = (default_config_path() if config is None or isinstance(config, Mapping)
                            else Path(config))
        self.env = dict(env or {})
        self.folder: Path | None = None
        self.provider = MockProvider()
        self._provider_server = ServerThread(self.provider.app, name="provider")
        self.provider.base_url = self.provider_url = self._provider_server.url
        self.replicas: list[Service | ThreadReplica] = []
        self.services: list[Service] = []
        self.nginx: Service | None = None
        self.agent_url = ""
        self._http: httpx.Client | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self, timeout: float = 60) -> Cluster:
        """Start everything and wait until nginx answers through every replica."""
        self.folder = Path(tempfile.mkdtemp(prefix="labkit-cluster-"))
        self.folder.chmod(0o711)  # PostgreSQL's unprivileged user passes through to its own folder
        try:
            self._provider_server.start()
            if self.config is not None:  # a mapping: the replicas read it from the cluster's folder
                self.config_path = self.folder / "agentup.yml"
                self.config_path.write_text(yaml.safe_dump(dict(self.config), sort_keys=False))
            env = {**os.environ, **self.env, "LAB_PROVIDER_URL": self.provider_url}
            load_config(self.config_path, env=env)  # a bad configuration is said once, here, not by each replica
            find_program("nginx")  # before anything starts: one line saying what to install
            shared: dict[str, str] = {}
            if self.shared:
                redis = start_redis(self.folder / "redis")
                self.services.append(redis)
                self.redis_url = shared["redis_url"] = f"redis://127.0.0.1:{redis.port}/0"
                key_file = self.folder / "push-signing-key.pem"
                key_file.write_bytes(ECKey.generate_key("P-256").as_pem(private=True))
                key_file.chmod(0o600)
                shared["push_key"] = str(key_file)
            if self.database:
                postgres = start_postgres(self.folder / "postgres")
                self.services.append(postgres)
                shared["database_url"] = f"postgresql+asyncpg://postgres@127.0.0.1:{postgres.port}/postgres"
            front = free_port()
            self.agent_url = f"http://127.0.0.1:{front}"
            for index in range(self.count):
                self.replicas.append(self._replica(index, shared, env))
            self.nginx = start_nginx(self.folder / "nginx", [r.port for r in self.replicas], front)
            self._wait_ready(timeout)
        except BaseException:
            self.close()
            raise
        return self

    def _replica(self, index: int, shared: dict[str, str], env: dict[str, str]) -> Service | ThreadReplica:
        """Replica ``index``: a process, or a thread of this one (``in_process``)."""
        assert self.folder is not None  # noqa: S101 - set by start()
        name = f"agent-{index}"
        if self.in_process:
            app = build_app(self.config_path, self.agent_url, env=env, **shared)
            return ThreadReplica(name, app).start()
        command = [sys.executable, "-m", "labkit.cluster.replica", "--config", str(self.config_path),
                   "--port", str(port := free_port()), "--public-url", self.agent_url]
        for key, value in shared.items():
            command += [f"--{key.replace('_', '-')}", value]
        if self.profile_dir is not None:
            command += ["--profile", str(self.profile_dir.resolve() / f"{name}.prof")]
        return Service(name, command, self.folder / f"{name}.log", env=env, port=port)

    def _wait_ready(self, timeout: float) -> None:
        """Every replica answers its agent card (their SQL tables are created by then)."""
        deadline = time.monotonic() + timeout
        for replica in self.replicas:
            while True:
                if not replica.alive():
                    raise RuntimeError(f"{replica.name} exited: {self._tail(replica.log)}")
                try:
                    if httpx.get(f"{replica.url}/.well-known/agent-card.json", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{replica.name} did not start within {timeout:.0f}s; see {replica.log}")
                time.sleep(0.1)

    @staticmethod
    def _tail(log: Path) -> str:
        lines = log.read_text(errors="replace").strip().splitlines() if log.exists() else []
        return lines[-1] if lines else f"no output (see {log})"

    def token(self, scopes: Sequence[str], *, subject: str = "learner") -> str:
        """An access token from the cluster's provider (a JWT every replica verifies)."""
        return self.provider.mint(list(scopes), subject=subject)

    def rpc(self, method: str, params: dict[str, Any], *, token: str) -> httpx.Response:
        """One A2A JSON-RPC call through nginx, on one kept-alive connection (so round robin alternates)."""
        if self._http is None:
            self._http = httpx.Client(base_url=self.agent_url, timeout=30)
        body = {"jsonrpc": "2.0", "id": str(uuid.uuid4()), "method": method, "params": params}
        return self._http.post("/", json=body, headers={"Authorization": f"Bearer {token}"})

    def kill_replica(self, index: int) -> None:
        """SIGKILL one replica (a crash): nginx moves new requests to the others."""
        self.replicas[index].kill()

    def close(self) -> None:
        """Stop nginx, the replicas, the databases and the provider; remove the directory."""
        if self._http is not None:
            self._http.close()
            self._http = None
        for service in [*([self.nginx] if self.nginx else []), *self.replicas]:
            service.stop(timeout=3 if self.profile_dir is None else 30)  # a profile takes a while to write
        for service in reversed(self.services):
            service.stop()
        self._provider_server.stop()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


