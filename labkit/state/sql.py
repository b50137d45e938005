"""A2A tasks and push configurations in the a2a-sdk's own SQL stores (SQLAlchemy async).

PostgreSQL (``postgresql+asyncpg://``) for replicas, SQLite (``sqlite+aiosqlite:///file``) on one machine. The
SDK's stores keep each row's owner (``resolve_user_scope``: the principal key) and filter every read by it, so
ownership per principal holds on every replica. Raises ``ImportError`` naming the extra when the drivers are missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["SqlStores", "open_sql_stores"]


@dataclass
class SqlStores:
    """The engine and the two SDK stores built on it; ``aclose`` disposes of the engine's connections."""

    engine: Any
    tasks: Any  # a2a.server.tasks.DatabaseTaskStore
    push_configs: Any  # a2a.server.tasks.DatabasePushNotificationConfigStore

    async def initialize(self) -> None:
        """Create the tables when missing (idempotent; concurrent replicas may race, the loser's error is ignored)."""
        for store in (self.tasks, self.push_configs):
            try:
                await store.initialize()
            except Exception:  # another replica created the table between the check and the CREATE
                store._initialized = False
                await store.initialize()

    async def aclose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def open_sql_stores(database_url: str, pool_size: int = 20) -> SqlStores:
    """The SDK's database stores on ``database_url`` (tables created on first use).

    PostgreSQL: ``pool_size`` connections kept open, half as many again in bursts, and no ping before each use:
    the SDK opens 11 sessions per ``message/send`` and each ping cost a BEGIN and a ROLLBACK (22 of its 59
    statements; ``benchmarks/RESULTS.md``). A connection the server dropped fails once and is replaced. The
    replicas' total, 1.5 x ``pool_size`` each, must stay below the server's ``max_connections``.
    """
    try:
        from a2a.server.tasks import DatabasePushNotificationConfigStore, DatabaseTaskStore
        from sqlalchemy.ext.asyncio import create_async_engine
    except ImportError as exc:  # pragma: no cover - the extra is part of the dev install
        raise ImportError("state.database_url needs the replicas extra: pip install 'oauth2-lab[replicas]'") from exc
    options: dict[str, Any] = {}
    if database_url.startswith("postgresql"):
        options.update(pool_size=pool_size, max_overflow=pool_size // 2, pool_timeout=30, pool_recycle=3600)
    engine = create_async_engine(database_url, **options)
    # the SDK's own table names: another name makes it declare a model class per store (one per agent built)
    return SqlStores(engine, DatabaseTaskStore(engine), DatabasePushNotificationConfigStore(engine))
