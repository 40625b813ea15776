"""The independent checker (validation.check) and the harness (python -m validation.compare).

Oracles: brute-force enumeration (tests/bruteforce.py) for the optimum, and
hand-made wrong results (fake solvers monkeypatched into the registry) that
the harness must flag.
"""
from __future__ import annotations

import csv
import io
import itertools
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import solvers
from instances import Instance, load_instance, save_instance
from solvers.bandwidth import optimal_bandwidth
from solvers.certify import attach
from solvers.p1 import p1_bandwidth
from solvers.result import Result, Status
from instances.tolerances import BANDWIDTH_RTOL, close
from tests.bruteforce import brute_force_p1, brute_force_p2, feasible_assignments
from tests.strategies import instances
from validation.check import (Check, check_assignment, check_bandwidth, check_result, p1_latency,
                              p2_latency)
from validation.compare import (EXIT_INCONSISTENT, EXIT_INTERRUPTED, EXIT_OK, EXIT_UNUSABLE,
                                ROW_FIELDS, Group, Outcome, assess, compare_instance,
                                compare_paths, main)

ROOT = Path(__file__).resolve().parents[1]
MALFORMED = Path(__file__).parent / "data" / "malformed"
P1_SOLVERS = solvers.solvers_for("P1")


# --------------------------------------------------------------------------------------
# Instances
# --------------------------------------------------------------------------------------
def small() -> Instance:
    """K=3, M=2; optimum P1 = 3.5 s: block 0 -> device 1 (1.5 + 2/2), block 1 -> device 2 (3 + 2/4)."""
    return Instance.from_arrays([[1.0, 2.0], [1.5, 1.5], [0.5, 3.0]], [1.0, 2.0], [4.0, 1.0, 4.0],
                                [1.0, 2.0, 4.0], gradient_bits=1.0, bandwidth_hz=1.0, name="small")


def ties() -> Instance:
    """K=4, M=3 with equal latencies everywhere (many optimal assignments)."""
    return Instance.from_arrays(np.full((4, 3), 2.0), [1.0, 1.0, 1.0], [1.0] * 4, [1.0] * 4,
                                gradient_bits=3.0, bandwidth_hz=3.0, name="ties")


def m_greater_than_k() -> Instance:
    return Instance.from_arrays([[1.0, 2.0, 3.0]], [1.0, 1.0, 1.0], [1.0], [1.0], 1.0, 1.0, name="mgk")


def memory_wall() -> Instance:
    return Instance.from_arrays([[1.0, 2.0], [1.0, 2.0]], [1.0, 5.0], [4.0, 4.0], [1.0, 1.0], 1.0, 1.0,
                                name="wall")


@pytest.fixture
def corpus(tmp_path) -> Path:
    """A folder with two feasible instances (one in a sub-folder) and an infeasible one."""
    folder = tmp_path / "corpus"
    (folder / "sub").mkdir(parents=True)
    save_instance(small(), folder / "a_small.json")
    save_instance(ties(), folder / "sub" / "b_ties.json")
    save_instance(memory_wall(), folder / "c_wall.json")
    (folder / "notes.txt").write_text("not an instance: ignored (not *.json)")
    return folder


def cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "validation.compare", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


# --------------------------------------------------------------------------------------
# The checker
# --------------------------------------------------------------------------------------
def test_checker_accepts_correct_solutions():
    inst = small()
    assert check_assignment(inst, [1, 2]) == []
    assert check_assignment(inst, np.array([0, 2])) == []        # numpy integers are indices too
    band = p1_bandwidth(inst, [1, 2])
    ok = attach(inst, Result(solver="x", problem="P1", status="optimal", objective_s=3.5, bound_s=3.5, seconds=0.0, assignment=(1, 2), bandwidth_hz=band))
    verdict = check_result(inst, ok)
    assert verdict.ok and verdict.valid_solution and verdict.objective_s == 3.5
    T, band2 = optimal_bandwidth(inst, [1, 2])
    verdict = check_result(inst, attach(inst, Result(solver="x", problem="P2", status="optimal", objective_s=T, bound_s=T, seconds=0.0, assignment=(1, 2), bandwidth_hz=band2)))
    assert verdict.ok and close(verdict.objective_s, T)
    # an optimal claim needs its certificate
    assert check_result(inst, Result(solver="x", problem="P1", status="optimal", objective_s=3.5, bound_s=3.5, seconds=0.0, assignment=(1, 2), bandwidth_hz=band)).problems == [
        "status optimal but no certificate"]


