"""Introspection: provider calls per request, with the cache and single-flight.

Run: uv run python benchmarks/introspection.py
Targets (#3): 1,000 requests over 10 tokens make at most 10 calls; 100 concurrent first requests for one
token make 1. Target (#18): an introspection cache hit within 2x of a JWT cache hit (both through ``validate``,
the same loop, rounds taken in turns, each keeping its best). Printed, never asserted.
"""

from __future__ import annotations

import asyncio
import time

from labkit import validate_security_config
from labkit.auth import build_validator
from labkit.lab import Lab


def main() -> None:
    with Lab() as lab:
        settings = {"validation_strategy": "introspection", "introspection_endpoint": f"{lab.provider_url}/introspect",
                    "client_id": "lab-agent", "client_secret": "lab-agent-secret"}
        tokens = [lab.token(["api:read"], persona="opaque") for _ in range(10)]
        lab.provider.faults.set("introspect", latency=0.05)  # a provider 50 ms away

        async def run() -> None:
            validator = build_validator(validate_security_config({"oauth2": settings}).oauth2)
            started = time.perf_counter()
            for i in range(1000):
                await validator.validate(tokens[i % 10])
            sequential = time.perf_counter() - started
            print(f"1,000 requests over 10 tokens: {validator.call_count} provider calls "  # type: ignore[union-attr]
                  f"({sequential * 1000:.0f} ms; target <= 10 calls)")
            fresh = build_validator(validate_security_config({"oauth2": settings}).oauth2)
            one = lab.token(["api:read"], persona="opaque")
            started = time.perf_counter()
            await asyncio.gather(*(fresh.validate(one) for _ in range(100)))
            print(f"100 concurrent first requests for one token: {fresh.call_count} provider call(s) "  # type: ignore[union-attr]
                  f"({(time.perf_counter() - started) * 1000:.0f} ms; target 1)")
            uncached = build_validator(validate_security_config({"oauth2": {**settings,
                                                                            "introspection_cache_ttl": 0}}).oauth2)
            for i in range(100):
                await uncached.validate(tokens[i % 10])
            print(f"for contrast, cache off: 100 requests -> {uncached.call_count} provider calls")  # type: ignore[union-attr]
            jwt_validator = build_validator(lab.config.oauth2)
            jwt_token = lab.token(["api:read"])
            hits = {"jwt": (jwt_validator, jwt_token), "introspection": (validator, tokens[0])}
            for v, token in hits.values():
                await v.validate(token)  # the first-seen call: what follows are hits
            best = dict.fromkeys(hits, float("inf"))
            for _ in range(5):
                for name, (v, token) in hits.items():
                    started = time.perf_counter()
                    for _ in range(20_000):
                        await v.validate(token)
                    best[name] = min(best[name], (time.perf_counter() - started) / 20_000 * 1e6)
            print(f"cache hit: introspection {best['introspection']:.2f} us, JWT {best['jwt']:.2f} us: "
                  f"{best['introspection'] / best['jwt']:.2f}x (target <= 2x)")
            for v in (validator, fresh, uncached, jwt_validator):
                await v.aclose()

        asyncio.run(run())


if __name__ == "__main__":
    main()
