"""The tutorial (docs/tutorial.py) runs as a script, and its exercise checker tells right from wrong."""
from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import pytest

TUTORIAL = Path(__file__).resolve().parents[1] / "docs" / "tutorial.py"


def test_tutorial_runs_as_a_script_from_anywhere(tmp_path):
    """``python docs/tutorial.py`` succeeds (its own asserts re-check every number), from any directory."""
    done = subprocess.run([sys.executable, str(TUTORIAL)], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    for expected in ("step 7: cut c[2,2] = 5.5", "INFEASIBLE", "CRUNCH: 5.5 s", "exact JBBA:", "dual ascent (Algorithm 3)",
                     "HiGHS on tutorial_p1.lp", "SCIP on tutorial_p2.nl", "exercise 1: not answered"):
        assert expected in out, expected
    assert out.count("correct") == 5 and "not yet" not in out
    assert out.rstrip().endswith("tutorial finished: every number above was re-checked independently")


def test_tutorial_is_a_percent_script_with_goals_and_exercises():
    text = TUTORIAL.read_text()
    assert text.count("# %% [markdown]") >= 10 and "**Learning goals.**" in text and "## 6. Exercises" in text
    # the solutions come after the exercises and the checker
    assert text.index("## 6. Exercises") < text.index("def check_answers") < text.index("## Worked solutions")


@pytest.fixture(scope="module")
def tutorial():
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        return runpy.run_path(str(TUTORIAL))


def test_checker_accepts_right_and_rejects_wrong_answers(tutorial, capsys):
    check, solutions = tutorial["check_answers"], tutorial["SOLUTIONS"]
    assert check(solutions) == {k: True for k in range(1, 6)}
    wrong = {1: (True, True, False), 2: 5.5, 3: 7, 4: 2.5, 5: (0, 3)}
    assert check(wrong) == {k: False for k in range(1, 6)}
    assert check({}) == {k: None for k in range(1, 6)}
    assert check({2: "4.5", 4: 2.7071067811865475}) == {1: None, 2: False, 3: None, 4: True, 5: None}
    out = capsys.readouterr().out
    assert "4.5" not in out and "2.707" not in out          # the checker never reveals an answer


def test_tutorial_answers_agree_with_the_toolkit(tutorial):
    """The worked answers, re-derived from the toolkit's own solvers (a third route)."""
    from solvers import run

    example = tutorial["example"]
    assert run("P1", "milp", example).objective_s == pytest.approx(tutorial["p1_optimum"], rel=1e-9)
    exact = run("P2", "exact", example)
    assert exact.objective_s == pytest.approx(tutorial["p2_optimum"], rel=1e-9)
    assert tutorial["SOLUTIONS"][4] == pytest.approx(2 + 0.5 ** 0.5, rel=1e-12)
