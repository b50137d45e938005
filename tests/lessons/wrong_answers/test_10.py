"""Lesson 10's sub-challenges: wrong answers (insecure and near misses first) fail and say why; each reference
solution (notebooks/solutions/10.*.py, run as the notebook runs it) solves its own."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from joserfc import jws
from joserfc.jwk import RSAKey

from labkit.challenges import CHALLENGES, Attempt, Progress, start
from labkit.lab import Lab, LabClock
from labkit.provider import unsafe
from labkit.vulnerable import WEAKNESSES, VulnerableAgent, claims_of, fetch_jwks, hs256_token, raw_get

from ...helpers import ROOT
from ..exploits import PATH_EXPLOIT, exploit_token

pytestmark = pytest.mark.integration

# sub-challenge -> the weakness it exploits (the lesson's cell before each challenge switches on only that one)
KEYS = {"10.alg_none": "alg_from_header", "10.key_confusion": "hmac_public_key", "10.kid_traversal": "kid_as_path",
        "10.jku": "jku_followed", "10.audience": "audience_unchecked", "10.expired": "expired_accepted",
        "10.shared_cache": "shared_cache", "10.path_differential": "path_differential"}
TOKEN_KEYS = [k for k, w in KEYS.items() if w not in ("shared_cache", "path_differential")]
Wrong = Callable[[Lab, VulnerableAgent], object]


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab(vulnerable=True, clock=LabClock()) as running:
        yield running


def _agent(lab: Lab) -> VulnerableAgent:
    assert lab.vulnerable is not None
    return lab.vulnerable


def _attempt(key: str, lab: Lab, tmp_path: Path, *on: str) -> Attempt:
    _agent(lab).only(*on)
    return start(key, lab, progress=tmp_path / "progress.json")


def test_the_sub_challenges_are_registered() -> None:
    assert {k for k in CHALLENGES if k.startswith("10")} == set(KEYS)
    assert set(KEYS.values()) | {"naive_decode"} == set(WEAKNESSES)  # naive_decode is the lesson's worked example


# -- token weaknesses ---------------------------------------------------------------------------------------------

def _valid(lab: Lab, agent: VulnerableAgent) -> None:
    agent.execute("admin_status", token=lab.provider.mint(["admin"]))  # the real check admits it: no weakness used


def _replay_still_on(weakness: str) -> Wrong:
    def act(lab: Lab, agent: VulnerableAgent) -> None:
        token = exploit_token(weakness, lab)
        agent.execute("admin_status", token=token)
        agent.execute("admin_status", token=token)  # the same token, the weakness still on: admitted again
    return act


def _no_replay(weakness: str) -> Wrong:
    return lambda lab, agent: agent.execute("admin_status", token=exploit_token(weakness, lab))


def _replay_another_token(weakness: str) -> Wrong:
    def act(lab: Lab, agent: VulnerableAgent) -> None:
        agent.execute("admin_status", token=exploit_token(weakness, lab))
        agent.disable(weakness)
        agent.execute("admin_status", token="not.a.token")  # refused, but it is not the token that got in
    return act


def _replay_let_in_by_another(weakness: str) -> Wrong:
    def act(lab: Lab, agent: VulnerableAgent) -> None:
        token = exploit_token(weakness, lab)
        agent.execute("admin_status", token=token)
        agent.only("naive_decode")  # the fix, but the naive decode still trusts anything
        agent.execute("admin_status", token=token)
    return act


def _forged_read_scope(weakness: str) -> Wrong:
    # the weakness lets the token in, but its scope is api:read: admin_status is refused (403), nothing admitted
    return lambda lab, agent: agent.execute("admin_status", token=exploit_token(weakness, lab, scopes="api:read"))


TOKEN_WRONG: list[tuple[str, str, Wrong, tuple[str, ...], str]] = []
for _key in TOKEN_KEYS:
    _w = KEYS[_key]
    _other = "audience_unchecked" if _w != "audience_unchecked" else "expired_accepted"
    TOKEN_WRONG += [
        (_key, "a validly signed token", _valid, tuple(WEAKNESSES), "genuinely allowed proves nothing"),
        (_key, "another weakness's exploit", (lambda o: lambda lab, agent: agent.execute(
            "admin_status", token=exploit_token(o, lab)))(_other), tuple(WEAKNESSES), f"through {_other}, not {_w}"),
        (_key, "exploited, never replayed", _no_replay(_w), (_w,), f"disable('{_w}')"),
        (_key, "replay let in by naive_decode", _replay_let_in_by_another(_w), (_w,), "through naive_decode"),
    ]
# the same logic for every token weakness: two of them are enough (the machine is shared; keep the module short)
for _key in ("10.alg_none", "10.audience"):
    _w = KEYS[_key]
    TOKEN_WRONG += [
        (_key, "the exploit with too little scope", _forged_read_scope(_w), (_w,), "the real agent's rule"),
        (_key, "replayed with the weakness still on", _replay_still_on(_w), (_w,), f"disable('{_w}')"),
        (_key, "another token refused after the fix", _replay_another_token(_w), (_w,), f"disable('{_w}')"),
    ]


def _expired_for_audience(lab: Lab, agent: VulnerableAgent) -> None:
    # refused for its expiry, not its audience: audience_unchecked must not let it in (nor be credited)
    agent.execute("admin_status", token=lab.provider.mint(["admin"], lifetime=-60))


def _jku_refused_while_on(lab: Lab, agent: VulnerableAgent) -> None:
    token = exploit_token("jku_followed", lab)
    agent.execute("admin_status", token=token)
    agent.attacker.publish({"keys": []})  # refused now, but jku is still followed: not the fix
    agent.execute("admin_status", token=token)


TOKEN_WRONG += [
    ("10.audience", "an expired token", _expired_for_audience, ("audience_unchecked",), "the real agent's rule"),
    ("10.expired", "a token for another audience", lambda lab, agent: agent.execute(
        "admin_status", token=lab.provider.mint(["admin"], audience="api://another-service")),
     ("expired_accepted",), "the real agent's rule"),
    ("10.jku", "refused while jku is still followed", _jku_refused_while_on, ("jku_followed",), "still on"),
    ("10.alg_none", "a tampered, signed token", lambda lab, agent: agent.execute(
        "admin_status", token=exploit_token("naive_decode", lab)), tuple(WEAKNESSES), "through naive_decode"),
]



def _ready_made(build: Callable[[Lab], str], weakness: str) -> Wrong:
    # labkit's own attack token (the probe's, labkit.provider.unsafe): exploited and replayed as the goal says, but
    # the learner built nothing
    def act(lab: Lab, agent: VulnerableAgent) -> None:
        token = build(lab)
        agent.execute("admin_status", token=token)
        agent.disable(weakness)
        agent.execute("admin_status", token=token)
    return act


TOKEN_WRONG += [  # each solved the sub-challenge before the check knew labkit's ready-made tokens
    ("10.alg_none", "labkit's ready-made unsigned token", _ready_made(
        lambda lab: unsafe.unsafe_alg_none(lab.provider), "alg_from_header"), ("alg_from_header",),
     "labkit.provider.unsafe"),
    ("10.key_confusion", "labkit's ready-made key confusion", _ready_made(
        lambda lab: unsafe.unsafe_hs256_with_public_key(lab.provider), "hmac_public_key"), ("hmac_public_key",),
     "labkit.provider.unsafe"),
    ("10.kid_traversal", "labkit's ready-made kid traversal", _ready_made(
        lambda lab: unsafe.unsafe_kid(lab.provider), "kid_as_path"), ("kid_as_path",), "labkit.provider.unsafe"),
]


@pytest.mark.parametrize(("key", "case", "act", "on", "says"), TOKEN_WRONG,
                         ids=[f"{k}-{c}" for k, c, *_ in TOKEN_WRONG])
def test_token_wrong_answers(lab: Lab, tmp_path: Path, key: str, case: str, act: Wrong, on: tuple[str, ...],
                             says: str) -> None:
    attempt = _attempt(key, lab, tmp_path, *on)
    act(lab, _agent(lab))
    result = attempt.check()
    assert not result.solved and says in result.message, (case, result)
    assert key not in Progress(tmp_path / "progress.json").solved()


# -- shared cache and path differential ---------------------------------------------------------------------------

def _whoami(agent: VulnerableAgent, *tokens: str) -> None:
    for token in tokens:
        agent.execute("whoami", token=token)


def _users(lab: Lab, *names: str) -> list[str]:
    return [lab.provider.mint(["api:read"], subject=name) for name in names]


def _same_user_twice(lab: Lab, agent: VulnerableAgent) -> None:
    _whoami(agent, *_users(lab, "alice", "alice"))


def _cache_off(lab: Lab, agent: VulnerableAgent) -> None:
    agent.disable("shared_cache")
    _whoami(agent, *_users(lab, "alice", "bob"))


def _leak(lab: Lab, agent: VulnerableAgent) -> list[str]:
    alice, bob = _users(lab, "alice", "bob")
    _whoami(agent, alice, bob)
    return [alice, bob]


def _leak_replayed_still_shared(lab: Lab, agent: VulnerableAgent) -> None:
    _, bob = _leak(lab, agent)
    _whoami(agent, bob)


def _leak_then_alice_after_fix(lab: Lab, agent: VulnerableAgent) -> None:
    alice, _ = _leak(lab, agent)
    agent.disable("shared_cache")
    _whoami(agent, alice)  # not the request that leaked


def _path(agent: VulnerableAgent, path: str) -> None:
    agent.get(path)


def _httpx_dots(lab: Lab, agent: VulnerableAgent) -> None:
    httpx.get(agent.url + "/t/acme/.well-known/../admin/status")  # httpx resolves '..' before sending: 401


def _path_no_replay(lab: Lab, agent: VulnerableAgent) -> None:
    agent.get(PATH_EXPLOIT)


def _path_replayed_still_on(lab: Lab, agent: VulnerableAgent) -> None:
    agent.get(PATH_EXPLOIT)
    agent.get(PATH_EXPLOIT)


def _path_other_refused(lab: Lab, agent: VulnerableAgent) -> None:
    agent.get(PATH_EXPLOIT)
    agent.disable("path_differential")
    agent.get("/t/acme/admin/status")  # refused, but it is not the path that got through


OTHER_WRONG: list[tuple[str, str, Wrong, tuple[str, ...], str]] = [
    ("10.shared_cache", "the same user twice", _same_user_twice, ("shared_cache",), "two different users"),
    ("10.shared_cache", "two users, cache per user", _cache_off, ("shared_cache",), "proves nothing"),
    ("10.shared_cache", "leaked, never replayed", _leak, ("shared_cache",), "switch shared_cache off"),
    ("10.shared_cache", "replayed with the cache still shared", _leak_replayed_still_shared, ("shared_cache",),
     "switch shared_cache off"),
    ("10.shared_cache", "another user's request after the fix", _leak_then_alice_after_fix, ("shared_cache",),
     "switch shared_cache off"),
    ("10.path_differential", "the admin page with a valid admin token", lambda lab, agent: agent.client(
        lab.provider.mint(["admin"])).get("/admin/status"), tuple(WEAKNESSES), "proves nothing"),
    ("10.path_differential", "no dot segment", lambda lab, agent: _path(agent, "/t/acme/admin/status"),
     ("path_differential",), "no token at all"),
    ("10.path_differential", "'..' through httpx", _httpx_dots, ("path_differential",), "no token at all"),
    ("10.path_differential", "reached, never replayed", _path_no_replay, ("path_differential",),
     "disable('path_differential')"),
    ("10.path_differential", "replayed with the differential on", _path_replayed_still_on, ("path_differential",),
     "disable('path_differential')"),
    ("10.path_differential", "another path refused after the fix", _path_other_refused, ("path_differential",),
     "disable('path_differential')"),
]


@pytest.mark.parametrize(("key", "case", "act", "on", "says"), OTHER_WRONG,
                         ids=[f"{k}-{c}" for k, c, *_ in OTHER_WRONG])
def test_cache_and_path_wrong_answers(lab: Lab, tmp_path: Path, key: str, case: str, act: Wrong,
                                      on: tuple[str, ...], says: str) -> None:
    attempt = _attempt(key, lab, tmp_path, *on)
    act(lab, _agent(lab))
    result = attempt.check()
    assert not result.solved and says in result.message, (case, result)


def test_work_done_before_start_does_not_count(lab: Lab, tmp_path: Path) -> None:
    agent = _agent(lab)
    agent.only("alg_from_header")
    token = exploit_token("alg_from_header", lab)
    agent.execute("admin_status", token=token)
    agent.disable("alg_from_header")
    agent.execute("admin_status", token=token)
    attempt = start("10.alg_none", lab, progress=tmp_path / "progress.json")
    assert not attempt.check()


def test_needs_the_vulnerable_agent(tmp_path: Path) -> None:
    with Lab() as plain:
        for key in KEYS:
            assert "Lab(vulnerable=True)" in start(key, plain, progress=tmp_path / "p.json").check().message


def _run_solution(key: str, lab: Lab, attempt: Attempt) -> None:
    """Run notebooks/solutions/<key>.py in the names the lesson's first cell defines, as nbval injects it."""
    namespace = {"lab": lab, "vulnerable": lab.vulnerable, "challenge": attempt, "jws": jws, "RSAKey": RSAKey,
                 "claims_of": claims_of, "fetch_jwks": fetch_jwks, "hs256_token": hs256_token, "raw_get": raw_get}
    path = ROOT / "notebooks" / "solutions" / f"{key}.py"
    exec(compile(path.read_text(), str(path), "exec"), namespace)  # noqa: S102 - the repository's own solution


@pytest.mark.parametrize("key", list(KEYS))
def test_reference_solution_solves(lab: Lab, tmp_path: Path, key: str) -> None:
    attempt = _attempt(key, lab, tmp_path, KEYS[key])
    _run_solution(key, lab, attempt)
    result = attempt.check()
    assert result.solved, result
    assert key in Progress(tmp_path / "progress.json").solved()
    assert KEYS[key] not in _agent(lab).weaknesses  # the learner switched it off
