"""The course framework without a lab: progress records (hints, solution views, predictions) in a format older files
still read, the progress words and table, ``solution()`` outside a kernel, challenge keys, predictions, the goal's
Markdown, and the lesson cell conventions the nbval harness and the Run-All test share."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from labkit import challenges
from labkit.challenges import (
    CHALLENGES,
    Challenge,
    CheckResult,
    Progress,
    Question,
    Record,
    lesson_of,
    predict,
    progress_table,
    start,
    status,
)
from labkit.challenges.card import goal_html
from labkit.lab.notebooks import solution_key, solution_source
from labkit.lab.workspace import shipped_lessons


def test_an_old_progress_file_reads_as_before_and_stays_in_the_old_shape(tmp_path: Path) -> None:
    path = tmp_path / "progress.json"
    path.write_text(json.dumps({"solved": ["00", "03"]}))
    progress = Progress(path)
    assert progress.solved() == {"00", "03"} and progress.record().hints == {}
    progress.mark("01")
    assert json.loads(path.read_text()) == {"solved": ["00", "01", "03"]}


def test_hints_solution_views_and_predictions_are_recorded_and_read_back(tmp_path: Path) -> None:
    progress = Progress(tmp_path / "progress.json")
    progress.hints_used("00", 1)
    progress.hints_used("00", 2)
    progress.hints_used("00", 1)  # a new attempt showing fewer hints keeps the most shown
    progress.solution_viewed("01")
    progress.predicted("00", "forged_admin", 2, 3)
    progress.mark("00")
    progress.mark("01")
    progress.hints_used("00", 3)  # after solving: no longer counted
    progress.solution_viewed("00")
    record = progress.record()
    assert record == Record(solved={"00", "01"}, hints={"00": 2}, solution_viewed={"01"},
                            predictions={"00/forged_admin": (2, 3)})
    assert status(record, "00") == "solved, 2 hints"
    assert status(record, "01") == "solved after viewing the solution"
    assert status(record, "02") == "not yet"


@pytest.mark.parametrize("extra", [
    {"hints": {"00": "many"}}, {"hints": {"00": -1}}, {"hints": {"00": True}}, {"hints": ["00"]},
    {"solution_viewed": "00"}, {"predictions": {"00/q": [3, 2]}}, {"predictions": {"00/q": [1]}},
    {"predictions": {"00/q": [1, 10**9]}},
])
def test_entries_of_the_wrong_shape_are_skipped_not_trusted(tmp_path: Path, extra: dict[str, Any]) -> None:
    path = tmp_path / "progress.json"
    path.write_text(json.dumps({"solved": ["00"], **extra}))
    record = Progress(path).record()
    assert record == Record(solved={"00"})
    Progress(path).mark("01")  # and a write replaces them by a clean document
    assert json.loads(path.read_text()) == {"solved": ["00", "01"]}


def test_a_file_that_is_not_a_progress_file_is_never_overwritten_by_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "progress.json"
    path.write_text(json.dumps({"hints": {"00": 1}}))  # no "solved": not ours
    with pytest.raises(challenges.ProgressFileError, match="not a progress file"):
        Progress(path).hints_used("00", 1)
    assert json.loads(path.read_text()) == {"hints": {"00": 1}}


def test_the_progress_table_shows_words_hints_views_and_the_lesson_s_prediction_score(tmp_path: Path) -> None:
    progress = Progress(tmp_path / "progress.json")
    progress.hints_used("00", 1)
    progress.mark("00")
    progress.predicted("00", "forged_admin", 2, 3)
    progress.predicted("00", "another", 1, 1)
    table = progress_table(progress).set_index("key")
    assert list(table.columns) == ["lesson", "challenge", "progress", "solved", "hints", "solution viewed",
                                   "predicted"]
    assert table.loc["00", "progress"] == "solved, 1 hint" and table.loc["00", "predicted"] == "3/4"
    assert table.loc["01", "progress"] == "not yet" and table.loc["01", "predicted"] == ""


def test_hint_records_the_hints_used_and_solution_returns_the_text_outside_a_kernel(tmp_path: Path) -> None:
    progress = Progress(tmp_path / "progress.json")
    attempt = start("00", None, progress=progress)
    attempt.hint()
    attempt.hint()
    assert progress.record().hints == {"00": 2}
    text = attempt.solution()
    assert text == (shipped_lessons() / "solutions" / "00.py").read_text()
    assert text.rstrip().splitlines()[-1] == "challenge.check()"  # it ends with the check the learner would run
    assert progress.record().solution_viewed == {"00"}


def test_a_challenge_without_a_shipped_solution_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = Challenge("10.fake_one", "A sub-challenge", "Do it.", ("a hint",), lambda lab, mark: CheckResult(False, "no"))
    monkeypatch.setitem(CHALLENGES, "10.fake_one", fake)
    attempt = start("10.fake_one", None, progress=tmp_path / "progress.json")  # a sub-challenge key starts too
    with pytest.raises(FileNotFoundError, match=r"no reference solution for challenge 10\.fake_one"):
        attempt.solution()
    assert Progress(tmp_path / "progress.json").record() == Record()  # nothing viewed


def test_keys_name_their_lesson_and_an_unknown_key_is_named() -> None:
    assert lesson_of("10.alg_none") == "10" and lesson_of("04") == "04"
    with pytest.raises(KeyError, match="no challenge '99'; challenges: 00, 01"):
        start("99", None)


def _question(outcome: Mapping[str, str]) -> Question:
    return Question("q", "What happens?", ("first", "second"), ("200", "401"), lambda lab, **inputs: outcome)


def test_a_prediction_is_validated_revealed_and_scored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("labkit.challenges.questions.questions_of", lambda lesson: {"q": _question(
        {"first": "200", "second": "401"})})
    p = predict("00", "q", progress=tmp_path / "progress.json")
    assert "first: ?" in repr(p) and "choices: 200, 401" in repr(p)
    for wrong in ({"first": "200"}, {"first": "200", "second": "500"}, {"first": "200", "second": "401", "x": "1"},
                  "200"):
        with pytest.raises(ValueError, match="items: 'first', 'second'"):
            p.answer(wrong)
    p.answer({"first": "200", "second": "200"})
    revealed = p.reveal()
    assert (revealed.right, revealed.predicted) == (1, True) and repr(revealed).startswith("predicted 1/2")
    assert "second: 401 (you said 200)" in repr(revealed)
    assert Progress(tmp_path / "progress.json").record().predictions == {"00/q": (1, 2)}


def test_reveal_without_an_answer_shows_the_outcome_and_records_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("labkit.challenges.questions.questions_of", lambda lesson: {"q": _question(
        {"first": "200", "second": "401"})})
    revealed = predict("00", "q", progress=tmp_path / "progress.json").reveal()
    assert repr(revealed).startswith("no prediction made") and "first: 200" in repr(revealed)
    assert not (tmp_path / "progress.json").exists()


def test_an_unknown_question_is_named_and_lesson_00_ships_its_question() -> None:
    with pytest.raises(KeyError, match="no question 'nope' for lesson 00; questions: forged_admin"):
        predict("00", "nope")
    from labkit.challenges.questions.q00 import QUESTIONS
    from labkit.widgets.token_minter import SIGNERS

    assert set(QUESTIONS[0].items) == set(SIGNERS)  # one item per way the minter signs


def test_the_goal_renders_its_markdown_and_escapes_everything_else() -> None:
    rendered = goal_html("Call `write_operation` **twice** <img src=x onerror=alert(1)> `<b>` *now*, 2 * 3 * 4")
    assert rendered == ("Call <code>write_operation</code> <b>twice</b> &lt;img src=x onerror=alert(1)&gt; "
                        "<code>&lt;b&gt;</code> <i>now</i>, 2 * 3 * 4")


@pytest.mark.parametrize("metadata", [{"tags": ["your-turn"]}, {"tags": ["your-turn"], "labkit": {"solution": "../x"}},
                                      {"tags": ["your-turn"], "labkit": {"solution": "00/../../etc"}},
                                      {"tags": ["your-turn"], "labkit": "00"}])
def test_a_your_turn_cell_must_name_a_challenge_key(metadata: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="your-turn cell needs metadata"):
        solution_key({"metadata": metadata})


def test_solution_files_are_found_by_key_only(tmp_path: Path) -> None:
    assert solution_key({"metadata": {"tags": ["your-turn"], "labkit": {"solution": "10.alg_none"}}}) == "10.alg_none"
    assert solution_key({"metadata": {"tags": ["check"]}}) is None
    with pytest.raises(ValueError, match="not a challenge key"):
        solution_source(tmp_path, "../secret")
    with pytest.raises(FileNotFoundError, match="no reference solution for challenge 00"):
        solution_source(tmp_path, "00")


def test_solution_in_a_kernel_goes_to_a_new_cell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cells: list[tuple[str, bool]] = []

    class Shell:
        def set_next_input(self, text: str, replace: bool) -> None:
            cells.append((text, replace))

    monkeypatch.setattr("labkit.challenges.base._ipython", lambda: Shell())
    said = start("00", None, progress=tmp_path / "progress.json").solution()
    assert said == "the reference solution of challenge 00 is in the new cell below"
    assert len(cells) == 1 and cells[0][1] is False  # a new cell, the learner's own cell is kept
    assert cells[0][0].startswith("# The reference solution of challenge 00:\n")
    assert cells[0][0].endswith("challenge.check()")


def test_a_broken_progress_file_never_withholds_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "progress.json"
    path.write_text("not json")
    said = start("00", None, progress=path).hint()
    assert said.startswith("hint 1/3: ") and "not recorded" in said and "not a progress file" in said
    assert path.read_text() == "not json"


def test_question_modules_are_found_by_name_and_only_for_a_lesson_number() -> None:
    from labkit.challenges.questions import questions_of

    assert list(questions_of("00")) == ["forged_admin"]
    assert questions_of("99") == {} and questions_of("../x") == {} and questions_of("0") == {}


_NOTEBOOKS = shipped_lessons()
_LESSON_FILES = sorted(_NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", _LESSON_FILES, ids=lambda p: p.stem)
def test_every_lesson_follows_the_course_contract(path: Path) -> None:
    # issue 26: no solution in the executable flow, a your-turn cell per challenge with a shipped reference, check
    # cells, the lesson's length in its header
    from labkit.lab.notebooks import CHECK, SOLUTION, tags

    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    assert not [i for i, c in enumerate(cells) if SOLUTION in tags(c)], f"{path.name}: a solution-tagged cell"
    assert not [i for i, c in enumerate(cells) if c.get("metadata", {}).get("jupyter", {}).get("source_hidden")]
    keys = [key for c in cells if (key := solution_key(c))]
    lesson = path.name[:2]
    assert keys and {k.split(".")[0] for k in keys} == {lesson}, f"{path.name}: your-turn cells {keys}"
    assert set(keys) == {k for k in CHALLENGES if lesson_of(k) == lesson}, f"{path.name}: a challenge without a cell"
    for cell in cells:
        if solution_key(cell):  # the learner's cell holds a prompt, never code
            lines = "".join(cell["source"]).strip().splitlines()
            assert lines and all(not line.strip() or line.lstrip().startswith("#") for line in lines), path.name
    for key in keys:
        assert solution_source(_NOTEBOOKS, key).rstrip().splitlines()[-1].endswith(")"), key  # ends with a check
    assert any(CHECK in tags(c) for c in cells), f"{path.name}: no check cell"
    header = "".join(cells[0]["source"]).strip().splitlines()[-1]
    assert cells[0]["cell_type"] == "markdown" and re.fullmatch(r"\*≈ \d+ min\*", header), f"{path.name}: {header!r}"


def test_the_progress_page_s_committed_output_counts_every_challenge() -> None:
    cells = json.loads((_NOTEBOOKS / "progress.ipynb").read_text(encoding="utf-8"))["cells"]
    shown = "".join(cells[1]["outputs"][0]["text"])
    assert shown.startswith(f"0 of {len(CHALLENGES)} challenges solved"), shown


def test_a_wrong_keyword_is_the_learner_s_but_a_check_s_own_type_error_is_not_disguised(tmp_path: Path) -> None:
    from labkit.challenges import Attempt
    from labkit.challenges.mark import Mark

    def buggy(lab: object, mark: Mark, *, config: object) -> CheckResult:
        raise TypeError("a bug inside the check")

    attempt = Attempt(Challenge("99", "t", "g", ("h",), buggy), None, Progress(tmp_path / "p.json"))
    attempt.lab, attempt.mark = object(), Mark(0, 0, 0, frozenset(), frozenset(), 0.0)  # type: ignore[assignment]
    refused = attempt.check(secret="x")
    assert not refused and "does not take that answer" in refused.message
    with pytest.raises(TypeError, match="a bug inside the check"):  # before: "does not take that answer"
        attempt.check(config={})
