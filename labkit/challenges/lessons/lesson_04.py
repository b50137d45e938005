"""Lesson 04's challenge, "A token for this resource", and its check."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..base import Challenge, CheckResult
from ..evidence import audiences
from ..mark import Mark

if TYPE_CHECKING:
    from ...lab import Lab

__all__ = ["CHALLENGES", "check"]


def check(lab: Lab, mark: Mark) -> CheckResult:
    """``tools/list`` on /mcp allowed for a token whose ``aud`` is the advertised /mcp resource."""
    resource = f"{lab.agent_url}/mcp"
    bound = {
        h[:12] for h, r in mark.new_tokens(lab).items() if r.kind == "access" and resource in audiences(r.audience)
    }
    if not bound:
        return CheckResult(False, "the provider issued no token for the resource {agent}/mcp yet")
    if any(e.fingerprint in bound and e.endpoint == "/mcp" and e.decision == "allow" for e in mark.events(lab)):
        return CheckResult(True, "a token bound to the advertised resource was accepted on /mcp")
    return CheckResult(False, "a resource-bound token was issued but has not been accepted on /mcp yet")


CHALLENGES = (
    Challenge(
        "04",
        "A token for this resource",
        "Get a token whose audience is the `resource` the agent advertises for "
        "`/mcp` (RFC 9728), and get a 200 from `tools/list` with it.",
        (
            "The metadata is at `/.well-known/oauth-protected-resource/mcp`.",
            "`lab.token(..., resource=...)` sends RFC 8707's `resource` parameter.",
            "`lab.token(['api:read'], resource=metadata['resource'])`",
        ),
        check,
    ),
)
