"""A challenge: a goal, up to three hints, and a check that reads the lab's own state (never the learner's word)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .mark import Mark
from .progress import Progress, ProgressFileError
from .report import board_reporter

if TYPE_CHECKING:
    from ..lab.runner import Lab

__all__ = ["Attempt", "Challenge", "CheckResult", "lesson_of"]


def _ipython() -> Any:
    """The running IPython shell with a kernel (a notebook), else None (plain Python, a terminal IPython)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with the lab
        return None
    shell = get_ipython()
    return shell if shell is not None and getattr(shell, "kernel", None) is not None else None


@dataclass(frozen=True)
class CheckResult:
    """The verdict of a check: solved or not, and what was seen (or is still missing)."""

    solved: bool
    message: str

    def __repr__(self) -> str:
        return ("solved: " if self.solved else "not yet: ") + self.message

    def __bool__(self) -> bool:
        return self.solved


@dataclass(frozen=True)
class Challenge:
    """One lesson's challenge. ``check(lab, mark, **answer)`` decides from the lab (audit log, config, answers of
    the running servers, files the learner wrote) since ``mark`` (``start()``'s ``Mark``: nothing the lesson did
    before counts); ``answer`` carries an artifact to test, never a claim."""

    lesson: str  # the challenge key: "00", or "10.alg_none" for a sub-challenge of lesson 10
    title: str
    goal: str
    hints: tuple[str, ...]
    check: Callable[..., CheckResult] = field(repr=False)

    def __post_init__(self) -> None:
        if not 1 <= len(self.hints) <= 3:
            raise ValueError(f"challenge {self.lesson}: one to three hints")

    @property
    def key(self) -> str:
        """The challenge key (``"00"``, ``"10.alg_none"``)."""
        return self.lesson


def lesson_of(key: str) -> str:
    """The lesson a challenge key belongs to: the part before the dot (``"10.alg_none"`` -> ``"10"``)."""
    return key.split(".", 1)[0]


class Attempt:
    """A challenge being tried against one lab: ``hint()`` gives the next hint, ``check()`` decides and records."""

    def __init__(self, challenge: Challenge, lab: Lab | None, progress: Progress) -> None:
        self.challenge, self.lab, self.progress = challenge, lab, progress
        self.mark = Mark.take(lab) if lab is not None else None  # only what happens from now on counts
        self._hints_shown = 0

    def hint(self) -> str:
        """The next hint (up to three), then a note that there are no more."""
        hints = self.challenge.hints
        if self._hints_shown >= len(hints):
            return f"no more hints ({len(hints)} given)"
        self._hints_shown += 1
        note = self._recorded(lambda: self.progress.hints_used(self.challenge.key, self._hints_shown))
        self._report()
        return f"hint {self._hints_shown}/{len(hints)}: {hints[self._hints_shown - 1]}{note}"

    def check(self, **answer: Any) -> CheckResult:
        """Decide from the lab's state; a solved challenge is recorded in the progress file."""
        if self.lab is None or self.mark is None:
            return CheckResult(False, "this challenge needs the running lab: start('NN', lab)")
        try:  # an unexpected or missing keyword is the learner's: say which answers this check takes
            inspect.signature(self.challenge.check).bind(self.lab, self.mark, **answer)
        except TypeError as exc:
            return CheckResult(False, f"this check does not take that answer ({exc})")
        result = self.challenge.check(self.lab, self.mark, **answer)  # its own errors are bugs: never disguised
        if result.solved:
            self.progress.mark(self.challenge.lesson)
        self._report(result.message)
        return result

    def solution(self) -> str:
        """The reference solution, put into a new cell below when a notebook kernel runs this (else returned to
        print); records that the solution was viewed. Raises ``FileNotFoundError`` when none ships, ``ValueError``
        for a key that is not a challenge key."""
        from ..lab.notebooks import solution_source
        from ..lab.workspace import shipped_lessons

        text = solution_source(shipped_lessons(), self.challenge.key)
        note = self._recorded(lambda: self.progress.solution_viewed(self.challenge.key))
        self._report()
        shell = _ipython()
        if shell is None:
            return text
        shell.set_next_input(f"# The reference solution of challenge {self.challenge.key}:\n"
                             + text.rstrip("\n"), replace=False)
        return f"the reference solution of challenge {self.challenge.key} is in the new cell below{note}"

    def _report(self, feedback: str | None = None) -> None:
        """Tell the class's board (under a labkit classroom) this challenge's state; never in the lesson's way."""
        reporter = board_reporter()
        if reporter.enabled:
            try:
                record = self.progress.record()
            except ProgressFileError:
                return  # the file's problem is said where it is used
            reporter.report(self.challenge.key, record, feedback)

    @staticmethod
    def _recorded(record: Callable[[], None]) -> str:
        """Run ``record``; a progress file that cannot be used is said, never in the way of a hint or a solution."""
        try:
            record()
        except ProgressFileError as exc:
            return f" (not recorded: {exc})"
        return ""

    def card(self) -> Any:
        """This challenge as a widget (goal, Hint and Check buttons): a ``labkit.challenges.card.ChallengeCard``."""
        from .card import ChallengeCard

        return ChallengeCard(self)

    def __repr__(self) -> str:
        c = self.challenge
        return (f"Challenge {c.lesson} · {c.title}\n{c.goal}\n"
                f"({len(c.hints)} hints: .hint() · when done: .check() · the reference: .solution())")
