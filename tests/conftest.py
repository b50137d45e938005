"""Shared fixtures: a fixed clock, paths to data, keys and tokens."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Properties, not timings: no per-example deadline (a loaded CI machine must not turn a slow example into a
# failure), and fixtures shared across examples are fine.
settings.register_profile("labkit", deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
settings.load_profile("labkit")

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
NOW = 1_767_225_600  # 2026-01-01T00:00:00Z, the lab's fixed clock


def free_port() -> int:
    """A loopback port that was free a moment ago (for subprocesses that bind it themselves, or a refused port)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_ok(url: str, process: Any, timeout: float, log: Any) -> None:
    """Poll ``url`` until it answers 200 while ``process`` lives; ``log()`` explains a failure."""
    import time

    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert process.poll() is None and time.monotonic() < deadline, log()
        time.sleep(0.2)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> int:
    return NOW


# ---------------------------------------------------------------------------------------------
# Keys and tokens (generated once per session; verdicts do not depend on the key bytes)

import json as _json  # noqa: E402
from typing import Any  # noqa: E402

from joserfc import jwt as _jwt  # noqa: E402
from joserfc.jwk import ECKey, Key, OctKey, OKPKey, RSAKey  # noqa: E402

ISSUER = "https://issuer.lab.test/"
AUDIENCE = "api://lab-agent"
HMAC_SECRET = "lab-hmac-secret-0123456789abcdef-0123456789abcdef-0123456789abcdef"


class Keys:
    """Signing keys for tests, each with a kid."""

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


_KEYS: Keys | None = None


@pytest.fixture(scope="session")
def keys() -> Keys:
    global _KEYS
    if _KEYS is None:
        _KEYS = Keys()
    return _KEYS


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
    return _jwt.encode(protected, claims(**claim_overrides), key, algorithms=[alg])


def oauth2(**settings: Any) -> dict[str, Any]:
    """An oauth2 block for JWT tests with the lab issuer and audience."""
    return {"validation_strategy": "jwt", "jwt_issuer": ISSUER, "jwt_audience": AUDIENCE, **settings}


def dumps(data: Any) -> str:
    return _json.dumps(data)


@pytest.fixture
def idp() -> Any:
    """A fake identity provider on a loopback port (JWKS, introspection, faults): (state, base URL)."""
    from labkit.servers import ServerThread

    from .auth.fake_idp import IdpState, fake_idp

    state = IdpState()
    with ServerThread(fake_idp(state), name="idp") as server:
        yield state, server.url
