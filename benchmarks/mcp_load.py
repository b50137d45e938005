"""An official-SDK MCP server protected by labkit vs by the SDK's own auth with a PyJWT verifier, under load.

Run: uv run python benchmarks/mcp_load.py [--duration 3] [--rounds 3] [--against REV|FOLDER] [--driver wrk|httpx]
(``benchmarks/peers.py`` runs it with the other figures of issue 25 item 7.)

Each server is ``benchmarks/_mcp_server.py`` in its own process (uvicorn on 127.0.0.1, pinned to core 0 with
taskset; the load generator on core 1): the same ``MCPServer`` and tool, stateless JSON, with ``--auth pyjwt``
(the peer), ``labkit`` (the README's example: ``GateTokenVerifier`` and ``DPoPMiddleware``), ``labkit-bare``
(the verifier alone) and ``none`` (no auth: the SDK alone, for scale). Before it is measured, each protected
server must answer 200 to a valid token, 401 to a wrong audience and to an expired token, 403 to a missing scope.
The load is ``tools/call`` of ``hello``: warm (one token, repeated) and cold (a new RS256 token on every
request, minted beforehand; a fresh server process has seen none of them). Servers take turns, in reversed order
every other round; each (server, case) keeps its best round. Printed: wall requests/s and requests per second of
the server's CPU (read from /proc: what the other processes on a shared machine cannot inflate), and
labkit/PyJWT ratios of both. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _mcp_server import ISSUER, RESOURCE, SCOPE
from _sides import ROOT, env_for, sides
from joserfc import jwt as jfc_jwt
from joserfc.jwk import RSAKey

PINNED = bool(shutil.which("taskset")) and (os.cpu_count() or 1) > 1
BODY = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "hello", "arguments": {"name": "b"}}}
HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
NAMES = {"pyjwt": "SDK auth + PyJWT verifier", "labkit": "labkit GateTokenVerifier+DPoPMiddleware",
         "labkit-bare": "labkit GateTokenVerifier alone", "none": "no auth (the SDK alone)"}
LUA = r"""
local tokens = {}
local file = io.open(os.getenv("WRK_TOKENS"), "r")
for line in file:lines() do if #line > 0 then tokens[#tokens + 1] = line end end
file:close()
local body = os.getenv("WRK_BODY")
local counter = 0
request = function()
  counter = counter + 1
  local headers = {["Content-Type"] = "application/json", ["Accept"] = "application/json, text/event-stream",
                   ["Authorization"] = "Bearer " .. tokens[(counter - 1) % #tokens + 1]}
  return wrk.format("POST", nil, headers, body)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d\n", summary.requests, summary.duration,
    e.status + e.connect + e.read + e.write + e.timeout))
end
"""


class Keys:
    """One RSA key, its public JWK Set in a file, and tokens signed with it (the lab's claims, RS256)."""

    def __init__(self, workdir: Path) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "bench-1"})
        self.jwks_file = workdir / "jwks.json"
        self.jwks_file.write_text(json.dumps({"keys": [self.key.as_dict(private=False)]}))
        self.count = 0

    def mint(self, scope: str = SCOPE, aud: str = RESOURCE, lifetime: int = 3600) -> str:
        self.count += 1
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": aud, "sub": f"user-{self.count}", "client_id": "bench-client", "iat": now,
                  "exp": now + lifetime, "jti": f"jti-{self.count:08d}", "scope": scope}
        return jfc_jwt.encode({"alg": "RS256", "kid": "bench-1", "typ": "at+jwt"}, claims, self.key,
                              algorithms=["RS256"])


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pin(core: int, command: list[str]) -> list[str]:
    return ["taskset", "-c", str(core), *command] if PINNED else command


