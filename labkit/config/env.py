"""``${VAR}`` and ``${VAR:default}`` substitution in configuration values (AgentUp's syntax), and the rule that an
error never repeats a substituted value.

A hostile ``agentup.yml`` could write ``issuer: ${AWS_SECRET_ACCESS_KEY}`` and read the secret back from the error
(``validate-config``, ``explain``, ``serve``, ``ConfigError``). So every substitution is recorded (path, variable,
value) and ``Substitutions.redact`` rewrites the problems before any ``ConfigError`` is built: the value, in any
form a message may quote it, becomes ``${VAR}``, and the problem says where the value came from.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .problems import Place

__all__ = ["Substitution", "Substitutions", "substitute_env"]

_PLACEHOLDER = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([^}]*))?\}")
_WORD = re.compile(r"[^\s'\",;:()\[\]{}]+")  # a run a message may have cut out of a value (a scheme, a scope)
_MIN_PART = 3  # a shorter part of a value is not redacted alone (it would blank out ordinary words)
_MIN_ANYWHERE = 4  # a value this long is redacted from every problem, not only those at its own path


@dataclass(frozen=True)
class Substitution:
    """One ``${VAR}`` replaced at ``path`` by the value of the environment variable ``variable``."""

    path: str
    variable: str
    value: str = field(repr=False)


@dataclass
class Substitutions:
    """Every substitution made while loading one document; ``redact`` applies them to its problems."""

    made: list[Substitution] = field(default_factory=list)

    def redact(self, errors: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """``errors`` with no substituted value in any path or message (each named ``${VAR}`` instead)."""
        return [self._redact(path, message) for path, message in errors]

    def redact_text(self, text: str) -> str:
        """``text`` (output about a valid config) with every substituted value of 4+ characters named ``${VAR}``."""
        for made in sorted(self.made, key=lambda m: -len(m.value)):
            if len(made.value.strip()) >= _MIN_ANYWHERE:
                text = _replace_forms(text, made.value, f"${{{made.variable}}}")
        return text

    def _redact(self, path: str, message: str) -> tuple[str, str]:
        sources: list[str] = []
        for made in sorted(self.made, key=lambda m: -len(m.value)):
            related = _related(path, made.path)
            if not (related or len(made.value.strip()) >= _MIN_ANYWHERE):
                continue
            hidden = f"${{{made.variable}}}"
            redacted = _replace_forms(message, made.value, hidden)
            path = _replace_forms(path, made.value, hidden)
            if related:  # a message at the value's own place may quote a piece of it (a scheme, one scope)
                redacted = _hide_parts(redacted, made.value, hidden)
            if redacted != message or related:
                sources.append(made.variable)
            message = redacted
        if sources:
            named = ", ".join(f"${{{name}}}" for name in dict.fromkeys(sources))
            message += f" (the value comes from {named}; it is not shown)"
        return path, message


def _related(path: str, source: str) -> bool:
    """True when a problem at ``path`` is about the value at ``source`` (the same place, inside it or around it)."""
    if path == source:
        return True
    inner, outer = (path, source) if len(path) > len(source) else (source, path)
    return not outer or (inner.startswith(outer) and inner[len(outer)] in ".[")


def _forms(value: str) -> list[str]:
    """How a message may print ``value``: as is, stripped, escaped for repr or JSON (case is ignored when matched)."""
    found = {value, value.strip(), repr(value)[1:-1], json.dumps(value)[1:-1],
             json.dumps(value, ensure_ascii=False)[1:-1]}
    return sorted((form for form in found if form), key=len, reverse=True)


def _replace_forms(text: str, value: str, hidden: str) -> str:
    for form in _forms(value):
        text = re.sub(re.escape(form), lambda _: hidden, text, flags=re.IGNORECASE)
    return text


def _hide_parts(message: str, value: str, hidden: str) -> str:
    """``message`` with every run of it that was cut out of ``value`` replaced by ``hidden``."""

    def hide(match: re.Match[str]) -> str:
        return hidden if _is_part(match.group(0), value) else match.group(0)

    return _WORD.sub(hide, message)


def _is_part(word: str, value: str) -> bool:
    """True when ``word`` (a run of a message) was cut out of ``value`` (ignoring case, quotes and escapes)."""
    core = word.strip(".!?")
    if len(core) < _MIN_PART or core.startswith("${"):
        return False
    folded = core.casefold()
    return any(folded in form.casefold() for form in _forms(value))


def substitute_env(value: Any, env: Mapping[str, str], place: Place, made: Substitutions | None = None) -> Any:
    """Return ``value`` with every placeholder in its strings replaced from ``env`` (recorded in ``made``).

    Problems (an unset variable without default, a malformed placeholder) are recorded at their
    dotted path under ``place``; the placeholder is then replaced by an empty string so
    that nothing downstream ever sees a literal ``${...}`` (AgentUp 0.7.5 signed with it).
    """
    if isinstance(value, str):
        return _substitute_string(value, env, place, made)
    if isinstance(value, Mapping):
        return {k: substitute_env(v, env, place.at(str(k)), made) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute_env(v, env, place.item(i), made) for i, v in enumerate(value)]
    return value


def _substitute_string(text: str, env: Mapping[str, str], place: Place, made: Substitutions | None) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group(1), match.group(2)
        if name in env:
            if made is not None and env[name]:
                made.made.append(Substitution(place.path, name, env[name]))
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
