"""Challenge 04 ("A token for acme's MCP server"): wrong answers, insecure ones first, each refused with its reason."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from labkit.lab import Lab, LabClock
from sample_agent import default_config_path

from .run_reference import attempt_row, lesson_config, run_solution

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab(clock=LabClock()) as running:
        yield running


def resource(lab: Lab, path: str = "/t/acme/mcp") -> str:
    return str(lab.client().get(f"/.well-known/oauth-protected-resource{path}").json()["resource"])


def tools_list(token: Callable[[Lab], str], path: str = "/t/acme/mcp") -> Callable[[Lab], Any]:
    def act(lab: Lab) -> None:
        assert lab.call("tools/list", {}, token=token(lab), path=path).status == 200
    return act


def acme_trusts_the_default_issuer(lab: Lab) -> None:
    def confuse(config: dict[str, Any]) -> None:
        oauth2 = config["tenants"]["acme"]["oauth2"]
        oauth2["jwks_url"], oauth2["jwt_issuer"] = "${LAB_PROVIDER_URL}/jwks", "${LAB_PROVIDER_URL}"
    lab.reload(lesson_config(confuse))
    try:
        tools_list(lambda lab: lab.token(["api:read"], resource=resource(lab)))(lab)
    finally:
        lab.reload(default_config_path())


# (row, act, what the refusal must say): insecure answers first
WRONG: list[tuple[str, Callable[[Lab], Any], str]] = [
    ("another tenant's issuer trusted for acme", acme_trusts_the_default_issuer,
     "not issued by acme's authorization server"),
    ("acme's default audience, not the resource",
     tools_list(lambda lab: lab.token(["api:read"], tenant="acme")), "not exactly the resource"),
    ("acme's root resource, not its /mcp",
     tools_list(lambda lab: lab.token(["api:read"], tenant="acme", resource=resource(lab, "/t/acme/"))),
     "not exactly the resource"),
    ("an audience list: the resource and another service",
     tools_list(lambda lab: lab.provider.mint(["api:read"], tenant="acme",
                                              audience=[resource(lab), "api://oauth2-lab-agent"])),
     "not exactly the resource"),
    ("the right audience, minted by the provider instead of requested",
     tools_list(lambda lab: lab.provider.mint(["api:read"], tenant="acme", audience=resource(lab))),
     "not obtained by your own request"),
    ("the default tenant's /mcp resource, accepted at the root /mcp",
     tools_list(lambda lab: lab.token(["api:read"], resource=resource(lab, "/mcp")), path="/mcp"), "no 200 on"),
    # the right issuer and audience, but more than tools/list needs: each solved the check before it judged scope
    ("an admin token for the resource",
     tools_list(lambda lab: lab.token(["admin"], tenant="acme", resource=resource(lab))), "least privilege"),
    ("api:write for the resource",
     tools_list(lambda lab: lab.token(["api:write"], tenant="acme", resource=resource(lab))), "least privilege"),
    ("nothing done", lambda lab: None, "no 200 on /t/acme/mcp"),
]


@pytest.mark.parametrize(("act", "reason"), [row[1:] for row in WRONG], ids=[row[0] for row in WRONG])
def test_wrong_answer_is_refused_with_its_reason(lab: Lab, tmp_path: Path, act: Callable[[Lab], Any],
                                                 reason: str) -> None:
    result = attempt_row("04", lab, tmp_path / "p.json", act)
    assert not result.solved and reason in result.message, result


def test_reference_solves(lab: Lab, tmp_path: Path) -> None:
    assert run_solution("04", lab, tmp_path / "p.json").solved