class Server:
    """``_mcp_server.py --auth AUTH`` in its own process, importing labkit from ``folder``."""

    def __init__(self, auth: str, folder: str, keys: Keys) -> None:
        command = _pin(0, [sys.executable, str(ROOT / "benchmarks" / "_mcp_server.py"), "--auth", auth,
                           "--jwks", str(keys.jwks_file)])
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                        cwd=ROOT, env=env_for(folder))
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("url: "):
            self.close()
            raise SystemExit(f"the {auth} MCP server did not start (exit code {self.process.returncode})")
        self.url = line.split(" ", 1)[1].strip()

    def check(self, auth: str, keys: Keys) -> None:
        """The answers every protected server must give before it is measured (same checks on both sides)."""
        expected = {"valid": (keys.mint(), 200), "wrong audience": (keys.mint(aud="https://other.bench/"), 401),
                    "expired": (keys.mint(lifetime=-120), 401), "missing scope": (keys.mint(scope="other"), 403)}
        for name, (token, status) in expected.items():
            answer = httpx.post(self.url, json=BODY, headers={**HEADERS, "Authorization": f"Bearer {token}"})
            if answer.status_code != (200 if auth == "none" else status):
                self.close()
                raise SystemExit(f"{auth}: {name} token answered {answer.status_code}, expected {status}")

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


def load(server: Server, tokens: list[str], args: argparse.Namespace, workdir: Path,
         duration: float | None = None) -> dict[str, float]:
    """One load run of ``tools/call`` with ``tokens`` in turn: requests, wall rate, server CPU, errors, reuse."""
    seconds = args.duration if duration is None else duration
    before = _cpu_seconds(server.process.pid)
    if args.driver == "wrk":
        token_file, script = workdir / "tokens.txt", workdir / "call.lua"
        token_file.write_text("\n".join(tokens) + "\n")
        script.write_text(LUA)
        env = {**os.environ, "WRK_TOKENS": str(token_file), "WRK_BODY": json.dumps(BODY)}
        command = _pin(1, ["wrk", "-t1", f"-c{args.connections}", f"-d{max(1, round(seconds))}s", "-s", str(script),
                           server.url])
        out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
        line = next(x for x in out.splitlines() if x.startswith("RESULT "))
        requests, micros, errors = (int(v) for v in line.split()[1:])
        wall = micros / 1e6
    else:
        requests, wall, errors = asyncio.run(_httpx_load(server.url, tokens, args.requests, args.connections))
    cpu = _cpu_seconds(server.process.pid) - before
    return {"requests": requests, "wall_rps": requests / max(wall, 1e-9), "per_cpu_s": requests / max(cpu, 1e-9),
            "cpu_us": cpu / max(requests, 1) * 1e6, "errors": errors,
            "reused": max(0, requests - len(tokens)) if len(tokens) > 1 else 0}


async def _httpx_load(url: str, tokens: list[str], count: int, concurrency: int) -> tuple[int, float, int]:
    """``count`` requests from ``concurrency`` workers sharing one client: (requests, wall seconds, errors)."""
    sent, errors = 0, 0
    payload = json.dumps(BODY).encode()
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency)) as client:

        async def worker() -> None:
            nonlocal sent, errors
            while sent < count:
                token = tokens[sent % len(tokens)]
                sent += 1
                headers = {**HEADERS, "Authorization": f"Bearer {token}"}
                answer = await client.post(url, content=payload, headers=headers)
                errors += answer.status_code != 200

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return sent, time.perf_counter() - start, errors


Rows = dict[tuple[str, str, str], list[dict[str, float]]]


def measure(args: argparse.Namespace, folders: list[tuple[str, str]]) -> Rows:
    """Every round's figures by (auth, side label, case), the servers taking turns (reversed every other round)."""
    variants = [("pyjwt", folders[0][0], folders[0][1])]
    variants += [(auth, label, folder) for label, folder in folders for auth in args.labkit.split(",") if auth]
    if args.baseline:
        variants.append(("none", folders[0][0], folders[0][1]))
    rows: Rows = {}
    with tempfile.TemporaryDirectory(prefix="mcp-load-") as tmp:
        workdir = Path(tmp)
        keys = Keys(workdir)
        warm = [keys.mint()]
        cold = [keys.mint() for _ in range(args.cold_tokens)]
        for round_ in range(args.mcp_rounds):
            for auth, label, folder in variants if round_ % 2 == 0 else reversed(variants):
                server = Server(auth, folder, keys)
                try:
                    server.check(auth, keys)
                    load(server, warm, args, workdir, duration=1)  # warm-up: first-call paths
                    cases = {"warm": warm} if auth == "none" else {"warm": warm, "cold": cold}
                    for case, tokens in cases.items():
                        rows.setdefault((auth, label, case), []).append(load(server, tokens, args, workdir))
                finally:
                    server.close()
    return rows


