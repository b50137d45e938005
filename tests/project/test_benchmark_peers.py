"""``benchmarks/peers.py`` runs end to end with tiny counts and prints every figure of issue 25 item 7.

A smoke test only: it asserts that the figures are printed (and that the peers' servers gave the expected
answers, which the script checks before it measures), never what they are: no timing assertion.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from ..helpers import ROOT

pytestmark = pytest.mark.integration


def test_peers_prints_the_three_figures_for_both_trees() -> None:
    # --against a folder (this checkout) exercises the second side without a git export
    command = [sys.executable, str(ROOT / "benchmarks" / "peers.py"), "--against", str(ROOT), "--rounds", "1",
               "--inner-rounds", "1", "--n", "20", "--mcp-rounds", "1", "--driver", "httpx", "--requests", "6",
               "--connections", "2", "--cold-tokens", "8", "--labkit", "labkit", "--no-baseline"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert out.count("labkit/PyJWT ") == 4 and out.count("labkit/raw verify ") == 4  # 2 shapes x 2 trees
    assert out.count("added by the guard") == 2
    assert out.count("PyJWT/labkit ") == 4  # the auth stack in process: warm and cold x 2 trees
    for case in ("warm", "cold"):
        assert out.count(f"/ PyJWT, {case}: req/s") == 2, out
    table = out.split("(c) MCP server", 1)[1].split(" / PyJWT, ", 1)[0]
    rows = [line.split() for line in table.splitlines() if line.endswith(tuple("0123456789"))]
    assert len(rows) == 6, table  # PyJWT, labkit on this tree, labkit on the other side; warm and cold
    assert all(row[-2] == "0" for row in rows), table  # every request answered 200
