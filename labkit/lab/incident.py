"""Lesson 11's incident: a leaked client secret used against the agent, as a real lab run and its audit log.

``report-bot`` is a nightly report service: a confidential client that may ask for broad scopes but only ever
calls ``get_time`` with ``api:read``. Its secret leaked (``LEAKED_SECRET``). ``write_incident`` replays the
day on a real ``Lab`` (provider, agent, tokens from the token endpoint, the auth code flow for alice) on the
lessons' clock and writes the agent's audit events as JSON lines: the file shipped with the lessons
(``INCIDENT_LOG``). Made deterministic, and nothing else changed: times are the lab clock's (a few seconds
between calls), fingerprints are replaced by stable labels (real ones hash tokens that differ on every run),
latencies, request ids and timing details are dropped. ``stage`` leaves the attacker's live tokens in a
learner's lab, to revoke.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..audit import AuditEvent
from ..provider.models import Client
from .calls import request_token
from .workspace import shipped_lessons

if TYPE_CHECKING:
    from .runner import Lab

__all__ = ["ATTACK", "CLIENT", "INCIDENT_LOG", "LEAKED_SECRET", "SCOPES", "START", "TRUTH", "label", "register",
           "stage", "write_incident"]

CLIENT = "report-bot"
LEAKED_SECRET = "rb-nightly-2025-secret-from-a-public-repo"  # noqa: S105 - PUBLIC, LAB-ONLY: the leaked one
SCOPES = ("api:read", "api:write", "files:read", "files:write")  # what report-bot may ask for (too much)
INCIDENT_LOG = shipped_lessons() / "forensics" / "incident.jsonl"
START = 1_767_258_000  # 2026-01-01T09:00:00Z on the lessons' clock

# What the attacker tried, in order: (capability or A2A method, arguments)
ATTACK: tuple[tuple[str, dict[str, Any] | None], ...] = (
    ("capabilities", None),
    ("list_files", {}),
    ("read_file", {"path": "reports/q4.txt"}),
    ("admin_status", {}),
    ("write_file", {"path": "reports/q4.txt", "content": "pay to IBAN XX00 0000"}),
    ("write_operation", {"record": {"transfer": "XX00 0000"}}),
    ("tasks/pushNotificationConfig/set", {"taskId": "t-1", "pushNotificationConfig": {"url": "http://10.0.0.9/x"}}),
)

# The answer to lesson 11's questions, as the shipped file holds it (tests/lessons/test_incident.py regenerates it)
TRUTH: dict[str, Any] = {
    "client_id": CLIENT,
    "fingerprint": "d78cb0bb73f8",  # label(3): the fourth token seen
    "first_seen": 1_767_258_385.0,  # 2026-01-01T09:06:25Z
    "endpoints": frozenset({"capabilities", "execute:list_files", "execute:read_file", "execute:admin_status",
                            "execute:write_file", "execute:write_operation", "tasks/pushNotificationConfig/set"}),
    "victim_fingerprint": "f10c18f2f478",  # label(0): report-bot's own nightly token, the service's traffic
    "first_deny": 1_767_258_391.0,  # the first refusal: later than the first request
}


def label(n: int) -> str:
    """The stable fingerprint written for the ``n``-th token seen in the run (12 hex digits, like a real one)."""
    return hashlib.sha256(f"lesson 11 incident token {n}".encode()).hexdigest()[:12]


def register(lab: Lab) -> Client:
    """Register report-bot at the lab provider with its (leaked) secret."""
    return lab.provider.register_client(Client(CLIENT, LEAKED_SECRET, scopes=SCOPES, name="nightly report service"))


def _token(lab: Lab, scopes: tuple[str, ...]) -> str:
    return request_token(f"{lab.provider_url}/token", CLIENT, LEAKED_SECRET, scopes)


def _call(lab: Lab, method: str, arguments: dict[str, Any] | None, token: str) -> None:
    if method == "capabilities":
        lab.call("capabilities", token=token)
    elif "/" in method:
        lab.call(method, arguments, token=token)
    else:
        lab.execute(method, arguments, token=token)


def stage(lab: Lab) -> None:
    """The attacker still active in ``lab``: report-bot registered with the leaked secret, its nightly token and
    the attacker's broad one issued by the token endpoint, each used once. Nothing is revoked or rotated."""
    register(lab)
    _call(lab, "get_time", {}, _token(lab, ("api:read",)))
    attacker = _token(lab, SCOPES)
    for method, arguments in ATTACK[:2]:
        _call(lab, method, arguments, attacker)


def _day(lab: Lab, advance: Callable[[float], float]) -> None:
    """The scripted day: routine traffic, the attack from 09:06:25, routine traffic again."""
    from ..flows.delegation import user_token

    register(lab)
    nightly = _token(lab, ("api:read",))
    service = lab.token(["api:read"])
    alice = user_token(lab, user="alice", scopes=("api:read", "files:read"))
    for minute in range(7):
        advance(60 if minute else 0)
        _call(lab, "get_time", {}, nightly)
        _call(lab, "echo", {"text": f"ping {minute}"}, service)
        if minute % 3 == 1:
            _call(lab, "list_files", {}, alice)
    advance(23)
    attacker = _token(lab, SCOPES)  # 09:06:23: the leaked secret, all the scopes report-bot may ask for
    for method, arguments in ATTACK:
        advance(2)
        _call(lab, method, arguments, attacker)
    for minute in range(4):
        advance(60)
        _call(lab, "get_time", {}, nightly)
        _call(lab, "echo", {"text": f"ping {minute + 7}"}, service)


def _normalised(events: list[AuditEvent], times: list[float]) -> list[AuditEvent]:
    labels: dict[str, str] = {}
    out = []
    for event, at in zip(events, times, strict=True):
        fingerprint = labels.setdefault(event.fingerprint, label(len(labels))) if event.fingerprint else None
        detail = "" if event.detail.startswith("capability_ms") else event.detail
        out.append(dataclasses.replace(event, time=at, fingerprint=fingerprint, latency_ms=None, request_id=None,
                                       detail=detail))
    return out


def write_incident(path: str | os.PathLike[str]) -> list[AuditEvent]:
    """Replay the incident on a fresh lab (the lessons' clock) and write its audit log to ``path``; the events."""
    from .lessons import LabClock
    from .runner import Lab

    clock = LabClock(START)
    times: list[float] = []
    with Lab(clock=clock) as lab:
        seen = lab.audit.total

        def advance(seconds: float) -> float:
            times.extend([clock()] * (lab.audit.total - seen - len(times)))  # events so far: the time they had
            return clock.advance(seconds)

        _day(lab, advance)
        advance(0)
        events = _normalised(lab.audit.since(seen), times)
    with open(path, "w", encoding="utf-8") as out:
        out.writelines(event.to_json() + "\n" for event in events)
    return events
