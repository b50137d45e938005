"""The three figures of issue 25 item 7 with their peers, in one run (a budget and peers, never asserted).

Run: uv run python benchmarks/peers.py [--against REV|FOLDER] [--rounds 3] [--only a,b,c]

(a) first-seen RS256 validation (minimal and RFC 9068 token shapes): labkit vs PyJWT (target >= 1.6x) and vs the
    raw ``cryptography`` RSA verify with its key object loaded once (target >= 0.5); ``validators.bench``.
(b) the guard's own cost in process, warm: ``POST /`` through the lab's ``OAuth2Guard`` in front of a trivial app
    minus the no-auth wrapper of ``_server.py`` around the same app (target <= 25 us a request).
(c) an MCP server on the official SDK protected by labkit's ``GateTokenVerifier`` vs by the SDK's auth with a
    PyJWT verifier, requests/s warm and cold (target >= 1.0); ``mcp_load.py``.

(a) and (b) run in a child process per tree, the trees taking turns ``--rounds`` times (each child keeps its own
best of interleaved inner rounds; the best child counts); ``--against`` adds a second labkit (a git revision,
exported with ``git archive``, or a folder holding ``labkit/``), imported through ``PYTHONPATH``. Figures are CPU
time (``process_time``) in (a) and (b), so other processes on a shared machine can slow a round but not speed one.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import mcp_load
from _sides import env_for, sides

TARGETS = {"pyjwt": 1.6, "raw": 0.5, "guard_us": 25.0, "mcp": 1.0}


def part_validator(n: int, rounds: int) -> dict[str, Any]:
    """(a) in this process: validations per CPU second of each contender, per token shape (RS256)."""
    from validators import bench

    return {shape: bench("RS256", shape, n, rounds) for shape in ("minimal", "rfc9068")}


def part_guard(n: int, rounds: int) -> dict[str, Any]:
    """(b) in this process: us CPU a request, guard and no-auth wrapper around the same trivial app, alternated."""
    from _server import Unprotected, rpc_driver, trivial

    from labkit.lab import Lab
    from labkit.provider import MockProvider

    with Lab() as lab:
        guarded = lab.app.guard
        guarded.app = trivial
        drive = rpc_driver(lab, MockProvider(base_url=lab.provider_url).mint(["api:read"]))
        apps = {"guard": guarded, "wrapper": Unprotected(trivial)}
        best = dict.fromkeys(apps, float("inf"))
        for app in apps.values():
            asyncio.run(drive(app, 200))
        for _ in range(rounds):
            for name, app in apps.items():
                gc.collect()
                start = time.process_time()
                asyncio.run(drive(app, n))
                best[name] = min(best[name], (time.process_time() - start) / n * 1e6)
    return best


def part_verifier(n: int, rounds: int) -> dict[str, Any]:
    """(c), in process: us CPU a request through the SDK's auth stack (``_mcp_server.auth_stack``) in front of a
    trivial app, for each verifier, cold (distinct tokens, a new stack each round) and warm (one token again and
    again), the contenders alternated, best of ``rounds``."""
    from _mcp_server import auth_stack
    from _server import trivial

    with tempfile.TemporaryDirectory() as tmp:
        keys = mcp_load.Keys(Path(tmp))
        jwks = json.loads(keys.jwks_file.read_text())
    cold = [keys.mint() for _ in range(n)]
    headers = [(b"host", b"127.0.0.1:8000"), (b"content-type", b"application/json"),
               (b"accept", b"application/json, text/event-stream")]
    body = json.dumps(mcp_load.BODY).encode()

    async def call_all(app: Any, tokens: list[str]) -> None:
        statuses = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        for token in tokens:
            scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                     "scheme": "http", "path": "/mcp", "raw_path": b"/mcp", "query_string": b"", "root_path": "",
                     "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5000),
                     "headers": [*headers, (b"authorization", b"Bearer " + token.encode())]}
            await app(scope, receive, send)
        if set(statuses) != {200}:
            raise SystemExit(f"the auth stack refused a valid token: {sorted(set(statuses))}")

    best: dict[str, float] = {}
    variants = ("pyjwt", "labkit-bare", "labkit")
    for round_ in range(rounds):
        for auth in variants if round_ % 2 == 0 else reversed(variants):
            for case, tokens in (("cold", cold), ("warm", [cold[0]] * n)):
                app = auth_stack(auth, jwks, trivial)
                asyncio.run(call_all(app, tokens[:1]))  # first-call paths; a warm token is now cached
                gc.collect()
                start = time.process_time()
                asyncio.run(call_all(app, tokens[1:] if case == "cold" else tokens))
                spent = (time.process_time() - start) / (len(tokens) - (case == "cold")) * 1e6
                best[f"{auth} {case}"] = min(best.get(f"{auth} {case}", float("inf")), spent)
    return best


def child(part: str, folder: str, args: argparse.Namespace) -> dict[str, Any]:
    """One part measured in a child process importing labkit from ``folder``; its JSON answer."""
    command = [sys.executable, __file__, "--part", part, "--n", str(args.n), "--inner-rounds", str(args.inner_rounds)]
    out = subprocess.run(command, env=env_for(folder), check=True, capture_output=True, text=True).stdout
    answer: dict[str, Any] = json.loads(out.splitlines()[-1])
    return answer


def alternate(part: str, folders: list[tuple[str, str]], args: argparse.Namespace) -> dict[str, list[dict[str, Any]]]:
    """Every child answer of ``part`` by side label, the sides taking turns (reversed every other round)."""
    answers: dict[str, list[dict[str, Any]]] = {label: [] for label, _ in folders}
    for round_ in range(args.rounds):
        for label, folder in folders if round_ % 2 == 0 else list(reversed(folders)):
            answers[label].append(child(part, folder, args))
    return answers


def report_validator(answers: dict[str, list[dict[str, Any]]]) -> None:
    print("(a) first-seen RS256 validation, validations per CPU second (best of all children; in each child the "
          "contenders take turns, best of its inner rounds)")
    for shape in ("minimal", "rfc9068"):
        for label, runs in answers.items():
            best = {name: max(run[shape][name] for run in runs) for name in runs[0][shape]}
            pyjwt = [run[shape]["labkit first-seen"] / run[shape]["pyjwt first-seen"] for run in runs]
            raw = [run[shape]["labkit first-seen"] / run[shape]["raw verify"] for run in runs]
            print(f"  {shape:<8} [{label}] labkit {1e6 / best['labkit first-seen']:.1f} us, PyJWT "
                  f"{1e6 / best['pyjwt first-seen']:.1f} us, joserfc {1e6 / best['joserfc first-seen']:.1f} us, "
                  f"raw verify {1e6 / best['raw verify']:.1f} us; "
                  f"repeated labkit {1e6 / best['labkit repeated']:.2f} us")
            print(f"  {'':<8} labkit/PyJWT {_ratio(best['labkit first-seen'] / best['pyjwt first-seen'], pyjwt, 'x')} "
                  f"(target >= {TARGETS['pyjwt']}), labkit/raw verify "
                  f"{_ratio(best['labkit first-seen'] / best['raw verify'], raw)} (target >= {TARGETS['raw']})")


def report_guard(answers: dict[str, list[dict[str, Any]]], n: int) -> None:
    print(f"(b) the guard in process, POST / capabilities, one warm token, trivial app behind it; us CPU a request, "
          f"best of {n}-request rounds")
    for label, runs in answers.items():
        guard, wrapper = min(r["guard"] for r in runs), min(r["wrapper"] for r in runs)
        added = [r["guard"] - r["wrapper"] for r in runs]
        print(f"  [{label}] guard {guard:.1f}, no-auth wrapper {wrapper:.1f}: added by the guard {guard - wrapper:.1f} "
              f"(per child {min(added):.1f}-{max(added):.1f}; target <= {TARGETS['guard_us']:g})")


def report_verifier(answers: dict[str, list[dict[str, Any]]], n: int) -> None:
    print(f"(c) first, in process: the SDK's auth stack (AuthenticationMiddleware + BearerAuthBackend, "
          f"AuthContextMiddleware, RequireAuthMiddleware) in front of a trivial app, us CPU a request ({n} a round)")
    for label, runs in answers.items():
        best = {name: min(r[name] for r in runs) for name in runs[0]}
        for case in ("warm", "cold"):
            print(f"  [{label}] {case}: PyJWT verifier {best[f'pyjwt {case}']:.1f}, GateTokenVerifier "
                  f"{best[f'labkit-bare {case}']:.1f}, +DPoPMiddleware {best[f'labkit {case}']:.1f}; "
                  f"PyJWT/labkit {best[f'pyjwt {case}'] / best[f'labkit-bare {case}']:.2f}x, "
                  f"with DPoPMiddleware {best[f'pyjwt {case}'] / best[f'labkit {case}']:.2f}x")
    print(flush=True)


def _ratio(best: float, per_child: list[float], unit: str = "") -> str:
    """The ratio of the best figures, and the range of each child's own ratio (more than one child)."""
    spread = f" (children {min(per_child):.2f}-{max(per_child):.2f})" if len(per_child) > 1 else ""
    return f"{best:.2f}{unit}{spread}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", metavar="REV|FOLDER", help="also measure the labkit of this revision or folder")
    parser.add_argument("--only", default="a,b,c", help="which figures: a, b, c (comma-separated)")
    parser.add_argument("--rounds", type=int, default=3, help="(a), (b): child runs of each tree, alternated")
    parser.add_argument("--inner-rounds", type=int, default=5, help="(a), (b): interleaved rounds inside a child")
    parser.add_argument("--n", type=int, default=1000, help="(a): distinct tokens a round; (b): 3x as many requests")
    # a child's own part (run by this script)
    parser.add_argument("--part", choices=["validator", "guard", "verifier"], help=argparse.SUPPRESS)
    mcp_load.add_arguments(parser)
    args = parser.parse_args()
    if args.part == "validator":
        print(json.dumps(part_validator(args.n, args.inner_rounds)))
        return
    if args.part == "guard":
        print(json.dumps(part_guard(args.n * 3, args.inner_rounds)))
        return
    if args.part == "verifier":
        print(json.dumps(part_verifier(args.n, args.inner_rounds)))
        return
    only = set(args.only.split(","))
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cpus, {platform.machine()}, Python {platform.python_version()}; load average "
          f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f} at start; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n",
          flush=True)
    with sides(args.against) as folders:
        if "a" in only:
            report_validator(alternate("validator", folders, args))
            print(flush=True)
        if "b" in only:
            report_guard(alternate("guard", folders, args), args.n * 3)
            print(flush=True)
        if "c" in only:
            report_verifier(alternate("verifier", folders, args), args.n)
            if mcp_load.PINNED:
                os.sched_setaffinity(0, {1})  # the load generator's core; the servers take core 0
            if args.mcp_rounds:
                mcp_load.report(mcp_load.measure(args, folders), args)
    load = os.getloadavg()
    print(f"\nload average at the end {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")


if __name__ == "__main__":
    main()
