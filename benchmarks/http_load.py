"""The guard under load: a protected agent call vs the same call unprotected, warm and cold (RS256), with wrk.

Run: uv run python benchmarks/http_load.py [--duration 4] [--connections 8] [--rounds 2]
Needs wrk (Debian/Ubuntu: ``sudo apt-get install wrk``; macOS: ``brew install wrk``); ``.ci/run`` does not.

The server (the lab provider and the sample agent, ``benchmarks/_server.py``) runs in its own process pinned to
core 0 with taskset, wrk (one thread) on core 1, so the load generator does not take the server's CPU. For each
call (``POST /`` ``capabilities``, ``POST /mcp`` ``tools/call`` of ``echo``) and each case (no-auth baseline,
protected with one warm token, protected with a new RS256 token on every request), wrk runs ``--duration``
seconds; the server's CPU is read from /proc. Ratios are throughput per server CPU second, protected over
unprotected, in the same run; the best of ``--rounds`` rounds is kept. A second, one-connection run gives the
p50/p99 latency the guard adds. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from labkit.provider import MockProvider

ROOT = Path(__file__).resolve().parent.parent
PINNED = bool(shutil.which("taskset")) and (os.cpu_count() or 1) > 1
CALLS = {
    "POST /": ("/", {"jsonrpc": "2.0", "id": 1, "method": "capabilities"}),
    "/mcp tools/call": ("/mcp", {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                 "params": {"name": "echo", "arguments": {"text": "hi"}}}),
}
LUA = r"""
local tokens = {}
local file = io.open(os.getenv("WRK_TOKENS"), "r")
for line in file:lines() do if #line > 0 then tokens[#tokens + 1] = line end end
file:close()
local body = os.getenv("WRK_BODY")
local path = os.getenv("WRK_PATH")
local counter = 0
request = function()
  counter = counter + 1
  local headers = {["Content-Type"] = "application/json", ["Accept"] = "application/json, text/event-stream"}
  if #tokens > 0 then headers["Authorization"] = "Bearer " .. tokens[(counter - 1) % #tokens + 1] end
  return wrk.format("POST", path, headers, body)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d\n", summary.requests, summary.duration, e.status,
    e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(99)))
