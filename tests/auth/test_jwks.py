"""JWKSClient against a real loopback server: rotation, removal, outage, faults, single-flight."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from labkit import validate_security_config
from labkit.auth import build_validator
from labkit.errors import AuthError, Reason

from ..helpers import NOW, Keys, mint, oauth2
from .fake_idp import Clock, IdpState, run_and_close

pytestmark = pytest.mark.integration


def make(url: str, clock: Clock, **settings: Any) -> Any:
    cfg = validate_security_config({"oauth2": oauth2(jwks_url=f"{url}/jwks", jwt_cache_ttl=0, **settings)}, env={})
    return build_validator(cfg.oauth2, clock=clock)


async def outcome(v: Any, token: str) -> str:
    try:
        await v.validate(token)
    except AuthError as exc:
        return exc.reason.value
    return "ok"


def test_rotation_new_kid_after_one_refetch(idp: tuple[IdpState, str], keys: Keys) -> None:
    state, url = idp
    state.jwks = keys.jwks(keys.rsa)
    clock = Clock()
    v = make(url, clock)

    async def scenario() -> None:
        assert await outcome(v, mint(keys.rsa)) == "ok"
        assert state.jwks_hits == 1
        state.jwks = keys.jwks(keys.rsa, keys.rsa2)  # the provider rotates in rsa-2
        clock.now += 11  # past the refetch cooldown
        assert await outcome(v, mint(keys.rsa2)) == "ok"
        assert state.jwks_hits == 2
        assert await outcome(v, mint(keys.rsa)) == "ok"  # old key still published: still fine
        assert state.jwks_hits == 2

    run_and_close(v, scenario())


def test_removed_key_fails_after_cache_expiry(idp: tuple[IdpState, str], keys: Keys) -> None:
    state, url = idp
    state.jwks = keys.jwks(keys.rsa, keys.rsa2)
    clock = Clock()
    v = make(url, clock, jwks_cache_ttl=60)

    async def scenario() -> None:
        assert await outcome(v, mint(keys.rsa)) == "ok"
        state.jwks = keys.jwks(keys.rsa2)
        clock.now += 61
        assert await outcome(v, mint(keys.rsa)) == "key"

    run_and_close(v, scenario())


def test_outage_serves_stale_keys_then_fails_closed(idp: tuple[IdpState, str], keys: Keys) -> None:
    state, url = idp
    state.jwks = keys.jwks(keys.rsa)
    clock = Clock()
    v = make(url, clock, jwks_cache_ttl=60)

    async def scenario() -> None:
        assert await outcome(v, mint(keys.rsa)) == "ok"
        state.jwks_status = 500
        clock.now += 120  # past the cache time: the refresh fails, the stale keys keep working
        assert await outcome(v, mint(keys.rsa, exp=NOW + 100_000)) == "ok"
        assert v.source.last_error == "JWKS answered HTTP 500"
        clock.now += 3_700  # past max_stale: fail closed
        assert await outcome(v, mint(keys.rsa, exp=NOW + 100_000)) == "jwks_unavailable"
        state.jwks_status = 200  # the provider recovers
        clock.now += 11  # after the retry cooldown
        assert await outcome(v, mint(keys.rsa, exp=NOW + 100_000)) == "ok"

    run_and_close(v, scenario())


@pytest.mark.parametrize(
    ("fault", "value"),
    [
        ("jwks_status", 503),
        ("jwks_body", b"{not json"),
        ("jwks_body", b'{"keys": "nope"}'),
        ("jwks_body", b'{"keys": [{"kty": "oct", "k": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]}'),
        ("jwks_body", b"[" * 100_000 + b"]" * 100_000),
        ("jwks_body", b'{"keys": []}' + b" " * 300_000),
    ],
)
def test_never_had_keys_fails_closed(idp: tuple[IdpState, str], keys: Keys, fault: str, value: Any) -> None:
    state, url = idp
    setattr(state, fault, value)
    v = make(url, Clock())
    assert run_and_close(v, outcome(v, mint(keys.rsa))) in ("jwks_unavailable", "size")


def test_slow_jwks_times_out(idp: tuple[IdpState, str], keys: Keys) -> None:
    state, url = idp
    state.jwks = keys.jwks(keys.rsa)
    state.jwks_delay = 2
    v = make(url, Clock(), introspection_timeout=0.3)
    assert run_and_close(v, outcome(v, mint(keys.rsa))) == "jwks_unavailable"


def test_single_flight_and_kid_spray_cooldown(idp: tuple[IdpState, str], keys: Keys) -> None:
    state, url = idp
    state.jwks = keys.jwks(keys.rsa)
    state.jwks_delay = 0.2
    clock = Clock()
    v = make(url, clock)

    async def scenario() -> None:
        results = await asyncio.gather(*(outcome(v, mint(keys.rsa, jti=f"c{i}")) for i in range(100)))
        assert results == ["ok"] * 100
        assert state.jwks_hits == 1
        state.jwks = keys.jwks(keys.rsa, keys.rsa2)
        state.jwks_delay = 0.2
        clock.now += 11
        rotated = await asyncio.gather(*(outcome(v, mint(keys.rsa2, jti=f"r{i}")) for i in range(100)))
        assert rotated == ["ok"] * 100
        assert state.jwks_hits == 2  # 100 concurrent unknown-kid requests: one refetch
        spray = [mint(keys.attacker, header={"kid": f"bogus-{i}"}) for i in range(50)]
        assert set(await asyncio.gather(*(outcome(v, t) for t in spray))) == {"key"}
        assert state.jwks_hits == 2  # within the cooldown: no refetch at all

    run_and_close(v, scenario())


def test_cache_control_max_age(idp: tuple[IdpState, str], keys: Keys) -> None:
    state, url = idp
    state.jwks = keys.jwks(keys.rsa)
    state.cache_control = "public, max-age=120"
    clock = Clock()
    v = make(url, clock)

    async def scenario() -> None:
        await outcome(v, mint(keys.rsa))
        clock.now += 119
        await outcome(v, mint(keys.rsa, jti="b"))
        assert state.jwks_hits == 1
        clock.now += 2
        await outcome(v, mint(keys.rsa, jti="c"))
        assert state.jwks_hits == 2

    run_and_close(v, scenario())


def test_unreachable_jwks(keys: Keys) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    v = make(f"http://127.0.0.1:{port}", Clock())
    with pytest.raises(AuthError) as info:
        run_and_close(v, v.validate(mint(keys.rsa)))
    assert info.value.reason is Reason.JWKS_UNAVAILABLE
