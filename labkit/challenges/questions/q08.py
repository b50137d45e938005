"""Lesson 08's question: which tenant's validator accepts which tenant's token, by path."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..predict import Question

if TYPE_CHECKING:
    from ...lab.runner import Lab

__all__ = ["CASES", "QUESTIONS", "tenant_paths"]

CASES = (  # (item, token's tenant (None: default), scopes, path, capability or None for capabilities)
    ("acme's api:read token at /t/acme/", "acme", ("api:read",), "/t/acme/", None),
    ("acme's api:read token at /t/globex/", "acme", ("api:read",), "/t/globex/", None),
    ("the default tenant's api:read token at /t/acme/", None, ("api:read",), "/t/acme/", None),
    ("globex's api:read token at the root /", "globex", ("api:read",), "/", None),
    ("acme's admin token: write_operation at /t/acme/", "acme", ("admin",), "/t/acme/", "write_operation"),
    ("globex's admin token: write_operation at /t/globex/", "globex", ("admin",), "/t/globex/", "write_operation"),
)


def tenant_paths(lab: Lab | None) -> dict[str, str]:
    """The agent's status for each case (real tokens from each tenant's authorization server, real calls)."""
    if lab is None:
        raise ValueError("this question runs against the lab: predict('08', 'tenant_paths', lab)")
    answers = {}
    for item, tenant, scopes, path, capability in CASES:
        token = lab.token(list(scopes), tenant=tenant)
        result = (lab.execute(capability, token=token, path=path) if capability
                  else lab.call("capabilities", token=token, path=path))
        answers[item] = str(result.status)
    return answers


QUESTIONS = (
    Question(
        "tenant_paths",
        "the agent serves tenants by path (`/t/acme/`, `/t/globex/`) and, at the root, by the token's issuer. "
        "acme's hierarchy says `admin: [\"*\"]`; globex's knows only `api:read`. What does the agent answer?",
        tuple(case[0] for case in CASES),
        ("200", "401", "403"),
        tenant_paths,
    ),
)
