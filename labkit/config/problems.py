"""The problems collector: every configuration problem as (dotted path, message), gathered in one pass.

``problems.at("security.oauth2").at("leeway").add("...")`` records one problem; ``Problems.errors`` is what
``ConfigError`` receives. Paths are built here only, so every message names the place the user wrote.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Place", "Problems", "did_you_mean", "join", "type_name"]


def join(prefix: str, key: str) -> str:
    """``prefix.key`` (or ``key`` at the root)."""
    return f"{prefix}.{key}" if prefix else key


def type_name(value: Any) -> str:
    """How a message names the type of a value the user wrote."""
    return {type(None): "nothing", str: "a string", int: "a number", float: "a number", bool: "a boolean",
            list: "a list", dict: "a mapping"}.get(type(value), type(value).__name__)


def did_you_mean(word: str, choices: Iterable[str], *, case_insensitive: bool = False) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or an empty string."""
    options = list(choices)
    if case_insensitive:
        for option in options:
            if option.lower() == word.lower():
                return f" (did you mean {option!r}? names are case-sensitive)"
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Problems:
    """An ordered list of (path, message) problems; ``at(path)`` names where the next ones are."""

    def __init__(self, errors: Iterable[tuple[str, str]] = ()) -> None:
        self.errors: list[tuple[str, str]] = list(errors)

    def at(self, path: str) -> Place:
        """The place ``path`` in this collector."""
        return Place(self, path)

    def add(self, path: str, message: str) -> None:
        """Record one problem at ``path``."""
        self.errors.append((path, message))

    def mark(self) -> int:
        """A position: ``since(mark)`` and ``relocate`` apply to the problems recorded after it."""
        return len(self.errors)

    def since(self, mark: int) -> list[tuple[str, str]]:
        """The problems recorded after ``mark``."""
        return self.errors[mark:]

    def relocate(self, mark: int, rewrite: Callable[[str], str]) -> None:
        """Rewrite the paths of the problems recorded after ``mark`` (a part moved while normalizing)."""
        self.errors[mark:] = [(rewrite(path), message) for path, message in self.errors[mark:]]

    def __bool__(self) -> bool:
        return bool(self.errors)

    def __len__(self) -> int:
        return len(self.errors)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.errors)


@dataclass(frozen=True)
class Place:
    """A config path inside a ``Problems`` collector."""

    problems: Problems
    path: str

    def at(self, key: str) -> Place:
        """The place of ``key`` under this one (``path.key``)."""
        return Place(self.problems, join(self.path, key))

    def item(self, index: int) -> Place:
        """The place of list item ``index`` under this one (``path[index]``)."""
        return Place(self.problems, f"{self.path}[{index}]")

    def add(self, message: str) -> None:
        """Record one problem here."""
        self.problems.add(self.path, message)

    def unknown_keys(self, mapping: Mapping[str, Any], known: Iterable[str]) -> None:
        """One problem per key of ``mapping`` not in ``known``, with a "did you mean" when one is close."""
        names = tuple(known)
        for key in mapping:
            if key not in names:
                self.at(str(key)).add(f"unknown key {key!r}" + did_you_mean(str(key), names))
