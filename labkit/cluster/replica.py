"""One agent replica as its own process: ``python -m labkit.cluster.replica --port N --public-url URL ...``.

It loads the agent configuration, points its ``state:`` at the cluster's Redis, database and signing key, and
serves with uvicorn on ``127.0.0.1:port`` until SIGTERM. Bad configuration: one line on stderr, exit 1.
``--profile FILE`` runs it under cProfile and writes the stats to FILE at shutdown (``benchmarks/replicas.py``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]


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

    from sample_agent import create_app

    from ..config import ConfigError, load_config

    try:
        cfg = load_config(args.config)
        # the cluster's services; the rest of the configuration's own state: section (prefix, MCP mode) is kept
        given = {"redis_url": args.redis_url, "database_url": args.database_url, "push_signing_key": args.push_key}
        state = cfg.state.model_copy(update={k: v for k, v in given.items() if v is not None})
        app = create_app(cfg.model_copy(update={"state": state}), public_url=args.public_url)
    except ConfigError as exc:
        where, message = exc.errors[0]
        print(f"replica: invalid configuration: {where}: {message}", file=sys.stderr)
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
