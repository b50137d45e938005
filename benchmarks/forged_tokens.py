"""The gate with cold valid tokens and with forged ones (the lab's issuer and kid, another RSA key), in process.

Run: uv run python benchmarks/forged_tokens.py [LABEL]; for another revision, ``git archive REV | tar -x -C DIR``
and run this file from DIR with ``PYTHONPATH=DIR``, alternating the two.

``Gate.authenticate`` of the sample agent's gate (``Lab().app``: three tenants at the root, so every token is
routed by the issuer peek), distinct tokens each time, best of 3 rounds of 5,000, us of CPU per request. Prints
the figures and the issuer memo's size; asserts only that a forged token is refused.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import json
import sys
import time

from joserfc import jwt as jfc_jwt
from joserfc.jwk import RSAKey

from labkit.auth.jws import parse_compact
from labkit.lab import Lab
from labkit.provider import MockProvider


def main() -> None:
    label, n = (sys.argv[1] if len(sys.argv) > 1 else "this tree"), 5000
    with Lab() as lab:
        gate = lab.app.guard.gate
        minter = MockProvider(base_url=lab.provider_url)
        valid = [minter.mint(["api:read"], alg="RS256") for _ in range(3 * n)]
        header = dict(parse_compact(valid[0]).header)
        claims = json.loads(base64.urlsafe_b64decode(valid[0].split(".")[1] + "=="))
        other = RSAKey.generate_key(2048)
        forged = [jfc_jwt.encode(header, {**claims, "jti": f"f{i}"}, other, algorithms=["RS256"]) for i in range(3 * n)]

        async def run(tokens: list[str]) -> None:
            for token in tokens:
                await gate.authenticate(token)

        best = {"cold valid": float("inf"), "forged": float("inf")}
        for r in range(3):
            for name, tokens in (("cold valid", valid), ("forged", forged)):
                gc.collect()
                start = time.process_time()
                asyncio.run(run(tokens[r * n:(r + 1) * n]))
                best[name] = min(best[name], (time.process_time() - start) / n * 1e6)
        assert not asyncio.run(gate.authenticate(forged[0])).allowed
        print(label, {name: round(us, 2) for name, us in best.items()}, "memo", len(gate._issuers))


if __name__ == "__main__":
    main()
