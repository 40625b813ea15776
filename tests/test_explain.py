"""The teaching view: ``python -m validation.explain`` and model export (P1 LP/MPS, P2 GAMS/NL)."""
from __future__ import annotations

import io
import re
import subprocess
import sys

import highspy
import numpy as np
import pytest
from hypothesis import given, settings

from instances import Instance, load_instance, save_instance
from solvers import p1
from solvers.bandwidth import optimal_bandwidth
from solvers.p2_exact import exact_jbba
from instances.tolerances import BISECTION_RTOL, EXACT_RTOL, MINLP_FEASTOL
from tests.bruteforce import brute_force_p1, brute_force_p2
from tests.strategies import instances
from tests.test_p1 import fig3_like_instance
from validation.explain import (MAX_TRACE_LINES, build_model, explain, parametric_iterations, time_scale_s,
                                write_model)

#: Every constraint family of the P2 MINLP, as named in models/p2.py and docs/formulation.md.
P2_CONSTRAINTS = ("C1", "C2", "C3", "involvement", "computation", "slack", "bandwidth", "latency_cone")

HAND_MADE = "instances/tiny/tiny-hand-made.json"


def explained(instance, problem) -> str:
    out = io.StringIO()
    assert explain(instance, problem, out) == 0
    return out.getvalue()


# --------------------------------------------------------------------------------------
# P1
# --------------------------------------------------------------------------------------
def test_explain_prints_tables_model_trace_and_split():
    text = explained(fig3_like_instance(), "P1")
    for expected in ("-- devices", "-- computation latency", "constraint C1 (3 rows)", "constraint C3 (4 rows)",
                     "latency[3]:", "step 1: cut c[1,2] = 10", "Hall slack", "stop: optimal latency = last removed value 7",
                     "optimal P1 solution: round latency 7 s", "compute_s", "upload_s", "idle devices"):
        assert expected in text, expected
    assert brute_force_p1(fig3_like_instance()) == 7.0      # the printed optimum, re-checked by enumeration


def test_lp_export_solves_to_the_same_optimum(tmp_path):
    """The exported LP (and MPS), read back by HiGHS itself, has CRUNCH's optimum."""
    inst = fig3_like_instance()
    for suffix in (".lp", ".mps"):
        path = write_model(inst, "P1", tmp_path / f"p1{suffix}")
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        assert h.readModel(str(path)) == highspy.HighsStatus.kOk
        h.run()
        assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
        assert h.getInfo().objective_function_value == pytest.approx(p1.crunch(inst).objective_s, rel=1e-9)
    assert (tmp_path / "p1.lp").read_text().startswith("\\ P1 model of instance 'fig3'")


def test_write_model_rejects_unknown_suffix_and_problem(tmp_path):
    with pytest.raises(ValueError, match="can be written as"):
        write_model(fig3_like_instance(), "P1", tmp_path / "model.txt")
    with pytest.raises(ValueError, match="P2 models can be written as .gms, .nl"):
        write_model(fig3_like_instance(), "P2", tmp_path / "model.lp")     # a MINLP is not an LP
    with pytest.raises(ValueError, match="problem must be"):
        write_model(fig3_like_instance(), "P3", tmp_path / "model.lp")


def test_long_trace_is_elided_but_keeps_start_and_stop():
    rng = np.random.default_rng(7)
    K, M = 40, 10
    tcp = np.sort(rng.uniform(1, 5, (K, M)), axis=1)
    inst = Instance.from_arrays(tcp, np.ones(M), np.ones(K), rng.uniform(0.5, 3, K), 1.0, 10.0)
    full: list[str] = []
    p1.crunch(inst, trace=full.append)
    assert len(full) > MAX_TRACE_LINES + 10                # long enough to be elided
    text = explained(inst, "P1")
    trace = [line for line in text.splitlines() if line.startswith("   step") or line.startswith("   init")
             or line.startswith("   stop") or "more cuts" in line]
    assert len(trace) <= MAX_TRACE_LINES + 2
    assert "more cuts, all feasible" in text and trace[0].startswith("   init") and trace[-1].startswith("   stop")
    value = float(re.search(r"last removed value (\S+);", text).group(1))
    assert value == pytest.approx(p1.linear_search(inst).objective_s, rel=1e-5)  # the trace prints 6 digits


@pytest.mark.parametrize("problem", ["P1", "P2"])
def test_infeasible_instances_are_reported(problem):
    more_blocks = Instance.from_arrays([[1.0, 2.0, 3.0]], [1, 1, 1], [5], [1], 1, 1)
    wall = Instance.from_arrays([[1.0, 2.0], [1.0, 2.0]], [1, 5], [4, 4], [1, 1], 1, 1)
    for inst in (more_blocks, wall):
        text = explained(inst, problem)
        assert "initial check fails" in text and "== infeasible:" in text
        assert brute_force_p1(inst) is None


