"""Server CPU per request: a protected agent call vs the same call unprotected, warm and cold (RS256).

Run: uv run python benchmarks/http_load.py [--requests 2000] [--clients 4]
The server runs in its own process (pinned to core 0 with taskset when available), the load generator
here (pinned to core 1). CPU is read from /proc for the server process; figures and ratios are printed,
never asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from labkit.provider import MockProvider

ROOT = Path(__file__).resolve().parent.parent


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _start(mode: str) -> tuple[subprocess.Popen[str], str, str]:
    command = [sys.executable, str(ROOT / "benchmarks" / "_server.py"), "--mode", mode]
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        command = ["taskset", "-c", "0", *command]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert process.stdout is not None
    provider = process.stdout.readline().split(" ", 1)[1].strip()
    agent = process.stdout.readline().split(" ", 1)[1].strip()
    return process, provider, agent


def _load(agent: str, tokens: list[str | None], clients: int) -> tuple[float, int]:
    """Send one request per token over ``clients`` threads; returns (wall seconds, non-200 count)."""
    errors = [0]
    chunks = [tokens[i::clients] for i in range(clients)]

    def worker(chunk: list[str | None]) -> None:
        with httpx.Client(base_url=agent, timeout=30) as http:
            for token in chunk:
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                r = http.post("/", json={"jsonrpc": "2.0", "id": 1, "method": "capabilities"}, headers=headers)
                if r.status_code != 200:
                    errors[0] += 1

    threads = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started, errors[0]


def measure(mode: str, kind: str, n: int, clients: int) -> dict[str, float]:
    process, provider_url, agent = _start(mode)
    try:
        minter = MockProvider(base_url=provider_url)  # the committed lab keys: valid at the served agent
        warmup = [minter.mint(["api:read"]) for _ in range(50)]
        _load(agent, list(warmup), clients)
        if kind == "warm":
            token = minter.mint(["api:read"])
            tokens: list[str | None] = [token] * n
        else:
            tokens = [minter.mint(["api:read"], alg="RS256") for _ in range(n)]
        if mode == "unprotected":
            tokens = [None] * n
        cpu_before = _cpu_seconds(process.pid)
        wall, errors = _load(agent, tokens, clients)
        cpu = _cpu_seconds(process.pid) - cpu_before
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=30)
    return {"requests": n, "server_cpu_ms_per_request": cpu / n * 1000, "requests_per_cpu_second": n / cpu,
            "wall_rps": n / wall, "errors": errors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})
    print(f"machine: {os.cpu_count()} cpus; server pinned to core 0, client to core 1; "
          f"{args.requests} requests per case, {args.clients} client threads; call: POST / capabilities\n")
    baseline = measure("unprotected", "warm", args.requests, args.clients)
    warm = measure("protected", "warm", args.requests, args.clients)
    cold = measure("protected", "cold", args.requests, args.clients)
    print(f"{'case':<28}{'server CPU ms/req':>18}{'req per CPU-s':>15}{'wall req/s':>12}{'errors':>8}")
    cases = (("no-auth baseline", baseline), ("protected, warm caches", warm), ("protected, cold RS256", cold))
    for name, row in cases:
        print(f"{name:<28}{row['server_cpu_ms_per_request']:>18.3f}{row['requests_per_cpu_second']:>15.0f}"
              f"{row['wall_rps']:>12.0f}{int(row['errors']):>8}")
    base = baseline["requests_per_cpu_second"]
    print(f"\nprotected/unprotected throughput (per server CPU): warm {warm['requests_per_cpu_second'] / base:.2f}"
          f" (target >= 0.9); cold RS256 {cold['requests_per_cpu_second'] / base:.2f} (target >= 0.45)")


if __name__ == "__main__":
    main()
