"""Challenge 17's wrong answers (insecure ones first): each fails and the refusal names the security reason; the
reference solution (``notebooks/solutions/17.py``) solves it. Work done before ``start()`` never counts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from labkit.challenges import Progress, start
from labkit.challenges.lessons.lesson_17 import CALLER_SCOPES, through_proxy
from labkit.flows.delegation import user_token
from labkit.lab import Lab
from labkit.lab.downstream import DEFAULT_RULE, DOWNSTREAM_AUDIENCE
from labkit.lab.notebooks import NOTEBOOKS_DIR, solution_source

from .. import proxy_fixtures
from .run_reference import attempt_row, run_solution

pytestmark = pytest.mark.integration
lab, shipped = proxy_fixtures.lab, proxy_fixtures.shipped  # one Lab(proxy=True) per module


def attack(lab: Lab) -> None:
    """The passthrough shown: alice's token for the proxy reaches the upstream unchanged."""
    assert lab.proxy is not None
    assert through_proxy(lab, user_token(lab, scopes=CALLER_SCOPES, resource=lab.proxy.url)).status_code == 200


def exchange(scope: str | None) -> Callable[[Lab], None]:
    def act(lab: Lab) -> None:
        assert lab.proxy is not None
        lab.proxy.configure(passthrough=False, scope=scope)
    return act


def audience_check(lab: Lab) -> None:
    assert lab.downstream is not None
    lab.downstream.reload(lab.downstream.rule, check_audience=True)


def minted_for_upstream(lab: Lab) -> None:
    """A token the provider minted directly, for the upstream's own audience, sent through the passthrough."""
    token = lab.provider.mint(["api:write"], subject="alice", audience=DOWNSTREAM_AUDIENCE, client_id="lab-web")
    assert through_proxy(lab, token).status_code == 200


def steps(*acts: Callable[[Lab], Any]) -> Callable[[Lab], None]:
    def act(lab: Lab) -> None:
        for one in acts:
            one(lab)
    return act


def drop_proxy_actor(lab: Lab) -> None:
    assert lab.downstream is not None
    lab.downstream.reload(DEFAULT_RULE, check_audience=True)


WRONG: list[tuple[str, Callable[[Lab], None], str]] = [
    # insecure: the caller's token still reaches the upstream
    ("passthrough left on", attack, "MUST NOT pass through"),
    ("passthrough left on, audience checked upstream", steps(attack, audience_check), "MUST NOT pass through"),
    ("exchange without narrowing", steps(attack, exchange(None), audience_check), "still carries api:read, files:read"),
    ("exchange narrowed to the scope plus files:read", steps(attack, exchange("api:write files:read"), audience_check),
     "still carries files:read"),
    ("an admin-minted token shown instead", steps(minted_for_upstream, exchange("api:write"), audience_check),
     "not issued for the proxy"),
    ("the upstream's audience check off", steps(attack, exchange("api:write")), "RFC 8707"),
    # not done after start(), or only half of it
    ("nothing done after start", lambda lab: None, "first show the attack after start()"),
    ("fixed without showing the attack", steps(exchange("api:write"), audience_check),
     "first show the attack after start()"),
    # too strict: alice's legitimate call no longer reaches the upstream
    ("exchange narrowed below what the call needs", steps(attack, exchange("api:read"), audience_check),
     "got 403 (upstream: insufficient_scope"),
    ("the upstream no longer lets lab-proxy act", steps(attack, exchange("api:write"), drop_proxy_actor),
     "got 403 (upstream: delegation"),
]


@pytest.mark.parametrize("act,why", [(a, w) for _, a, w in WRONG], ids=[name for name, _, _ in WRONG])
def test_wrong_answer_fails_and_says_why(lab: Lab, shipped: None, tmp_path: Path, act: Callable[[Lab], None],
                                         why: str) -> None:
    result = attempt_row("17", lab, tmp_path / "progress.json", act)
    assert not result and why in result.message, result
    assert "17" not in Progress(tmp_path / "progress.json").solved()


def test_the_attack_before_start_does_not_count(lab: Lab, shipped: None, tmp_path: Path) -> None:
    attack(lab)
    challenge = start("17", lab, progress=tmp_path / "progress.json")
    exchange("api:write")(lab)
    audience_check(lab)
    result = challenge.check()
    assert not result and "first show the attack after start()" in result.message, result


