"""Run a lesson's reference solution (``notebooks/solutions/<key>.py``) as the notebook harness does, and the rows of
a wrong-answer table: each row acts after its own ``start()``, then the check must refuse and say why."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from labkit.challenges import CheckResult, start
from labkit.lab import Lab
from labkit.lab.notebooks import NOTEBOOKS_DIR, solution_source
from sample_agent import default_config_path

__all__ = ["attempt_row", "lesson_config", "run_solution"]

def run_solution(key: str, lab: Lab, progress: Path, **names: Any) -> CheckResult:
    """Execute the reference of ``key`` in a namespace holding ``lab``, ``challenge`` (just started) and ``names``;
    its last line is the learner's check call: its verdict is returned."""
    challenge = start(key, lab, progress=progress)
    namespace: dict[str, Any] = {"lab": lab, "challenge": challenge, **names}
    source = solution_source(NOTEBOOKS_DIR, key)
    *body, last = source.rstrip().splitlines()
    exec(compile("\n".join(body), f"solutions/{key}.py", "exec"), namespace)  # noqa: S102 - our own reference file
    result = eval(compile(last, f"solutions/{key}.py", "eval"), namespace)  # noqa: S307 - its last expression
    assert isinstance(result, CheckResult), f"solutions/{key}.py must end with the check call"
    return result


def attempt_row(key: str, lab: Lab, progress: Path, act: Callable[[Lab], Any], **answer: Any) -> CheckResult:
    """Start ``key``, do ``act``, check: one row of a wrong-answer table (nothing before the start counts)."""
    challenge = start(key, lab, progress=progress)
    act(lab)
    return challenge.check(**answer)


def lesson_config(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """The lesson's agent configuration (``sample_agent/agentup.yml``) as a mapping, changed by ``change``."""
    config: dict[str, Any] = yaml.safe_load(default_config_path().read_text())
    change(config)
    return config
