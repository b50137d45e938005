"""The board as a page and as CSV: one row per learner, one column per challenge (solved, hints, solution seen)."""

from __future__ import annotations

import csv
import html
import io
import time

from .store import Row

__all__ = ["render_csv", "render_page"]

_COLUMNS = ("learner", "challenge", "solved", "hints", "solution_viewed", "checks", "feedback", "last_activity")


def _when(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))


def render_csv(rows: list[Row]) -> str:
    """Every row as CSV (a header, then one line per learner and challenge); a cell that a spreadsheet would run
    as a formula (``=``, ``+``, ``-``, ``@`` first) is quoted with a leading apostrophe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(_COLUMNS)
    for row in rows:
        writer.writerow([_cell(row.learner), row.challenge, row.solved, row.hints, row.solution_viewed, row.checks,
                         _cell(row.feedback or ""), _when(row.updated_at)])
    return out.getvalue()


def _cell(text: str) -> str:
    # OWASP CSV injection: a learner's name or feedback never runs as a formula in the instructor's spreadsheet
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _status(row: Row | None) -> str:
    if row is None:
        return '<td class="none">·</td>'
    mark = "✔" if row.solved else "…"
    extra = (f' <span class="badge">{row.hints}h</span>' if row.hints else "") \
        + (' <span class="badge">sol</span>' if row.solution_viewed else "")
    title = html.escape(row.feedback or "", quote=True)
    return f'<td class="{"solved" if row.solved else "open"}" title="{title}">{mark}{extra}</td>'


def render_page(rows: list[Row], prefix: str) -> str:
    """The board as an HTML page: learners down, challenges across, the last check's feedback on hover."""
    learners = sorted({r.learner for r in rows})
    challenges = sorted({r.challenge for r in rows})
    cells = {(r.learner, r.challenge): r for r in rows}
    last = {name: max(r.updated_at for r in rows if r.learner == name) for name in learners}
    head = "".join(f"<th>{html.escape(c)}</th>" for c in challenges)
    body = []
    for name in learners:
        solved = sum(1 for c in challenges if (cell := cells.get((name, c))) is not None and cell.solved)
        feedback = max((r for r in rows if r.learner == name and r.feedback), key=lambda r: r.updated_at,
                       default=None)
        said = html.escape(f"{feedback.challenge}: {feedback.feedback}") if feedback is not None else ""
        body.append(f"<tr><th>{html.escape(name)}</th><td>{solved}</td>"
                    + "".join(_status(cells.get((name, c))) for c in challenges)
                    + f"<td>{_when(last[name])}</td><td class=\"feedback\">{said}</td></tr>")
    table = (f"<table><tr><th>learner</th><th>solved</th>{head}<th>last activity</th><th>last check</th></tr>"
             + "".join(body) + "</table>") if rows else "<p>No learner has reported yet.</p>"
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>labkit · class board</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; }} th, td {{ border: 1px solid #ccc; padding: .35em .6em; text-align: center; }}
td.solved {{ background: #d8f5d0; }} td.open {{ background: #fff3c4; }} td.none {{ color: #aaa; }}
td.feedback {{ text-align: left; max-width: 32em; font-size: .9em; }}
.badge {{ font-size: .75em; background: #e4e7f0; border-radius: .6em; padding: 0 .4em; }}
</style></head>
<body><h1>Class board</h1>
<p>{len(learners)} learners · ✔ solved · … tried · <span class="badge">2h</span> hints used ·
<span class="badge">sol</span> solution viewed · the last check's feedback on hover ·
<a href="{html.escape(prefix)}progress.csv">export CSV</a></p>
{table}
</body></html>
"""
