"""The provider's signing algorithms have one home (``labkit.algorithms.PROVIDER_ALGORITHMS``): no module spells
the list again (issue 25)."""

from __future__ import annotations

import ast
from pathlib import Path

import labkit

_LIST = {"RS256", "ES256", "EdDSA"}


def _spellings() -> list[str]:
    """Every tuple or list literal in labkit/ and sample_agent/ made of exactly the provider's algorithm names."""
    root = Path(labkit.__file__).parent.parent
    found = []
    for path in sorted([*root.joinpath("labkit").rglob("*.py"), *root.joinpath("sample_agent").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Tuple | ast.List) and node.elts and all(
                    isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
                if {e.value for e in node.elts if isinstance(e, ast.Constant)} == _LIST:
                    found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def test_the_signing_algorithm_list_is_spelled_once() -> None:
    spellings = _spellings()
    assert len(spellings) == 1 and spellings[0].startswith("labkit/algorithms.py"), spellings


def test_every_user_reads_the_one_list() -> None:
    from labkit import algorithms
    from labkit.lab import downstream
    from labkit.provider import keys, rfc7523

    assert keys.SIGNING_ALGORITHMS is algorithms.PROVIDER_ALGORITHMS
    assert tuple(rfc7523._ALGORITHMS) == algorithms.PROVIDER_ALGORITHMS
    oauth2 = downstream.downstream_config("http://127.0.0.1:1")["security"]["oauth2"]
    assert tuple(oauth2["jwt_algorithms"]) == algorithms.PROVIDER_ALGORITHMS
    assert all(algorithms.TABLE[name].kty != "oct" for name in algorithms.PROVIDER_ALGORITHMS)
