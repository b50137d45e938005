"""Run a lesson's reference solution (``notebooks/solutions/<key>.py``) as the notebook would, in a namespace of the
names the lesson defined; its last expression (the check call) is the verdict."""

from __future__ import annotations

import ast
from typing import Any

from labkit.challenges import CheckResult
from labkit.lab.notebooks import NOTEBOOKS_DIR, solution_source

__all__ = ["run_solution"]


def run_solution(key: str, namespace: dict[str, Any]) -> CheckResult:
    """Execute solution ``key`` in ``namespace``; the value of its last expression (a ``CheckResult``)."""
    path = f"solutions/{key}.py"
    tree = ast.parse(solution_source(NOTEBOOKS_DIR, key), path)
    last = tree.body.pop()
    assert isinstance(last, ast.Expr), f"{path} must end with the check call"
    exec(compile(tree, path, "exec"), namespace)  # noqa: S102 - the repository's own reference solution
    verdict = eval(compile(ast.Expression(last.value), path, "eval"), namespace)  # noqa: S307 - same file
    assert isinstance(verdict, CheckResult), verdict
    return verdict
