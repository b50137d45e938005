"""Drive a class through the hub's REST API, as a script would (the tests, ``benchmarks/classroom.py``): learners'
servers started and awaited, and a lesson's cells up to its challenge, solved with the reference solution.
"""

from __future__ import annotations

import asyncio
import json
import time

import httpx

from ..lab.notebooks import solution_key, solution_source
from ..lab.workspace import shipped_lessons

__all__ = ["lesson_cells", "start_server", "stop_server"]


def lesson_cells(lesson: str) -> list[str]:
    """Lesson ``lesson``'s code cells as shipped, up to its challenge's your-turn cell, which is replaced by the
    reference solution (that ends with its check). Raises ``FileNotFoundError`` for an unknown lesson."""
    folder = shipped_lessons()
    found = sorted(folder.glob(f"{lesson}_*.ipynb"))
    if not found:
        raise FileNotFoundError(f"no lesson {lesson} in {folder}")
    cells: list[str] = []
    for cell in json.loads(found[0].read_text(encoding="utf-8"))["cells"]:
        if cell.get("cell_type") != "code":
            continue
        key = solution_key(cell)
        if key is not None:
            cells.append(solution_source(folder, key))
            return cells
        source = cell.get("source", "")
        cells.append(source if isinstance(source, str) else "".join(source))
    return cells


async def start_server(client: httpx.AsyncClient, name: str, timeout: float = 180) -> float:
    """Create learner ``name`` (if new) and start their server through the REST API of ``client`` (based on the
    hub's URL, with an admin token); the seconds until the hub says it is ready. Raises ``TimeoutError``,
    ``httpx.HTTPStatusError``."""
    started = time.monotonic()
    created = await client.post(f"/hub/api/users/{name}")
    if created.status_code not in (201, 409):
        created.raise_for_status()
    spawn = await client.post(f"/hub/api/users/{name}/server")
    if spawn.status_code not in (201, 202, 400):  # 400: already running
        spawn.raise_for_status()
    async with asyncio.timeout(timeout):
        while True:
            model = (await client.get(f"/hub/api/users/{name}")).json()
            server = model.get("servers", {}).get("", {})
            if server.get("ready"):
                return time.monotonic() - started
            await asyncio.sleep(0.25)


async def stop_server(client: httpx.AsyncClient, name: str) -> None:
    """Stop learner ``name``'s server (and wait for the hub to say it stopped)."""
    answer = await client.delete(f"/hub/api/users/{name}/server")
    if answer.status_code == 202:
        for _ in range(240):
            if not (await client.get(f"/hub/api/users/{name}")).json().get("servers"):
                return
            await asyncio.sleep(0.25)
