"""ChallengeCard: a lesson's challenge as a card: the goal, a Hint button, a Check button and the verdict.

It lives with the challenges (``Attempt.card()``) and draws with ``labkit.widgets``' HTML helpers: widgets never
import challenges.
"""

from __future__ import annotations

import html
import re

from ..widgets import html_text
from ..widgets._render import snapshot_html
from .base import Attempt, CheckResult

__all__ = ["ChallengeCard", "goal_html", "verdict_html"]

# the inline Markdown a goal uses, applied to text already escaped (so no tag can come from the text itself)
_INLINE = ((re.compile(r"\*\*([^*]+)\*\*"), r"<b>\1</b>"),
           (re.compile(r"(?<![*\w])\*([^*\s][^*]*)\*(?![*\w])"), r"<i>\1</i>"))


def goal_html(goal: str) -> str:
    """A goal's inline Markdown (``code``, **bold**, *italic*) as HTML; the text is escaped first, so markup in it
    stays text. Goals are lesson text, but the rendering never trusts what it is given."""
    parts = re.split(r"(`[^`]+`)", html.escape(goal))
    out = []
    for part in parts:  # code spans first: nothing inside them is Markdown
        if part.startswith("`") and part.endswith("`") and len(part) > 1:
            out.append(f"<code>{part[1:-1]}</code>")
            continue
        for pattern, replacement in _INLINE:
            part = pattern.sub(replacement, part)
        out.append(part)
    return "".join(out)


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
        self.goal = w.HTML(self._goal_html(), layout=w.Layout(width="760px"))
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

    def _goal_html(self) -> str:
        return f"<span><b>{html.escape(self.title)}:</b> {goal_html(self.attempt.challenge.goal)}</span>"

    def _ipython_display_(self) -> None:
        """The live card, with a static fallback (the goal rendered, then what its output area shows)."""
        from IPython.display import display

        bundle = dict(self.view._repr_mimebundle_() or {})
        goal = self.attempt.challenge.goal
        bundle["text/plain"] = f"{self.title}: {goal} (a live widget: run the notebook to use it)"
        bundle["text/html"] = f"<p>{self._goal_html()}</p>" + snapshot_html(list(self.out.outputs), self.title)
        display(bundle, raw=True)
