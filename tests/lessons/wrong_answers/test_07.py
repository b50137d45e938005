"""Challenge 07, "A limit of one": wrong answers (insecure first) fail and say why; the reference solves it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labkit.challenges import start
from labkit.lab import Lab

from .reference import run_solution

pytestmark = pytest.mark.integration

OAUTH2 = {"jwks_url": "${LAB_PROVIDER_URL}/jwks", "jwt_issuer": "${LAB_PROVIDER_URL}",
          "jwt_audience": "api://oauth2-lab-agent"}
# the lesson's configuration (its first cell)
LESSON = {
    "security": {"oauth2": OAUTH2, "scope_hierarchy": {"api:write": ["api:read"]}},
    "middleware": [{"name": "timed"}, {"name": "cached", "params": {"ttl": 60}},
                   {"name": "rate_limited", "params": {"requests_per_minute": 3}}],
    "plugins": [{"plugin_id": "files", "plugin_type": "local", "oauth2_specific": {"cache_override": True}}],
}
ONE = [{"name": "rate_limited", "params": {"requests_per_minute": 1}}]


def limited(oauth2: dict[str, Any], middleware: list[dict[str, Any]]) -> dict[str, Any]:
    return {**LESSON, "security": {**LESSON["security"], "oauth2": oauth2}, "middleware": middleware}


# (name, configuration, words the refusal must contain). The first two solved the old check.
WRONG: list[tuple[str, dict[str, Any], str]] = [
    ("a limit of one, no audience", limited({k: v for k, v in OAUTH2.items() if k != "jwt_audience"}, ONE),
     "RFC 8725 §3.9"),
    ("a limit of one, no issuer", limited({k: v for k, v in OAUTH2.items() if k != "jwt_issuer"}, ONE),
     "RFC 8725 §3.8"),
    # the limit right, but the rule of a capability or the hierarchy loosened with it: each solved the check before
    ("a limit of one, write_operation opened to any caller",
     {**limited(OAUTH2, ONE), "plugins": [*LESSON["plugins"], {
         "plugin_id": "external_api", "plugin_type": "network", "required_scopes": [],
         "capabilities": [{"capability_id": "write_operation", "required_scopes": []}]}]}, "least privilege"),
    ("a limit of one, api:read made to imply admin",
     {**limited(OAUTH2, ONE), "security": {"oauth2": OAUTH2, "scope_hierarchy": {"api:write": ["api:read"],
                                                                                 "api:read": ["admin"]}}},
     "scope_hierarchy"),
    ("a limit of two", limited(OAUTH2, [{"name": "rate_limited", "params": {"requests_per_minute": 2}}]),
     "not [200, 429]: with no limit per caller"),
    ("the lesson's configuration", LESSON, "not [200, 429]: with no limit per caller"),
]


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab(LESSON) as running:
        yield running


@pytest.mark.parametrize(("document", "reason"), [w[1:] for w in WRONG], ids=[w[0] for w in WRONG])
def test_wrong_answer_fails_with_its_reason(lab: Lab, tmp_path: Path, document: dict[str, Any], reason: str) -> None:
    lab.reload(document)
    verdict = start("07", lab, progress=tmp_path / "p.json").check()
    assert not verdict.solved and reason in verdict.message, verdict


def test_the_reference_solves_it(lab: Lab, tmp_path: Path) -> None:
    attempt = start("07", lab, progress=tmp_path / "p.json")
    verdict = run_solution("07", {"lab": lab, "challenge": attempt, "config": LESSON})
    assert verdict.solved, verdict
