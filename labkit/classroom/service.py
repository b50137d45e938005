"""The board as the hub runs it: ``python -m labkit.classroom.service``, configured by the hub's ``JUPYTERHUB_*``
environment of a managed service, plus ``LABKIT_BOARD_DATABASE`` (an SQLAlchemy URL; default SQLite
``labkit-board.sqlite`` in the working folder) and ``LABKIT_AUDIT_LOG`` (the audit log's JSONL file).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from starlette.applications import Starlette

from ..audit import AuditLog
from ..config import validate_security_config
from ..guard import gate_for
from .board import board_app
from .login import HubLogin
from .store import BoardStore

__all__ = ["board_from_env", "database_url", "main"]


def database_url(env: Mapping[str, str]) -> str:
    """``LABKIT_BOARD_DATABASE``, else SQLite in the working folder (a file: progress outlives the board)."""
    return env.get("LABKIT_BOARD_DATABASE") or f"sqlite+aiosqlite:///{Path('labkit-board.sqlite').resolve()}"


def board_from_env(env: Mapping[str, str] | None = None, *, http: httpx.AsyncClient | None = None) -> Starlette:
    """The board app the hub's environment describes (``http``: the client that reaches the hub); raises
    ``KeyError`` naming a missing ``JUPYTERHUB_*``."""
    env = os.environ if env is None else env
    api_url = env["JUPYTERHUB_API_URL"].rstrip("/")
    token = env["JUPYTERHUB_API_TOKEN"]
    client_id = env.get("JUPYTERHUB_CLIENT_ID", "service-" + env.get("JUPYTERHUB_SERVICE_NAME", "board"))
    prefix = env.get("JUPYTERHUB_SERVICE_PREFIX", "/services/board/")
    cfg = validate_security_config({"security": {"oauth2": {
        "validation_strategy": "introspection",
        # the hub's token API answers any valid token about itself; the board's own client is named, never sent
        "introspection_endpoint": f"{api_url}/user", "introspection_dialect": "jupyterhub",
        "client_id": client_id, "client_secret": token,
        "required_claims": [],  # the hub's answer carries no exp: a revoked token is refused within the cache TTL
        "introspection_cache_ttl": int(env.get("LABKIT_BOARD_CACHE_TTL", "30")),
    }}})
    hub = urlsplit(api_url)
    callback = env.get("JUPYTERHUB_OAUTH_CALLBACK_URL", prefix + "oauth_callback")
    login = HubLogin(authorize_url=env.get("JUPYTERHUB_BASE_URL", "/").rstrip("/") + "/hub/api/oauth2/authorize",
                     token_url=f"{hub.scheme}://{hub.netloc}{hub.path}/oauth2/token", client_id=client_id,
                     client_secret=token, redirect_uri=callback, prefix=prefix)
    audit = AuditLog(path=env.get("LABKIT_AUDIT_LOG") or None)
    return board_app(BoardStore(database_url(env)), gate_for(cfg, http=http), prefix=prefix, audit=audit,
                     login=login)


def main() -> None:
    """Serve the board on the address the hub gave it (``JUPYTERHUB_SERVICE_URL``)."""
    import uvicorn

    address = urlsplit(os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101"))
    uvicorn.run(board_from_env(), host=address.hostname or "127.0.0.1", port=address.port or 10101,
                log_level="warning", lifespan="on")


if __name__ == "__main__":
    main()
