"""Lesson 11's challenge, "Investigate the incident": find the attack in the shipped audit log, then contain it in
the lab (revoke what the leaked secret obtained, rotate the secret); the check reads the provider's state."""

from __future__ import annotations

import datetime as dt
import numbers
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ...lab.calls import TokenRequestError, request_token
from ...lab.incident import CLIENT, LEAKED_SECRET, TRUTH
from ...secret_strength import secret_problem
from ..base import Challenge, CheckResult
from ..evidence import printed_in
from ..mark import Mark

if TYPE_CHECKING:
    from ...lab.runner import Lab

__all__ = ["CHALLENGES", "check", "epoch"]

_SECRET_BYTES = 16  # RFC 6749 §10.10: a guess succeeds with probability at most 2^-128


def epoch(value: Any) -> float | None:
    """A time as seconds since the epoch: a number, a ``datetime`` (pandas' Timestamp is one) or an ISO 8601
    string (``Z`` or an offset; naive means UTC); None when it is none of these."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Real):  # numpy's numbers too (pandas reads the log's times as int64)
        return float(value)
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp()
    return None


def _blank(value: Any) -> bool:
    """None or an empty str/list/tuple/set (never ``bool()`` of an answer: a numpy array has no truth value)."""
    return value is None or (isinstance(value, str | list | tuple | set | frozenset) and not value)


def _text(value: Any) -> str | None:
    """An answer as a plain ``str`` (a subclass's own comparisons never reach the check), else None."""
    return str.__str__(value) if isinstance(value, str) else None


def _findings(client_id: Any, fingerprint: Any, first_seen: Any, endpoints: Any) -> list[str]:
    """What is wrong in the answer about the log, each with why it matters for the response."""
    # compare plain strings: an answer object that says it equals everything claims every value at once
    client_id, fingerprint = _text(client_id), _text(fingerprint)
    wrong: list[str] = []
    if client_id != TRUTH["client_id"]:
        wrong.append(f"client_id {client_id!r} is not the client whose credentials were abused: look for a client "
                     "whose token suddenly holds more scopes and tries endpoints it never used (you rotate the "
                     "secret of the client you name here)")
    if fingerprint == TRUTH["victim_fingerprint"]:
        wrong.append("that fingerprint is report-bot's own nightly token (the service's routine get_time, the "
                     "victim's traffic): the attacker used the same client id with another token")
    elif fingerprint != TRUTH["fingerprint"]:
        wrong.append(f"fingerprint {fingerprint!r} is not the attacker's token: it is the token whose events "
                     "differ from the client's routine")
    seen = epoch(first_seen)
    if seen is not None and abs(seen - TRUTH["first_deny"]) < 1:
        wrong.append("first_seen is the first refusal; the attacker's first requests were allowed and came "
                     "earlier: the window of exposure starts at the first request, not at the first alarm")
    elif seen is None or abs(seen - TRUTH["first_seen"]) >= 1:
        wrong.append("first_seen is not when the attacker's token was first used (a time in seconds since the "
                     "epoch or ISO 8601, as the log's time field)")
    named = {t for e in endpoints if (t := _text(e)) is not None} \
        if isinstance(endpoints, Iterable) and not isinstance(endpoints, str) else set()
    missing, extra = TRUTH["endpoints"] - named, named - TRUTH["endpoints"]
    if missing or extra:
        wrong.append("endpoints: " + "; ".join(
            ([f"missing {len(missing)} (count what was allowed too: allowed calls are what leaked)"] if missing
             else []) + ([f"{len(extra)} not the attacker's: {', '.join(sorted(map(str, extra))[:3])}"] if extra
                         else [])) + " (name them as the log's method field)")
    return wrong


def _contained(lab: Lab, mark: Mark) -> list[str]:
    """What is left of the attacker's access in the lab: live tokens from before the challenge, the old secret."""
    store = lab.provider.server(None).store
    left: list[str] = []
    with store.lock:
        client = store.clients.get(CLIENT)
        live = [r for h, r in store.tokens.items()
                if h in mark.tokens and r.client_id == CLIENT and not r.is_revoked() and not r.is_expired()]
    if client is None:
        return [f"{CLIENT} is gone: deleting the client stops the nightly service too; rotate its secret instead "
                "(and run lesson 11's stage(lab) again)"]
    # RFC 6749 §10.10: the new credential must be unguessable, or the attacker guesses it instead of stealing it
    if client.client_secret is None:
        left.append(f"{CLIENT} now has no secret: a confidential service turned public authenticates nobody at /token; "
                    "rotate to a new secret from a random generator (secrets.token_urlsafe(32))")
    elif client.client_secret != LEAKED_SECRET and (
            problem := secret_problem(str(client.client_secret), _SECRET_BYTES)) is not None:
        left.append(f"{CLIENT}'s new secret: {problem}; a client secret must come from a random generator, or the "
                    "attacker guesses what they can no longer steal (RFC 6749 §10.10)")
    elif client.client_secret != LEAKED_SECRET and (where := printed_in(str(client.client_secret))) is not None:
        left.append(f"{CLIENT}'s new secret is printed in the lessons ({where}): whoever read it holds it, the "
                    "attacker too; rotate to one only you generated (RFC 6749 §10.10)")
    if live:
        left.append(f"{len(live)} token(s) issued with the leaked secret are still active: rotating a secret does "
                    "not touch tokens already issued; revoke them (RFC 7009 §2.1)")
    try:
        request_token(f"{lab.provider_url}/token", CLIENT, LEAKED_SECRET, ("api:read",))
        left.append("the leaked secret still gets new tokens from /token: revoking alone lets the attacker mint "
                    "fresh ones; rotate report-bot's secret (RFC 6749 §10.1: the secret authenticates whoever holds "
                    "it, the attacker too)")
    except TokenRequestError:
        pass
    return left


def check(lab: Lab, mark: Mark, client_id: Any = None, fingerprint: Any = None, first_seen: Any = None,
          endpoints: Any = None) -> CheckResult:
    """The answer names the attack as the shipped log holds it, and the lab holds no access left from it."""
    if all(_blank(v) for v in (client_id, fingerprint, first_seen, endpoints)):  # the lesson's empty answer
        return CheckResult(False, "answer from the log: check(client_id=..., fingerprint=..., first_seen=..., "
                                  "endpoints=[...]), after revoking and rotating")
    wrong = _findings(client_id, fingerprint, first_seen, endpoints)
    if wrong:
        return CheckResult(False, "; ".join(wrong))
    left = _contained(lab, mark)
    if left:
        return CheckResult(False, "you found the attack, but it is not contained: " + "; ".join(left))
    return CheckResult(True, f"{CLIENT}'s leaked secret: {len(TRUTH['endpoints'])} endpoints tried from "
                             "09:06:25Z; its tokens revoked and its secret rotated")


CHALLENGES = (
    Challenge(
        "11",
        "Investigate the incident",
        "In `forensics/incident.jsonl`, find the attack: which client's credentials, which token (fingerprint), "
        "when it was first used, which endpoints it tried. Then contain it in the lab: revoke what the leaked "
        "secret obtained and rotate the secret. Answer with `check(client_id=..., fingerprint=..., "
        "first_seen=..., endpoints=[...])`.",
        (
            "Group the events by fingerprint: a token that holds more scopes than its client's routine, and tries "
            "many endpoints in seconds, is the one to follow.",
            "Containment has two halves: the tokens already issued (the provider's records of that client, "
            "`lab.provider.server().store.tokens`) and the credential that mints new ones "
            "(`lab.provider.register_client`).",
            "`dataclasses.replace(client, client_secret=...)` with a CSPRNG secret is a rotation; a record's "
            "`revoked` flag is what RFC 7009 sets.",
        ),
        check,
    ),
)
