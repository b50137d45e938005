"""A class on JupyterHub: ``labkit classroom`` (a local hub, its proxy, a workshop's sign-in, lessons per learner)
and the instructor's board (a hub service that learners' labs report to, protected by labkit's own guard)."""

from __future__ import annotations

from .board import READ_SCOPE, REPORT_SCOPE, board_app
from .hub import Classroom, ClassroomError, find_proxy
from .store import BoardStore, Report, Row

__all__ = ["READ_SCOPE", "REPORT_SCOPE", "BoardStore", "Classroom", "ClassroomError", "Report", "Row", "board_app",
           "find_proxy"]