def report(rows: Rows, args: argparse.Namespace) -> None:
    """Best figures of each server and case, and labkit/PyJWT ratios: best over best, and per round (median and
    range of the pairs measured next to each other), in requests/s and per second of server CPU."""
    load_text = (f"wrk, 1 thread, {args.connections} connections, {args.duration:g} s a run" if args.driver == "wrk"
                 else f"httpx, {args.connections} workers, {args.requests} requests a run")
    print(f"(c) MCP server on the official SDK, POST /mcp tools/call (stateless JSON), uvicorn on 127.0.0.1, "
          f"{load_text}; {args.mcp_rounds} alternated rounds; cold: {args.cold_tokens} distinct RS256 tokens")
    print(f"  {'server':<42}{'side':<12}{'case':<6}{'best req/s':>11}{'req/CPU-s':>11}{'CPU us/req':>11}"
          f"{'errors':>8}{'reused':>8}")
    best = {key: {m: max(r[m] for r in runs) for m in ("wall_rps", "per_cpu_s", "errors", "reused")}
            for key, runs in rows.items()}
    for (auth, label, case), row in best.items():
        print(f"  {NAMES[auth]:<42}{label[:11]:<12}{case:<6}{row['wall_rps']:>11.0f}{row['per_cpu_s']:>11.0f}"
              f"{1e6 / row['per_cpu_s']:>11.0f}{int(row['errors']):>8}{int(row['reused']):>8}")
    peer_label = next(label for auth, label, _ in rows if auth == "pyjwt")
    for (auth, label, case), runs in rows.items():
        if not auth.startswith("labkit"):
            continue
        peers = rows["pyjwt", peer_label, case]
        text = []
        for metric, name in (("wall_rps", "req/s"), ("per_cpu_s", "per server CPU")):
            paired = sorted(r[metric] / p[metric] for r, p in zip(runs, peers, strict=True))
            text.append(f"{name} {best[auth, label, case][metric] / best['pyjwt', peer_label, case][metric]:.2f} "
                        f"(rounds: median {statistics.median(paired):.2f}, {paired[0]:.2f}-{paired[-1]:.2f})")
        print(f"  {NAMES[auth]} [{label}] / PyJWT, {case}: " + "; ".join(text))
    print("  target >= 1.0, warm and cold")
    if any(row["reused"] for row in best.values()):
        print("  cold: some requests sent a token again (a cached verdict for labkit): raise --cold-tokens")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--driver", choices=["wrk", "httpx"], default="wrk" if shutil.which("wrk") else "httpx")
    parser.add_argument("--duration", type=float, default=3, help="wrk: seconds a run")
    parser.add_argument("--requests", type=int, default=1000, help="httpx: requests a run")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--mcp-rounds", type=int, default=3, help="(c): rounds of every server, alternated")
    parser.add_argument("--cold-tokens", type=int, default=2500,
                        help="distinct RS256 tokens for the cold case (more than a run sends)")
    parser.add_argument("--labkit", default="labkit,labkit-bare", help="labkit variants: labkit,labkit-bare")
    parser.add_argument("--no-baseline", dest="baseline", action="store_false", help="skip the no-auth server")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.add_argument("--against", metavar="REV|FOLDER", help="also measure labkit from this revision or folder")
    args = parser.parse_args()
    if PINNED:
        os.sched_setaffinity(0, {1})
    with sides(args.against) as folders:
        report(measure(args, folders), args)


if __name__ == "__main__":
    main()
