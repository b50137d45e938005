"""Small helpers that keep lesson notebooks lean and their outputs deterministic."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .auth._compact import parse_compact

if TYPE_CHECKING:
    import pandas as pd

    from .lab import Lab

__all__ = ["AUDIT_COLUMNS", "LabClock", "audit_table", "call_table", "inspect_token", "mask", "run"]

AUDIT_COLUMNS = ["decision", "reason", "status", "endpoint", "method", "subject", "scopes"]
_VOLATILE = ("jti", "iat", "exp", "nbf", "auth_time")


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
        before = lab.audit.total
        response = lab.rpc(method, params, token=token, path=path)
        events = lab.audit.events() if lab.audit.total > before else []
        challenge = mask(response.headers.get("www-authenticate", ""), lab)
        rows.append({"call": label, "path": path, "method": method, "status": response.status_code,
                     "www-authenticate": challenge, "audit reason": (events[-1].reason or "") if events else ""})
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


_LOOP: Any = None


def run(coroutine: Any, timeout: float = 60) -> Any:
    """Run a coroutine from a notebook cell (Jupyter's own loop is busy running the cell).

    All lessons share one background event loop, so validators keep their HTTP clients and caches.
    """
    import asyncio
    import threading

    global _LOOP
    if _LOOP is None or _LOOP.is_closed():
        _LOOP = asyncio.new_event_loop()
        threading.Thread(target=_LOOP.run_forever, name="labkit-lessons", daemon=True).start()
    return asyncio.run_coroutine_threadsafe(coroutine, _LOOP).result(timeout)
