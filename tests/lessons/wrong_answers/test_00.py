"""Lesson 00's wrong answers, insecure ones first: each fails and the refusal names the security reason; the
reference solution (``notebooks/solutions/00.py``) solves it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from labkit.challenges import start
from labkit.lab import Lab
from labkit.lab.notebooks import NOTEBOOKS_DIR, solution_source
from labkit.widgets.token_minter import TokenMinterState

pytestmark = pytest.mark.integration
WRITE = {"capability": "write_operation"}


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab(clock=lambda: 1_767_225_600) as running:
        yield running


def write(lab: Lab, token: str | None) -> None:
    lab.rpc("execute", WRITE, token=token)


def forged_write_token(lab: Lab) -> str:
    """An ``api:read`` token whose scope is changed to ``api:write`` and re-signed with the attacker's own key."""
    state = TokenMinterState(scopes=["api:read"])
    state.mint(lab)
    state.edit(lab, "scope", '"api:write"', "attacker key")
    assert state.edited is not None
    return state.edited


WRONG: list[tuple[str, Callable[[Lab], None], str]] = [
    # insecure: more privilege than the call needs, or a token the provider never issued
    ("the 200 from an admin token", lambda lab: (write(lab, lab.token(["api:read"])), write(lab, lab.token(["admin"]))),
     "least privilege asks for the scope the 403 named"),
    # more than the 403 named, without admin: each solved the check when it looked for admin alone
    ("the 200 from an api:admin token", lambda lab: (write(lab, lab.token(["api:read"])),
                                                     write(lab, lab.token(["api:admin"]))),
     "least privilege asks for the scope the 403 named"),
    ("the 200 from api:write plus files:write", lambda lab: (write(lab, lab.token(["api:read"])),
                                                             write(lab, lab.token(["api:write", "files:write"]))),
     "least privilege asks for the scope the 403 named"),
    ("a forged api:write token", lambda lab: (write(lab, lab.token(["api:read"])), write(lab, forged_write_token(lab))),
     "a changed token fails its signature"),
    # 401 is not 403
    ("no token instead of a 403", lambda lab: (write(lab, None), write(lab, lab.token(["api:write"]))),
     "that is authentication, not the authorization"),
    ("a garbage token instead of a 403", lambda lab: (write(lab, "not-a-token"), write(lab, lab.token(["api:write"]))),
     "that is authentication, not the authorization"),
    # the wrong call, or only half of it
    ("403 and 200 from another capability", lambda lab: (
        lab.rpc("execute", {"capability": "write_file", "path": "a.txt", "content": "x"}, token=lab.token(["api:read"])),
        lab.rpc("execute", {"capability": "echo", "text": "hi"}, token=lab.token(["api:read"]))),
     "a 403 answers a valid token that lacks the scope"),
    ("only the 403", lambda lab: write(lab, lab.token(["api:read"])), "only a token the provider issued with the scope"),
    ("only the 200", lambda lab: write(lab, lab.token(["api:write"])), "a 403 answers a valid token that lacks"),
]


@pytest.mark.parametrize(("act", "why"), [pytest.param(act, why, id=name) for name, act, why in WRONG])
def test_a_wrong_answer_fails_and_says_why(lab: Lab, tmp_path: Path, act: Callable[[Lab], None], why: str) -> None:
    challenge = start("00", lab, progress=tmp_path / "progress.json")
    act(lab)
    verdict = challenge.check()
    assert not verdict.solved and why in verdict.message, verdict


def test_work_done_before_start_does_not_count(lab: Lab, tmp_path: Path) -> None:
    write(lab, lab.token(["api:read"]))
    write(lab, lab.token(["api:write"]))
    verdict = start("00", lab, progress=tmp_path / "progress.json").check()
    assert not verdict.solved and "since start()" in verdict.message


def test_the_reference_solution_solves_it(lab: Lab, tmp_path: Path) -> None:
    challenge = start("00", lab, progress=tmp_path / "progress.json")
    namespace = {"lab": lab, "challenge": challenge}
    exec(compile(solution_source(NOTEBOOKS_DIR, "00"), "solutions/00.py", "exec"), namespace)  # noqa: S102
    assert challenge.check().solved
    assert "00" in challenge.progress.solved()


def test_the_prediction_is_scored_against_the_real_outcome(lab: Lab, tmp_path: Path) -> None:
    from labkit.challenges import Progress, predict

    p = predict("00", "forged_admin", lab, progress=tmp_path / "progress.json")
    p.answer({"old signature": "401", "attacker key": "200", "issuer key": "200"})
    revealed = p.reveal()
    assert [real for _, _, real in revealed.rows] == ["401", "401", "200"]
    assert repr(revealed).startswith("predicted 2/3")
    assert Progress(tmp_path / "progress.json").record().predictions == {"00/forged_admin": (2, 3)}