# --------------------------------------------------------------------------------------
# P2
# --------------------------------------------------------------------------------------
def test_explain_p2_shows_bandwidth_iterations_and_heuristics():
    inst = load_instance(HAND_MADE)
    text = explained(inst, "P2")
    for name in P2_CONSTRAINTS:
        assert f"constraint {name} (" in text, name
    for expected in ("units: time in units of time_scale_s", "warm start of exact JBBA",
                     "exact JBBA by parametric assignment", "step 1: T_0 =", "-> optimal, stop",
                     "bandwidth_MHz", "idle devices (no block, no bandwidth): [1]", "bandwidth used: 3000000 Hz",
                     "crunch+bandwidth", "dual-ascent"):
        assert expected in text, expected
    optimum = brute_force_p2(inst)                       # independent: enumeration + bisection
    printed = float(re.search(r"optimal P2 solution: round latency (\S+) s", text).group(1))
    assert printed == pytest.approx(optimum, rel=1e-8)


@settings(max_examples=25, deadline=None)
@given(instances(max_devices=5, max_blocks=3, allow_infeasible=False))
def test_parametric_iterations_follow_the_proof(inst):
    """Thresholds fall strictly, every move needs < 1 of the band, the stop needs ~1; the end is optimal."""
    result, steps = parametric_iterations(inst)
    thresholds = [s["threshold_s"] for s in steps]
    # T_0 = T(x_P1) (the loop finds it by Newton's method, optimal_bandwidth by Brent's: a few ulps)
    assert thresholds[0] == pytest.approx(optimal_bandwidth(inst, p1.crunch(inst).assignment)[0], rel=1e-13)
    assert all(b < a for a, b in zip(thresholds, thresholds[1:]))
    assert all(s["share"] < 1.0 for s in steps[:-1])
    assert steps[-1]["share"] >= 1.0 - BISECTION_RTOL or "note" in result.info
    assert result.objective_s == pytest.approx(brute_force_p2(inst), rel=EXACT_RTOL)


@pytest.mark.parametrize("problem", ["P1", "P2"])
@settings(max_examples=12, deadline=None)
@given(inst=instances(max_devices=5, max_blocks=3))
def test_explain_on_random_instances_prints_the_brute_force_optimum(problem, inst):
    """Ties, memory walls and M > K included: never a traceback, and the printed optimum is the true one."""
    text = explained(inst, problem)
    optimum = (brute_force_p1 if problem == "P1" else brute_force_p2)(inst)
    if optimum is None:
        assert "== infeasible:" in text and f"optimal {problem} solution" not in text
    else:
        printed = float(re.search(rf"optimal {problem} solution: round latency (\S+) s", text).group(1))
        assert printed == pytest.approx(optimum, rel=1e-7)          # printed to 9 significant digits


def test_p2_gams_and_nl_files_name_every_constraint(tmp_path):
    inst = load_instance(HAND_MADE)
    gms = write_model(inst, "P2", tmp_path / "p2.gms").read_text()
    assert gms.startswith("* P2 model of instance 'tiny-hand-made'") and "time_scale_s = " in gms
    # GAMS mangles x[k,m] to x_k_m_ and marks <= rows with _hi
    for name in ("C1_0_", "C2_0__hi", "C3_0__hi", "involvement_0_", "computation_0_", "slack_0_", "bandwidth_hi",
                 "latency_cone_0__hi", "round_latency", "x_0_0_", "SOLVE GAMS_MODEL USING minlp"):
        assert name in gms, name
    write_model(inst, "P2", tmp_path / "p2.nl")
    assert (tmp_path / "p2.nl").read_text().startswith("g")           # AMPL NL text header
    rows = (tmp_path / "p2.row").read_text().split()
    for name in P2_CONSTRAINTS:
        assert f"{name}[0]" in rows or name in rows, name
    assert "x[0,0]" in (tmp_path / "p2.col").read_text().split()