@pytest.mark.parametrize("assignment, fragment", [
    ([0, 0], "C2: blocks 0 and 1 are both on device 0"),
    ([1], "C1: assignment has 1 entries, but there are M = 2 blocks"),
    ([1, 2, 0], "C1: assignment has 3 entries"),
    ([1, 3], "C2: block 1 is given to device 3, out of range 0..2"),
    ([-1, 2], "C2: block 0 is given to device -1"),
    ([1.0, 2], "not a device index"),
    ([True, 2], "not a device index"),
    ([0, 1], "C3: block 1 needs 2 bytes but device 1 has 1 bytes"),
    (None, "no assignment"),
])
def test_checker_rejects_bad_assignments(assignment, fragment):
    problems = check_assignment(small(), assignment)
    assert any(fragment in p for p in problems), problems


@pytest.mark.parametrize("band, fragment", [
    ([0.0, 0.6, 0.5], "sum to 1.1 Hz, more than the budget B = 1 Hz"),
    ([0.1, 0.0, 0.9], "device 1 computes block 0 but has bandwidth 0.0 Hz"),
    ([-0.1, 0.5, 0.5], "negative"),
    ([0.0, math.nan, 0.5], "not finite"),
    ([0.5, 0.5], "has 2 entries, but there are K = 3 devices"),
    (None, "no bandwidths"),
])
def test_checker_rejects_bad_bandwidth(band, fragment):
    inst = small()
    problems = check_bandwidth(inst, [1, 2], band)
    assert any(fragment in p for p in problems), problems
    verdict = check_result(inst, Result(solver="x", problem="P2", status="feasible", objective_s=3.0, bound_s=None, seconds=0.0, assignment=(1, 2), bandwidth_hz=band))
    assert not verdict.ok and verdict.objective_s is None


def test_checker_budget_tolerance():
    inst = small()
    assert check_bandwidth(inst, [1, 2], [0.0, 0.5, 0.5 * (1 + BANDWIDTH_RTOL / 2)]) == []
    assert check_bandwidth(inst, [1, 2], [0.0, 0.5, 0.5 * (1 + 4 * BANDWIDTH_RTOL)]) != []


def test_checker_rejects_wrong_objective_and_bound():
    inst = small()
    band = p1_bandwidth(inst, [1, 2])
    wrong = check_result(inst, Result(solver="x", problem="P1", status="feasible", objective_s=3.4, bound_s=None, seconds=0.0, assignment=(1, 2), bandwidth_hz=band))
    assert wrong.problems == ["reported objective 3.4 s but the solution gives 3.5 s"]
    bound = check_result(inst, Result(solver="x", problem="P1", status="time_limit", objective_s=3.5, bound_s=3.6, seconds=0.0, assignment=(1, 2), bandwidth_hz=band))
    assert any("above its own solution" in p for p in bound.problems)
    T, band2 = optimal_bandwidth(inst, [1, 2])
    wrong2 = check_result(inst, Result(solver="x", problem="P2", status="feasible", objective_s=T * 0.99, bound_s=None, seconds=0.0, assignment=(1, 2), bandwidth_hz=band2))
    assert any("reported objective" in p for p in wrong2.problems)
    # P1's bandwidths must be the equal split
    uneven = check_result(inst, Result(solver="x", problem="P1", status="feasible", objective_s=3.5, bound_s=None, seconds=0.0, assignment=(1, 2), bandwidth_hz=(0.0, 0.4, 0.6)))
    assert any("B/M" in p for p in uneven.problems)


