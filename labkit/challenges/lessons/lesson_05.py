"""Lesson 05's challenge, "echo needs api:write", and its check."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..base import Challenge, CheckResult
from ..evidence import result, status
from ..mark import Mark
from .lesson_03 import shipped_rules
from .lesson_06 import refusals

if TYPE_CHECKING:
    from ...lab.runner import Lab

__all__ = ["CHALLENGES", "check", "widened"]

_TARGET = "echo"


def widened(lab: Lab, target: str | None = _TARGET, change: str = "echo's rule") -> list[str]:
    """What the running policy grants beyond the lesson's agent as shipped, ``target``'s own rule aside (None: no
    capability may change): a capability whose scopes changed, a scope the hierarchy makes reach further (a wildcard
    included); ``change`` names what the challenge asks to change. Empty when nothing else did."""
    hierarchy, needs = shipped_rules(lab)
    running = lab.config.scope_hierarchy
    found = [f"{name} now needs {' '.join(cap.scopes) or 'no scope'}, not {' '.join(needs[name]) or 'no scope'}"
             for name, cap in lab.agent.policy.capabilities.items()
             if name != target and name in needs and set(cap.scopes) != set(needs[name])]
    for scope in sorted(set(running.mapping) | set(hierarchy.mapping)):
        reach, shipped = running.expand({scope}), hierarchy.expand({scope})
        if (reach.wildcard and not shipped.wildcard) or not (shipped.wildcard or reach <= shipped):
            extra = "every scope (*)" if reach.wildcard else ", ".join(sorted(reach - shipped))
            found.append(f"scope_hierarchy makes {scope} reach {extra}")
    if not found:
        return []
    # least privilege: the challenge's change must not change what any other capability or scope grants
    return ["; ".join(found) + f": a change beyond {change} changes what tokens may do (a lowered need lets callers "
            "in that were refused; a wider hierarchy gives a token more than it was granted); least privilege "
            f"changes {change} alone (RFC 6749 §3.3, RFC 9700 §2.3)"]


def check(lab: Lab, mark: Mark) -> CheckResult:
    """The running configuration makes ``echo``, and only ``echo``, need ``api:write``: probed live."""
    reader, writer = lab.token(["api:read"]), lab.token(["api:write"])
    read, write = status(lab, "echo", reader), status(lab, "echo", writer)
    if 401 in (read, write):
        return CheckResult(False, f"the lab's tokens get 401 from the running agent (echo: {read}, {write}): it does "
                                  "not trust this lab's provider; load a configuration with its JWKS, issuer and "
                                  "audience (section 3) before the scope rule can be seen")
    missing = [f"echo with an api:read token answered {read}, not 403"] * (read != 403)
    missing += [f"echo with an api:write token answered {write}, not 200"] * (write != 200)
    # least privilege: the rule covers echo alone; the rest keeps answering the scopes it asked for before
    neighbours = {"get_time": status(lab, "get_time", reader),
                  "capabilities": lab.call("capabilities", token=reader).status}
    broken = {name: code for name, code in neighbours.items() if code == 403}
    if broken:
        missing.append(f"an api:read token now gets {broken}: a rule wider than echo (a global required_scopes, or "
                       "one on the whole system_tools plugin) takes from every caller what only echo should need; "
                       "least privilege asks for the narrowest rule (RFC 6749 §3.3, RFC 9700 §2.3)")
    return result(missing + widened(lab) + refusals(lab),
                  "echo refuses api:read (403) and accepts api:write (200); get_time and the rest still answer "
                  "api:read: the narrowest rule")


CHALLENGES = (
    Challenge(
        "05",
        "echo needs api:write",
        "Reload the agent with a configuration under which `echo` needs `api:write` (an `api:read` token gets 403, "
        "an `api:write` token 200) and nothing else changes: `get_time`, in the same plugin, still answers `api:read`.",
        (
            "`echo` belongs to the plugin `system_tools`, with `get_time`.",
            "The builder's `required_scopes` field applies to every request, and a plugin's `required_scopes` to "
            "every capability of the plugin: both are wider than `echo`.",
            "A plugin entry can list `capabilities`, each with its own `required_scopes` (lesson 05's user file "
            "does it for `write_file`).",
        ),
        check,
    ),
)
