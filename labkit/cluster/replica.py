"""One agent replica: its own process (``python -m labkit.cluster.replica --port N --public-url URL ...``) or,
for a lesson that must start in a second, a thread of this process (``ThreadReplica``: same app, own state).

Either loads the agent configuration and points its ``state:`` at the cluster's Redis, database and signing key.
The process serves with uvicorn on ``127.0.0.1:port`` until SIGTERM; bad configuration: one ERROR line logged on
``labkit.cluster.replica`` (on stderr when nothing configured logging: ``logging.lastResort``), exit 1.
``--profile FILE`` runs it under cProfile and writes the stats to FILE at shutdown.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["ThreadReplica", "build_app", "main"]

_log = logging.getLogger(__name__)


def build_app(config: str | Path, public_url: str, *, redis_url: str | None = None, database_url: str | None = None,
              push_key: str | None = None, env: Mapping[str, str] | None = None) -> Any:
    """The sample agent on ``config`` with the cluster's services (None: that part stays in memory).

    Raises ``ConfigError``.
    """
    from sample_agent import create_app

    from ..config import load_config

    cfg = load_config(config, env=env)
    # the cluster's services; the rest of the configuration's own state: section (prefix, MCP mode) is kept
    given = {"redis_url": redis_url, "database_url": database_url, "push_signing_key": push_key}
    state = cfg.state.model_copy(update={k: v for k, v in given.items() if v is not None})
    return create_app(cfg.model_copy(update={"state": state}), public_url=public_url)


class ThreadReplica:
    """A replica served by uvicorn in a thread of this process (the lesson's); ``stop`` ends it."""

    def __init__(self, name: str, app: Any) -> None:
        from ..servers import ServerThread

        self.name = name
        self.server = ServerThread(app, name=name)
        self.port = self.server.port
        self.log = Path("-")

    @property
    def url(self) -> str:
        """``http://127.0.0.1:port``."""
        return self.server.url

    def start(self) -> ThreadReplica:
        """Serve; raises ``RuntimeError`` if it does not start."""
        self.server.start()
        return self

    def alive(self) -> bool:
        """Always True once started (a thread has no exit status to report)."""
        return True

    def kill(self) -> None:
        """Stop serving (a thread cannot be killed)."""
        self.server.stop()

    def stop(self, timeout: float = 5) -> None:
        """Stop serving."""
        self.server.stop(timeout)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve one replica; returns the exit status."""
    parser = argparse.ArgumentParser(prog="labkit.cluster.replica")
    parser.add_argument("--config", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--public-url", required=True)
    parser.add_argument("--redis-url", default=None)  # none: this replica keeps its state in memory
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--push-key", default=None)
    parser.add_argument("--profile", default=None)
    args = parser.parse_args(argv)

    import uvicorn

    from ..config import ConfigError

    try:
        app = build_app(args.config, args.public_url, redis_url=args.redis_url, database_url=args.database_url,
                        push_key=args.push_key)
    except ConfigError as exc:
        where, message = exc.errors[0]
        _log.error("replica: invalid configuration: %s: %s", where, message)
        return 1
    profiler = None
    if args.profile:
        import cProfile
        import signal

        # uvicorn re-raises the SIGTERM it caught once it has shut down: end by SystemExit, so finally runs
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        profiler = cProfile.Profile()
        profiler.enable()
    try:
        uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False, lifespan="on",
                    timeout_graceful_shutdown=2, ws="none", workers=None, env_file=None,
                    timeout_keep_alive=75)  # longer than nginx keeps idle upstream connections (30 s)
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
