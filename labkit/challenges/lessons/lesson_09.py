"""Lesson 09's challenge, "Your own hook", and its check."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..base import Challenge, CheckResult
from ..mark import Mark

if TYPE_CHECKING:
    from ...lab import Lab

__all__ = ["CHALLENGES", "check"]


def check(lab: Lab, mark: Mark) -> CheckResult:
    """A verified push notification received on the hook ``challenge``."""
    try:
        lab.webhooks.wait_for("challenge", timeout=5)
    except TimeoutError:
        return CheckResult(False, "no verified notification on the hook 'challenge' (lab.webhooks.url('challenge'))")
    return CheckResult(True, "the receiver verified a notification on the hook 'challenge'")


CHALLENGES = (
    Challenge(
        "09",
        "Your own hook",
        "Get a push notification delivered to, and verified by, the lab's receiver on a hook named `challenge`.",
        (
            "`lab.webhooks.url('challenge')` is the URL to give the agent.",
            "The receiver checks the notification token you announce with `expect_token`.",
            "Send `message/send` with `configuration.pushNotificationConfig` = {url, token}.",
        ),
        check,
    ),
)
