"""One-time ids (DPoP proof ``jti``s, assertion ``jti``s) are never forgotten before their own expiry: the cache is
bounded by time and refuses when full, it never evicts a live entry."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc.jwk import ECKey

from labkit.auth.dpop import make_proof
from labkit.provider import MockProvider
from labkit.state.spent import SpentIds, SpentIdsFullError

from ..helpers import AsgiClient, examples

BASE = "http://127.0.0.1"
NOW = 1_767_225_600
CLIENT = ("lab-client", "lab-client-secret")


@pytest.fixture()
def provider() -> MockProvider:
    return MockProvider(base_url=BASE, clock=lambda: NOW, tenants=())


@pytest.fixture()
def http(provider: MockProvider) -> Iterator[AsgiClient]:
    with AsgiClient(provider.app, BASE) as client:
        yield client


def _proof(key: ECKey) -> dict[str, str]:
    return {"DPoP": make_proof(key, method="POST", url=f"{BASE}/token", iat=NOW, jti=secrets.token_hex(8))}


def test_a_full_dpop_replay_cache_refuses_and_still_knows_every_live_proof(provider: MockProvider,
                                                                          http: AsgiClient) -> None:
    replay = provider.server().dpop.replay
    replay.capacity = 3  # each proof from a key of its own: the old cache forgot the oldest key's jtis
    form = {"grant_type": "client_credentials"}
    proofs = [_proof(ECKey.generate_key("P-256")) for _ in range(3)]
    assert [http.post("/token", data=form, auth=CLIENT, headers=p).status_code for p in proofs] == [200] * 3
    full = http.post("/token", data=form, auth=CLIENT, headers=_proof(ECKey.generate_key("P-256")))
    assert (full.status_code, full.json()["error"]) == (503, "temporarily_unavailable")
    assert "DPoP" in full.json()["error_description"]
    for spent in proofs:  # RFC 9449 §11.1: a live proof is never accepted twice, full or not
        replay_answer = http.post("/token", data=form, auth=CLIENT, headers=spent)
        assert (replay_answer.status_code, replay_answer.json()["error"]) == (400, "invalid_dpop_proof")


_STEPS = st.lists(st.tuples(st.integers(0, 5), st.integers(1, 30), st.integers(0, 10)), max_size=60)


@settings(max_examples=examples(200), deadline=None)
@given(steps=_STEPS, capacity=st.integers(1, 4))
def test_spent_ids_match_a_model_that_never_forgets_early(steps: list[tuple[int, int, int]], capacity: int) -> None:
    now = [0.0]
    spent = SpentIds(lambda: now[0], capacity=capacity)
    model: dict[str, float] = {}
    for key_no, lifetime, advance in steps:
        key = f"k{key_no}"
        live = {k: until for k, until in model.items() if until > now[0]}
        if key in live:
            assert spent.claim(key, now[0] + lifetime) is False  # a replay, whatever else happened
        elif len(live) >= capacity:
            with pytest.raises(SpentIdsFullError):
                spent.claim(key, now[0] + lifetime)
        else:
            assert spent.claim(key, now[0] + lifetime) is True
            model[key] = now[0] + lifetime
        assert len(spent) == len({k for k, until in model.items() if until > now[0]})
        now[0] += advance


def test_release_and_reclaim_keep_the_bookkeeping_bounded() -> None:
    spent = SpentIds(lambda: NOW, capacity=2)
    for i in range(100):
        assert spent.claim(f"k{i}", NOW + 60)
        spent.release(f"k{i}")
    assert len(spent) == 0 and len(spent._expiries) <= 2 * spent.capacity + 1
