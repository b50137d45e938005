"""Requests per second through nginx for 1, 2 and 3 agent replicas (``labkit cluster``), with ``wrk``.

Two requests, each authenticated with a JWT: ``capabilities`` (the guard and the policy, no shared state) and
``message/send`` (a task written to PostgreSQL, the task quota checked in Redis). Prints figures and the ratio to
one replica; never asserts (the machine's cores bound the scaling). Needs wrk, redis-server, postgresql, nginx.

    uv run python benchmarks/replicas.py [--seconds 5] [--connections 32]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

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


def run_wrk(url: str, tokens: list[str], body: dict[str, object], seconds: int, connections: int) -> tuple[float, int]:
    """Requests per second and the count of non-2xx answers."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        listed = ", ".join(f'"{t}"' for t in tokens)
        script.write(LUA % {"tokens": listed, "body": json.dumps(body, separators=(",", ":"))})
    command = [shutil.which("wrk") or "wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", script.name, url]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    Path(script.name).unlink()
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rate, int(errors.group(1)) if errors else 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("benchmarks/replicas.py: wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 1
    results: dict[str, list[float]] = {name: [] for name in BODIES}
    for replicas in (1, 2, 3):
        try:
            cluster = Cluster(replicas).start()
        except MissingServiceError as exc:
            print(f"benchmarks/replicas.py: {exc}", file=sys.stderr)
            return 1
        try:
            for name, body in BODIES.items():
                # 50 principals per run: the task quota (1000 per principal) must not end the run early
                tokens = [cluster.provider.mint(["api:read", "api:write"], subject=f"bench-{replicas}-{name}-{i}")
                          for i in range(50)]
                rate, errors = run_wrk(cluster.agent_url + "/", tokens, body, args.seconds, args.connections)
                results[name].append(rate)
                print(f"{replicas} replica(s)  {name:<13} {rate:8.0f} req/s  non-2xx: {errors}", flush=True)
        finally:
            cluster.close()
    print("\nratio to one replica (nginx round robin; Redis and PostgreSQL shared):")
    for name, rates in results.items():
        print(f"  {name:<13} " + "  ".join(f"{n}: {rate / rates[0]:.2f}x" for n, rate in zip((1, 2, 3), rates,
                                                                                                  strict=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
