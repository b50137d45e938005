"""Where a cold request's time goes: the whole sample agent in process, a first-seen RS256 token on every request.

Run: uv run python benchmarks/cold_steps.py [--n 800] [--rounds 4] [--profile]; for another revision,
``git archive REV | tar -x -C DIR`` and run this file with ``PYTHONPATH=DIR``.

``POST /`` ``capabilities`` through the real agent (``Lab().app``: the guard, Starlette, the handler), driven in
process as ``_server.rpc_driver`` does, with three kinds of callers: no auth (``_server.Unprotected``), one warm
token (the validator's cached verdict), and a new token minted by the lab provider for every request (RS256,
the lab's claims, as ``http_load.py``'s cold case sends). Each step of the cold path is then replaced by a
constant answer, one at a time; the difference to the full cold request is what that step costs in the flow of a
request. Best of ``--rounds`` interleaved rounds, CPU time. ``--profile`` adds cProfile's per-function
difference, cold minus warm (cProfile adds a fixed cost per call: read it for where the calls go).
It reaches into private names of ``labkit``: a benchmark, not an API.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import pstats
import time
from collections.abc import Callable
from typing import Any

from _server import Unprotected, rpc_driver
from guard_steps import Patches

import labkit.auth.jwt as jwt_module
from labkit.audit import AuditEvent
from labkit.auth.principal import Principal
from labkit.lab import Lab
from labkit.provider import MockProvider


def copy_of(principal: Principal) -> Principal:
    """A new principal with ``principal``'s fields (what a reader returns for a new token, without the checks)."""
    fresh = object.__new__(Principal)
    object.__setattr__(fresh, "__dict__", {k: v for k, v in principal.__dict__.items() if not k.startswith("_")})
    return fresh


def per_function(profile: cProfile.Profile, count: int) -> dict[str, tuple[float, float]]:
    """Calls and tottime (us) per request of each function of ``profile``."""
    rows: dict[str, tuple[float, float]] = {}
    for (path, line, name), (_, calls, tottime, _, _) in pstats.Stats(profile).stats.items():  # type: ignore[attr-defined]
        where = path.rsplit("site-packages/", 1)[-1].rsplit("/labkit/", 1)[-1]
        rows[f"{where}:{line}({name})"] = (calls / count, tottime / count * 1e6)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=800, help="requests per measurement")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--profile", action="store_true", help="also cProfile cold against warm")
    args = parser.parse_args()
    n = args.n
    with Lab() as lab:
        app = lab.app
        gate = app.guard.gate
        validator = gate.tenants[None].validator
        minter = MockProvider(base_url=lab.provider_url)  # the lab keys, this lab's issuer
        warm = minter.mint(["api:read"])
        patches = Patches()
        asyncio.run(rpc_driver(lab, warm)(app, 50))
        sample = asyncio.run(validator.validate(warm))
        who = AuditEvent.who(sample)

        def no_signature() -> None:
            patches.set(jwt_module, "verify_jws", lambda jws, alg, key: None)

        def no_audit_fields() -> None:
            patches.set(AuditEvent, "who", staticmethod(lambda principal: dict(who)))  # the event's principal fields

        def no_reader() -> None:
            patches.set(validator, "_principal", lambda claims, now, fingerprint: copy_of(sample))

        def no_cache_inserts() -> None:
            patches.set(validator.cache, "put", lambda key, value, expires: None)
            patches.set(gate._issuers, "put", lambda key, value, expires: None)

        variants: dict[str, Callable[[], None]] = {
            "full cold": lambda: None,
            "no RSA verify": no_signature,
            "no claims reader": no_reader,
            "no audit fields": no_audit_fields,
            "no cache inserts": no_cache_inserts,
        }
        tokens_needed = n * (args.rounds * len(variants) + (2 if args.profile else 0))
        started = time.perf_counter()
        tokens = [minter.mint(["api:read"], alg="RS256") for _ in range(tokens_needed)]
        print(f"minted {len(tokens)} RS256 tokens ({len(tokens[0])} chars) in {time.perf_counter() - started:.1f} s; "
              f"validator cache {validator.cache.max_size} entries, issuer memo {gate._issuers.max_size}")
        batches = iter(range(tokens_needed // n))

        def cold_driver() -> Callable[[Any, int], Any]:
            batch = next(batches)
            return rpc_driver(lab, tokens[batch * n:(batch + 1) * n])

        def timed(run: Callable[[], None]) -> float:
            gc.collect()
            start = time.process_time()
            run()
            return time.process_time() - start

        baseline = Unprotected(app.starlette)
        best = dict.fromkeys(["no-auth baseline", "warm token", *variants], float("inf"))
        for _ in range(args.rounds):
            best["no-auth baseline"] = min(best["no-auth baseline"],
                                           timed(lambda: asyncio.run(rpc_driver(lab, warm)(baseline, n))))
            best["warm token"] = min(best["warm token"], timed(lambda: asyncio.run(rpc_driver(lab, warm)(app, n))))
            for name, setup in variants.items():
                setup()
                drive = cold_driver()
                best[name] = min(best[name], timed(lambda drive=drive: asyncio.run(drive(app, n))))
                patches.undo()
        full = best["full cold"]
        print(f"POST / capabilities through the sample agent; us CPU per request, best of {args.rounds} rounds of {n}")
        for name, seconds in best.items():
            step = "" if name in ("full cold", "no-auth baseline", "warm token") else \
                f"  step {(full - seconds) / n * 1e6:5.1f}"
            print(f"  {name:<20} {seconds / n * 1e6:6.1f}{step}")
        print(f"  cold - warm {(full - best['warm token']) / n * 1e6:.1f}, "
              f"cold - no-auth {(full - best['no-auth baseline']) / n * 1e6:.1f}")
        if args.profile:
            profiles = {}
            for name, drive in (("warm", rpc_driver(lab, warm)), ("cold", cold_driver())):
                profile = cProfile.Profile()
                profile.enable()
                asyncio.run(drive(app, n))
                profile.disable()
                profiles[name] = per_function(profile, n)
            hot, cold = profiles["warm"], profiles["cold"]
            rows = sorted(((cold.get(k, (0, 0))[1] - hot.get(k, (0, 0))[1], k) for k in set(hot) | set(cold)),
                          reverse=True)
            print("\ncProfile, cold minus warm (tottime us per request; calls per request warm -> cold):")
            for delta, key in rows[:30]:
                print(f"  {delta:6.2f}  {hot.get(key, (0, 0))[0]:5.2f} -> {cold.get(key, (0, 0))[0]:5.2f}  {key}")
            totals = [sum(v[1] for v in side.values()) for side in (hot, cold)]
            calls = [sum(v[0] for v in side.values()) for side in (hot, cold)]
            print(f"  total under cProfile: warm {totals[0]:.1f} us, {calls[0]:.0f} calls; "
                  f"cold {totals[1]:.1f} us, {calls[1]:.0f} calls")


if __name__ == "__main__":
    main()
