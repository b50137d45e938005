"""RFC 9449 (DPoP) in process: proof checks, the guard's binding, replay, nonces, challenges, config; fuzzed."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from labkit.audit import AuditLog
from labkit.auth.dpop import Nonces, ReplayCache, access_token_hash, make_proof, normalize_htu, verify_proof
from labkit.config import validate_security_config
from labkit.errors import AuthError, ConfigError, Reason
from labkit.guard import OAuth2Guard, gate_for
from labkit.guard.rfc6750 import credentials
from labkit.state import MemoryReplayCache
from labkit.state.spent import SpentIdsFullError

from ..helpers import NOW, Keys, examples, mint, oauth2

pytestmark = pytest.mark.anyio

URL = "https://agent.lab.test/items"
CLIENT_KEY = ECKey.generate_key("P-256")
THIEF_KEY = ECKey.generate_key("P-256")


def proof(key: Any = CLIENT_KEY, *, method: str = "GET", url: str = URL, iat: float = NOW, **kwargs: Any) -> str:
    return make_proof(key, method=method, url=url, iat=iat, **kwargs)


# -- the proof alone (RFC 9449 §4.3) -----------------------------------------------------------------------------

@pytest.mark.parametrize(("given_url", "same"), [
    ("https://agent.lab.test/items", True),
    ("HTTPS://Agent.LAB.test:443/items", True),  # scheme and host case, default port
    ("https://agent.lab.test/items?x=1#f", True),  # query and fragment ignored
    ("https://agent.lab.test/%69tems", True),  # an unreserved character percent-encoded
    ("https://agent.lab.test:8443/items", False),
    ("http://agent.lab.test/items", False),
    ("https://agent.lab.test/items/", False),
    ("https://agent.lab.test/Items", False),
    ("https://user@agent.lab.test/items", None),
    ("ftp://agent.lab.test/items", None),
    ("https://agent.lab.test/it ems", None),
    ("https://agent.lab.tést/items", None),
])
def test_htu_is_normalised_per_rfc_9449(given_url: str, same: bool | None) -> None:
    if same is None:
        with pytest.raises(ValueError):
            normalize_htu(given_url)
    else:
        assert (normalize_htu(given_url) == normalize_htu(URL)) is same


def test_a_valid_proof_gives_the_rfc_7638_thumbprint() -> None:
    found = verify_proof(proof(access_token="tok"), method="GET", url=URL, now=NOW, access_token="tok")
    assert found.jkt == CLIENT_KEY.thumbprint()


@pytest.mark.parametrize("key", [RSAKey.generate_key(2048), OKPKey.generate_key("Ed25519")], ids=["PS256", "EdDSA"])
def test_other_asymmetric_algorithms_pass(key: Any) -> None:
    alg = "PS256" if isinstance(key, RSAKey) else "EdDSA"
    assert verify_proof(proof(key, alg=alg), method="GET", url=URL, now=NOW).jkt == key.thumbprint()


def _forged(header: dict[str, Any], claims: dict[str, Any], key: Any, alg: str) -> str:
    from joserfc import jwt

    return jwt.encode(header, claims, key, algorithms=[alg])


GOOD_CLAIMS = {"jti": "j1", "htm": "GET", "htu": URL, "iat": NOW}


@pytest.mark.parametrize(("case", "make", "kwargs"), [
    ("typ", lambda: _forged({"typ": "JWT", "alg": "ES256", "jwk": CLIENT_KEY.as_dict(private=False)}, GOOD_CLAIMS,
                            CLIENT_KEY, "ES256"), {}),
    ("hmac", lambda: _forged({"typ": "dpop+jwt", "alg": "HS256", "jwk": {"kty": "oct", "k": "c2VjcmV0"}},
                             GOOD_CLAIMS, OctKey.import_key("secret" * 6), "HS256"), {}),
    ("private jwk", lambda: _forged({"typ": "dpop+jwt", "alg": "ES256", "jwk": CLIENT_KEY.as_dict(private=True)},
                                    GOOD_CLAIMS, CLIENT_KEY, "ES256"), {}),
    ("jwk of another key", lambda: _forged({"typ": "dpop+jwt", "alg": "ES256",
                                            "jwk": THIEF_KEY.as_dict(private=False)}, GOOD_CLAIMS, CLIENT_KEY,
                                           "ES256"), {}),
    ("jku", lambda: _forged({"typ": "dpop+jwt", "alg": "ES256", "jwk": CLIENT_KEY.as_dict(private=False),
                             "jku": "https://evil/"}, GOOD_CLAIMS, CLIENT_KEY, "ES256"), {}),
    ("method", lambda: proof(method="POST"), {}),
    ("url", lambda: proof(url="https://agent.lab.test/other"), {}),
    ("iat old", lambda: proof(iat=NOW - 61), {}),
    ("iat future", lambda: proof(iat=NOW + 61), {}),
    ("no jti", lambda: proof(extra={"jti": ""}), {}),
    ("ath missing", lambda: proof(), {"access_token": "tok"}),
    ("ath of another token", lambda: proof(access_token="other"), {"access_token": "tok"}),
    ("not ES256 allowed", lambda: proof(), {"algorithms": ("PS256",)}),
    ("garbage", lambda: "a.b.c", {}),
])
def test_a_bad_proof_is_invalid_dpop_proof(case: str, make: Any, kwargs: dict[str, Any]) -> None:
    with pytest.raises(AuthError) as caught:
        verify_proof(make(), method="GET", url=URL, now=NOW, **kwargs)
    assert caught.value.reason is Reason.DPOP_PROOF, case


def test_nonces_rotate_and_a_missing_one_is_use_dpop_nonce() -> None:
    now = [float(NOW)]
    nonces = Nonces(lambda: now[0], lifetime=300, secret=b"k" * 32)
    current = nonces.current()
    with pytest.raises(AuthError) as caught:
        verify_proof(proof(), method="GET", url=URL, now=NOW, nonce=nonces.valid)
    assert caught.value.reason is Reason.DPOP_NONCE
    assert verify_proof(proof(nonce=current), method="GET", url=URL, now=NOW, nonce=nonces.valid).nonce == current
    now[0] += 300
    assert nonces.valid(current) and nonces.current() != current  # the previous slot still counts
    now[0] += 300
    assert not nonces.valid(current)


def test_replay_cache_is_once_per_key_and_bounded_per_key() -> None:
    now = [0.0]
    cache = ReplayCache(lambda: now[0], per_key=3, capacity=4)
    assert cache.claim("k1", "a", 10) and not cache.claim("k1", "a", 10)
    assert cache.claim("k2", "a", 10)  # another key, the same jti
    assert cache.claim("k1", "b", 10) and cache.claim("k1", "c", 10)
    with pytest.raises(SpentIdsFullError):
        cache.claim("k1", "d", 10)  # over its key's share: refused, never evicting a live jti
    with pytest.raises(SpentIdsFullError):
        cache.claim("k3", "x", 10)  # the cache is full: refused, never evicting another key's live jti
    assert not cache.claim("k1", "a", 10) and not cache.claim("k2", "a", 10)  # still remembered
    now[0] = 11
    assert cache.claim("k1", "d", 30) and cache.claim("k3", "x", 30)  # expired ones make room


@settings(max_examples=examples(30), deadline=None)
@given(others=st.integers(min_value=1, max_value=40), capacity=st.integers(min_value=1, max_value=12),
       elapsed=st.floats(min_value=0, max_value=59))
def test_a_full_replay_cache_never_forgets_a_live_jti(others: int, capacity: int, elapsed: float) -> None:
    # RFC 9449 §11.1: however many other keys' proofs arrive, a captured proof stays spent for its whole window
    now = [NOW]
    cache = ReplayCache(lambda: now[0], capacity=capacity)
    assert cache.claim("victim", "captured", NOW + 61)
    for n in range(others):
        try:
            cache.claim(f"other-{n}", f"jti-{n}", NOW + 61)
        except SpentIdsFullError:
            pass  # refused when full: the point is that nothing live was evicted to make room
    now[0] = NOW + elapsed
    assert not cache.claim("victim", "captured", NOW + 61)


# -- the guard -------------------------------------------------------------------------------------------------

def dpop_config(keys: Keys, **settings: Any) -> dict[str, Any]:
    return {"security": {"oauth2": oauth2(jwks=keys.jwks(keys.rsa), jwt_algorithms=["RS256"], **settings)}}


def app(keys: Keys, **settings: Any) -> tuple[OAuth2Guard, AuditLog]:
    async def items(request: Request) -> JSONResponse:
        return JSONResponse({"sub": request.user.identity})

    inner = Starlette(routes=[Route("/items", items, name="items", methods=["GET", "POST"])])
    audit = AuditLog()
    gate = gate_for(validate_security_config(dpop_config(keys, **settings)), clock=lambda: NOW)
    return OAuth2Guard(inner, gate=gate, routes=inner.routes, endpoints={}, audit=audit,
                       public_url="https://agent.lab.test", realm="oauth2-lab"), audit


def bound(keys: Keys, key: Any = CLIENT_KEY, **claims: Any) -> str:
    return mint(keys.rsa, cnf={"jkt": key.thumbprint()}, **claims)


async def call(guard: OAuth2Guard, headers: dict[str, str] | list[tuple[str, str]], method: str = "GET",
               path: str = "/items") -> httpx.Response:
    transport = httpx.ASGITransport(guard)
    async with httpx.AsyncClient(transport=transport, base_url="http://evil.example") as client:
        return await client.request(method, path, headers=headers)


async def test_a_valid_proof_passes_and_its_replay_is_refused(keys: Keys) -> None:
    guard, audit = app(keys)
    token = bound(keys)
    headers = {"Authorization": f"DPoP {token}", "DPoP": proof(access_token=token)}
    assert (await call(guard, headers)).status_code == 200  # htu from public_url, never the Host header
    replayed = await call(guard, headers)
    assert replayed.status_code == 401
    assert replayed.headers["www-authenticate"].startswith('DPoP realm="oauth2-lab", error="invalid_dpop_proof"')
    assert audit.events()[-1].reason == "dpop_proof" and "jti" in (audit.events()[-1].detail or "")


@pytest.mark.parametrize("where", ["process", "shared"])
async def test_a_full_replay_cache_refuses_the_replay_and_answers_503_for_new_proofs(keys: Keys, where: str) -> None:
    guard, audit = app(keys)
    policy = guard.gate.tenants[None].dpop
    assert policy is not None
    if where == "process":
        policy.replay = ReplayCache(policy.clock, capacity=3)
    else:
        policy.shared = MemoryReplayCache(policy.clock, max_size=3)
    token = bound(keys)
    captured = {"Authorization": f"DPoP {token}", "DPoP": proof(access_token=token)}
    assert (await call(guard, captured)).status_code == 200
    for _ in range(5):  # other keys' proofs fill the cache past its capacity
        key = ECKey.generate_key("P-256")
        other = bound(keys, key)
        await call(guard, {"Authorization": f"DPoP {other}", "DPoP": proof(key, access_token=other)})
    replayed = await call(guard, captured)  # within the captured proof's window
    assert replayed.status_code == 401 and 'error="invalid_dpop_proof"' in replayed.headers["www-authenticate"]
    fresh = await call(guard, {"Authorization": f"DPoP {token}", "DPoP": proof(access_token=token)})
    assert fresh.status_code == 503 and fresh.headers["retry-after"] == "5", fresh.headers
    assert "www-authenticate" not in fresh.headers
    assert audit.events()[-1].reason == "state_unavailable" and "DPoP replay cache" in (audit.events()[-1].detail
                                                                                        or "")


@pytest.mark.parametrize(("case", "headers", "reason"), [
    ("stolen, as Bearer", lambda t: {"Authorization": f"Bearer {t}"}, "dpop_required"),
    ("stolen, the thief's key", lambda t: {"Authorization": f"DPoP {t}",
                                           "DPoP": proof(THIEF_KEY, access_token=t)}, "dpop_proof"),
    ("stolen, no proof", lambda t: {"Authorization": f"DPoP {t}"}, "dpop_proof"),
    ("another URL", lambda t: {"Authorization": f"DPoP {t}",
                               "DPoP": proof(url="https://agent.lab.test/other", access_token=t)}, "dpop_proof"),
    ("another method", lambda t: {"Authorization": f"DPoP {t}",
                                  "DPoP": proof(method="POST", access_token=t)}, "dpop_proof"),
    ("Host header's URL", lambda t: {"Authorization": f"DPoP {t}",
                                     "DPoP": proof(url="http://evil.example/items", access_token=t)}, "dpop_proof"),
    ("two proofs", lambda t: [("Authorization", f"DPoP {t}"), ("DPoP", proof(access_token=t)),
                              ("DPoP", proof(access_token=t))], "dpop_proof"),
])
async def test_a_stolen_or_misused_bound_token_is_refused(keys: Keys, case: str, headers: Any, reason: str) -> None:
    guard, audit = app(keys)  # DPoP not required: a bound token needs its proof anyway (RFC 9449 §7.2)
    response = await call(guard, headers(bound(keys)))
    assert response.status_code == 401, case
    assert response.headers["www-authenticate"].startswith("DPoP "), case
    assert audit.events()[-1].reason == reason, case


async def test_require_dpop_refuses_bearer_and_challenges_with_algs(keys: Keys) -> None:
    guard, _ = app(keys, require_dpop=True, dpop_algorithms=["ES256", "PS256"])
    assert (await call(guard, {"Authorization": f"Bearer {mint(keys.rsa)}"})).status_code == 401
    bare = await call(guard, {})
    assert bare.headers["www-authenticate"] == 'DPoP realm="oauth2-lab", algs="ES256 PS256"'
    unbound = await call(guard, {"Authorization": f"DPoP {mint(keys.rsa)}", "DPoP": proof()})
    assert unbound.status_code == 401


async def test_without_dpop_settings_bearer_tokens_are_unchanged(keys: Keys) -> None:
    guard, _ = app(keys)
    response = await call(guard, {"Authorization": f"Bearer {mint(keys.rsa)}"})
    assert response.status_code == 200
    assert (await call(guard, {})).headers["www-authenticate"] == 'Bearer realm="oauth2-lab"'


async def test_nonces_are_demanded_and_handed_out(keys: Keys) -> None:
    guard, audit = app(keys, require_dpop=True, dpop_nonce=True)
    token = bound(keys)
    first = await call(guard, {"Authorization": f"DPoP {token}", "DPoP": proof(access_token=token)})
    assert first.status_code == 401 and 'error="use_dpop_nonce"' in first.headers["www-authenticate"]
    nonce = first.headers["dpop-nonce"]
    second = await call(guard, {"Authorization": f"DPoP {token}", "DPoP": proof(access_token=token, nonce=nonce)})
    assert second.status_code == 200, audit.events()[-1]
    forged = await call(guard, {"Authorization": f"DPoP {token}", "DPoP": proof(access_token=token, nonce="x")})
    assert forged.status_code == 401 and forged.headers["dpop-nonce"] == nonce


@pytest.mark.parametrize(("value", "expected"), [
    (b"DPoP abc.def", ("dpop", "abc.def")),
    (b"dpop  abc ", ("dpop", "abc")),
    (b"Bearer abc", ("bearer", "abc")),
    (b"DPoP", None),
    (b"DPoP a b", None),
    (b"DPoPabc", None),
    (b"DPoP \xc3\xa9", None),
])
def test_the_dpop_scheme_is_parsed_strictly(value: bytes, expected: tuple[str, str] | None) -> None:
    assert credentials([value]) == expected


def test_ath_is_the_base64url_sha256_of_the_token() -> None:
    # RFC 9449 §7.1's example: the access token and its ath
    token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
    assert access_token_hash(token) == "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"


@pytest.mark.parametrize(("settings", "path"), [
    ({"dpop_algorithms": ["HS256"]}, "security.oauth2.dpop_algorithms[0]"),
    ({"dpop_algorithms": ["none"]}, "security.oauth2.dpop_algorithms[0]"),
    ({"dpop_algorithms": ["es256"]}, "security.oauth2.dpop_algorithms[0]"),
    ({"dpop_algorithms": []}, "security.oauth2.dpop_algorithms"),
    ({"dpop_max_age": 0}, "security.oauth2.dpop_max_age"),
    ({"dpop_max_age": 3600}, "security.oauth2.dpop_max_age"),
    ({"require_dpop": "yes"}, "security.oauth2.require_dpop"),
    ({"dpop_nonce": 1}, "security.oauth2.dpop_nonce"),
])
def test_dpop_config_errors_carry_their_path(keys: Keys, settings: dict[str, Any], path: str) -> None:
    with pytest.raises(ConfigError) as caught:
        validate_security_config(dpop_config(keys, **settings))
    assert path in caught.value.paths, caught.value.errors


# -- fuzz: any DPoP header, any Authorization, never 5xx, state bounded -----------------------------------------

_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=300)
_claims = st.fixed_dictionaries({}, optional={
    "jti": st.one_of(_text, st.integers(), st.none()), "htm": st.sampled_from(["GET", "POST", "get", ""]),
    "htu": st.sampled_from([URL, URL.upper(), URL + "?q", "https://agent.lab.test", "x"]),
    "iat": st.one_of(st.integers(NOW - 120, NOW + 120), st.floats(allow_nan=False), st.text(max_size=4)),
    "ath": _text, "nonce": st.one_of(_text, st.lists(st.integers(), max_size=2))})


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(claims=_claims, header_extra=st.dictionaries(st.sampled_from(["typ", "kid", "crit", "jku", "x5c"]),
                                                    _text, max_size=2),
       raw=st.one_of(st.none(), st.binary(max_size=300).map(lambda b: b.replace(b"\n", b"").replace(b"\r", b""))),
       scheme=st.sampled_from(["DPoP", "Bearer", "dpop", "DPOP"]))
async def test_fuzzed_proofs_never_5xx(keys: Keys, claims: dict[str, Any], header_extra: dict[str, str],
                                       raw: bytes | None, scheme: str) -> None:
    guard, _ = app(keys, require_dpop=True)
    token = bound(keys)
    if raw is None:
        from joserfc import jwt

        header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": CLIENT_KEY.as_dict(private=False), **header_extra}
        try:
            value: bytes = jwt.encode(header, claims, CLIENT_KEY, algorithms=["ES256"]).encode()
        except JoseError:
            assume(False)  # joserfc will not sign it; the raw branch sends such bytes anyway
    else:
        value = raw.strip(b" \t")
    headers = [(b"authorization", f"{scheme} {token}".encode()), (b"dpop", value)]
    response = await call_raw(guard, headers)
    assert response in (200, 401), response
    assert len(guard.gate.dpop_policy(None).replay) <= 1024


async def call_raw(guard: OAuth2Guard, headers: list[tuple[bytes, bytes]]) -> int:
    status: dict[str, int] = {}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status["code"] = message["status"]

    scope = {"type": "http", "method": "GET", "path": "/items", "raw_path": b"/items", "root_path": "",
             "query_string": b"", "headers": headers, "scheme": "https", "server": ("agent.lab.test", 443),
             "http_version": "1.1", "client": ("127.0.0.1", 1)}
    await guard(scope, receive, send)
    return status["code"]
