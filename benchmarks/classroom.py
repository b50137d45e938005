"""A class on this machine: ``uv run python benchmarks/classroom.py [--learners N]`` (default 20).

Starts a local hub (``labkit.classroom.Classroom``), then N learners: each server started through the hub's REST
API, a kernel opened through the server's kernels API, lesson 00 run to its challenge and solved (a real ``Lab()``
per kernel, reporting to the board). Prints, per learner and in total:

- memory per learner: RSS of the single-user server plus its kernel (and anything they started), once all run;
- time from "start my server" (the REST call) to a first answered cell (``print(1)`` in a new kernel);
- the p95 of ``challenge.check()`` (timed inside the kernel, the board report included) with N learners active,
  every learner checking at once, ``--rounds`` times;
- the ceiling this machine's RAM extrapolates to (on memory alone: RAM / memory per learner).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import psutil

from labkit.classroom import Classroom
from labkit.classroom.remote import RemoteKernel, lesson_cells, start_server

TIMED_CHECK = ("import time as _t; _s = _t.perf_counter(); _r = challenge.check(); "
               "print(f'{_t.perf_counter() - _s:.6f}', bool(_r))")


def _rss(process: psutil.Process) -> int:
    """RSS of ``process`` and its descendants, in bytes (a process gone meanwhile counts 0)."""
    total = 0
    for one in [process, *process.children(recursive=True)]:
        try:
            total += one.memory_info().rss
        except psutil.Error:
            pass
    return total


def _servers(hub_pid: int) -> dict[str, psutil.Process]:
    """Each learner's single-user server process (a child of the hub), by learner."""
    found = {}
    for child in psutil.Process(hub_pid).children():
        try:
            if "jupyterhub.singleuser" in " ".join(child.cmdline()):
                found[child.environ().get("JUPYTERHUB_USER", "?")] = child
        except psutil.Error:
            pass
    return found


async def _learner(room: Classroom, admin: httpx.AsyncClient, name: str, gate: asyncio.Semaphore) -> tuple[
        float, float, RemoteKernel]:
    assert room.admin_token is not None
    async with gate:  # the hub starts servers a few at a time, as a class arriving over a minute
        started = time.monotonic()
        ready = await start_server(admin, name)
        kernel = await RemoteKernel(room.url, name, room.admin_token).start()
        first = await kernel.run("print(1)")
        answered = time.monotonic() - started
        assert first.stdout.strip() == "1", first
    for cell in lesson_cells("00")[:-1]:  # all but the solution: the lab is up, the challenge started
        result = await kernel.run(cell)
        assert result.status == "ok", (name, result.error)
    return ready, answered, kernel


async def main(learners: int, rounds: int, concurrency: int) -> None:
    free_before = psutil.virtual_memory().available
    with tempfile.TemporaryDirectory() as folder:
        room = Classroom(Path(folder), admin_token=secrets.token_hex(24)).start()
        try:
            assert room.process is not None
            headers = {"Authorization": f"token {room.admin_token}"}
            async with httpx.AsyncClient(base_url=room.url, headers=headers, timeout=120) as admin:
                gate = asyncio.Semaphore(concurrency)
                names = [f"learner{i:03d}" for i in range(learners)]
                began = time.monotonic()
                done = await asyncio.gather(*(_learner(room, admin, n, gate) for n in names))
                print(f"{learners} learners up and at lesson 00's challenge in {time.monotonic() - began:.0f} s")
                kernels = [kernel for _, _, kernel in done]
                solution = lesson_cells("00")[-1].replace("challenge.check()", "")
                await asyncio.gather(*(k.run(solution) for k in kernels))
                checks: list[float] = []
                for _ in range(rounds):
                    answers = await asyncio.gather(*(k.run(TIMED_CHECK) for k in kernels))
                    for answer in answers:
                        seconds, solved = answer.stdout.split()
                        assert solved == "True", answer
                        checks.append(float(seconds))
                memory = {name: _rss(p) for name, p in _servers(room.process.pid).items()}
                base = _rss(psutil.Process(room.process.pid)) - sum(memory.values())
                await asyncio.gather(*(k.shutdown() for k in kernels))
        finally:
            room.stop()
    per = statistics.mean(memory.values())
    ready = [r for r, _, _ in done]
    answered = [a for _, a, _ in done]
    total = psutil.virtual_memory().total
    print(f"memory per learner (server + kernel + its Lab): mean {per / 2**20:.0f} MiB, "
          f"max {max(memory.values()) / 2**20:.0f} MiB over {len(memory)} learners")
    print(f"hub + proxy + board: {base / 2**20:.0f} MiB")
    print(f"start my server -> hub says ready: median {statistics.median(ready):.1f} s, max {max(ready):.1f} s "
          f"({concurrency} starting at a time)")
    print(f"start my server -> first answered cell: median {statistics.median(answered):.1f} s, "
          f"max {max(answered):.1f} s")
    q = statistics.quantiles(checks, n=20)
    print(f"check() with {learners} active, all at once x{rounds}: median {statistics.median(checks) * 1000:.0f} ms, "
          f"p95 {q[18] * 1000:.0f} ms ({len(checks)} checks)")
    print(f"ceiling on memory alone: {total / 2**30:.1f} GiB RAM / {per / 2**20:.0f} MiB = {int(total // per)} "
          f"learners ({int(free_before // per)} with the {free_before / 2**30:.1f} GiB free when this run began)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=20, help="simulated learners (default 20)")
    parser.add_argument("--rounds", type=int, default=5, help="times every learner checks at once (default 5)")
    parser.add_argument("--concurrency", type=int, default=4, help="servers starting at a time (default 4)")
    options = parser.parse_args()
    asyncio.run(main(options.learners, options.rounds, options.concurrency))
