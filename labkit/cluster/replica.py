"""One agent replica as its own process: ``python -m labkit.cluster.replica --port N --public-url URL ...``.

It loads the agent configuration, points its ``state:`` at the cluster's Redis, database and signing key, and
serves with uvicorn on ``127.0.0.1:port`` until SIGTERM. Bad configuration: one line on stderr, exit 1.
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
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--push-key", required=True)
    args = parser.parse_args(argv)

    import uvicorn

    from sample_agent import create_app

    from ..config import ConfigError, StateConfig, load_config

    try:
        cfg = load_config(args.config)
        state = StateConfig(redis_url=args.redis_url, database_url=args.database_url,
                            push_signing_key=args.push_key, key_prefix=cfg.state.key_prefix,
                            mcp_stateless=cfg.state.mcp_stateless)
        app = create_app(cfg.model_copy(update={"state": state}), public_url=args.public_url)
    except ConfigError as exc:
        where, message = exc.errors[0]
        print(f"replica: invalid configuration: {where}: {message}", file=sys.stderr)
        return 1
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False, lifespan="on",
                timeout_graceful_shutdown=2, ws="none", workers=None, env_file=None,
                timeout_keep_alive=75)  # longer than nginx keeps idle upstream connections (30 s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
