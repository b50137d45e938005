"""Lesson 07's challenge, "A limit of one", and its check."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..base import Challenge, CheckResult
from ..mark import Mark

if TYPE_CHECKING:
    from ...lab import Lab

__all__ = ["CHALLENGES", "check"]


def check(lab: Lab, mark: Mark) -> CheckResult:
    """A fresh caller gets 200 then 429 from ``write_operation``: probed live."""
    subject = f"challenge-07-{time.monotonic_ns()}"
    token = lab.provider.mint(["api:write"], claims={"sub": subject})
    answers = [lab.execute("write_operation", token=token) for _ in range(2)]
    statuses = [a.status for a in answers]
    if statuses != [200, 429]:
        return CheckResult(False, f"two calls of write_operation by a new caller answered {statuses}, not [200, 429]")
    retry_after = answers[1].response.headers.get("retry-after")
    return CheckResult(True, f"the second call is limited (Retry-After: {retry_after})")


CHALLENGES = (
    Challenge(
        "07",
        "A limit of one",
        "Reload the agent so that a new caller gets 200 on its first `write_operation` and 429 on its second.",
        (
            "The limit is `rate_limited`'s `requests_per_minute`.",
            "It counts per principal: the check uses a caller nobody has used before.",
            "`{'name': 'rate_limited', 'params': {'requests_per_minute': 1}}`",
        ),
        check,
    ),
)
