"""cProfile text summaries of the two hot paths: first-seen validation, and the guard alone in front of a trivial app.

Run: uv run python benchmarks/profiling.py [validator|guard] [--alg RS256] > benchmarks/profiles/<name>.txt
cProfile adds a fixed cost per call, so it overstates code made of many small calls; read it for where the
calls go, and the benchmarks for the figures. ``guard`` also prints CPU per request of the guard vs the no-auth
wrapper of ``_server.py`` around the same trivial app (best of 5), which isolates what the guard adds.

``guard --against REF`` (e.g. ``main``) measures this tree and the git revision REF (exported with ``git
archive`` to a temporary folder, imported through PYTHONPATH) in turns, ``--rounds`` times each, and prints the
best of each side: before and after from the same run, on a machine other processes share.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import os
import pstats
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from typing import Any

from _server import Unprotected, rpc_driver, trivial
from joserfc import jwt as jfc_jwt
from joserfc.jwk import OctKey, RSAKey
from validators import AUDIENCE, ISSUER, SECRET, claims

from labkit import validate_security_config
from labkit.auth import build_validator


def summary(profile: cProfile.Profile, rows: int = 30) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("tottime").print_stats(rows)
    stats.sort_stats("cumulative").print_stats(rows)
    return out.getvalue().replace(str(__file__).rsplit("/benchmarks/", 1)[0] + "/", "")


def validator(alg: str, n: int) -> None:
    key: Any = OctKey.import_key(SECRET) if alg == "HS256" else RSAKey.generate_key(2048)
    settings = {"jwt_secret": SECRET} if alg == "HS256" else {"jwks": {"keys": [{**key.as_dict(), "kid": "k1"}]}}
    tokens = [jfc_jwt.encode({"alg": alg, "kid": "k1"}, claims(i), key, algorithms=[alg]) for i in range(n)]
    cfg = validate_security_config({"oauth2": {"jwt_issuer": ISSUER, "jwt_audience": AUDIENCE, **settings,
                                               "jwt_algorithm": alg}}, env={})
    validate = build_validator(cfg.oauth2).validate

    async def run() -> None:
        for token in tokens:
            await validate(token)

    profile = cProfile.Profile()
    profile.enable()
    asyncio.run(run())
    profile.disable()
    print(f"first-seen {alg} validation, {n} distinct tokens (minimal shape)\n")
    print(summary(profile))


def guard(n: int, profiled: bool = True) -> None:
    from labkit.lab import Lab
    from labkit.provider import MockProvider

    with Lab() as lab:
        guarded = lab.app.guard
        guarded.app = trivial
        token = MockProvider(base_url=lab.provider_url).mint(["api:read"])
        drive = rpc_driver(lab, token)

        for name, app in (("no-auth wrapper", Unprotected(trivial)), ("guard", guarded)):
            asyncio.run(drive(app, 200))
            best = float("inf")
            for _ in range(5):
                gc.collect()
                start = time.process_time()
                asyncio.run(drive(app, n))
                best = min(best, time.process_time() - start)
            print(f"{name:<16} {best / n * 1e6:7.1f} us CPU per request (trivial app behind it)", flush=True)
        if not profiled:
            return
        profile = cProfile.Profile()
        profile.enable()
        asyncio.run(drive(guarded, n))
        profile.disable()
        print(f"\nthe guard in front of a trivial app, POST / capabilities, one warm token, {n} requests\n")
        print(summary(profile))


def against(ref: str, n: int, rounds: int) -> None:
    """This tree and git revision ``ref``, measured in turns: best us per request of each."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory() as base:
        git = shutil.which("git") or "git"
        archive = subprocess.run([git, "-C", root, "archive", ref], check=True, capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(base, filter="data")
        sides = {f"{ref} (before)": base, "this tree (after)": root}
        best: dict[tuple[str, str], float] = {}
        for _ in range(rounds):
            for side, path in sides.items():
                env = {**os.environ, "PYTHONPATH": path}
                out = subprocess.run([sys.executable, __file__, "guard", "--n", str(n), "--no-profile"], env=env,
                                     check=True, capture_output=True, text=True).stdout
                for line in out.splitlines():
                    name, figure = line[:16].strip(), float(line[16:].split()[0])
                    best[side, name] = min(best.get((side, name), float("inf")), figure)
        print(f"best of {rounds} alternating runs, {n} requests each (us CPU per request, trivial app behind it)")
        for side in sides:
            wrapper, guarded = best[side, "no-auth wrapper"], best[side, "guard"]
            print(f"  {side:<22} guard {guarded:6.1f}  no-auth wrapper {wrapper:5.1f}  added by the guard "
                  f"{guarded - wrapper:5.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["validator", "guard"])
    parser.add_argument("--alg", default="RS256", choices=["RS256", "HS256"])
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--against", metavar="REF", help="guard: also measure git revision REF, in turns")
    parser.add_argument("--rounds", type=int, default=3, help="with --against: runs of each side")
    parser.add_argument("--no-profile", action="store_true", help="guard: the figures only")
    args = parser.parse_args()
    if args.what == "validator":
        validator(args.alg, args.n)
    elif args.against:
        against(args.against, args.n, args.rounds)
    else:
        guard(args.n, profiled=not args.no_profile)


if __name__ == "__main__":
    main()