def test_the_reference_solution_solves(lab: Lab, shipped: None, tmp_path: Path) -> None:
    names = {"user_token": user_token, "through_proxy": through_proxy}
    result = run_solution("17", lab, tmp_path / "progress.json", **names)
    assert result and "act = lab-proxy" in result.message and "401" in result.message, result


def test_the_prediction_is_scored_against_the_shipped_proxy(lab: Lab, shipped: None, tmp_path: Path) -> None:
    from labkit.challenges import predict

    revealed = predict("17", "passthrough", lab, progress=tmp_path / "progress.json").reveal()
    assert [real for _, _, real in revealed.rows] == ["200", "200", "200", "401"]


# -- 17.consent: the proxy's static client id at the third-party server (a Lab of its own: Lab(vulnerable_as=...)) --

@pytest.fixture(scope="module")
def consent_lab() -> Iterator[Lab]:
    with Lab(vulnerable_as=["static_client_consent"]) as running:
        yield running


@pytest.fixture
def consent_shipped(consent_lab: Lab) -> Lab:
    assert consent_lab.flow is not None
    consent_lab.flow.enable("static_client_consent")
    return consent_lab


def _link(lab: Lab, redirect_uri: str) -> str:
    assert lab.flow is not None
    client = httpx.post(f"{lab.flow.proxy.url}/register", json={"redirect_uris": [redirect_uri]}, trust_env=False)
    query = {"response_type": "code", "client_id": client.json()["client_id"], "redirect_uri": redirect_uri}
    return f"{lab.flow.proxy.url}/authorize?{urlencode(query)}"


def steal_through_proxy(lab: Lab) -> None:
    assert lab.flow is not None
    lab.flow.victim.visit(_link(lab, f"{lab.flow.attacker.url}/steal"))


def elsewhere(lab: Lab) -> None:
    assert lab.flow is not None
    lab.flow.victim.visit(_link(lab, f"{lab.flow.attacker.url}/elsewhere"))


def consent_off(lab: Lab) -> None:
    assert lab.flow is not None
    lab.flow.disable("static_client_consent")


def own_client(lab: Lab) -> None:
    """A client whose redirect URI is not the attacker's: alice's code goes where she expects."""
    assert lab.flow is not None
    lab.flow.victim.visit(_link(lab, f"{lab.flow.client.url}/callback"))


CONSENT_WRONG: list[tuple[str, Callable[[Lab], None], str]] = [
    # insecure: the code reached the attacker; the proxy still forwards without asking
    ("stolen, consent per client still off", steal_through_proxy, "now the fix: lab.flow.disable('static_client_"),
    ("stolen twice, never fixed", steps(steal_through_proxy, steal_through_proxy), "now the fix"),
    ("fixed, then replayed with another redirect", steps(steal_through_proxy, consent_off, elsewhere), "now the fix"),
    # not the attack
    ("a client that sends codes home", own_client, "no attack has won through static_client_consent"),
    ("only switched off", consent_off, "MUST obtain the user's consent for each dynamically registered"),
]


@pytest.mark.parametrize("act,why", [(a, w) for _, a, w in CONSENT_WRONG], ids=[n for n, _, _ in CONSENT_WRONG])
def test_consent_wrong_answer_fails_and_says_why(consent_shipped: Lab, tmp_path: Path, act: Callable[[Lab], None],
                                                 why: str) -> None:
    result = attempt_row("17.consent", consent_shipped, tmp_path / "progress.json", act)
    assert not result and why in result.message, result


def test_consent_reference_solution_solves(consent_shipped: Lab, tmp_path: Path) -> None:
    challenge = start("17.consent", consent_shipped, progress=tmp_path / "progress.json")
    namespace: dict[str, Any] = {"lab": consent_shipped, "consent": challenge, "httpx": httpx,
                                 "urlencode": urlencode}
    *body, last = solution_source(NOTEBOOKS_DIR, "17.consent").rstrip().splitlines()
    exec(compile("\n".join(body), "solutions/17.consent.py", "exec"), namespace)  # noqa: S102 - our own reference
    result = eval(compile(last, "solutions/17.consent.py", "eval"), namespace)  # noqa: S307 - its last expression
    assert result and "MCP proxy issued for alice" in result.message and "asks the user" in result.message, result
