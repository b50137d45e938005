"""Validator throughput: labkit vs PyJWT vs joserfc vs the raw `cryptography` verify, in one run.

Run: uv run python benchmarks/validators.py [--n 2000]
Prints validations per second and ratios; no assertion (machines are shared and noisy).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import resource
import time
from collections.abc import Callable
from typing import Any

import jwt as pyjwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from joserfc import jwt as jfc_jwt
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey

from labkit import validate_security_config
from labkit.auth import build_validator

ISSUER, AUDIENCE, NOW = "https://issuer.bench/", "api://bench", int(time.time())
SECRET = "bench-secret-0123456789abcdef-0123456789abcdef-0123456789abcdef"


def claims(i: int) -> dict[str, Any]:
    return {"iss": ISSUER, "aud": AUDIENCE, "sub": f"user-{i}", "iat": NOW, "exp": NOW + 3600, "scope": "api:read",
            "jti": f"j{i}"}


def rate(fn: Callable[[], None], count: int) -> float:
    gc.collect()
    start = time.process_time()
    fn()
    return count / max(time.process_time() - start, 1e-9)


def bench_alg(alg: str, n: int) -> dict[str, float]:
    if alg == "HS256":
        key: Any = OctKey.import_key(SECRET)
        pyjwt_key: Any = SECRET
        settings: dict[str, Any] = {"jwt_secret": SECRET, "jwt_algorithm": "HS256"}
    else:
        key = {"RS256": lambda: RSAKey.generate_key(2048), "ES256": lambda: ECKey.generate_key("P-256"),
               "EdDSA": lambda: OKPKey.generate_key("Ed25519")}[alg]()
        pyjwt_key = pyjwt.PyJWK(key.as_dict(private=False), algorithm=alg)
        settings = {"jwks": {"keys": [{**key.as_dict(private=False), "kid": "k1"}]}, "jwt_algorithm": alg}
    header = {"alg": alg, "kid": "k1", "typ": "JWT"}
    tokens = [jfc_jwt.encode(header, claims(i), key, algorithms=[alg]) for i in range(n)]
    cfg = validate_security_config({"oauth2": {"jwt_issuer": ISSUER, "jwt_audience": AUDIENCE, **settings}}, env={})
    results: dict[str, float] = {}

    def run_pyjwt(seq: list[str]) -> None:
        for t in seq:
            pyjwt.decode(t, pyjwt_key, algorithms=[alg], audience=AUDIENCE, issuer=ISSUER)

    def run_joserfc(seq: list[str]) -> None:
        registry = jfc_jwt.JWTClaimsRegistry(iss={"essential": True, "value": ISSUER},
                                             aud={"essential": True, "value": AUDIENCE})
        for t in seq:
            registry.validate(jfc_jwt.decode(t, key, algorithms=[alg]).claims)

    def run_labkit(seq: list[str]) -> None:
        validator = build_validator(cfg.oauth2)

        async def main() -> None:
            for t in seq:
                await validator.validate(t)

        asyncio.run(main())

    results["pyjwt first-seen"] = rate(lambda: run_pyjwt(tokens), n)
    results["joserfc first-seen"] = rate(lambda: run_joserfc(tokens), n)
    results["labkit first-seen"] = rate(lambda: run_labkit(tokens), n)
    repeated = [tokens[0]] * (n * 50)
    results["pyjwt repeated"] = rate(lambda: run_pyjwt(repeated), len(repeated))
    results["labkit repeated"] = rate(lambda: run_labkit(repeated), len(repeated))
    if alg in ("RS256", "ES256"):
        public = key.get_op_key("verify")
        signing_input, _, sig_b64 = tokens[0].rpartition(".")
        import base64

        sig = base64.urlsafe_b64decode(sig_b64 + "==")
        msg = signing_input.encode()
        if alg == "RS256":
            results["raw cryptography verify"] = rate(
                lambda: [public.verify(sig, msg, padding.PKCS1v15(), hashes.SHA256()) for _ in range(n)], n)
        else:
            from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

            der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
            results["raw cryptography verify"] = rate(
                lambda: [public.verify(der, msg, ec.ECDSA(hashes.SHA256())) for _ in range(n)], n)
    return results


def memory(n: int) -> float:
    """RSS growth (MB) after n distinct HS256 tokens through a validator with default cache bounds."""
    cfg = validate_security_config({"oauth2": {"jwt_secret": SECRET}}, env={})
    validator = build_validator(cfg.oauth2)
    key = OctKey.import_key(SECRET)
    tokens = (jfc_jwt.encode({"alg": "HS256"}, claims(i), key, algorithms=["HS256"]) for i in range(n))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    async def main() -> None:
        for t in tokens:
            await validator.validate(t)

    asyncio.run(main())
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--memory-tokens", type=int, default=100_000)
    parser.add_argument("--memory-only", action="store_true", help="print only the RSS growth in MB")
    args = parser.parse_args()
    if args.memory_only:
        print(f"rss_growth_mb {memory(args.memory_tokens):.1f}")
        return
    print(f"machine: {os.cpu_count()} cpus; n={args.n}; CPU time per validation (process_time)\n")
    for alg in ("HS256", "RS256", "ES256", "EdDSA"):
        results = bench_alg(alg, args.n)
        print(f"{alg}")
        for name, value in results.items():
            print(f"  {name:<26} {value:>12,.0f} /s")
        print(f"  ratio labkit/pyjwt first-seen {results['labkit first-seen'] / results['pyjwt first-seen']:.2f}x;"
              f" repeated {results['labkit repeated'] / results['pyjwt repeated']:.1f}x\n")
    if args.memory_tokens:
        print(f"memory: {args.memory_tokens:,} distinct tokens grew max RSS by {memory(args.memory_tokens):.1f} MB")


if __name__ == "__main__":
    main()
