"""Challenge 02, "Revoked means refused": wrong answers (insecure first) fail and say why; the reference solves it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from labkit.challenges import start
from labkit.lab import Lab, LabClock

from .reference import run_solution

pytestmark = pytest.mark.integration


def introspection(lab: Lab, ttl: int, hierarchy: dict[str, list[str]] | None = None) -> None:
    lab.reload({"security": {"oauth2": {
        "validation_strategy": "introspection", "introspection_endpoint": "${LAB_PROVIDER_URL}/introspect",
        "client_id": "lab-agent", "client_secret": "lab-agent-secret", "introspection_cache_ttl": ttl},
        **({"scope_hierarchy": hierarchy} if hierarchy else {})}})


def revocation_right_api_read_a_wildcard(lab: Lab) -> None:
    # every call asks the provider, but api:read now reaches every capability (this solved the check before)
    introspection(lab, 0, {"api:read": ["*"]})
    token = lab.token(["api:read"], persona="opaque")
    lab.call("capabilities", token=token)
    lab.revoke(token)
    lab.call("capabilities", token=token)


def allowed_then_revoked(lab: Lab, ttl: int) -> str:
    introspection(lab, ttl)
    token = lab.token(["api:read"], persona="opaque")
    assert lab.call("capabilities", token=token).status == 200
    lab.revoke(token)
    return token


def wait_out_the_cache(lab: Lab) -> None:
    # an hour's cache, and the clock moved past it: the log shows allow, revoke, inactive; the agent still
    # serves a revoked token for an hour (this solved the old check)
    token = allowed_then_revoked(lab, 3600)
    assert isinstance(lab.clock, LabClock)
    lab.clock.advance(3601)
    lab.call("capabilities", token=token)


def another_token_refused(lab: Lab) -> None:
    # an hour's cache; the "inactive" refusal in the log is some other token's (this solved the old check)
    allowed_then_revoked(lab, 3600)
    lab.call("capabilities", token="lab-at-never-issued")


def never_called_again(lab: Lab) -> None:
    allowed_then_revoked(lab, 0)


def jwt_not_introspection(lab: Lab) -> None:
    lab.reload({"security": {"oauth2": {"jwks_url": "${LAB_PROVIDER_URL}/jwks", "jwt_issuer": "${LAB_PROVIDER_URL}",
                                        "jwt_audience": "api://oauth2-lab-agent"}}})
    token = lab.token(["api:read"])
    lab.call("capabilities", token=token)
    lab.revoke(token)
    lab.call("capabilities", token=token)


WRONG: list[tuple[str, Callable[[Lab], Any], str]] = [
    ("an hour's cache, the clock moved past it", wait_out_the_cache, "RFC 7662 §4"),
    ("an hour's cache, another token refused", another_token_refused, "RFC 7662 §4"),
    ("revocation right, api:read a wildcard", revocation_right_api_read_a_wildcard, "scope_hierarchy"),
    ("revoked, never called again", never_called_again, "RFC 7662 §2.2"),
    ("JWTs: revocation unseen", jwt_not_introspection, "RFC 7662 §2.2"),
]


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab(clock=LabClock()) as running:
        yield running


@pytest.mark.parametrize(("act", "reason"), [w[1:] for w in WRONG], ids=[w[0] for w in WRONG])
def test_wrong_answer_fails_with_its_reason(lab: Lab, tmp_path: Path, act: Callable[[Lab], Any], reason: str) -> None:
    attempt = start("02", lab, progress=tmp_path / "p.json")
    act(lab)
    verdict = attempt.check()
    assert not verdict.solved and reason in verdict.message, verdict


def test_the_reference_solves_it(lab: Lab, tmp_path: Path) -> None:
    attempt = start("02", lab, progress=tmp_path / "p.json")
    verdict = run_solution("02", {"lab": lab, "challenge": attempt})
    assert verdict.solved, verdict


def test_work_done_before_start_does_not_count(lab: Lab, tmp_path: Path) -> None:
    token = allowed_then_revoked(lab, 0)
    lab.call("capabilities", token=token)  # the whole answer, before the challenge started
    verdict = start("02", lab, progress=tmp_path / "p.json").check()
    assert not verdict.solved and "no revoked token" in verdict.message, verdict
