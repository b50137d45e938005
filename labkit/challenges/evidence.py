"""What the lessons' checks share: the lessons' fixed clock and small readings of the audit log."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from joserfc import jwt
from joserfc.errors import SecurityWarning
from joserfc.jwk import OctKey

from ..audit import AuditEvent
from ..provider.personas import PERSONAS, persona_issuer
from .base import CheckResult

if TYPE_CHECKING:
    from ..lab.runner import Lab

__all__ = ["ELSEWHERE", "EXPIRED_AGO", "NOW", "audiences", "fingerprints", "hs_token", "other_issuers",
           "printed_in", "result", "status"]

NOW = 1_767_225_600  # the lessons' fixed clock
EXPIRED_AGO = 60  # seconds since a probe token expired: no clock skew excuses that (RFC 7519 §4.1.4)
ELSEWHERE = "https://issuer.elsewhere.example"  # an issuer nobody configured, signing with the lab's keys


def other_issuers(provider_url: str, persona: str = "default") -> list[str]:
    """Every issuer a token signed with the lab's keys could name, other than ``persona``'s: the lab's other JWT
    personas and one nobody configured (a pinned issuer refuses them all)."""
    others = {persona_issuer(p, provider_url) for p in PERSONAS if p != "github"} | {ELSEWHERE}
    return sorted(others - {persona_issuer(persona, provider_url)})


def printed_in(secret: str) -> str | None:
    """The shipped lesson file (a notebook or a reference solution) whose text holds ``secret``, else None: a value
    printed in the course is known to everyone who read it."""
    from ..lab.workspace import shipped_lessons

    if len(secret) < 8:  # shorter ones are refused for their length before this is asked
        return None
    folder = shipped_lessons()
    for path in sorted([*folder.glob("*.ipynb"), *folder.glob("solutions/*.py")]):
        if secret in path.read_text(encoding="utf-8", errors="replace"):
            return path.relative_to(folder).as_posix()
    return None


def fingerprints(events: Iterable[AuditEvent]) -> dict[str, list[AuditEvent]]:
    seen: dict[str, list[AuditEvent]] = {}
    for event in events:
        if event.fingerprint:
            seen.setdefault(event.fingerprint, []).append(event)
    return seen


def result(missing: list[str], done: str) -> CheckResult:
    return CheckResult(False, "; ".join(missing)) if missing else CheckResult(True, done)


def hs_token(secret: str, alg: str, claims: dict[str, Any]) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)
        return jwt.encode({"alg": alg, "typ": "at+jwt"}, claims, OctKey.import_key(secret.encode()), algorithms=[alg])


def audiences(audience: str | list[str] | None) -> list[str]:
    return [audience] if isinstance(audience, str) else list(audience or ())


def status(lab: Lab, capability: str, token: str) -> int:
    return lab.execute(capability, {"text": "hi"}, token=token).status
