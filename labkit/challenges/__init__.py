"""Lesson challenges: a goal, up to three hints, a check from the lab's own state, progress in a local file.

    from labkit.challenges import start
    challenge = start("00", lab)    # shows the goal ("10.alg_none": a sub-challenge of lesson 10)
    challenge.hint()                # the next hint (the number used is recorded)
    challenge.solution()            # the reference solution, in a new cell (recorded as viewed)
    challenge.check()               # decided from the audit log, the config or live answers; recorded when solved

Predict, then run: ``p = predict("00", "forged_admin", lab)``, ``p.answer(...)``, then ``p.reveal()``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .base import Attempt, Challenge, CheckResult, lesson_of
from .lessons import all_challenges as _all_challenges
from .mark import Mark
from .predict import Prediction, Question, Reveal, predict
from .progress import Progress, ProgressFileError, Record, default_progress_path

if TYPE_CHECKING:
    import pandas as pd

    from ..lab.runner import Lab

__all__ = ["CHALLENGES", "Attempt", "Challenge", "CheckResult", "Mark", "Prediction", "Progress", "ProgressFileError",
           "Question", "Record", "Reveal", "default_progress_path", "lesson_of", "predict", "progress_table",
           "start", "status"]


CHALLENGES: dict[str, Challenge] = _all_challenges()


def start(key: str, lab: Lab | None, *, progress: str | os.PathLike[str] | Progress | None = None) -> Attempt:
    """The challenge ``key`` ("00", "01", ..., "10.alg_none") against ``lab``. Raises ``KeyError`` for an unknown
    key, naming the known ones."""
    if key not in CHALLENGES:
        raise KeyError(f"no challenge {key!r}; challenges: {', '.join(CHALLENGES)}")
    store = progress if isinstance(progress, Progress) else Progress(progress)
    return Attempt(CHALLENGES[key], lab, store)


def status(record: Record, key: str) -> str:
    """What the learner did on ``key``: "solved", "solved, 1 hint", "solved after viewing the solution",
    "not yet, 2 hints", ..."""
    hints = record.hints.get(key, 0)
    parts = ["solved" if key in record.solved else "not yet"]
    if key in record.solution_viewed:
        parts[0] += " after viewing the solution" if key in record.solved else ", solution viewed"
    if hints:
        parts.append(f"{hints} hint" + ("s" if hints > 1 else ""))
    return ", ".join(parts)


def progress_table(progress: str | os.PathLike[str] | Progress | None = None) -> pd.DataFrame:
    """One row per challenge: its lesson, key and title, its progress in words ("solved, 1 hint"), whether solved,
    the hints used, whether the solution was viewed, and the lesson's prediction score ("3/4", on the lesson's
    first row; "" when none was made)."""
    import pandas as pd

    store = progress if isinstance(progress, Progress) else Progress(progress)
    record = store.record()
    rows, scored = [], set()
    for key, c in CHALLENGES.items():
        lesson = lesson_of(key)
        scores = [] if lesson in scored else [
            v for k, v in record.predictions.items() if lesson_of(k.split("/", 1)[0]) == lesson]
        scored.add(lesson)
        rows.append({"lesson": lesson, "key": key, "challenge": c.title, "progress": status(record, key),
                     "solved": key in record.solved, "hints": record.hints.get(key, 0),
                     "solution viewed": key in record.solution_viewed,
                     "predicted": f"{sum(s[0] for s in scores)}/{sum(s[1] for s in scores)}" if scores else ""})
    return pd.DataFrame(rows)
