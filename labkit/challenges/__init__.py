"""Lesson challenges: a goal, up to three hints, a check from the lab's own state, progress in a local file.

    from labkit.challenges import start
    challenge = start("00", lab)    # shows the goal
    challenge.hint()                # the next hint
    challenge.check()               # decided from the audit log, the config or live answers; recorded when solved
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .base import Attempt, Challenge, CheckResult
from .lessons import all_challenges
from .mark import Mark
from .progress import Progress, ProgressFileError, default_progress_path

if TYPE_CHECKING:
    import pandas as pd

    from ..lab import Lab

__all__ = ["CHALLENGES", "Attempt", "Challenge", "CheckResult", "Mark", "Progress", "ProgressFileError",
           "default_progress_path",
           "progress_table", "start"]


CHALLENGES: dict[str, Challenge] = all_challenges()


def start(lesson: str, lab: Lab | None, *, progress: str | os.PathLike[str] | Progress | None = None) -> Attempt:
    """The challenge of ``lesson`` ("00", "01", ...) against ``lab``. Raises ``KeyError`` for an unknown lesson."""
    if lesson not in CHALLENGES:
        raise KeyError(f"no challenge for lesson {lesson!r}; lessons: {', '.join(CHALLENGES)}")
    store = progress if isinstance(progress, Progress) else Progress(progress)
    return Attempt(CHALLENGES[lesson], lab, store)


def progress_table(progress: str | os.PathLike[str] | Progress | None = None) -> pd.DataFrame:
    """One row per lesson: its challenge and whether it is solved (from the progress file)."""
    import pandas as pd

    store = progress if isinstance(progress, Progress) else Progress(progress)
    solved = store.solved()
    return pd.DataFrame([{"lesson": c.lesson, "challenge": c.title, "solved": c.lesson in solved}
                         for c in CHALLENGES.values()])
