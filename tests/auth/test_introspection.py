"""IntrospectionValidator and HybridValidator against a real loopback provider."""

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
    block = {
        "validation_strategy": "introspection",
        "introspection_endpoint": f"{url}/introspect",
        "client_id": "rs-client",
        "client_secret": "rs-secret",
        **settings,
    }
    cfg = validate_security_config({"oauth2": block}, env={})
    return build_validator(cfg.oauth2, clock=clock)


async def outcome(v: Any, token: str, **kwargs: Any) -> str:
    try:
        await v.validate(token, **kwargs)
    except AuthError as exc:
        return exc.reason.value
    return "ok"


def active(scope: str = "api:read", exp: float = NOW + 3600, **extra: Any) -> dict[str, Any]:
    return {"active": True, "scope": scope, "sub": "bob", "client_id": "c1", "exp": exp, **extra}


def test_thousand_requests_over_ten_tokens_make_ten_calls(idp: tuple[IdpState, str]) -> None:
    state, url = idp
    state.active = {f"tok-{i}": active() for i in range(10)}
    v = make(url, Clock())

    async def scenario() -> None:
        results = [await outcome(v, f"tok-{i % 10}") for i in range(1000)]
        assert results == ["ok"] * 1000

    run_and_close(v, scenario())
    assert state.introspection_hits == 10 and v.call_count == 10


def test_hundred_concurrent_first_requests_make_one_call(idp: tuple[IdpState, str]) -> None:
    state, url = idp
    state.active = {"tok": active()}
    state.introspection_delay = 0.2
    v = make(url, Clock())

    async def scenario() -> list[str]:
        return list(await asyncio.gather(*(outcome(v, "tok") for _ in range(100))))

    assert run_and_close(v, scenario()) == ["ok"] * 100
    assert state.introspection_hits == 1


def test_cache_ttl_is_bounded_by_exp_and_inactive_is_not_cached(idp: tuple[IdpState, str]) -> None:
    state, url = idp
    state.active = {"short": active(exp=NOW + 30), "long": active(exp=NOW + 10_000)}
    clock = Clock()
    v = make(url, clock, introspection_cache_ttl=300)

    async def scenario() -> None:
        assert await outcome(v, "short") == "ok" and await outcome(v, "long") == "ok"
        assert await outcome(v, "nope") == "inactive"
        assert await outcome(v, "nope") == "inactive"
        assert state.introspection_hits == 4  # inactive results are asked again
        clock.now += 31
        assert await outcome(v, "short") == "expired"  # cache gone at exp; the provider still says active
        state.active.pop("long")  # revoked at the provider
        assert await outcome(v, "long") == "ok"  # still cached (introspection_cache_ttl)
        clock.now += 300
        assert await outcome(v, "long") == "inactive"  # revocation visible after the cache expires

    run_and_close(v, scenario())


def test_an_active_refresh_token_is_not_an_access_token(idp: tuple[IdpState, str]) -> None:
    state, url = idp
    state.active = {"rt": active(token_type="refresh_token"), "at": active(token_type="Bearer")}
    v = make(url, Clock())
    assert run_and_close(v, outcome(v, "rt")) == "token_type"
    v = make(url, Clock())
    assert run_and_close(v, outcome(v, "at")) == "ok"


def test_fresh_bypasses_the_cache(idp: tuple[IdpState, str]) -> None:
    state, url = idp
    state.active = {"tok": active()}
    v = make(url, Clock())

    async def scenario() -> None:
        assert await outcome(v, "tok") == "ok"
        state.active.clear()
        assert await outcome(v, "tok") == "ok"
        assert await outcome(v, "tok", fresh=True) == "inactive"

    run_and_close(v, scenario())


def test_request_shape_and_client_secret_post(idp: tuple[IdpState, str]) -> None:
    state, url = idp
    state.active = {"tok": active()}
    v = make(url, Clock(), introspection_auth_method="client_secret_post")
    assert run_and_close(v, outcome(v, "tok")) == "ok"
    assert state.forms[0] == {
        "token": "tok", "token_type_hint": "access_token", "client_id": "rs-client", "client_secret": "rs-secret",
    }


def test_wrong_client_secret_is_an_introspection_error(idp: tuple[IdpState, str]) -> None:
    state, url = idp
    state.active = {"tok": active()}
    v = make(url, Clock(), client_secret="wrong")
    assert run_and_close(v, outcome(v, "tok")) == "introspection_error"


def test_scopes_and_hierarchy(idp: tuple[IdpState, str]) -> None:
    state, url = idp
    state.active = {"w": active(scope="api:write"), "r": active(scope="files:read")}
    v = make(url, Clock(), required_scopes=["api:read"], scope_hierarchy={"api:write": ["api:read"]})

    async def scenario() -> None:
        principal = await v.validate("w")
        assert principal.scopes == {"api:write"} and principal.subject == "bob" and principal.strategy == "introspection"
        assert await outcome(v, "r") == "insufficient_scope"

    run_and_close(v, scenario())


def test_github_dialect(idp: tuple[IdpState, str]) -> None:
    state, url = idp
    state.active = {"gho_abc": {"scopes": ["repo", "read:org"], "user": {"login": "octocat"},
                                "app": {"client_id": "Iv1.x"}}}
    block = {
        "validation_strategy": "introspection",
        "introspection_endpoint": f"{url}/applications/Iv1.x/token",
        "client_id": "Iv1.x",
        "client_secret": "s",
    }
    cfg = validate_security_config({"oauth2": block}, env={})
    assert cfg.oauth2.dialect == "github"
    v = build_validator(cfg.oauth2, clock=Clock())

    async def scenario() -> None:
        principal = await v.validate("gho_abc")
        assert principal.subject == "octocat" and principal.scopes == {"repo", "read:org"}
        assert principal.client_id == "Iv1.x"
        assert await outcome(v, "gho_nope") == "inactive"

    run_and_close(v, scenario())


def test_hybrid_records_both_attempts(idp: tuple[IdpState, str], keys: Keys) -> None:
    state, url = idp
    state.active = {"opaque-1": active()}
    cfg = validate_security_config(
        {"oauth2": oauth2(validation_strategy="both", jwks=keys.jwks(keys.rsa), introspection_endpoint=f"{url}/introspect",
                          client_id="rs-client", client_secret="rs-secret")},
        env={},
    )
    v = build_validator(cfg.oauth2, clock=Clock())

    async def scenario() -> None:
        via_jwt = await v.validate(mint(keys.rsa))
        assert via_jwt.strategy == "both:jwt"
        assert state.introspection_hits == 0
        via_introspection = await v.validate("opaque-1")
        assert via_introspection.strategy == "both:introspection"
        assert via_introspection.notes and via_introspection.notes[0].startswith("jwt: malformed")
        with pytest.raises(AuthError) as info:
            await v.validate(mint(keys.rsa, exp=NOW - 5))
        assert info.value.reason is Reason.INACTIVE
        assert info.value.attempts == (("jwt", Reason.EXPIRED), ("introspection", Reason.INACTIVE))
        assert "jwt: expired" in info.value.detail

    run_and_close(v, scenario())
