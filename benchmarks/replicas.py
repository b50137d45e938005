"""Requests per second through nginx for 1, 2 and 3 agent replicas (``labkit cluster``), with ``wrk``, and the
Redis and PostgreSQL round trips each request makes, counted by the servers themselves.

Two requests, each authenticated with a JWT: ``capabilities`` (the guard and the policy, no shared state) and
``message/send`` (a task written to PostgreSQL, the task quota checked in Redis). For each, a counting pass of
sequential requests first: Redis's slow log at threshold 0 records every command a client sent (commands a Lua
script runs carry no client address and are counted apart), ``pg_stat_statements`` every SQL statement (BEGIN,
COMMIT and ROLLBACK included); then wrk for the rate, with PostgreSQL's connection log counting the connections
opened under load. Prints figures and the ratio to one replica; never asserts (the machine's cores bound the
scaling). Needs wrk, redis-server, postgresql (with its contrib's pg_stat_statements), nginx.

    uv run python benchmarks/replicas.py [--seconds 5] [--connections 32] [--replicas 1 2 3] [--profile DIR]

``--profile DIR``: the one-replica run's replica under cProfile, stats in ``DIR/agent-0.prof``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import redis

from labkit.cluster import Cluster, MissingServiceError

LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local tokens = {%(tokens)s}
local n = 0
request = function()
  n = n + 1
  local body = string.gsub('%(body)s', "MSGID", tostring(n) .. "-" .. tostring(math.random(1e9)))
  local headers = {["Authorization"] = "Bearer " .. tokens[(n %% #tokens) + 1]}
  return wrk.format(nil, "/", headers, body)
end
"""

BODIES = {
    "capabilities": {"jsonrpc": "2.0", "id": 1, "method": "capabilities", "params": {}},
    "message/send": {"jsonrpc": "2.0", "id": 1, "method": "message/send", "params": {"message": {
        "role": "user", "messageId": "MSGID", "parts": [{"kind": "text", "text": "bench"}]}}},
}
COUNTED = 40  # sequential requests in each counting pass
OURS = {"slowlog", "config", "info"}  # the benchmark's own commands, not counted


def run_wrk(url: str, tokens: list[str], body: dict[str, object], seconds: int, connections: int) -> tuple[float, int]:
    """Requests per second and the count of non-2xx answers (and of requests wrk gave up on)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        listed = ", ".join(f'"{t}"' for t in tokens)
        script.write(LUA % {"tokens": listed, "body": json.dumps(body, separators=(",", ":"))})
    command = [shutil.which("wrk") or "wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
               "-s", script.name, url]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    Path(script.name).unlink()
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    timeouts = re.search(r"timeout (\d+)", out)
    return rate, (int(errors.group(1)) if errors else 0) + (int(timeouts.group(1)) if timeouts else 0)


class Counters:
    """Round trips as the servers count them: Redis's slow log (threshold 0) and ``pg_stat_statements``."""

    def __init__(self, cluster: Cluster) -> None:
        self.redis = redis.Redis.from_url(cluster.redis_url or "")
        postgres = next(s for s in cluster.services if s.name == "postgres")
        self.dsn = f"postgresql://postgres@127.0.0.1:{postgres.port}/postgres"
        self.postgres_log = postgres.log
        self._sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")

    def _sql(self, query: str) -> list[Any]:
        import asyncpg

        async def run() -> list[Any]:
            connection = await asyncpg.connect(self.dsn, ssl=False)
            try:
                return list(await connection.fetch(query))
            finally:
                await connection.close()

        return asyncio.run(run())

    def reset(self) -> None:
        self.redis.config_set("slowlog-max-len", 1_000_000)
        self.redis.config_set("slowlog-log-slower-than", 0)
        self.redis.slowlog_reset()
        self._sql("SELECT pg_stat_statements_reset()")

    def read(self) -> tuple[Counter[str], int, Counter[str]]:
        """Redis commands sent by clients (by name), commands run inside scripts, SQL statements (by verb)."""
        entries = self.redis.slowlog_get(1_000_000)
        self.redis.config_set("slowlog-log-slower-than", 10_000)
        sent: Counter[str] = Counter()
        scripted = 0
        for entry in entries:
            name = entry["command"].split(b" ", 1)[0].decode().lower()
            if name in OURS:
                continue
            if entry.get("client_address", b"").startswith(b"?"):  # run by a Lua script: no client, no round trip
                scripted += 1
            else:
                sent[name] += 1
        rows = self._sql("SELECT query, calls FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat%' "
                         "AND query NOT LIKE 'CREATE EXTENSION%'")
        statements: Counter[str] = Counter()
        for row in rows:
            statements[row["query"].split(None, 1)[0].upper()] += row["calls"]
        return sent, scripted, statements

    def connections_opened(self) -> int:
        """PostgreSQL's count of authorized connections so far (``log_connections``)."""
        return self.postgres_log.read_text(errors="replace").count("connection authorized")


def count_round_trips(cluster: Cluster, counters: Counters, body: dict[str, Any], token: str) -> str:
    """One line: Redis and PostgreSQL round trips per request, over ``COUNTED`` sequential requests."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=cluster.agent_url, headers=headers, timeout=30) as http:

        def send() -> None:
            text = json.dumps(body).replace("MSGID", str(uuid.uuid4()))
            answer = http.post("/", content=text, headers={"Content-Type": "application/json"})
            answer.raise_for_status()

        for _ in range(5):  # warm: keys fetched, pools filled
            send()
        counters.reset()
        for _ in range(COUNTED):
            send()
    sent, scripted, statements = counters.read()

    def per(counter: Counter[str]) -> str:
        total = sum(counter.values()) / COUNTED
        parts = ", ".join(f"{name} {n / COUNTED:g}" for name, n in counter.most_common())
        return f"{total:g}" + (f" ({parts})" if parts else "")

    return (f"Redis round trips/request: {per(sent)}; commands run in scripts: {scripted / COUNTED:g}\n"
            f"    PostgreSQL statements/request: {per(statements)}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--profile", default=None, help="profile the one-replica run into this folder")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("benchmarks/replicas.py: wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 1
    results: dict[str, list[float]] = {name: [] for name in BODIES}
    for replicas in args.replicas:
        try:
            cluster = Cluster(replicas, profile_dir=args.profile if replicas == 1 else None).start()
        except MissingServiceError as exc:
            print(f"benchmarks/replicas.py: {exc}", file=sys.stderr)
            return 1
        try:
            counters = Counters(cluster)
            for name, body in BODIES.items():
                # 50 principals per run: the task quota (1000 per principal) must not end the run early
                tokens = [cluster.provider.mint(["api:read", "api:write"], subject=f"bench-{replicas}-{name}-{i}")
                          for i in range(50)]
                counted = count_round_trips(cluster, counters, body, tokens[0])
                opened = counters.connections_opened()
                rate, errors = run_wrk(cluster.agent_url + "/", tokens, body, args.seconds, args.connections)
                opened = counters.connections_opened() - opened
                results[name].append(rate)
                print(f"{replicas} replica(s)  {name:<13} {rate:8.1f} req/s  non-2xx or timed out: {errors}  "
                      f"PostgreSQL connections opened under load: {opened}\n    {counted}", flush=True)
        finally:
            cluster.close()
    print("\nratio to one replica (nginx round robin; Redis and PostgreSQL shared):")
    for name, rates in results.items():
        print(f"  {name:<13} " + "  ".join(f"{n}: {rate / rates[0]:.2f}x" for n, rate in zip(args.replicas, rates,
                                                                                                  strict=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
