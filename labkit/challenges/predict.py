"""Predict, then run: a question the learner answers before running something, then the real outcome and a score.

    p = predict("00", "forged_admin", lab)     # shows the question
    p.answer({"old signature": "401", ...})    # the learner's own cell: nothing is pre-filled
    p.reveal()                                 # the real outcome, compared and scored; the score is recorded

A lesson's questions live in ``labkit/challenges/questions/qNN.py`` (its ``QUESTIONS``), found by that name.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .progress import Progress

if TYPE_CHECKING:
    from ..lab.runner import Lab

__all__ = ["Prediction", "Question", "Reveal", "predict"]


@dataclass(frozen=True)
class Question:
    """What to predict: ``text`` (Markdown, trusted lesson text), the ``items`` to predict (one answer each) from
    ``choices``, and ``outcome(lab, **inputs)``: the real answer of each item, computed from the running lab."""

    id: str
    text: str
    items: tuple[str, ...]
    choices: tuple[str, ...]
    outcome: Callable[..., Mapping[str, str]] = field(repr=False)

    def __post_init__(self) -> None:
        if not self.items or not self.choices or len(set(self.items)) != len(self.items):
            raise ValueError(f"question {self.id}: name one or more distinct items and the choices")


@dataclass(frozen=True)
class Reveal:
    """The real outcome next to the prediction: per item (prediction or None, outcome), and the score."""

    key: str
    question: str
    rows: tuple[tuple[str, str | None, str], ...]

    @property
    def right(self) -> int:
        """How many items were predicted right."""
        return sum(1 for _, guess, real in self.rows if guess == real)

    @property
    def predicted(self) -> bool:
        """Whether a prediction was made."""
        return any(guess is not None for _, guess, _ in self.rows)

    def __repr__(self) -> str:
        head = (f"predicted {self.right}/{len(self.rows)}" if self.predicted
                else "no prediction made (answer with .answer(...) before .reveal() to be scored); the real outcome:")
        lines = [f"{item}: {real}" + ("" if guess is None else f" (you said {guess}"
                                        f"{', right' if guess == real else ''})") for item, guess, real in self.rows]
        return head + "\n" + "\n".join("  " + line for line in lines)

    def _repr_html_(self) -> str:
        head, _, rest = repr(self).partition("\n")
        return f"<b>{html.escape(head)}</b><pre>{html.escape(rest)}</pre>"


class Prediction:
    """A question being predicted against one lab: ``answer()`` takes the prediction, ``reveal()`` scores it."""

    def __init__(self, key: str, question: Question, lab: Lab | None, progress: Progress) -> None:
        self.key, self.question, self.lab, self.progress = key, question, lab, progress
        self._answer: dict[str, str] | None = None

    def answer(self, prediction: str | Mapping[str, str]) -> str:
        """Take the prediction: one choice for a one-item question, else a mapping item -> choice for every item.

        Raises ``ValueError`` naming the items and choices when the prediction does not fit the question.
        """
        q = self.question
        given = {q.items[0]: prediction} if isinstance(prediction, str) and len(q.items) == 1 else prediction
        if not isinstance(given, Mapping):
            raise ValueError(f"answer with a dict naming every item (items: {', '.join(map(repr, q.items))}; "
                             f"choices: {', '.join(map(repr, q.choices))})")
        unknown = [k for k in given if k not in q.items]
        missing = [k for k in q.items if k not in given]
        bad = [f"{k!r}: {v!r}" for k, v in given.items() if k in q.items and v not in q.choices]
        if unknown or missing or bad:
            raise ValueError("; ".join(
                part for part in (f"unknown items {unknown}" if unknown else "",
                                  f"missing items {missing}" if missing else "",
                                  f"not a choice: {', '.join(bad)}" if bad else "") if part)
                + f" (items: {', '.join(map(repr, q.items))}; choices: {', '.join(map(repr, q.choices))})")
        self._answer = {str(k): str(v) for k, v in given.items()}
        return f"prediction taken for {len(self._answer)} item(s); now run, then reveal()"

    def reveal(self, **inputs: Any) -> Reveal:
        """The real outcome (computed now from the lab, ``inputs`` passed to the question's ``outcome``), compared
        with the prediction; a made prediction's score is recorded in progress. Raises ``ProgressFileError``."""
        real = self.question.outcome(self.lab, **inputs)
        guesses = self._answer or {}
        revealed = Reveal(self.key, self.question.id,
                          tuple((item, guesses.get(item), str(real[item])) for item in self.question.items))
        if revealed.predicted:
            self.progress.predicted(self.key, self.question.id, revealed.right, len(revealed.rows))
        return revealed

    def __repr__(self) -> str:
        q = self.question
        return (f"Predict ({self.key} · {q.id}): {q.text}\n"
                + "\n".join(f"  {item}: ?" for item in q.items)
                + f"\nchoices: {', '.join(q.choices)} · answer in a cell of your own with .answer(...), "
                + "then run the cells below and .reveal()")

    def _repr_markdown_(self) -> str:
        q = self.question
        rows = "\n".join(f"| {html.escape(item)} | ? |" for item in q.items)
        return (f"**Predict** ({self.key} · {q.id}): {q.text}\n\n| item | your prediction |\n|---|---|\n{rows}\n\n"
                f"Choices: {', '.join(f'`{c}`' for c in q.choices)}. Answer in a cell of your own with "
                f"`.answer(...)`, then run the cells below and `.reveal()`.")


def predict(key: str, question_id: str, lab: Lab | None = None, *,
            progress: str | os.PathLike[str] | Progress | None = None) -> Prediction:
    """Question ``question_id`` of challenge key ``key``'s lesson, to predict against ``lab``.

    Raises ``KeyError`` naming the known questions for an unknown lesson or question.
    """
    from .base import lesson_of
    from .questions import questions_of

    found = questions_of(lesson_of(key))
    if question_id not in found:
        raise KeyError(f"no question {question_id!r} for lesson {lesson_of(key)}; "
                       f"questions: {', '.join(found) or 'none'}")
    store = progress if isinstance(progress, Progress) else Progress(progress)
    return Prediction(key, found[question_id], lab, store)
