"""Lesson 09's challenge, "Your own hook, your own secret", and its check."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ...secret_strength import secret_problem
from ..base import Challenge, CheckResult
from ..evidence import printed_in
from ..mark import Mark
from .lesson_03 import least_privilege, shipped_rules

if TYPE_CHECKING:
    from ...a2a.webhook import Notification
    from ...lab.runner import Lab

__all__ = ["CHALLENGES", "HOOK", "check"]

HOOK = "challenge"
_SHOWN = frozenset({"my-notification-token", "challenge-token"})  # notification tokens printed in the lesson
_MIN_SECRET = 16  # characters of a notification token: a shared secret, not a label
_MIN_BYTES = 16  # random bytes its text must be able to hold (secrets.token_urlsafe(16) and up)
_SUBSCRIBE: dict[str, tuple[str, ...]] = {"message/send with a push configuration": ("api:read", "push:write")}


def _ssrf(lab: Lab) -> str | None:
    """Why the agent's push settings or deliveries reach beyond the lab's receiver, or None."""
    receiver = urlsplit(lab.webhooks.url(HOOK)).netloc
    push = lab.config.push
    # SSRF: the agent POSTs wherever a caller says; only the lab's receiver may be on the allow-list
    if set(push.allowed_hosts) - {receiver} or push.allow_private_networks:
        return f"push.allowed_hosts ({', '.join(push.allowed_hosts)}) or allow_private_networks lets a caller make " \
               "the agent POST to hosts other than the lab's receiver: that is an SSRF cannon"
    stray = next((d.url for d in lab.agent.push.deliveries if urlsplit(d.url).netloc != receiver), None)
    if stray is not None:
        return f"the agent was made to deliver to {stray}, which is not the lab's receiver: a webhook URL is a " \
               "request the agent makes for a caller (SSRF); only the receiver may get one"
    return None


def _secret(lab: Lab) -> str | None:
    """Why the receiver's notification token for the hook does not authenticate the subscriber, or None."""
    expected = lab.webhooks.tokens.get(HOOK)
    # A2A: the notification token ties each delivery to the subscription; without it any agent-signed
    # notification for this URL is taken as yours
    if expected is None:
        return f"the receiver does not check a notification token on hook {HOOK!r} (expect_token): it cannot tell " \
               "your subscription's notifications from any other the agent signs for that URL"
    if expected in _SHOWN or len(expected) < _MIN_SECRET:
        return f"the notification token on hook {HOOK!r} is printed in the lesson or shorter than {_MIN_SECRET} " \
               "characters: a shared secret must be unguessable (secrets.token_urlsafe)"
    # RFC 8725 §3.5 (one home: labkit.secret_strength): refuse what the string proves typed or built, not generated
    problem = secret_problem(expected, _MIN_BYTES)
    if problem is not None:
        return f"the notification token on hook {HOOK!r}: {problem}; whoever guesses it can have their own " \
               "notifications taken as your subscription's"
    if (where := printed_in(expected)) is not None:
        return f"the notification token on hook {HOOK!r} is printed in the lessons ({where}): a shared secret " \
               "everyone has read authenticates nobody; generate your own (secrets.token_urlsafe)"
    return None


def check(lab: Lab, mark: Mark) -> CheckResult:
    """Since start(): a ``message/send`` subscribing the hook, with a least-privilege token; the agent delivered to
    the lab's receiver, which verified the signature and an unguessable notification token; no SSRF reach."""
    why = _ssrf(lab) or _secret(lab)
    if why is not None:
        return CheckResult(False, why)
    hierarchy, _ = shipped_rules(lab)
    sends = [e for e in mark.events(lab) if e.method == "message/send" and e.decision == "allow"]
    broad = [w for e in sends if (w := least_privilege(set(e.scopes), tuple(_SUBSCRIBE), hierarchy, _SUBSCRIBE))]
    if not sends or len(broad) == len(sends):
        return CheckResult(False, broad[-1] if broad else "no message/send allowed since start(): subscribe the hook "
                                                          "with a task of your own")
    url = lab.webhooks.url(HOOK)

    def pushed_by_agent(seen: list[Notification]) -> bool:
        # a notification counts only when the agent pushed it: one the learner signed and posted proves nothing
        pushed = {d.task_id for d in lab.agent.push.deliveries if d.url == url and d.status == 200}
        return any(n.time >= mark.at and n.task_id in pushed for n in seen)

    def settled(seen: list[Notification]) -> bool:  # deliveries run in the background: wait for those in flight
        return pushed_by_agent(seen) or all(d.finished for d in lab.agent.push.deliveries if d.url == url)

    with contextlib.suppress(TimeoutError):
        lab.webhooks.wait_for(HOOK, settled, accepted=None, timeout=5)
    received = [n for n in lab.webhooks.received(HOOK) if n.time >= mark.at]
    if not received:
        return CheckResult(False, f"the receiver verified no notification on hook {HOOK!r} since start()")
    if not pushed_by_agent(received):
        return CheckResult(False, "the receiver accepted notifications the agent never delivered (no delivery of "
                                  "that task to this hook): only the agent's own push, signed with its key, counts")
    return CheckResult(True, f"the agent pushed to hook {HOOK!r}; the receiver verified its signature, audience, "
                             "freshness and your secret notification token")


CHALLENGES = (
    Challenge(
        "09",
        "Your own hook, your own secret",
        "Get the agent to push a task's updates to the lab's receiver on a hook named `challenge`, verified there "
        "with a notification token **you** generated (unguessable, not one from this lesson), subscribing with a "
        "token that carries only what subscribing needs. Only the lab's receiver may receive.",
        (
            "The receiver learns the notification token with `lab.webhooks.expect_token`; the agent learns it from "
            "your push configuration.",
            "Which scopes does `message/send` with a push configuration need? Try the narrowest, read the 403.",
            "An unguessable secret comes from a CSPRNG: the `secrets` module.",
        ),
        check,
    ),
)
