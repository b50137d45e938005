"""The board's progress rows, one per learner and challenge, in a real database: SQLite by default (a file beside
the hub's), PostgreSQL when configured (``postgresql+asyncpg://``, the replicas' SQL stack).

A row only grows: a challenge once solved stays solved, the hints count keeps its highest, a solution viewed stays
viewed; the last check's feedback and the time of the last report replace the old ones. Writes are upserts, so two
reports of one learner never lose each other's facts, and nothing held in memory is lost when the board restarts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, Column, Float, Integer, MetaData, String, Table, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

__all__ = ["MAX_FEEDBACK", "BoardStore", "Report", "Row"]

MAX_FEEDBACK = 500  # characters of a check's feedback kept (the rest is cut, marked with an ellipsis)
_MAX_COUNT = 1_000

_metadata = MetaData()
_progress = Table(
    "labkit_board_progress", _metadata,
    Column("learner", String(64), primary_key=True),
    Column("challenge", String(64), primary_key=True),
    Column("solved", Boolean, nullable=False, default=False),
    Column("hints", Integer, nullable=False, default=0),
    Column("solution_viewed", Boolean, nullable=False, default=False),
    Column("checks", Integer, nullable=False, default=0),
    Column("feedback", String(MAX_FEEDBACK + 1), nullable=True),
    Column("updated_at", Float, nullable=False),
)


@dataclass(frozen=True)
class Report:
    """What a learner's lab says about one challenge: the state of its progress file, and a check's feedback."""

    solved: bool = False
    hints: int = 0
    solution_viewed: bool = False
    feedback: str | None = None  # a check's message; None for a hint or a solution view (no check)


@dataclass(frozen=True)
class Row:
    """One learner's progress on one challenge, as the board shows it."""

    learner: str
    challenge: str
    solved: bool
    hints: int
    solution_viewed: bool
    checks: int
    feedback: str | None
    updated_at: float


class BoardStore:
    """The progress table on ``database_url`` (created on first use); ``clock`` stamps each report."""

    def __init__(self, database_url: str, *, clock: Callable[[], float] = time.time) -> None:
        self.url = database_url
        self.engine: AsyncEngine = create_async_engine(database_url)
        self.clock = clock

    async def initialize(self) -> None:
        """Create the table when it is missing (an existing one, and its rows, are kept)."""
        async with self.engine.begin() as connection:
            await connection.run_sync(_metadata.create_all)

    async def record(self, learner: str, challenge: str, report: Report) -> None:
        """Merge ``report`` into the learner's row for ``challenge`` (see the module: a row only grows)."""
        feedback = report.feedback
        if feedback is not None and len(feedback) > MAX_FEEDBACK:
            feedback = feedback[:MAX_FEEDBACK - 1] + "…"
        values: dict[str, Any] = {
            "learner": learner, "challenge": challenge, "solved": report.solved,
            "hints": max(0, min(report.hints, _MAX_COUNT)), "solution_viewed": report.solution_viewed,
            "checks": 0 if feedback is None else 1, "feedback": feedback, "updated_at": self.clock(),
        }
        insert = (postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert)(_progress)
        statement = insert.values(**values)
        new = statement.excluded
        old = _progress.c
        merged: dict[str, Any] = {
            "solved": old.solved | new.solved,
            "hints": func.max(old.hints, new.hints) if self.engine.dialect.name == "sqlite"
            else func.greatest(old.hints, new.hints),
            "solution_viewed": old.solution_viewed | new.solution_viewed,
            "checks": old.checks + new.checks,
            "feedback": func.coalesce(new.feedback, old.feedback),
            "updated_at": new.updated_at,
        }
        async with self.engine.begin() as connection:
            await connection.execute(statement.on_conflict_do_update(index_elements=["learner", "challenge"],
                                                                     set_=merged))

    async def rows(self) -> list[Row]:
        """Every row, by learner then challenge."""
        async with self.engine.connect() as connection:
            found = await connection.execute(select(_progress).order_by(_progress.c.learner, _progress.c.challenge))
            return [Row(**row._mapping) for row in found]

    async def aclose(self) -> None:
        """Close the database's connections."""
        await self.engine.dispose()
