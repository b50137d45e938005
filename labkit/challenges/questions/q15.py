"""Lesson 15's question: which of the weak agent's weaknesses ``labkit probe`` catches (the probe compares the
agent with its own policy; the grader's hidden checks attack what the policy itself gets wrong)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..predict import Question

if TYPE_CHECKING:
    from ...lab.runner import Lab

__all__ = ["QUESTIONS", "WEAKNESSES", "probe_catches"]

# each weakness, and the probe's token kinds that would expose it if they were answered against the policy
WEAKNESSES = {
    "no audience": ("wrong audience",),
    "issuer not pinned": ("other issuer",),
    "leeway 300 s": ("expired",),
    'admin: ["*"]': (),
    "introspection cache 3600 s": ("revoked",),
    "no downstream scope": (),
    "no rate limit on external_api": (),
}


def probe_catches(lab: Lab | None) -> dict[str, str]:
    """The weak configuration loaded into the lab's agent and probed (``capstone``'s probe): a weakness is caught
    when a token kind that exposes it was answered against the policy."""
    from ...lab.capstone import WEAK_CONFIG, load_capstone, probe_mismatches

    if lab is None:
        raise ValueError("this question runs against the lab: predict('15', 'probe_catches', lab)")
    load_capstone(lab, WEAK_CONFIG)
    wrong = probe_mismatches(lab)
    return {item: "caught" if set(kinds) & wrong else "missed" for item, kinds in WEAKNESSES.items()}


QUESTIONS = (
    Question(
        "probe_catches",
        "`labkit probe` sends tokens (none, expired, forged, unsigned, `api:read`, `admin`) to every endpoint and "
        "compares each answer with what the agent's **own policy** says. Run against the weak `agentup.yml`, "
        "which of its weaknesses does it catch?",
        tuple(WEAKNESSES),
        ("caught", "missed"),
        probe_catches,
    ),
)