end
"""


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pin(core: int, command: list[str]) -> list[str]:
    return ["taskset", "-c", str(core), *command] if PINNED else command


class Server:
    """``benchmarks/_server.py`` in its own process: protected or the no-auth baseline."""

    def __init__(self, mode: str) -> None:
        command = _pin(0, [sys.executable, str(ROOT / "benchmarks" / "_server.py"), "--mode", mode])
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert self.process.stdout is not None
        self.provider = self.process.stdout.readline().split(" ", 1)[1].strip()
        self.agent = self.process.stdout.readline().split(" ", 1)[1].strip()

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


def wrk(server: Server, call: str, tokens: list[str], *, duration: float, connections: int,
        workdir: Path) -> dict[str, float]:
    """One wrk run against ``server``; returns requests, server CPU per request, wall rate, errors, latency."""
    path, body = CALLS[call]
    token_file = workdir / "tokens.txt"
    token_file.write_text("\n".join(tokens) + "\n")
    script = workdir / "post.lua"
    script.write_text(LUA)
    env = {**os.environ, "WRK_TOKENS": str(token_file), "WRK_BODY": json.dumps(body), "WRK_PATH": path}
    command = _pin(1, ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "-s", str(script),
                       server.agent + path])
    before = _cpu_seconds(server.process.pid)
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    cpu = _cpu_seconds(server.process.pid) - before
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    requests, micros, status_errors, socket_errors, p50, p99 = (int(v) for v in line.split()[1:])
    return {"requests": requests, "cpu_ms": cpu / max(requests, 1) * 1000, "per_cpu_s": requests / max(cpu, 1e-9),
            "wall_rps": requests / (micros / 1e6), "errors": status_errors + socket_errors, "p50": p50, "p99": p99,
            "reused": max(0, requests - len(tokens)) if len(tokens) > 1 else 0}


def measure(call: str, args: argparse.Namespace, workdir: Path) -> dict[str, dict[str, float]]:
    """The three cases of one call, best of ``args.rounds``, plus one-connection latency runs."""
    best: dict[str, dict[str, float]] = {}

    def keep(name: str, row: dict[str, float]) -> None:
        if name not in best or row["per_cpu_s"] > best[name]["per_cpu_s"]:
            best[name] = row

    for _ in range(args.rounds):
        baseline = Server("unprotected")
        try:
            wrk(baseline, call, [], duration=1, connections=args.connections, workdir=workdir)  # warm up
            keep("no-auth baseline", wrk(baseline, call, [], duration=args.duration, connections=args.connections,
                                         workdir=workdir))
            keep("latency baseline", wrk(baseline, call, [], duration=max(1, args.duration // 2), connections=1,
                                         workdir=workdir))
        finally:
            baseline.close()
        protected = Server("protected")
        try:
            minter = MockProvider(base_url=protected.provider)  # the lab keys, this server's issuer
            warm_token = minter.mint(["api:read"])
            cold = [minter.mint(["api:read"], alg="RS256") for _ in range(args.cold_tokens)]
            wrk(protected, call, [warm_token], duration=1, connections=args.connections, workdir=workdir)
            keep("protected, warm", wrk(protected, call, [warm_token], duration=args.duration,
                                        connections=args.connections, workdir=workdir))
            keep("latency warm", wrk(protected, call, [warm_token], duration=max(1, args.duration // 2), connections=1,
                                     workdir=workdir))
            keep("protected, cold RS256", wrk(protected, call, cold, duration=args.duration,
                                              connections=args.connections, workdir=workdir))
        finally:
            protected.close()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=3, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2, help="rounds per case; the best is kept")
    # more than a run sends (a token sent again is a cached verdict, which flatters the cold figure: see "reused"),
    # and more than the validator's cache holds (10,000), so a long run evicts on every request as a busy agent does
    parser.add_argument("--cold-tokens", type=int, default=16_000, help="distinct RS256 tokens for the cold case")
    parser.add_argument("--calls", default=",".join(CALLS), help="comma-separated: " + ", ".join(CALLS))
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: sudo apt-get install wrk (Debian/Ubuntu) or brew install wrk (macOS)")
    if PINNED:
        os.sched_setaffinity(0, {1})
    print(f"machine: {os.cpu_count()} cpus; server {'pinned to core 0' if PINNED else 'unpinned'}, wrk (1 thread, "
          f"{args.connections} connections) on core 1; {args.duration:g} s per run, best of {args.rounds} rounds; "
          f"{args.cold_tokens} distinct cold tokens\n")
    with tempfile.TemporaryDirectory() as tmp:
        for call in args.calls.split(","):
            report(call, measure(call, args, Path(tmp)))


def report(call: str, rows: dict[str, Any]) -> None:
    print(f"{call}")
    print(f"  {'case':<24}{'requests':>9}{'server CPU us/req':>19}{'req per CPU-s':>15}{'wall req/s':>12}"
          f"{'errors':>8}{'reused':>8}")
    for name in ("no-auth baseline", "protected, warm", "protected, cold RS256"):
        row = rows[name]
        print(f"  {name:<24}{row['requests']:>9}{row['cpu_ms'] * 1000:>19.0f}{row['per_cpu_s']:>15.0f}"
              f"{row['wall_rps']:>12.0f}{int(row['errors']):>8}{int(row['reused']):>8}")
    base = rows["no-auth baseline"]
    warm, cold = rows["protected, warm"], rows["protected, cold RS256"]
    print(f"  protected/unprotected per server CPU: warm {warm['per_cpu_s'] / base['per_cpu_s']:.2f} "
          f"(target >= 0.95), cold RS256 {cold['per_cpu_s'] / base['per_cpu_s']:.2f} (target >= 0.75); "
          f"wall req/s: warm {warm['wall_rps'] / base['wall_rps']:.2f}, cold {cold['wall_rps'] / base['wall_rps']:.2f}")
    if cold["reused"]:
        print(f"  cold: {int(cold['reused'])} requests sent a token again (a cached verdict): raise --cold-tokens")
    lb, lw = rows["latency baseline"], rows["latency warm"]
    print(f"  one connection: p50 {lb['p50']} -> {lw['p50']} us (guard adds {lw['p50'] - lb['p50']} us), "
          f"p99 {lb['p99']} -> {lw['p99']} us (adds {lw['p99'] - lb['p99']} us)\n")


if __name__ == "__main__":
    main()
