"""Lesson 12's question: which registrations the provider's dynamic registration policy accepts (RFC 7591)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..predict import Question

if TYPE_CHECKING:
    from ...lab.runner import Lab

__all__ = ["ATTEMPTS", "QUESTIONS"]

# what each registration asks for (the lesson's section 3 sends these)
ATTEMPTS: dict[str, dict[str, Any]] = {
    "native app on loopback": {"redirect_uris": ["http://127.0.0.1/callback"], "token_endpoint_auth_method": "none"},
    "web redirect elsewhere": {"redirect_uris": ["https://evil.example/callback"]},
    "localhost by name": {"redirect_uris": ["http://localhost:8000/callback"]},
    "password grant": {"grant_types": ["password"], "redirect_uris": ["http://127.0.0.1/cb"]},
    "asks for admin only": {"scope": "admin", "redirect_uris": ["http://127.0.0.1/cb"]},
    "asks for admin and api:read": {"scope": "admin api:read", "redirect_uris": ["http://127.0.0.1/cb"]},
}


def _registrations(lab: Lab | None, statuses: Mapping[str, int] | None = None) -> dict[str, str]:
    """The provider's status for each attempt: ``statuses`` the lesson's cell observed, else sent now (real calls).

    Raises ``ValueError`` without a lab or observed statuses.
    """
    if statuses is None:
        import httpx

        if lab is None:
            raise ValueError("this question runs against the lab: predict('12', 'registration', lab)")
        statuses = {name: httpx.post(lab.provider_url + "/register", json=body, timeout=10).status_code
                    for name, body in ATTEMPTS.items()}
    return {name: str(statuses[name]) for name in ATTEMPTS}


QUESTIONS = (
    Question(
        "registration",
        "six clients try to register at `/register` (bodies in the next cells). Which does the provider's policy "
        "accept (`201`) and which does it refuse (`400`)?",
        tuple(ATTEMPTS),
        ("201", "400"),
        _registrations,
    ),
)
