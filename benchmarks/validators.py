"""Validator throughput: labkit vs PyJWT vs joserfc vs the raw signature check, side by side in one run.

Run: uv run python benchmarks/validators.py [--n 1000] [--rounds 5] [--shape minimal|rfc9068|both] [--algs RS256,HS256]

Every contender validates the same tokens (same claims, issuer, audience checks) in the same process. The
contenders take turns, round after round, and each keeps its best round (CPU time, ``process_time``): on a shared
machine another process can only make a round slower, never faster. "first-seen" tokens are all distinct (a new
labkit validator each round: empty cache); "repeated" is one token over and over (labkit's verified-token
cache; PyJWT has none). "raw verify" is the signature check alone: `cryptography` (or the standard library's
HMAC) with a key object loaded once, on the same distinct tokens. Prints figures and ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import hmac
import os
import platform
import resource
import time
from collections.abc import Callable
from typing import Any

import jwt as pyjwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from joserfc import jwt as jfc_jwt
from joserfc.jwk import ECKey, Key, OctKey, OKPKey, RSAKey

from labkit import validate_security_config
from labkit.auth import build_validator

ISSUER, AUDIENCE, NOW = "https://issuer.bench/", "api://bench", int(time.time())
SECRET = "bench-secret-0123456789abcdef-0123456789abcdef-0123456789abcdef"
SCOPES = " ".join(f"api:scope{i:02d}" for i in range(20))
ALGS = ("HS256", "RS256", "PS256", "ES256", "EdDSA")


def claims(i: int, shape: str = "minimal") -> dict[str, Any]:
    """The claims of token ``i``: minimal (4 claims, one scope) or an RFC 9068 token (10 claims, 20 scopes)."""
    if shape == "minimal":
        return {"iss": ISSUER, "aud": AUDIENCE, "sub": f"user-{i}", "exp": NOW + 3600, "scope": "api:read"}
    return {"iss": ISSUER, "aud": AUDIENCE, "sub": f"user-{i}", "client_id": "bench-client", "iat": NOW,
            "nbf": NOW, "exp": NOW + 3600, "jti": f"jti-{i:08d}", "auth_time": NOW - 60, "acr": "urn:bench:pwd",
            "scope": SCOPES}


def header(alg: str, shape: str) -> dict[str, Any]:
    return {"alg": alg, "kid": "k1"} if shape == "minimal" else {"alg": alg, "kid": "k1", "typ": "at+jwt"}


def signing_key(alg: str) -> Key:
    if alg == "HS256":
        return OctKey.import_key(SECRET)
    if alg in ("RS256", "PS256"):
        return RSAKey.generate_key(2048)
    return ECKey.generate_key("P-256") if alg == "ES256" else OKPKey.generate_key("Ed25519")


def raw_verifier(alg: str, key: Key) -> Callable[[bytes, bytes], None]:
    """The signature check alone, with the key object loaded once: the floor of any validator."""
    if alg == "HS256":
        secret = SECRET.encode()

        def check_hmac(message: bytes, signature: bytes) -> None:
            if not hmac.compare_digest(hmac.digest(secret, message, "sha256"), signature):
                raise ValueError("bad MAC")

        return check_hmac
    public: Any = key.get_op_key("verify")
    if alg in ("RS256", "PS256"):
        pad = padding.PKCS1v15() if alg == "RS256" else padding.PSS(padding.MGF1(hashes.SHA256()), 32)
        return lambda message, signature: public.verify(signature, message, pad, hashes.SHA256())
    if alg == "ES256":
        scheme = ec.ECDSA(hashes.SHA256())
        return lambda message, signature: public.verify(
            encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")),
            message, scheme)
    return lambda message, signature: public.verify(signature, message)


def split(token: str) -> tuple[bytes, bytes]:
    signing_input, _, signature = token.rpartition(".")
    return signing_input.encode(), base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))


def cpu(fn: Callable[[], None]) -> float:
    gc.collect()
    start = time.process_time()
    fn()
    return time.process_time() - start


def bench(alg: str, shape: str, n: int, rounds: int) -> dict[str, float]:
    """Validations per CPU second for each contender (best of ``rounds`` interleaved rounds)."""
    key = signing_key(alg)
    if alg == "HS256":
        pyjwt_key: Any = SECRET
        settings: dict[str, Any] = {"jwt_secret": SECRET, "jwt_algorithm": alg}
    else:
        pyjwt_key = pyjwt.PyJWK(key.as_dict(private=False), algorithm=alg)
        settings = {"jwks": {"keys": [{**key.as_dict(private=False), "kid": "k1"}]}, "jwt_algorithm": alg}
    tokens = [jfc_jwt.encode(header(alg, shape), claims(i, shape), key, algorithms=[alg]) for i in range(n)]
    repeated = [tokens[0]] * (n * 20)
    parts = [split(t) for t in tokens]
    raw = raw_verifier(alg, key)
    cfg = validate_security_config({"oauth2": {"jwt_issuer": ISSUER, "jwt_audience": AUDIENCE, **settings}}, env={})
    registry = jfc_jwt.JWTClaimsRegistry(iss={"essential": True, "value": ISSUER},
                                         aud={"essential": True, "value": AUDIENCE})

    def run_pyjwt(seq: list[str]) -> None:
        for t in seq:
            pyjwt.decode(t, pyjwt_key, algorithms=[alg], audience=AUDIENCE, issuer=ISSUER)

    def run_joserfc() -> None:
        for t in tokens:
            registry.validate(jfc_jwt.decode(t, key, algorithms=[alg]).claims)

    def run_labkit(seq: list[str]) -> None:
        validator = build_validator(cfg.oauth2)

        async def main() -> None:
            validate = validator.validate
            for t in seq:
                await validate(t)

        asyncio.run(main())

    def run_raw() -> None:
        for message, signature in parts:
            raw(message, signature)

    contenders: dict[str, tuple[Callable[[], None], int]] = {
        "pyjwt first-seen": (lambda: run_pyjwt(tokens), n),
        "joserfc first-seen": (run_joserfc, n),
        "labkit first-seen": (lambda: run_labkit(tokens), n),
        "raw verify": (run_raw, n),
        "pyjwt repeated": (lambda: run_pyjwt(repeated[:n]), n),
        "labkit repeated": (lambda: run_labkit(repeated), len(repeated)),
    }
    best = dict.fromkeys(contenders, float("inf"))
    for _ in range(rounds):
        for name, (fn, count) in contenders.items():
            best[name] = min(best[name], cpu(fn) / count)
    return {name: 1 / max(seconds, 1e-12) for name, seconds in best.items()}


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


def report(alg: str, shape: str, results: dict[str, float]) -> None:
    first, py, floor = results["labkit first-seen"], results["pyjwt first-seen"], results["raw verify"]
    print(f"{alg} ({shape})")
    for name, value in results.items():
        print(f"  {name:<22} {value:>12,.0f} /s  {1e6 / value:>8.2f} us")
    print(f"  labkit/pyjwt first-seen {first / py:.2f}x (ceiling, raw/pyjwt: {floor / py:.2f}x); "
          f"labkit/raw verify {first / floor:.2f}; "
          f"repeated {results['labkit repeated'] / results['pyjwt repeated']:.1f}x\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000, help="distinct tokens per round")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds; each contender keeps its best")
    parser.add_argument("--shape", choices=["minimal", "rfc9068", "both"], default="both")
    parser.add_argument("--algs", default=",".join(ALGS))
    parser.add_argument("--memory-tokens", type=int, default=100_000)
    parser.add_argument("--memory-only", action="store_true", help="print only the RSS growth in MB")
    args = parser.parse_args()
    if args.memory_only:
        print(f"rss_growth_mb {memory(args.memory_tokens):.1f}")
        return
    print(f"machine: {os.cpu_count()} cpus, {platform.processor() or platform.machine()}, Python "
          f"{platform.python_version()}; n={args.n} tokens, best of {args.rounds} interleaved rounds; "
          "CPU time per validation\n")
    shapes = ("minimal", "rfc9068") if args.shape == "both" else (args.shape,)
    for shape in shapes:
        sample = jfc_jwt.encode(header("RS256", shape), claims(0, shape), RSAKey.generate_key(2048),
                                algorithms=["RS256"])
        print(f"token shape {shape}: header {header('RS256', shape)}, {len(claims(0, shape))} claims, "
              f"{len(claims(0, shape)['scope'].split())} scope(s); RS256 token {len(sample)} bytes\n")
        for alg in args.algs.split(","):
            report(alg, shape, bench(alg, shape, args.n, args.rounds))
    if args.memory_tokens:
        print(f"memory: {args.memory_tokens:,} distinct tokens grew max RSS by {memory(args.memory_tokens):.1f} MB")


if __name__ == "__main__":
    main()
