"""The test suite's own conventions (tests/README.md), checked so they cannot drift."""

from __future__ import annotations

import re

from ..helpers import ROOT

LITERAL_COUNT = re.compile(r"max_examples\s*=\s*\d")


def test_every_property_count_goes_through_the_budget() -> None:
    # `max_examples=examples(N)`: the unit layer caps it, the full run (CI) runs N (helpers.Budget)
    offenders = [f"{path.relative_to(ROOT)}:{number}"
                 for path in sorted((ROOT / "tests").rglob("*.py"))
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if LITERAL_COUNT.search(line) and "register_profile" not in line]
    assert not offenders, f"use max_examples=examples(N): {offenders}"
