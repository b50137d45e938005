"""Lesson 05's challenge, "echo needs api:write", and its check."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..base import Challenge, CheckResult
from ..evidence import result, status
from ..mark import Mark

if TYPE_CHECKING:
    from ...lab import Lab

__all__ = ["CHALLENGES", "check"]


def check(lab: Lab, mark: Mark) -> CheckResult:
    """The running configuration makes ``echo`` need ``api:write``: probed live."""
    read, write = status(lab, "echo", lab.token(["api:read"])), status(lab, "echo", lab.token(["api:write"]))
    return result(
        [f"echo with an api:read token answered {read}, not 403"] * (read != 403)
        + [f"echo with an api:write token answered {write}, not 200"] * (write != 200),
        "echo refuses api:read (403) and accepts api:write (200) in the running agent",
    )


CHALLENGES = (
    Challenge(
        "05",
        "echo needs api:write",
        "Load into the lab, with the builder, a configuration under which `echo` "
        "needs `api:write`: an `api:read` token then gets 403 and an `api:write` token 200.",
        (
            "`echo` belongs to the plugin `system_tools`.",
            "The builder's `required_scopes` field applies to every request.",
            "A `plugins:` entry `{plugin_id: system_tools, required_scopes: [api:write]}` "
            "with `api:write: [api:read]`.",
        ),
        check,
    ),
)
