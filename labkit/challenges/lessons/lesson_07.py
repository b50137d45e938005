"""Lesson 07's challenge, "A limit of one", and its check."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..base import Challenge, CheckResult
from ..evidence import result
from ..mark import Mark
from .lesson_05 import widened
from .lesson_06 import refusals

if TYPE_CHECKING:
    from ...lab.runner import Lab

__all__ = ["CHALLENGES", "check"]


def check(lab: Lab, mark: Mark) -> CheckResult:
    """A fresh caller gets 200 then 429 (with ``Retry-After``) from ``write_operation``, and another fresh caller
    still gets 200 after it: the limit counts per principal. Probed live."""
    first, second = (f"challenge-07-{time.monotonic_ns()}-{n}" for n in ("a", "b"))
    token = lab.provider.mint(["api:write"], claims={"sub": first})
    answers = [lab.execute("write_operation", token=token) for _ in range(2)]
    statuses = [a.status for a in answers]
    if statuses != [200, 429]:
        # OWASP API4:2023: a network plugin spends someone else's resources per call; RFC 6585 §4 is the 429
        return CheckResult(False, f"two calls of write_operation by a new caller answered {statuses}, not [200, 429]: "
                                  "with no limit per caller one token drives the network plugin as fast as it can "
                                  "(OWASP API4:2023, RFC 6585 §4)")
    missing = []
    retry_after = answers[1].response.headers.get("retry-after")
    if not retry_after:
        missing.append("the 429 carries no Retry-After: a client cannot tell when to come back and retries at once "
                       "(RFC 6585 §4, RFC 9110 §10.2.3)")
    # a limit shared by every caller lets one token lock everyone out: the budget is each principal's own
    other = lab.execute("write_operation", token=lab.provider.mint(["api:write"], claims={"sub": second})).status
    if other != 200:
        missing.append(f"another new caller then answered {other}, not 200: the limit is shared, so one caller's "
                       "traffic denies service to everyone; count it per principal")
    return result(missing + widened(lab, None, "the rate limit") + refusals(lab),
                  f"the second call is limited (429, Retry-After: {retry_after}) for that caller only; another caller "
                  "keeps its own budget")


CHALLENGES = (
    Challenge(
        "07",
        "A limit of one",
        "Reload the agent so that a new caller gets 200 on its first `write_operation` and 429 (with `Retry-After`) "
        "on its second, while another caller keeps its own budget; the agent still checks issuer and audience.",
        (
            "The limit is `rate_limited`'s `requests_per_minute`.",
            "It counts per principal: the check uses callers nobody has used before.",
            "Keep the lesson's `security` block (issuer, audience) and change only the `rate_limited` entry of "
            "`middleware`.",
        ),
        check,
    ),
)