@pytest.mark.parametrize("result, fragment", [
    (Result(solver="x", problem="P1", status="optimal"), "status optimal but no assignment"),
    (Result(solver="x", problem="P1", status="feasible", objective_s=3.5), "status feasible but no assignment"),
    (Result(solver="x", problem="P1", status="infeasible", assignment=(1, 2)), "status infeasible but an assignment"),
    (Result(solver="x", problem="P2", status="bound"), "status bound but the bound is None"),
    (Result(solver="x", problem="P2", status="bound", bound_s=math.nan), "not finite"),
    (Result(solver="x", problem="P1", status="feasible", objective_s=None, bound_s=None, seconds=0.0, assignment=(1, 2)), "the objective is None"),
    (Result(solver="x", problem="P1", status="feasible", objective_s=math.inf, bound_s=None, seconds=0.0, assignment=(1, 2)), "the objective is inf"),
])
def test_checker_rejects_inconsistent_status(result, fragment):
    problems = check_result(small(), result).problems
    assert any(fragment in p for p in problems), problems


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(max_devices=5, max_blocks=3))
def test_checker_agrees_with_enumeration(inst):
    """check_assignment accepts exactly the maps brute force calls feasible; p1_latency's minimum
    over them is the brute-force optimum; p2_latency with optimal bandwidth matches the bisection."""
    feasible = set(feasible_assignments(inst))
    for devices in itertools.product(range(inst.K), repeat=inst.M):
        assert (check_assignment(inst, devices) == []) == (devices in feasible)
    best = brute_force_p1(inst)
    if feasible:
        assert close(min(p1_latency(inst, a) for a in feasible), best)
        a = next(iter(feasible))
        T, band = optimal_bandwidth(inst, a)
        assert check_bandwidth(inst, a, band) == []
        assert close(p2_latency(inst, a, band), T)
    else:
        assert best is None


# --------------------------------------------------------------------------------------
# The harness in-process: consistent runs
# --------------------------------------------------------------------------------------
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(max_devices=5, max_blocks=3))
def test_harness_consistent_on_random_instances(inst):
    """No false alarm on random instances (ties, memory walls, M > K); the optimum is brute force's."""
    fast = [n for n in P1_SOLVERS if n != "milp"]   # milp is covered below, at a few examples
    report = compare_instance(inst, problems=["P1"], solvers=fast, time_limit=10)
    assert report.issues == [] and report.exit_code == EXIT_OK
    (group,) = report.groups
    best = brute_force_p1(inst)
    if best is None:
        assert group.verdict == "infeasible" and group.optimum_s is None
    else:
        assert group.verdict == "optimal" and close(group.optimum_s, best)
        for o in group.outcomes:
            if o.gap is not None:
                assert o.gap >= -1e-9
                assert o.result.status != Status.OPTIMAL or o.gap <= 1e-9


@pytest.mark.parametrize("make", [small, ties, memory_wall, m_greater_than_k])
def test_harness_all_methods(make):
    """Every registered method, both problems, on hand-made instances: consistent, brute-force optimum."""
    inst = make()
    report = compare_instance(inst, time_limit=20)
    assert report.issues == [], report.issues
    assert {(r["problem"], r["solver"]) for r in report.rows} == set(solvers.REGISTRY)
    for group in report.groups:
        oracle = brute_force_p1(inst) if group.problem == "P1" else brute_force_p2(inst)
        if oracle is None:
            assert group.verdict == "infeasible"
            exact = solvers.EXACT[group.problem]
            assert all(o.result.status == Status.INFEASIBLE for o in group.outcomes if o.solver in exact)
        else:
            assert group.verdict == "optimal" and close(group.optimum_s, oracle, 1e-9)


# --------------------------------------------------------------------------------------
# The harness in-process: inconsistencies are flagged
# --------------------------------------------------------------------------------------
def _fake(problem, name, fn, monkeypatch, exact=False):
    monkeypatch.setitem(solvers.REGISTRY, (problem, name), fn)
    if exact:
        monkeypatch.setitem(solvers.EXACT, problem, solvers.EXACT[problem] | {name})


def _p1_result(inst, name, assignment, status="feasible", objective=None, bound=None):
    band = p1_bandwidth(inst, assignment)
    obj = p1_latency(inst, assignment) if objective is None else objective
    return Result(solver=name, problem="P1", status=status, objective_s=obj, bound_s=bound, seconds=0.0, assignment=tuple(assignment), bandwidth_hz=band)


def _run_fake(inst, names, problems=("P1",)):
    report = compare_instance(inst, problems=list(problems), solvers=names, time_limit=10)
    return report, report.issues


