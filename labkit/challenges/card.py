"""ChallengeCard: a lesson's challenge as a card: the goal, a Hint button, a Check button and the verdict.

It lives with the challenges (``Attempt.card()``) and draws with ``labkit.widgets``' HTML helpers: widgets never
import challenges.
"""

from __future__ import annotations

import html

from ..widgets import html_text, show_with_fallback
from .base import Attempt, CheckResult

__all__ = ["ChallengeCard", "verdict_html"]


def verdict_html(result: CheckResult) -> str:
    """The verdict as escaped HTML (class ``labkit-challenge-result``), green when solved."""
    color = "#070" if result.solved else "#a50"
    return f"<span class='labkit-challenge-result' style='color:{color}'>{html.escape(repr(result))}</span>"


class ChallengeCard:
    """The widget around an ``Attempt``; ``hint()`` and ``check()`` are what its buttons do."""

    def __init__(self, attempt: Attempt) -> None:
        import ipywidgets as w

        self.attempt = attempt
        challenge = attempt.challenge
        self.title = f"Challenge {challenge.lesson} · {challenge.title}"
        self.goal = w.HTML(html_text(challenge.goal, bold=self.title + ":"), layout=w.Layout(width="760px"))
        self.hint_button = w.Button(description="Hint")
        self.check_button = w.Button(description="Check", button_style="primary")
        self.hint_button.on_click(lambda _: self.hint())
        self.check_button.on_click(lambda _: self.check())
        self.out = w.Output(layout=w.Layout(width="760px"))
        self.view = w.VBox([self.goal, w.HBox([self.hint_button, self.check_button]), self.out])

    def hint(self) -> str:
        """Show the next hint."""
        from IPython.display import HTML

        text = self.attempt.hint()
        self.out.append_display_data(HTML(html_text(text)))
        return text

    def check(self) -> CheckResult:
        """Check from the lab's state and show the verdict (an unexpected error is shown, never raised)."""
        from IPython.display import HTML

        try:
            result = self.attempt.check()
        except Exception as exc:  # a widget shows its errors inside itself, never a traceback
            result = CheckResult(False, f"the check failed: {type(exc).__name__}: {exc}")
        self.out.append_display_data(HTML(verdict_html(result)))
        return result

    def _ipython_display_(self) -> None:
        challenge = self.attempt.challenge
        show_with_fallback(self.view, self.out, f"{self.title}: {challenge.goal}")
