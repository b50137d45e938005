"""Lesson 10's question: which rule of the REAL agent (its audit reason) refuses each classic attack first."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..predict import Question

if TYPE_CHECKING:
    from ...lab.runner import Lab

__all__ = ["QUESTIONS", "REASONS", "real_rules"]

REASONS = ("algorithm", "header", "signature", "audience", "expired")


def _attacks(lab: Lab) -> dict[str, Callable[[], str]]:
    """Each attack's token, built against the real agent's provider (``labkit.provider.unsafe``, not lesson 10's
    tools: the reveal never touches the vulnerable agent, so it solves none of the sub-challenges)."""
    from ...provider import unsafe

    provider = lab.provider
    return {
        "alg: none": lambda: unsafe.unsafe_alg_none(provider),
        "HS256 with the published key": lambda: unsafe.unsafe_hs256_with_public_key(provider),
        "kid: ../../dev/null": lambda: unsafe.unsafe_kid(provider),
        "jku: the attacker's keys": lambda: unsafe.unsafe_url_header(provider, "jku"),
        "minted for another service": lambda: provider.mint(["admin"], audience="api://another-service"),
        "expired": lambda: provider.mint(["admin"], lifetime=-60),
        "payload edited, old signature": lambda: unsafe.unsafe_tamper_payload(provider.mint(["api:read"]),
                                                                               scope="admin"),
    }


def real_rules(lab: Lab | None) -> dict[str, str]:
    """The real agent's audit reason for each attack (real calls to ``admin_status``)."""
    if lab is None:
        raise ValueError("this question runs against the lab: predict('10', 'real_rules', lab)")
    return {name: str(lab.execute("admin_status", token=token()).reason) for name, token in _attacks(lab).items()}


QUESTIONS = (
    Question(
        "real_rules",
        "Each classic attack below is sent to the **real** agent (no weakness). Which rule refuses it first, as "
        "its audit reason says: `algorithm`, `header`, `signature`, `audience` or `expired`?",
        ("alg: none", "HS256 with the published key", "kid: ../../dev/null", "jku: the attacker's keys",
         "minted for another service", "expired", "payload edited, old signature"),
        REASONS,
        real_rules,
    ),
)