def test_flags_wrong_objective(monkeypatch):
    inst = small()
    _fake("P1", "liar", lambda i, time_limit=None: _p1_result(i, "liar", [1, 2], objective=3.0), monkeypatch)
    report, issues = _run_fake(inst, ["crunch", "liar"])
    assert report.exit_code == EXIT_INCONSISTENT
    assert any("liar: reported objective 3 s but the solution gives 3.5 s" in i for i in issues), issues


def test_flags_invalid_assignment(monkeypatch):
    inst = small()
    _fake("P1", "dup", lambda i, time_limit=None: _p1_result(i, "dup", [0, 0], objective=2.0), monkeypatch)
    report, issues = _run_fake(inst, ["crunch", "dup"])
    assert report.exit_code == EXIT_INCONSISTENT
    assert any("dup: C2: blocks 0 and 1 are both on device 0" in i for i in issues), issues
    row = next(r for r in report.rows if r["solver"] == "dup")
    assert row["gap"] is not None   # reported, though the check failed


def test_flags_bound_above_optimum(monkeypatch):
    inst = small()
    _fake("P1", "bad-bound", lambda i, time_limit=None: Result(solver="bad-bound", problem="P1", status="bound", bound_s=3.6), monkeypatch)
    report, issues = _run_fake(inst, ["crunch", "bad-bound"])
    assert report.exit_code == EXIT_INCONSISTENT
    assert any("bad-bound: lower bound 3.6 s is above the proven optimum 3.5 s" in i for i in issues), issues
    # a bound just below the optimum is fine
    _fake("P1", "bad-bound", lambda i, time_limit=None: Result(solver="bad-bound", problem="P1", status="bound", bound_s=3.4), monkeypatch)
    assert _run_fake(inst, ["crunch", "bad-bound"])[1] == []


def test_flags_exact_disagreement(monkeypatch):
    inst = small()
    # a valid but sub-optimal assignment, claimed optimal by an "exact" method
    _fake("P1", "wrong-exact", lambda i, time_limit=None: _p1_result(i, "wrong-exact", [2, 0], "optimal"),
          monkeypatch, exact=True)
    assert p1_latency(inst, [2, 0]) == 4.0   # max(0.5 + 2/4, 2.0 + 2/1) by hand, worse than 3.5
    report, issues = _run_fake(inst, ["crunch", "wrong-exact"])
    assert report.exit_code == EXIT_INCONSISTENT
    assert any("exact methods disagree: wrong-exact claimed optimal 4 s (not certified) but the certified "
               "optimum is 3.5 s" in i for i in issues), issues
    assert report.groups[0].optimum_s == 3.5   # the certified claim
    wrong = next(o for o in report.outcomes if o.solver == "wrong-exact").result
    assert wrong.status == Status.FEASIBLE and wrong.certificate is None and "not certified" in wrong.message


def test_uncertifiable_claim_of_the_only_exact_method_is_withdrawn(monkeypatch):
    inst = small()
    _fake("P1", "wrong-exact", lambda i, time_limit=None: _p1_result(i, "wrong-exact", [2, 0], "optimal"),
          monkeypatch, exact=True)
    monkeypatch.setitem(solvers.EXACT, "P1", {"wrong-exact"})   # the only exact method
    report, issues = _run_fake(inst, ["wrong-exact", "comm-aware"])
    assert report.groups[0].optimum_s is None and report.groups[0].verdict == "unknown"
    row = next(r for r in report.rows if r["solver"] == "wrong-exact")
    assert row["status"] == "feasible" and row["certified"] is None
    assert "claimed optimal but not certified" in row["message"]
    assert report.method_table().set_index("solver").loc["wrong-exact", "uncertified"] == 1


def test_flags_solution_below_optimum(monkeypatch):
    """Defence in depth: were a certified optimum wrong, a valid solution below it is flagged."""
    inst = small()
    monkeypatch.setitem(solvers.EXACT, "P1", {"e1"})
    claim = _p1_result(inst, "e1", [2, 0], "optimal")            # 4 s, "certified" by hand below
    below = _p1_result(inst, "h", [1, 2], "feasible")            # 3.5 s
    outcomes = [Outcome("small", "P1", "e1", claim, Check([], 4.0)),
                Outcome("small", "P1", "h", below, check_result(inst, below, "P1"))]
    group = assess(Group("small", "P1", outcomes))
    assert any("h: valid solution of 3.5 s is below the proven optimum 4 s" in i for i in group.issues), group.issues


