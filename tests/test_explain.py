"""The teaching view: ``python -m validation.explain`` and model export."""
from __future__ import annotations

import io
import subprocess
import sys

import highspy
import pytest

from instances import save_instance
from solvers import p1
from tests.test_p1 import fig3_like_instance
from validation.explain import explain, write_model


def test_explain_prints_tables_model_trace_and_split():
    out = io.StringIO()
    assert explain(fig3_like_instance(), "P1", out) == 0
    text = out.getvalue()
    for expected in ("-- devices", "-- computation latency", "constraint C1 (3 rows)", "constraint C3 (4 rows)",
                     "latency[3]:", "step 1: cut c[1,2] = 10", "Hall slack", "stop: optimal latency = last removed value 7",
                     "optimal P1 solution: round latency 7 s", "compute_s", "upload_s"):
        assert expected in text, expected


def test_lp_export_solves_to_the_same_optimum(tmp_path):
    """The exported LP, read back by HiGHS itself, has CRUNCH's optimum."""
    inst = fig3_like_instance()
    path = write_model(inst, "P1", tmp_path / "p1.lp")
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    assert h.readModel(str(path)) == highspy.HighsStatus.kOk
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    assert h.getInfo().objective_function_value == pytest.approx(p1.crunch(inst).objective_s, rel=1e-9)


def test_write_model_rejects_unknown_suffix(tmp_path):
    with pytest.raises(ValueError, match="can be written as"):
        write_model(fig3_like_instance(), "P1", tmp_path / "model.txt")


def test_cli(tmp_path):
    path = tmp_path / "fig3.json"
    save_instance(fig3_like_instance(), path)
    done = subprocess.run([sys.executable, "-m", "validation.explain", str(path), "--write-model",
                           str(tmp_path / "m.lp")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "wrote the P1 model" in done.stdout and (tmp_path / "m.lp").exists()
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    done = subprocess.run([sys.executable, "-m", "validation.explain", str(bad)], capture_output=True, text=True)
    assert done.returncode == 2 and "bad.json: field '<json>'" in done.stderr and "Traceback" not in done.stderr
