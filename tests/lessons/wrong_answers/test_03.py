"""Challenge 03 ("Just enough for the job"): wrong answers, insecure ones first, each refused with its reason."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from labkit.lab import Lab, LabClock
from sample_agent import default_config_path

from .run_reference import attempt_row, lesson_config, run_solution

pytestmark = pytest.mark.integration

ARGS = {"path": "note.txt", "content": "x"}
JOB = ("get_time", "write_file", "write_operation")


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab(clock=LabClock()) as running:
        yield running


def calls(scopes: list[str], *, minted: bool = False) -> Callable[[Lab], Any]:
    def act(lab: Lab) -> None:
        token = lab.provider.mint(scopes) if minted else lab.token(scopes)
        for capability in JOB:
            lab.execute(capability, ARGS, token=token)
    return act


def widened_hierarchy(lab: Lab) -> None:
    def widen(config: dict[str, Any]) -> None:
        config["security"]["scope_hierarchy"]["files:write"] = ["files:read", "api:read"]
    lab.reload(lesson_config(widen))
    try:
        calls(["files:write"])(lab)  # now one scope "does the job": for every files:write token
    finally:
        lab.reload(default_config_path())


# (row, act, what the refusal must say): insecure answers first
WRONG: list[tuple[str, Callable[[Lab], Any], str]] = [
    ("admin", calls(["admin"]), "least privilege"),
    ("a literal * beside the right scopes", calls(["api:read", "files:write", "*"], minted=True), "least privilege"),
    ("api:write reaches write_operation too", calls(["api:write", "files:write"]), "least privilege"),
    ("api:admin", calls(["api:admin", "files:write"]), "least privilege"),
    ("a widened hierarchy instead of a grant", widened_hierarchy, "widens every token's reach"),
    ("files:write alone: no time", calls(["files:write"]), "the 200s show the grant does the job"),
    ("no 403 shown", lambda lab: [lab.execute(c, ARGS, token=lab.token(["api:read", "files:write"]))
                                  for c in JOB[:2]], "the 403 shows it stops there"),
]


@pytest.mark.parametrize(("act", "reason"), [row[1:] for row in WRONG], ids=[row[0] for row in WRONG])
def test_wrong_answer_is_refused_with_its_reason(lab: Lab, tmp_path: Path, act: Callable[[Lab], Any],
                                                 reason: str) -> None:
    result = attempt_row("03", lab, tmp_path / "p.json", act)
    assert not result.solved and reason in result.message, result


def test_reference_solves(lab: Lab, tmp_path: Path) -> None:
    assert run_solution("03", lab, tmp_path / "p.json").solved
