"""The tutorial (docs/tutorial.py) runs as a script, and its exercise checker tells right from wrong.

The notebook docs/tutorial.ipynb is generated from it (``jupytext``, the
percent format: each ``# %%`` line starts a cell), committed without outputs;
the tests here check that it is in sync with the script and that it runs in
a ``python3`` Jupyter kernel (``nbclient``) without a cell error.
Regenerate it from the repository root with::

    python -c "from tests.test_tutorial import write_notebook; write_notebook()"
"""
from __future__ import annotations

import importlib
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TUTORIAL = REPO / "docs" / "tutorial.py"
NOTEBOOK = REPO / "docs" / "tutorial.ipynb"
REGENERATE = 'python -c "from tests.test_tutorial import write_notebook; write_notebook()"'
#: The kernel the notebook asks for: ipykernel's, installed with the test extras (pip install -e ".[test]").
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
#: Seconds a single cell may run before the execution test fails.
CELL_TIMEOUT_S = 600


def _need(module: str):
    """Import ``module`` (a test extra), or fail saying how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        pytest.fail(f"{module} is missing: pip install -e '.[test]'")


def notebook_from_script():
    """docs/tutorial.py as a notebook: one cell per ``# %%`` block, no outputs, cell ids ``cell-NN``.

    Method: ``jupytext.reads`` of the percent script; the notebook metadata is
    replaced by the ``python3`` kernelspec (nothing machine-specific), and the
    cell ids are numbered so that regenerating an unchanged script gives the
    same bytes.
    """
    jupytext = _need("jupytext")
    nb = jupytext.reads(TUTORIAL.read_text(encoding="utf-8"), fmt="py:percent")
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i:02d}"
    return nb


def write_notebook(path: str | Path = NOTEBOOK) -> Path:
    """Write :func:`notebook_from_script` to ``path`` (default docs/tutorial.ipynb); returns the path."""
    nbformat = _need("nbformat")
    nb = notebook_from_script()
    nbformat.validate(nb)
    nbformat.write(nb, str(path))
    return Path(path)


def _cells(nb) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source) for cell in nb.cells]


def test_tutorial_runs_as_a_script_from_anywhere(tmp_path):
    """``python docs/tutorial.py`` succeeds (its own asserts re-check every number), from any directory."""
    done = subprocess.run([sys.executable, str(TUTORIAL)], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    for expected in ("step 7: cut c[2,2] = 5.5", "INFEASIBLE", "CRUNCH: 5.5 s", "exact JBBA:", "dual ascent (Algorithm 3)",
                     "HiGHS on tutorial_p1.lp", "SCIP on tutorial_p2.nl", "exercise 1: not answered"):
        assert expected in out, expected
    assert out.count("correct") == 6 and "not yet" not in out
    assert out.rstrip().endswith("tutorial finished: every number above was re-checked independently")


def test_tutorial_is_a_percent_script_with_goals_and_exercises():
    text = TUTORIAL.read_text()
    assert text.count("# %% [markdown]") >= 10 and "**Learning goals.**" in text and "## 7. Exercises" in text
    # the solutions come after the exercises and the checker
    assert text.index("## 7. Exercises") < text.index("def check_answers") < text.index("## Worked solutions")


@pytest.fixture(scope="module")
def tutorial():
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        return runpy.run_path(str(TUTORIAL))


def test_checker_accepts_right_and_rejects_wrong_answers(tutorial, capsys):
    check, solutions = tutorial["check_answers"], tutorial["SOLUTIONS"]
    assert check(solutions) == {k: True for k in range(1, 7)}
    wrong = {1: (True, True, False), 2: 5.5, 3: 7, 4: 2.5, 5: (0, 3), 6: (5.5, True)}
    assert check(wrong) == {k: False for k in range(1, 7)}
    assert check({}) == {k: None for k in range(1, 7)}
    assert check({2: "4.5", 4: 2.7071067811865475}) == {1: None, 2: False, 3: None, 4: True, 5: None, 6: None}
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


# --------------------------------------------------------------------------------------
# The notebook docs/tutorial.ipynb
# --------------------------------------------------------------------------------------
def test_notebook_is_in_sync_with_the_script():
    """The committed notebook's cells (type and source) are the script's; outputs and metadata are ignored."""
    nbformat = _need("nbformat")
    assert NOTEBOOK.exists(), f"{NOTEBOOK.relative_to(REPO)} is missing; generate it with: {REGENERATE}"
    committed = nbformat.read(str(NOTEBOOK), as_version=4)
    fresh = notebook_from_script()
    have, want = _cells(committed), _cells(fresh)
    first = next((i for i, (a, b) in enumerate(zip(have, want)) if a != b), min(len(have), len(want)))
    assert have == want, (f"docs/tutorial.ipynb is out of sync with docs/tutorial.py (cells {len(have)} vs "
                          f"{len(want)}, first difference at cell {first}); regenerate it with: {REGENERATE}")
    with_output = [i for i, c in enumerate(committed.cells)
                   if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
    assert not with_output, f"docs/tutorial.ipynb is committed with outputs (cells {with_output}); {REGENERATE}"


@pytest.mark.slow
def test_notebook_runs_in_a_python3_kernel():
    """nbclient runs every cell of the committed notebook in a fresh ``python3`` kernel, from the repository root."""
    nbformat = _need("nbformat")
    nbclient = _need("nbclient")
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name=KERNELSPEC["name"], timeout=CELL_TIMEOUT_S,
                                     resources={"metadata": {"path": str(REPO)}})
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}     # figures inline, as for a reader
    try:
        client.execute(env=env)
    except nbclient.exceptions.CellExecutionError as exc:
        pytest.fail(f"a notebook cell failed:\n{str(exc)[-3000:]}")
    code = [c for c in nb.cells if c.cell_type == "code"]
    errors = [i for i, c in enumerate(code) for o in c.outputs if o.output_type == "error"]
    assert not errors, f"code cells with an error output: {errors}"
    assert all(c.execution_count is not None for c in code)
    text = "".join(o.get("text", "") for c in code for o in c.outputs if o.output_type == "stream")
    assert "tutorial finished" in text
    if any("plt." in c.source or "matplotlib" in c.source for c in code):     # figures are shown inline
        assert any("image/png" in o.get("data", {}) for c in code for o in c.outputs)