def test_flags_infeasible_claim_on_feasible_instance(monkeypatch):
    inst = small()
    _fake("P1", "gives-up", lambda i, time_limit=None: Result(solver="gives-up", problem="P1", status="infeasible", message="no"),
          monkeypatch, exact=True)
    report, issues = _run_fake(inst, ["crunch", "gives-up"])
    assert any("gives-up: error: claimed infeasible but not certified: an assignment of every block exists"
               in i for i in issues), issues
    assert report.exit_code == EXIT_INCONSISTENT
    # a heuristic that hits the memory wall proves nothing: its own status, no flag
    report, issues = _run_fake(inst, ["crunch", "compute-aware"])
    assert next(o for o in report.outcomes if o.solver == "compute-aware").result.status == Status.NO_SOLUTION
    assert issues == []


def test_flags_errors_and_non_results(monkeypatch):
    def boom(inst, time_limit=None):
        raise RuntimeError("kaput")

    _fake("P1", "boom", boom, monkeypatch)
    _fake("P1", "junk", lambda i, time_limit=None: 42, monkeypatch)
    report, issues = _run_fake(small(), ["crunch", "boom", "junk"])
    assert report.exit_code == EXIT_INCONSISTENT
    assert any("boom: error: RuntimeError: kaput" in i for i in issues), issues
    assert any("junk: error: returned int, not a Result" in i for i in issues), issues


def test_time_limit_without_answer_is_not_flagged(monkeypatch):
    _fake("P1", "slow", lambda i, time_limit=None: Result(solver="slow", problem="P1", status="time_limit", message="stopped"),
          monkeypatch, exact=True)
    report, issues = _run_fake(small(), ["crunch", "slow"])
    assert issues == [] and report.groups[0].optimum_s == 3.5


def test_flags_bad_p2_bandwidth(monkeypatch):
    def greedy(inst, time_limit=None):   # every involved device takes the whole band
        band = [inst.bandwidth_hz if k in (1, 2) else 0.0 for k in range(inst.K)]
        return Result(solver="greedy", problem="P2", status="feasible", objective_s=p2_latency(inst, [1, 2], band), bound_s=None, seconds=0.0, assignment=(1, 2), bandwidth_hz=band)

    _fake("P2", "greedy", greedy, monkeypatch)
    report, issues = _run_fake(small(), ["greedy"], problems=("P2",))
    assert any("greedy: bandwidths sum to 2 Hz, more than the budget B = 1 Hz" in i for i in issues), issues
    assert report.exit_code == EXIT_INCONSISTENT


def test_assess_pure_on_hand_made_results(monkeypatch):
    """assess() alone: agreement within EXACT_RTOL is not flagged, beyond it is."""
    inst = small()
    monkeypatch.setitem(solvers.EXACT, "P1", {"e1", "e2"})

    def outcome(name, objective):
        res = attach(inst, _p1_result(inst, name, [1, 2], "optimal", objective=objective))
        return Outcome("small", "P1", name, res, check_result(inst, res, "P1"))

    group = assess(Group("small", "P1", [outcome("e1", 3.5), outcome("e2", 3.5 * (1 + 1e-9))]))
    assert group.issues == [] and group.optimum_s == 3.5
    group = assess(Group("small", "P1", [outcome("e1", 3.5), outcome("e2", 3.6)]))
    assert any("exact methods disagree" in i for i in group.issues)


# --------------------------------------------------------------------------------------
# Paths, selection, interruption (in-process)
# --------------------------------------------------------------------------------------
def test_compare_paths_bad_file_beside_good(corpus):
    (corpus / "zz_bad.json").write_text('{"format": "deft-instance/1"')
    report = compare_paths([corpus], problems=["P1"], time_limit=10)
    assert report.exit_code == EXIT_UNUSABLE
    assert report.files == sorted(report.files)
    labels = {r["instance"] for r in report.rows}
    assert {str(corpus / "a_small.json"), str(corpus / "sub" / "b_ties.json"), str(corpus / "c_wall.json")} <= labels
    bad = [r for r in report.rows if r["solver"] == "-"]
    assert len(bad) == 1 and bad[0]["status"] == "error" and "zz_bad.json: field '<json>'" in bad[0]["message"]


