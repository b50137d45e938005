"""Lesson 04's question: a few cells of the tokens x endpoints matrix, predicted before the matrix runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..predict import Question

if TYPE_CHECKING:
    from ...lab.runner import Lab

__all__ = ["CELLS", "QUESTIONS", "matrix_cells"]

CELLS = (  # (token, endpoint) as the EndpointTester names them
    ("none", "capabilities"),
    ("expired", "protected resource"),
    ("alg none", "mcp tools/list"),
    ("api:write", "execute write_file"),
    ("files:write", "mcp write_file"),
    ("literal *", "execute echo"),
)


def _item(token: str, endpoint: str) -> str:
    return f"{token} → {endpoint}"


def matrix_cells(lab: Lab | None) -> dict[str, str]:
    """The agent's status for each predicted cell, probed now (the EndpointTester's tokens and endpoints)."""
    from ...probe.matrix import default_endpoints, default_tokens, run_probe

    if lab is None:
        raise ValueError("this question runs against the lab: predict('04', 'matrix', lab)")
    tokens = [t for t in default_tokens(lab) if t.name in {token for token, _ in CELLS}]
    endpoints = [e for e in default_endpoints() if e.name in {endpoint for _, endpoint in CELLS}]
    result = run_probe(lab, tokens, endpoints)
    actual = {(row.token, row.endpoint): str(row.actual) for row in result.itertuples()}
    return {_item(token, endpoint): actual[(token, endpoint)] for token, endpoint in CELLS}


QUESTIONS = (
    Question(
        "matrix",
        "six cells of the decision matrix: a token (row) sent to an endpoint (column). `expired` carries `admin` "
        "but expired a minute ago; `alg none` is unsigned; `literal *` is a token whose `scope` claim is `*`. "
        "What does the agent answer in each cell?",
        tuple(_item(token, endpoint) for token, endpoint in CELLS),
        ("200", "401", "403"),
        matrix_cells,
    ),
)
