"""Challenge 05, "echo needs api:write": wrong answers (insecure first) fail and say why; the reference solves it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labkit.challenges import start
from labkit.lab import Lab

from .reference import run_solution

pytestmark = pytest.mark.integration

OAUTH2 = {"jwks_url": "${LAB_PROVIDER_URL}/jwks", "jwt_algorithms": ["RS256"], "jwt_issuer": "${LAB_PROVIDER_URL}",
          "jwt_audience": "api://oauth2-lab-agent"}
ECHO_ONLY = [{"plugin_id": "system_tools", "plugin_type": "local",
              "capabilities": [{"capability_id": "echo", "required_scopes": ["api:write"]}]}]


def config(oauth2: dict[str, Any], plugins: list[dict[str, Any]] | None = None,
           hierarchy: dict[str, list[str]] | None = None) -> dict[str, Any]:
    return {"security": {"oauth2": oauth2, "scope_hierarchy": hierarchy or {"api:write": ["api:read"]}},
            "plugins": plugins or []}


def without(key: str) -> dict[str, Any]:
    return {k: v for k, v in OAUTH2.items() if k != key}


# (name, configuration to load, words the refusal must contain). The first four solved the check before lesson
# 05 became the narrowest rule; the four that open another capability or widen the hierarchy solved it after.
WRONG: list[tuple[str, dict[str, Any] | None, str]] = [
    ("a global required_scopes (the old reference)", config({**OAUTH2, "required_scopes": ["api:write"]}),
     "least privilege"),
    ("the whole plugin", config(OAUTH2, [{"plugin_id": "system_tools", "plugin_type": "local",
                                          "required_scopes": ["api:write"]}]), "least privilege"),
    ("echo only, but no audience", config(without("jwt_audience"), ECHO_ONLY), "RFC 8725 §3.9"),
    ("echo only, but no issuer", config(without("jwt_issuer"), ECHO_ONLY), "RFC 8725 §3.8"),
    ("echo only, and the network plugin opened to any caller",
     config(OAUTH2, [*ECHO_ONLY, {"plugin_id": "external_api", "plugin_type": "network", "required_scopes": [],
                                  "capabilities": [{"capability_id": "write_operation", "required_scopes": []}]}]),
     "write_operation"),
    ("echo only, and admin_status lowered to api:read",
     config(OAUTH2, [*ECHO_ONLY, {"plugin_id": "admin", "plugin_type": "local", "required_scopes": ["api:read"]}]),
     "admin_status"),
    ("echo only, and api:write made to imply admin",
     config(OAUTH2, ECHO_ONLY, {"api:write": ["api:read", "admin"]}), "scope_hierarchy"),
    ("echo only, and api:write made a wildcard", config(OAUTH2, ECHO_ONLY, {"api:write": ["*"]}), "scope_hierarchy"),
    ("nothing loaded", None, "echo with an api:read token answered 200, not 403"),
]


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab() as running:
        yield running


@pytest.mark.parametrize(("document", "reason"), [w[1:] for w in WRONG], ids=[w[0] for w in WRONG])
def test_wrong_answer_fails_with_its_reason(lab: Lab, tmp_path: Path, document: dict[str, Any] | None,
                                            reason: str) -> None:
    lab.reload(document if document is not None else config(OAUTH2))
    verdict = start("05", lab, progress=tmp_path / "p.json").check()
    assert not verdict.solved and reason in verdict.message, verdict


def test_the_reference_solves_it(lab: Lab, tmp_path: Path) -> None:
    attempt = start("05", lab, progress=tmp_path / "p.json")
    verdict = run_solution("05", {"lab": lab, "challenge": attempt})
    assert verdict.solved, verdict
