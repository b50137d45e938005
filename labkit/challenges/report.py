"""A learner's progress, told to the class's board when the lab runs under a labkit classroom (JupyterHub).

The hub gives each learner's server ``JUPYTERHUB_API_TOKEN`` (the learner's own token, with the scope to report)
and ``JUPYTERHUB_USER``; the classroom's configuration adds ``LABKIT_BOARD_URL``. With all three, each check, hint
and solution view sends the challenge's state (solved, hints used, solution viewed, the check's feedback) to the
board; without them nothing is sent. The progress file stays the record: a board that cannot be reached never
breaks a lesson, and says so once (on stderr), not at every check.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from .progress import Record

__all__ = ["BoardReporter", "board_reporter"]

_TIMEOUT = 3.0  # seconds a report may take before the lesson goes on without it


class BoardReporter:
    """Sends one challenge's state to the board (``report``); ``enabled`` only with the three variables above."""

    def __init__(self, env: Mapping[str, str] | None = None, *, transport: httpx.BaseTransport | None = None) -> None:
        env = os.environ if env is None else env
        self.url = env.get("LABKIT_BOARD_URL", "")
        self.user = env.get("JUPYTERHUB_USER", "")
        self._token = env.get("JUPYTERHUB_API_TOKEN", "")
        self.enabled = bool(self.url and self.user and self._token)
        self._transport = transport
        self.failed = False  # said once; the next failures are silent

    def report(self, key: str, record: Record, feedback: str | None = None) -> bool:
        """Send ``key``'s state in ``record`` (and a check's ``feedback``); True when the board recorded it."""
        if not self.enabled:
            return False
        body: dict[str, Any] = {"solved": key in record.solved, "hints": record.hints.get(key, 0),
                                "solution_viewed": key in record.solution_viewed}
        if feedback is not None:
            body["feedback"] = feedback
        target = f"{self.url.rstrip('/')}/api/progress/{quote(self.user, safe='')}/{quote(key, safe='')}"
        try:
            with httpx.Client(timeout=_TIMEOUT, transport=self._transport) as client:
                answer = client.put(target, json=body, headers={"Authorization": f"Bearer {self._token}"})
            problem = None if answer.status_code == 200 else f"it answered HTTP {answer.status_code}"
        except (httpx.HTTPError, httpx.InvalidURL, ValueError, OSError) as exc:  # a bad URL or token: said too
            problem = f"{type(exc).__name__}"
        if problem is None:
            return True
        if not self.failed:
            self.failed = True
            print(f"labkit: the class board did not record your progress ({problem}); your progress is kept in "
                  "this lab and the lessons go on as usual (said once)", file=sys.stderr)
        return False


_reporter: BoardReporter | None = None


def board_reporter() -> BoardReporter:
    """This process's reporter, built from the environment on first use."""
    global _reporter
    if _reporter is None:
        _reporter = BoardReporter()
    return _reporter
