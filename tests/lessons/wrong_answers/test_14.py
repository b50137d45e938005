"""Challenge 14's wrong answers (insecure ones first): each fails and the refusal names the security reason; the
reference solution (``notebooks/solutions/14.py``) solves it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc.jwk import ECKey

from labkit.auth.dpop import make_proof
from labkit.challenges import Progress, start
from labkit.challenges.lessons.lesson_14 import LESSON_KEYS
from labkit.lab import Lab, LabClock

pytestmark = pytest.mark.integration

SOLUTION = Path(__file__).parents[3] / "notebooks" / "solutions" / "14.py"
TOOL = {"name": "write_operation", "arguments": {"text": "hi"}}


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab(clock=LabClock()) as running:
        yield running


def bound(lab: Lab, key: ECKey) -> str:
    url = f"{lab.provider_url}/token"
    issued = httpx.post(url, data={"grant_type": "client_credentials", "scope": "api:write"},
                        auth=("lab-client", "lab-client-secret"),
                        headers={"DPoP": make_proof(key, method="POST", url=url, iat=lab.clock())})
    return str(issued.json()["access_token"])


def tool(lab: Lab, authorization: str, proof: str | None = None, method: str = "tools/call") -> int:
    headers = {"Authorization": authorization, **({"DPoP": proof} if proof else {})}
    return lab.call(method, TOOL if method == "tools/call" else {}, path="/mcp", headers=headers).status


def proof(lab: Lab, key: ECKey, token: str, **changes: Any) -> str:
    return make_proof(key, **{"method": "POST", "url": lab.agent_url + "/mcp", "iat": lab.clock(),
                              "access_token": token, **changes})


def done_right(lab: Lab, key: ECKey) -> None:
    """Everything the goal asks, with ``key``."""
    token = bound(lab, key)
    assert tool(lab, f"DPoP {token}", proof(lab, key, token)) == 200
    assert tool(lab, f"Bearer {token}") == 401


def bearer_only(lab: Lab) -> None:
    assert tool(lab, f"Bearer {lab.token(['api:write'])}") == 200  # a bearer token writes: anyone's with a copy


def published_key(lab: Lab) -> None:
    done_right(lab, ECKey.import_key(LESSON_KEYS["client"]))


def thiefs_key(lab: Lab) -> None:
    done_right(lab, ECKey.import_key(LESSON_KEYS["thief"]))


def _own_with(lab: Lab, **changes: Any) -> None:
    key = ECKey.generate_key("P-256")
    token = bound(lab, key)
    assert tool(lab, f"DPoP {token}", proof(lab, key, token, **changes)) == 401
    assert tool(lab, f"Bearer {token}") == 401


def proof_for_another_url(lab: Lab) -> None:
    _own_with(lab, url=lab.agent_url + "/")  # the lesson's URL, sent to /mcp


def proof_for_another_method(lab: Lab) -> None:
    _own_with(lab, method="GET")


def replayed_proof(lab: Lab) -> None:
    key = ECKey.generate_key("P-256")
    token = bound(lab, key)
    once = proof(lab, key, token)
    assert tool(lab, f"DPoP {token}", once, method="tools/list") == 200
    assert tool(lab, f"DPoP {token}", once) == 401  # the same proof again: a replay
    assert tool(lab, f"Bearer {token}") == 401


def admin_minted_binding(lab: Lab) -> None:
    # cnf.jkt written by the provider's admin mint: no proof of the key ever reached /token (solved the old check)
    key = ECKey.generate_key("P-256")
    token = lab.provider.mint(["api:write"], claims={"cnf": {"jkt": key.thumbprint()}})
    assert tool(lab, f"DPoP {token}", proof(lab, key, token)) == 200
    assert tool(lab, f"Bearer {token}") == 401


def stolen_half_only(lab: Lab) -> None:
    token = bound(lab, ECKey.generate_key("P-256"))
    assert tool(lab, f"Bearer {token}") == 401


def proof_half_only(lab: Lab) -> None:
    key = ECKey.generate_key("P-256")
    token = bound(lab, key)
    assert tool(lab, f"DPoP {token}", proof(lab, key, token)) == 200


WRONG: list[tuple[Callable[[Lab], None], str]] = [
    (bearer_only, "whoever copies it"),
    (published_key, "printed in this lesson"),
    (thiefs_key, "printed in this lesson"),
    (admin_minted_binding, "admin mint"),
    (proof_for_another_url, "htu"),
    (proof_for_another_method, "htm"),
    (replayed_proof, "replayed"),
    (stolen_half_only, "no 200 from the write_operation tool"),
    (proof_half_only, "dpop_required"),
]


@pytest.mark.parametrize(("act", "why"), WRONG, ids=[act.__name__ for act, _ in WRONG])
def test_wrong_answer_fails_and_says_why(lab: Lab, tmp_path: Path, act: Callable[[Lab], None], why: str) -> None:
    attempt = start("14", lab, progress=tmp_path / "progress.json")
    act(lab)
    result = attempt.check()
    assert not result and why in result.message, result
    assert "14" not in Progress(tmp_path / "progress.json").solved()


def test_the_lessons_own_work_before_start_does_not_count(lab: Lab, tmp_path: Path) -> None:
    done_right(lab, ECKey.generate_key("P-256"))
    result = start("14", lab, progress=tmp_path / "progress.json").check()
    assert not result and "since the challenge started" in result.message, result


def test_the_reference_solution_solves(lab: Lab, tmp_path: Path) -> None:
    challenge = start("14", lab, progress=tmp_path / "progress.json")
    namespace: dict[str, Any] = {"lab": lab, "challenge": challenge, "clock": lab.clock}
    exec(compile(SOLUTION.read_text(), str(SOLUTION), "exec"), namespace)  # noqa: S102 - the repository's own file
    assert challenge.check(), challenge.check()
    assert "14" in Progress(tmp_path / "progress.json").solved()


def test_the_prediction_is_scored_against_a_real_thief(lab: Lab, tmp_path: Path) -> None:
    from labkit.challenges import predict

    question = predict("14", "thief", lab, progress=tmp_path / "progress.json")
    question.answer({"as a Bearer token": "accepted", "as DPoP, no proof": "invalid_dpop_proof",
                     "with a proof by the thief's own key": "invalid_dpop_proof"})
    revealed = question.reveal()
    assert [real for _, _, real in revealed.rows] == ["invalid_token", "invalid_dpop_proof", "invalid_dpop_proof"]
    assert revealed.right == 2
