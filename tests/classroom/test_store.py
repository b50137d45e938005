"""The board's store on SQLite: a row only grows (solved stays solved, hints keep their highest, a solution viewed
stays viewed), the last feedback wins, and a new store on the same file sees everything."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from labkit.classroom.store import MAX_FEEDBACK, BoardStore, Report


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """SQLite in a file (the default), or a scratch PostgreSQL (``--database postgresql+asyncpg://...``)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'board.sqlite'}"
        return
    from labkit.cluster.services import MissingServiceError, find_program, start_postgres

    try:
        find_program("postgres")
    except MissingServiceError as exc:
        pytest.skip(str(exc))
    folder = Path(tempfile.mkdtemp(prefix="labkit-pg-"))  # as labkit.cluster does: outside pytest's 0700 folders
    folder.chmod(0o711)
    postgres = start_postgres(folder / "postgres")
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{postgres.port}/postgres"
    finally:
        postgres.stop()
        shutil.rmtree(folder, ignore_errors=True)


def test_a_row_only_grows_and_outlives_its_store(database: str) -> None:
    url = database
    clock = iter(range(1_000, 2_000))

    async def scenario() -> tuple[list[object], list[object]]:
        store = BoardStore(url, clock=lambda: float(next(clock)))
        await store.initialize()
        await store.record("ada", "00", Report(hints=2, feedback="not yet: no 403"))
        await store.record("ada", "00", Report(solved=True, hints=1, feedback="solved"))
        await store.record("ada", "00", Report(solved=False, hints=0, solution_viewed=True))  # a later view
        await store.record("bob", "01", Report(feedback="x" * (MAX_FEEDBACK + 50)))
        first = await store.rows()
        await store.aclose()
        again = BoardStore(url)  # the board restarted
        await again.initialize()
        second = await again.rows()
        await again.aclose()
        return first, second

    first, second = asyncio.run(scenario())
    assert first == second
    ada, bob = first
    assert (ada.learner, ada.challenge, ada.solved, ada.hints, ada.solution_viewed, ada.checks, ada.feedback,
            ada.updated_at) == ("ada", "00", True, 2, True, 2, "solved", 1002.0)
    assert bob.feedback is not None and len(bob.feedback) == MAX_FEEDBACK and bob.feedback.endswith("…")
