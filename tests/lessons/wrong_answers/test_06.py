"""Challenge 06, "Accept Auth0, pin its issuer, keep the audience": wrong answers (insecure first) fail and say
why; the reference solves it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from labkit.challenges import start
from labkit.lab import Lab
from labkit.provider import persona_issuer, persona_oauth2

from .reference import run_solution

pytestmark = pytest.mark.integration
AUDIENCE = "api://oauth2-lab-agent"


def auth0(lab: Lab, **changes: Any) -> dict[str, Any]:
    block = {**persona_oauth2("auth0", lab.provider_url, AUDIENCE), **changes}
    return {"security": {"oauth2": {k: v for k, v in block.items() if v is not None}}}


# (name, configuration for the lab, words the refusal must contain). The first two solved the old check; the
# next two (another persona's issuer beside Auth0's), an audience list naming other services, a long leeway and exp
# not required solved it after; "no audience" was refused without its reason.
WRONG: list[tuple[str, Callable[[Lab], dict[str, Any] | None], str]] = [
    ("no issuer pinned", lambda lab: auth0(lab, jwt_issuer=None), "RFC 8725 §3.8"),
    ("Auth0's issuer and the lab's", lambda lab: auth0(lab, jwt_issuer=[persona_issuer("auth0", lab.provider_url),
                                                                         lab.provider_url]), "lab's default issuer"),
    ("Auth0's issuer and Okta's", lambda lab: auth0(lab, jwt_issuer=[persona_issuer("auth0", lab.provider_url),
                                                                       persona_issuer("okta", lab.provider_url)]),
     "RFC 8725 §3.8"),
    ("Auth0's issuer and Keycloak's", lambda lab: auth0(lab, jwt_issuer=[persona_issuer("auth0", lab.provider_url),
                                                                           persona_issuer("keycloak", lab.provider_url)]),
     "RFC 8725 §3.8"),
    ("Auth0 pinned, api:read made a wildcard", lambda lab: {**auth0(lab), "security": {
        **auth0(lab)["security"], "scope_hierarchy": {"api:read": ["*"]}}}, "scope_hierarchy"),
    ("no audience", lambda lab: auth0(lab, jwt_audience=None), "RFC 8725 §3.9"),
    ("this agent's audience and others", lambda lab: auth0(lab, jwt_audience=[AUDIENCE, "api://billing",
                                                                               "https://anything.example"]),
     "RFC 8725 §3.9"),
    ("leeway of five minutes", lambda lab: auth0(lab, leeway=300), "RFC 7519 §4.1.4"),
    ("exp no longer required", lambda lab: auth0(lab, required_claims=[]), "RFC 7519 §4.1.4"),
    ("the issuer without its trailing slash", lambda lab: auth0(lab, jwt_issuer=lab.provider_url),
     "an Auth0 token answered 401"),
    ("nothing loaded", lambda lab: None, "an Auth0 token answered 401"),
]


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab() as running:
        yield running


@pytest.mark.parametrize(("document", "reason"), [w[1:] for w in WRONG], ids=[w[0] for w in WRONG])
def test_wrong_answer_fails_with_its_reason(lab: Lab, tmp_path: Path,
                                            document: Callable[[Lab], dict[str, Any] | None], reason: str) -> None:
    lab.reload(document(lab) or {"security": {"oauth2": persona_oauth2("default", lab.provider_url, AUDIENCE)}})
    verdict = start("06", lab, progress=tmp_path / "p.json").check()
    assert not verdict.solved and reason in verdict.message, verdict


def test_the_reference_solves_it(lab: Lab, tmp_path: Path) -> None:
    attempt = start("06", lab, progress=tmp_path / "p.json")
    verdict = run_solution("06", {"lab": lab, "challenge": attempt})
    assert verdict.solved, verdict
