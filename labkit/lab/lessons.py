"""Small helpers that keep lesson notebooks lean and their outputs deterministic."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..auth.jws import parse_compact
from ..errors import AuthError

if TYPE_CHECKING:
    import pandas as pd

    from ..auth import Validator
    from .runner import Lab

__all__ = ["AUDIT_COLUMNS", "LAB_AUDIENCE", "LabClock", "audit_table", "call_table", "inspect_token", "lab_jwt",
           "mask", "validator", "verdict"]

AUDIT_COLUMNS = ["decision", "reason", "status", "endpoint", "method", "subject", "scopes"]
_VOLATILE = ("jti", "iat", "exp", "nbf", "auth_time")
LAB_AUDIENCE = "api://oauth2-lab-agent"  # the sample agent's default audience


def lab_jwt(lab: Lab) -> dict[str, Any]:
    """The ``oauth2`` block that validates the lab provider's JWTs: its JWKS, RS256, its issuer, the agent's
    audience."""
    return {"jwks_url": f"{lab.provider_url}/jwks", "jwt_algorithm": "RS256", "jwt_issuer": lab.provider_url,
            "jwt_audience": LAB_AUDIENCE}


def validator(lab: Lab, oauth2: Mapping[str, Any] | None = None, **changes: Any) -> Validator:
    """A validator built from an ``oauth2`` block (default ``lab_jwt(lab)``) with ``changes`` on top, dated by
    the lab's clock: ``validator(lab, leeway=30)``; ``lab.close()`` closes it. Raises ``ConfigError`` for a block
    the config refuses."""
    from ..auth import build_validator
    from ..config import validate_security_config

    block = {**(lab_jwt(lab) if oauth2 is None else oauth2), **changes}
    return lab.own(build_validator(validate_security_config({"oauth2": block}).oauth2, clock=lab.clock))


def verdict(lab: Lab, validator: Validator, token: str, **kwargs: Any) -> str:
    """``accepted (strategy): scopes``, or ``refused: reason`` (the audit reason) for ``token``.

    ``kwargs`` go to ``validate`` (``tenant``, ...); the validation runs on the lab's event loop (``lab.run``).
    """
    try:
        principal = lab.run(validator.validate(token, **kwargs))
    except AuthError as error:
        return f"refused: {error.reason.value}"
    return f"accepted ({principal.strategy}): " + " ".join(sorted(principal.scopes))


def inspect_token(token: str, lab: Lab | None = None, *, keep_times: bool = False) -> dict[str, Any]:
    """Header and claims of a JWT, unverified, for reading only: URLs of the lab shown as ``{provider}``.

    Volatile claims (``jti``, times) are shown as ``...`` unless ``keep_times``. Raises ``AuthError`` for a
    token that is not a compact JWS.
    """
    jws = parse_compact(token)
    claims = json.loads(jws.payload)
    if not keep_times:
        claims = {k: ("..." if k in _VOLATILE else v) for k, v in claims.items()}
    text = json.dumps({"header": jws.header, "claims": claims}, sort_keys=True)
    if lab is not None:
        text = mask(text, lab)
    result: dict[str, Any] = json.loads(text)
    return result


def call_table(lab: Lab, calls: Iterable[tuple[str, str | None, str, dict[str, Any] | None, str]]) -> pd.DataFrame:
    """Run (label, token, method, params, path) calls; one row each: status, challenge, audit reason."""
    import pandas as pd

    rows = []
    for label, token, method, params, path in calls:
        answer = lab.call(method, params, token=token, path=path)
        challenge = mask(answer.response.headers.get("www-authenticate", ""), lab)
        rows.append({"call": label, "path": path, "method": method, "status": answer.status,
                     "www-authenticate": challenge, "audit reason": answer.reason})
    return pd.DataFrame(rows)


def audit_table(lab: Lab, last: int | None = None) -> pd.DataFrame:
    """The audit log's deterministic columns (no times, latencies or fingerprints)."""
    frame = lab.audit.to_dataframe()[AUDIT_COLUMNS].fillna("")
    frame = frame.assign(scopes=frame["scopes"].map(lambda s: " ".join(s)))
    return frame.tail(last).reset_index(drop=True) if last else frame


class LabClock:
    """A clock a lesson can move: ``clock.advance(seconds)``. Starts at 2026-01-01T00:00:00Z."""

    def __init__(self, start: float = 1_767_225_600) -> None:
        self.now = float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        """Move forward and return the new time."""
        self.now += seconds
        return self.now


def mask(text: str, lab: Lab) -> str:
    """Replace the lab's URLs (random ports) in ``text`` by ``{provider}``, ``{agent}``, ``{webhooks}``."""
    return (text.replace(lab.provider_url, "{provider}").replace(lab.agent_url, "{agent}")
            .replace(lab.webhooks.base_url or "\0", "{webhooks}"))