@pytest.mark.parametrize("source", ["hand-made", "fig3", "ties"])
def test_p2_nl_file_solved_by_scip_has_the_exact_optimum(tmp_path, source):
    """SCIP reads the exported .nl (names from .row/.col) and finds exact_jbba's optimum and assignment."""
    pyscipopt = pytest.importorskip("pyscipopt")
    inst = {"hand-made": lambda: load_instance(HAND_MADE), "fig3": fig3_like_instance,
            "ties": lambda: Instance.from_arrays([[1.0, 2.0]] * 4, [1, 1], [1, 1, 1, 1], [1.0, 1.0, 2.0, 2.0],
                                                 1.0, 2.0, name="ties")}[source]()
    path = write_model(inst, "P2", tmp_path / "p2.nl")
    scale = time_scale_s(build_model(inst, "P2"))
    scip = pyscipopt.Model()
    scip.hideOutput()
    scip.readProblem(str(path))
    scip.setParam("numerics/feastol", MINLP_FEASTOL)
    scip.optimize()
    assert scip.getStatus() == "optimal"
    exact = exact_jbba(inst)
    assert scip.getObjVal() * scale == pytest.approx(brute_force_p2(inst), rel=EXACT_RTOL)
    assert exact.objective_s == pytest.approx(brute_force_p2(inst), rel=EXACT_RTOL)
    chosen = {tuple(int(i) for i in re.findall(r"\d+", v.name)) for v in scip.getVars()
              if v.name.startswith("x[") and scip.getVal(v) > 0.5}
    assignment = [k for (k, m) in sorted(chosen, key=lambda km: km[1])]
    assert len(chosen) == inst.M
    # SCIP's assignment is optimal too (ties may pick another one of equal value)
    assert optimal_bandwidth(inst, assignment)[0] == pytest.approx(exact.objective_s, rel=EXACT_RTOL)


def test_p1_nl_file_solved_by_scip_has_crunchs_optimum(tmp_path):
    pyscipopt = pytest.importorskip("pyscipopt")
    inst = fig3_like_instance()
    scip = pyscipopt.Model()
    scip.hideOutput()
    scip.readProblem(str(write_model(inst, "P1", tmp_path / "p1.nl")))
    scip.optimize()
    assert scip.getObjVal() == pytest.approx(brute_force_p1(inst), rel=1e-9)


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------
def test_cli(tmp_path):
    path = tmp_path / "fig3.json"
    save_instance(fig3_like_instance(), path)
    done = subprocess.run([sys.executable, "-m", "validation.explain", str(path), "--write-model",
                           str(tmp_path / "m.lp")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "wrote the P1 model" in done.stdout and (tmp_path / "m.lp").exists()
    done = subprocess.run([sys.executable, "-m", "validation.explain", str(path), "--problem", "P2",
                           "--write-model", str(tmp_path / "m.nl")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "wrote the P2 model" in done.stdout and "objective tau in units of" in done.stdout
    assert (tmp_path / "m.nl").exists() and "optimal P2 solution" in done.stdout
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    done = subprocess.run([sys.executable, "-m", "validation.explain", str(bad)], capture_output=True, text=True)
    assert done.returncode == 2 and "bad.json: field '<json>'" in done.stderr and "Traceback" not in done.stderr
    done = subprocess.run([sys.executable, "-m", "validation.explain", str(path), "--problem", "P2",
                           "--write-model", str(tmp_path / "m.lp")], capture_output=True, text=True)
    assert done.returncode == 2 and "can be written as" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("name", ["g2-k3-m4", "g1g2-k2-m4", "g2-k2-m5-infeasible"])
def test_explain_family_shows_the_generalised_model_and_the_brute_force_optimum(name):
    """Beyond the paper's model: the new fields, what they change, the methods that solve it, the optimum."""
    from tests.bruteforce import brute_force_family_p1

    inst = load_instance(f"instances/family/{name}.json")
    text = io.StringIO()
    assert explain(inst, "P1", text) == 0
    out = text.getvalue()
    assert "beyond the paper's model" in out and "max_blocks" in out and "methods that solve it:" in out
    assert "devices that take several blocks (G2)" in out
    best = brute_force_family_p1(inst)
    if best is None:
        assert ": infeasible" in out and "Hall's theorem for b-matchings" in out and "checker: verified" in out
    else:
        value = float(re.search(r"round latency ([0-9.e+-]+) s", out).group(1))
        assert abs(value - best[0]) <= 1e-8 * best[0]


@pytest.mark.parametrize("name", ["g2-k3-m4", "g1-k4-m4"])
def test_explain_family_p2_builds_the_family_model(name):
    """P2 beyond the paper: the family's MINLP (deepest block, upload sum), and the brute-force optimum."""
    from tests.bruteforce import brute_force_family_p2

    inst = load_instance(f"instances/family/{name}.json")
    text = io.StringIO()
    assert explain(inst, "P2", text) == 0
    out = text.getvalue()
    assert "model P2_family_minlp_" in out and "latency_cone" in out
    value = float(re.search(r"round latency ([0-9.e+-]+) s", out).group(1))
    assert abs(value - brute_force_family_p2(inst)[0]) <= 1e-6 * value