def test_inconsistency_takes_precedence_over_unusable(corpus, monkeypatch):
    (corpus / "zz_bad.json").write_text("[]")
    _fake("P1", "liar", lambda i, time_limit=None: _p1_result(i, "liar", [0, 1, 2][: i.M], objective=0.0)
          if i.M <= i.K else Result(solver="liar", problem="P1", status="infeasible"), monkeypatch)
    report = compare_paths([corpus], problems=["P1"], solvers=["crunch", "liar"], time_limit=10)
    assert report.unusable and report.issues
    assert report.exit_code == EXIT_INCONSISTENT


def test_empty_folder_and_missing_path(tmp_path):
    (tmp_path / "empty").mkdir()
    report = compare_paths([tmp_path / "empty", tmp_path / "nope.json"], problems=["P1"])
    assert report.exit_code == EXIT_UNUSABLE
    assert len(report.unusable) == 2
    assert any("holds no *.json files" in m for m in report.unusable)
    assert any("nope.json: field '<file>': cannot be read" in m for m in report.unusable)


def test_selection_errors():
    with pytest.raises(ValueError, match="unknown solver"):
        compare_paths([MALFORMED], solvers=["no-such-method"])
    with pytest.raises(ValueError, match="unknown problem"):
        compare_paths([MALFORMED], problems=["P3"])


def test_interrupt_keeps_finished_rows(corpus, monkeypatch, tmp_path):
    def ctrl_c(inst, time_limit=None):
        if inst.name == "ties":
            raise KeyboardInterrupt
        res = solvers.run("P1", "crunch", inst)
        res.solver = "ctrl-c"
        return res

    _fake("P1", "ctrl-c", ctrl_c, monkeypatch)
    report = compare_paths([corpus], problems=["P1"], solvers=["crunch", "ctrl-c"], time_limit=10)
    assert report.interrupted and report.issues == []
    # sorted: a_small, c_wall, sub/b_ties; b_ties got crunch's row before the interrupt
    assert [(Path(r["instance"]).name, r["solver"]) for r in report.rows] == [
        ("a_small.json", "crunch"), ("a_small.json", "ctrl-c"), ("c_wall.json", "crunch"),
        ("c_wall.json", "ctrl-c"), ("b_ties.json", "crunch")]
    for fmt in ("json", "csv"):
        out = tmp_path / f"partial.{fmt}"
        code = main([str(corpus), "--problems", "P1", "--solvers", "crunch,ctrl-c", "--format", fmt,
                     "--output", str(out)])
        assert code == EXIT_INTERRUPTED
        rows = (json.loads(out.read_text())["rows"] if fmt == "json"
                else list(csv.DictReader(io.StringIO(out.read_text()))))
        assert len(rows) == 5


def test_main_in_process(corpus, capsys):
    code = main([str(corpus), "--problems", "P1", "--solvers", "crunch,milp", "--format", "json"])
    out, err = capsys.readouterr()
    assert code == EXIT_OK and err == ""
    doc = json.loads(out)
    assert {r["solver"] for r in doc["rows"]} == {"crunch", "milp"}
    assert doc["summary"]["exit_code"] == 0 and doc["summary"]["problems"] == []


# --------------------------------------------------------------------------------------
# The command line, end to end (subprocess)
# --------------------------------------------------------------------------------------
def test_cli_json(corpus):
    proc = cli(corpus, "--format", "json", "--problems", "P1", "--time-limit", "10")
    assert proc.returncode == EXIT_OK, proc.stderr
    assert proc.stderr == ""
    doc = json.loads(proc.stdout)
    rows = doc["rows"]
    assert all(list(r) == list(ROW_FIELDS) for r in rows)
    files = [corpus / "a_small.json", corpus / "c_wall.json", corpus / "sub" / "b_ties.json"]
    assert len(rows) == len(files) * len(P1_SOLVERS)
    assert [r["instance"] for r in rows] == sorted(r["instance"] for r in rows)   # sorted, recursive
    for path in files:
        inst = load_instance(path)
        oracle = brute_force_p1(inst)
        mine = [r for r in rows if r["instance"] == str(path)]
        for r in mine:
            if r["solver"] in solvers.EXACT["P1"]:
                if oracle is None:
                    assert r["status"] == "infeasible" and r["gap"] is None
                else:
                    assert r["status"] == "optimal" and close(r["objective_s"], oracle) and r["gap"] == 0.0
                    assert check_assignment(inst, r["assignment"]) == []
    assert doc["summary"]["instances"] == 3 and doc["summary"]["exit_code"] == 0


