"""Lesson 14's check (RFC 9449): a DPoP-bound token accepted with its proof, and refused as a stolen Bearer token."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import Reason
from .base import CheckResult

if TYPE_CHECKING:
    from ..lab import Lab

__all__ = ["check_14"]


def _bound_fingerprints(lab: Lab) -> set[str]:
    """The audit fingerprints of the access tokens the provider bound to a key (``cnf.jkt``)."""
    store = lab.provider.server(None).store
    with store.lock:
        return {h[:12] for h, record in store.tokens.items()
                if record.kind == "access" and isinstance(record.extra.get("cnf"), dict)
                and record.extra["cnf"].get("jkt")}


def check_14(lab: Lab) -> CheckResult:
    """``write_operation`` allowed for a DPoP-bound token, and that token refused when presented as Bearer."""
    bound = _bound_fingerprints(lab)
    if not bound:
        return CheckResult(False, "the provider has bound no token to a key yet: send a DPoP proof to /token")
    events = [e for e in lab.audit.events() if e.fingerprint in bound]
    missing = []
    if not any(e.method == "execute:write_operation" and e.decision == "allow" for e in events):
        missing.append("no 200 from write_operation with a DPoP-bound token in the audit log")
    if not any(e.reason == Reason.DPOP_REQUIRED for e in events):
        missing.append("no DPoP-bound token refused as a stolen Bearer token (dpop_required) in the audit log")
    if missing:
        return CheckResult(False, "; ".join(missing))
    return CheckResult(True, "a DPoP-bound token wrote with its proof, and was refused without it")
