"""Plain helpers for tests (no fixtures): paths, the fixed clock, signing keys, claims and tokens, ports.

Import them explicitly (``from ..helpers import NOW, Keys, mint``); fixtures and hooks live in ``conftest.py``.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey, Key, OctKey, OKPKey, RSAKey

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
NOW = 1_767_225_600  # 2026-01-01T00:00:00Z, the lab's fixed clock

ISSUER = "https://issuer.lab.test/"
AUDIENCE = "api://lab-agent"
HMAC_SECRET = "lab-hmac-secret-0123456789abcdef-0123456789abcdef-0123456789abcdef"


def free_port() -> int:
    """A loopback port that was free a moment ago (for subprocesses that bind it themselves, or a refused port)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_ok(url: str, process: Any, timeout: float, log: Any) -> None:
    """Poll ``url`` until it answers 200 while ``process`` lives; ``log()`` explains a failure."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert process.poll() is None and time.monotonic() < deadline, log()
        time.sleep(0.2)


class Keys:
    """Signing keys for tests, each with a kid (the ``keys`` fixture makes one set per session)."""

    def __init__(self) -> None:
        self.rsa = RSAKey.generate_key(2048, parameters={"kid": "rsa-1", "alg": "RS256", "use": "sig"})
        self.rsa2 = RSAKey.generate_key(2048, parameters={"kid": "rsa-2", "alg": "RS256", "use": "sig"})
        self.ec = ECKey.generate_key("P-256", parameters={"kid": "ec-1", "alg": "ES256", "use": "sig"})
        self.ed = OKPKey.generate_key("Ed25519", parameters={"kid": "ed-1", "alg": "EdDSA", "use": "sig"})
        self.attacker = RSAKey.generate_key(2048, parameters={"kid": "rsa-1", "alg": "RS256", "use": "sig"})
        self.hmac = OctKey.import_key(HMAC_SECRET)

    def jwks(self, *keys: Key) -> dict[str, Any]:
        chosen = keys or (self.rsa, self.ec, self.ed)
        return {"keys": [k.as_dict(private=False) for k in chosen]}


def claims(**overrides: Any) -> dict[str, Any]:
    """Good claims at the fixed clock; override or drop (value None) any of them."""
    base: dict[str, Any] = {
        "iss": ISSUER, "sub": "alice", "aud": AUDIENCE, "iat": NOW - 60, "nbf": NOW - 60, "exp": NOW + 3600,
        "scope": "api:read", "client_id": "lab-client", "jti": "t-1",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def mint(key: Key, alg: str = "RS256", header: dict[str, Any] | None = None, **claim_overrides: Any) -> str:
    """Sign a JWT with joserfc."""
    protected = {"alg": alg, "typ": "at+jwt"}
    kid = key.kid
    if kid:
        protected["kid"] = kid
    protected.update(header or {})
    protected = {k: v for k, v in protected.items() if v is not None}
    return jwt.encode(protected, claims(**claim_overrides), key, algorithms=[alg])


def oauth2(**settings: Any) -> dict[str, Any]:
    """An oauth2 block for JWT tests with the lab issuer and audience."""
    return {"validation_strategy": "jwt", "jwt_issuer": ISSUER, "jwt_audience": AUDIENCE, **settings}


QUICK = os.environ.get("LABKIT_HYPOTHESIS") == "quick"


def examples(count: int) -> int:
    """A property's example count: ``count``, or at most 10 under ``LABKIT_HYPOTHESIS=quick`` (an inner loop while
    editing; ``uv run pytest`` and CI always run ``count``)."""
    return min(count, 10) if QUICK else count
