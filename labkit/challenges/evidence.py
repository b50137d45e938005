"""What the lessons' checks share: the lessons' fixed clock and small readings of the audit log."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from joserfc import jwt
from joserfc.errors import SecurityWarning
from joserfc.jwk import OctKey

from ..audit import AuditEvent
from .base import CheckResult

if TYPE_CHECKING:
    from ..lab.runner import Lab

__all__ = ["NOW", "audiences", "fingerprints", "hs_token", "result", "status"]

NOW = 1_767_225_600  # the lessons' fixed clock


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