def test_cli_csv_output_file(corpus, tmp_path):
    out = tmp_path / "rows.csv"
    proc = cli(corpus, "--format", "csv", "--output", out, "--problems", "P1", "--solvers", "crunch,comm-aware",
               "--time-limit", "10")
    assert proc.returncode == EXIT_OK, proc.stderr
    assert proc.stdout == ""
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert list(rows[0]) == list(ROW_FIELDS)
    assert len(rows) == 3 * 2 and {r["solver"] for r in rows} == {"crunch", "comm-aware"}
    small_crunch = next(r for r in rows if r["instance"].endswith("a_small.json") and r["solver"] == "crunch")
    assert float(small_crunch["objective_s"]) == 3.5 and json.loads(small_crunch["assignment"]) == [1, 2]
    assert "Exit status: 0" in proc.stderr   # csv's summary goes to stderr


def test_cli_table(corpus):
    proc = cli(corpus, "--problems", "P1", "--time-limit", "10")
    assert proc.returncode == EXIT_OK, proc.stderr
    for name in ("a_small.json", "b_ties.json", "c_wall.json"):
        assert name in proc.stdout
    assert "optimum T* = 3.5 s" in proc.stdout
    assert "infeasible (proven)" in proc.stdout
    assert "Problems found: 0" in proc.stdout and "Exit status: 0 (consistent)" in proc.stdout


def test_cli_bad_file_beside_good_ones(corpus, tmp_path):
    bad = corpus / "b_bad.json"
    bad.write_text((MALFORMED / "negative_latency.json").read_text())
    proc = cli(corpus, "--format", "json", "--problems", "P1", "--solvers", "crunch", "--time-limit", "10")
    assert proc.returncode == EXIT_UNUSABLE
    assert "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [f"{bad}: field 'compute_latency[2][0]': must be non-negative, got -0.5"]
    rows = json.loads(proc.stdout)["rows"]
    assert [Path(r["instance"]).name for r in rows] == ["a_small.json", "b_bad.json", "c_wall.json", "b_ties.json"]
    assert rows[1]["status"] == "error" and rows[1]["message"] == proc.stderr.strip()
    assert rows[0]["status"] == "optimal"


def test_cli_whole_malformed_corpus():
    proc = cli(MALFORMED, "--problems", "P1", "--solvers", "crunch")
    assert proc.returncode == EXIT_UNUSABLE
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == len(list(MALFORMED.glob("*.json")))
    assert all(": field '" in line for line in lines)


def test_cli_usage_errors(corpus):
    for args in (["--solvers", "nope"], ["--problems", "P9"], ["--time-limit", "-1"], ["--format", "xml"]):
        proc = cli(corpus, *args)
        assert proc.returncode == EXIT_UNUSABLE, args
        assert "Traceback" not in proc.stderr and "error:" in proc.stderr


@pytest.mark.skipif(not solvers.solvers_for("P2"), reason="no P2 method registered yet")
def test_cli_p2_rows(corpus):
    proc = cli(corpus / "a_small.json", "--format", "json", "--problems", "P2", "--time-limit", "20")
    assert proc.returncode == EXIT_OK, proc.stderr
    rows = json.loads(proc.stdout)["rows"]
    assert [r["solver"] for r in rows] == solvers.solvers_for("P2")
    oracle = brute_force_p2(small())
    for r in rows:
        if r["solver"] in solvers.EXACT["P2"]:
            assert close(r["objective_s"], oracle, 1e-9)
        if r["bandwidth_hz"] is not None:
            assert check_bandwidth(small(), r["assignment"], r["bandwidth_hz"]) == []


def test_checker_rejects_overflowing_latency():
    inst = small()
    band = (0.0, 1e-320, 0.5)   # D / (B_k R_k) overflows to inf
    verdict = check_result(inst, Result(solver="x", problem="P2", status="feasible", objective_s=3.5, bound_s=None, seconds=0.0, assignment=(1, 2), bandwidth_hz=band))
    assert any("not finite" in p for p in verdict.problems), verdict.problems
