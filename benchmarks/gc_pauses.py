"""Cyclic-GC time and the longest collection per request, in process, with or without ``freeze_start_up``.

Run: uv run python benchmarks/gc_pauses.py plain|freeze [N]

The sample agent (``Lab().app``) is driven in process as ``_server.rpc_driver`` does: N cold RS256 tokens fill
the caches, then (after ``freeze_start_up()`` in ``freeze`` mode) N no-auth, N warm and N more cold requests.
``gc.callbacks`` times every collection. With N below the validator's cache (10,000) the caches grow and the
collector runs (a full collection walks the whole start-up heap unless it was frozen); at capacity each insert
evicts one entry and no collection runs at all. Prints figures; asserts nothing.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time
from typing import Any

from _server import Unprotected, rpc_driver

from labkit.lab import Lab
from labkit.provider import MockProvider
from labkit.servers import freeze_start_up


def main() -> None:
    mode = sys.argv[1] if len(sys.argv) > 1 else "plain"
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 6000
    spent, longest, started = [0.0, 0], [0.0], [0.0]

    def timer(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        took = time.perf_counter() - started[0]
        spent[0] += took
        spent[1] += info["generation"] == 2
        longest[0] = max(longest[0], took)

    gc.callbacks.append(timer)
    with Lab() as lab:
        app = lab.app
        minter = MockProvider(base_url=lab.provider_url)
        warm = minter.mint(["api:read"])
        tokens = [minter.mint(["api:read"], alg="RS256") for _ in range(2 * n)]
        asyncio.run(rpc_driver(lab, tokens[:n])(app, n))  # the caches as a server has them after n callers
        if mode == "freeze":
            freeze_start_up()
        cases = (("no-auth", rpc_driver(lab, warm), Unprotected(app.starlette)),
                 ("warm", rpc_driver(lab, warm), app), ("cold", rpc_driver(lab, tokens[n:]), app))
        for name, drive, target in cases:
            spent[:], longest[0] = [0.0, 0], 0.0
            start = time.process_time()
            asyncio.run(drive(target, n))
            total = time.process_time() - start
            print(f"{mode:<7} {name:<8} {total / n * 1e6:6.1f} us/req, gc {spent[0] / n * 1e6:5.2f} us/req, "
                  f"full {spent[1]}, longest collection {longest[0] * 1000:.1f} ms")


if __name__ == "__main__":
    main()
