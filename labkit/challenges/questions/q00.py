"""Lesson 00's question: what the agent answers to a token whose ``scope`` was edited to ``admin``, per signer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..predict import Question

if TYPE_CHECKING:
    from ...lab.runner import Lab

__all__ = ["QUESTIONS", "SIGNERS", "forged_admin"]

SIGNERS = ("old signature", "attacker key", "issuer key")


def forged_admin(lab: Lab | None) -> dict[str, str]:
    """The agent's status for an ``api:read`` token edited to ``scope=admin`` and signed each way (real calls)."""
    from ...widgets.token_minter import TokenMinterState

    if lab is None:
        raise ValueError("this question runs against the lab: predict('00', 'forged_admin', lab)")
    state = TokenMinterState(scopes=["api:read"])
    state.mint(lab)
    statuses = {}
    for signer in SIGNERS:
        state.edit(lab, "scope", '"admin"', signer)
        statuses[signer] = str(state.edited_status)
    return statuses


QUESTIONS = (
    Question(
        "forged_admin",
        "an `api:read` token has its `scope` claim changed to `\"admin\"`, then is signed three ways. "
        "What does the agent answer to each?",
        SIGNERS,
        ("200", "401", "403"),
        forged_admin,
    ),
)
