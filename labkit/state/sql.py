"""A2A tasks and push configurations in the a2a-sdk's own SQL stores (SQLAlchemy async).

PostgreSQL (``postgresql+asyncpg://``) for replicas, SQLite (``sqlite+aiosqlite:///file``) on one machine. The
SDK's stores keep each row's owner (``resolve_user_scope``: the principal key) and filter every read by it, so
ownership per principal holds on every replica. Raises ``ImportError`` naming the extra when the drivers are missing.

The SDK answers any exception with ``InternalError(message=str(exc))``: a database error's text (driver, SQL, table
names, a principal's key in the parameters) would reach the client. So each store is wrapped once here: any failure
of its own becomes ``StorageError``, a ``StateUnavailableError`` (one answer to the client: -32603 "state unavailable;
try again shortly"), the cause logged for the operator.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._text import safe_text
from .protocols import StateUnavailableError

__all__ = ["SqlStores", "StorageError", "open_sql_stores"]

_log = logging.getLogger("labkit.state")


class StorageError(StateUnavailableError):
    """The database behind the task or push store failed; its message is generic, the cause is chained and logged."""


class _Shielded:
    """A store whose every awaited method raises ``StorageError`` for a failure of the database (logged precisely);
    the SDK's own errors (``keep``: an invalid page token is the client's ``InvalidParamsError``) pass unchanged."""

    def __init__(self, inner: Any, name: str, keep: tuple[type[BaseException], ...]) -> None:
        self.inner, self._name, self._keep = inner, name, keep

    def __getattr__(self, attribute: str) -> Any:
        value = getattr(self.inner, attribute)
        if not inspect.iscoroutinefunction(value):
            return value
        return self._shield(value, attribute)

    def _shield(self, method: Callable[..., Any], attribute: str) -> Callable[..., Any]:
        @functools.wraps(method)
        async def shielded(*args: Any, **kwargs: Any) -> Any:
            try:
                return await method(*args, **kwargs)
            except self._keep:
                raise
            except Exception as exc:
                # generic to the client, precise in the log (never a token: the stores hold none)
                _log.error("storage unavailable: %s.%s failed: %s: %s", self._name, attribute, type(exc).__name__,
                           safe_text(str(exc), 2048))
                raise StorageError from exc

        return shielded


@dataclass
class SqlStores:
    """The engine and the two SDK stores built on it; ``aclose`` disposes of the engine's connections."""

    engine: Any
    tasks: Any  # a2a.server.tasks.DatabaseTaskStore, shielded (StorageError)
    push_configs: Any  # a2a.server.tasks.DatabasePushNotificationConfigStore, shielded (StorageError)

    async def initialize(self) -> None:
        """Create the tables when missing (idempotent; concurrent replicas may race, the loser's error is ignored)."""
        for store in (self.tasks.inner, self.push_configs.inner):
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
        from a2a.utils.errors import A2AError
        from sqlalchemy.ext.asyncio import create_async_engine
    except ImportError as exc:  # pragma: no cover - the extra is part of the dev install
        raise ImportError("state.database_url needs the replicas extra: pip install 'oauth2-lab[replicas]'") from exc
    options: dict[str, Any] = {}
    if database_url.startswith("postgresql"):
        options.update(pool_size=pool_size, max_overflow=pool_size // 2, pool_timeout=30, pool_recycle=3600)
    engine = create_async_engine(database_url, **options)
    # the SDK's own table names: another name makes it declare a model class per store (one per agent built)
    tasks = _Shielded(DatabaseTaskStore(engine), "tasks", (A2AError,))
    push_configs = _Shielded(DatabasePushNotificationConfigStore(engine), "push_configs", (A2AError,))
    return SqlStores(engine, tasks, push_configs)
