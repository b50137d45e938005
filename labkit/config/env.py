"""``${VAR}`` and ``${VAR:default}`` substitution in configuration values (AgentUp's syntax)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .problems import Place

__all__ = ["substitute_env"]

_PLACEHOLDER = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([^}]*))?\}")


def substitute_env(value: Any, env: Mapping[str, str], place: Place) -> Any:
    """Return ``value`` with every placeholder in its strings replaced from ``env``.

    Problems (an unset variable without default, a malformed placeholder) are recorded at their
    dotted path under ``place``; the placeholder is then replaced by an empty string so
    that nothing downstream ever sees a literal ``${...}`` (AgentUp 0.7.5 signed with it).
    """
    if isinstance(value, str):
        return _substitute_string(value, env, place)
    if isinstance(value, Mapping):
        return {k: substitute_env(v, env, place.at(str(k))) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute_env(v, env, place.item(i)) for i, v in enumerate(value)]
    return value


def _substitute_string(text: str, env: Mapping[str, str], place: Place) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        place.add(f"environment variable {name} is not set and has no default; set it (or use ${{{name}:default}})")
        return ""

    result = _PLACEHOLDER.sub(replace, text)
    # Anything still shaped like a placeholder was malformed (e.g. "${1X}", "${X" or "${}").
    leftover = _PLACEHOLDER.sub("", text)
    if "${" in leftover:
        place.add("malformed ${...} placeholder; use ${NAME} or ${NAME:default} (write $$ for a literal $)")
        return ""
    return result
