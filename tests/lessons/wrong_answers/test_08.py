"""Challenge 08 ("Files at globex, on globex's word"): wrong answers, insecure ones first, each refused with its
reason."""

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


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab(clock=LabClock()) as running:
        yield running


def files(scopes: list[str], tenant: str | None = "globex", path: str = "/t/globex/") -> Callable[[Lab], Any]:
    def act(lab: Lab) -> None:
        token = lab.token(scopes, tenant=tenant)
        for capability in ("write_file", "read_file"):
            lab.execute(capability, ARGS, token=token, path=path)
    return act


def reloaded(change: Callable[[dict[str, Any]], None], act: Callable[[Lab], Any]) -> Callable[[Lab], Any]:
    def run(lab: Lab) -> None:
        lab.reload(lesson_config(change))
        try:
            act(lab)
        finally:
            lab.reload(default_config_path())
    return run


def globex_trusts_acme(config: dict[str, Any]) -> None:
    oauth2 = config["tenants"]["globex"]["oauth2"]
    oauth2["jwks_url"], oauth2["jwt_issuer"] = "${LAB_PROVIDER_URL}/acme/jwks", "${LAB_PROVIDER_URL}/acme"


def globex_admin_is_everything(config: dict[str, Any]) -> None:
    config["tenants"]["globex"]["scope_hierarchy"]["admin"] = ["*"]


def globex_write_implies_read(config: dict[str, Any]) -> None:
    config["tenants"]["globex"]["scope_hierarchy"]["files:write"] = ["files:read"]


# (row, act, what the refusal must say): insecure answers first
WRONG: list[tuple[str, Callable[[Lab], Any], str]] = [
    ("acme's token, globex made to trust acme's issuer",
     reloaded(globex_trusts_acme, files(["files:write", "files:read"], tenant="acme")), "cross-tenant confusion"),
    ("admin, after making admin a wildcard at globex",
     reloaded(globex_admin_is_everything, files(["admin"])), "least privilege"),
    ("files:write alone, after widening globex's hierarchy",
     reloaded(globex_write_implies_read, files(["files:write"])), "widens every token's reach"),
    ("acme's token sent to globex", files(["files:write", "files:read"], tenant="acme"), "its own issuer"),
    ("files:write alone: globex does not imply files:read", files(["files:write"]), "its own hierarchy"),
    ("the default tenant's token at the root", files(["files:write"], tenant=None, path="/"), "its own issuer"),
]


@pytest.mark.parametrize(("act", "reason"), [row[1:] for row in WRONG], ids=[row[0] for row in WRONG])
def test_wrong_answer_is_refused_with_its_reason(lab: Lab, tmp_path: Path, act: Callable[[Lab], Any],
                                                 reason: str) -> None:
    result = attempt_row("08", lab, tmp_path / "p.json", act)
    assert not result.solved and reason in result.message, result


def test_reference_solves(lab: Lab, tmp_path: Path) -> None:
    assert run_solution("08", lab, tmp_path / "p.json").solved
