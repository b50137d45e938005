"""Lesson 02's question: what a revoked opaque token gets, right after its revocation, per cache setting."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..predict import Question

if TYPE_CHECKING:
    from ...lab.runner import Lab

__all__ = ["QUESTIONS"]

_ITEMS = ("cache 60 s", "cache 60 s, fresh=True", "cache 0 s")


def _after_revocation(lab: Lab | None) -> dict[str, str]:
    """A token validated once by each validator, revoked, then validated again at once (real introspection)."""
    from ...lab.lessons import validator, verdict

    if lab is None:
        raise ValueError("this question runs against the lab: predict('02', 'revoked', lab)")
    settings: dict[str, Any] = {
        "validation_strategy": "introspection", "introspection_endpoint": f"{lab.provider_url}/introspect",
        "client_id": "lab-agent", "client_secret": "lab-agent-secret", "introspection_cache_ttl": 60}
    cached, uncached = validator(lab, settings), validator(lab, settings, introspection_cache_ttl=0)
    token = lab.token(["api:read"], persona="opaque")
    for each in (cached, uncached):
        verdict(lab, each, token)
    lab.revoke(token)
    seen = (verdict(lab, cached, token), verdict(lab, cached, token, fresh=True), verdict(lab, uncached, token))
    return {item: "accepted" if v.startswith("accepted") else "refused" for item, v in zip(_ITEMS, seen, strict=True)}


QUESTIONS = (
    Question(
        "revoked",
        "an opaque token is accepted once, then revoked at the provider. Validated again **right away**, what "
        "does each validator say?",
        _ITEMS,
        ("accepted", "refused"),
        _after_revocation,
    ),
)
