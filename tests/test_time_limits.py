"""Time limits: every method honours ``time_limit``; a stopped one reports its incumbent and bound;
the outer guard of the parallel harness kills what does not stop.

Oracles: the wall clock, the independent checker (validation.check) for every
incumbent, and the exact optimum from a fast exact method (crunch for P1,
exact for P2, both of which finish in milliseconds at these sizes) for every
incumbent and bound.

Allowance: a method may overrun its limit by the model building it cannot
interrupt (Pyomo builds the whole MILP/MINLP before HiGHS or SCIP starts
counting; measured overruns are in docs/reliability.md), hence
``OVERRUN_ALLOWANCE_S``.
"""
from __future__ import annotations

import math
import time

import pytest

import solvers
from instances import save_instance
from instances.generate import generate_instance
from solvers.result import Status
from solvers.tolerances import BOUND_RTOL, EXACT_RTOL, close
from tests.test_parallel import hang
from validation.check import check_result
from validation.compare import compare_instance, compare_paths

#: Seconds a method may run past its limit (uninterruptible model building at K = 500, with
#: the first Pyomo import of the process): measured up to ~0.5 s, allowed 2 s.
OVERRUN_ALLOWANCE_S = 2.0


@pytest.fixture(scope="module")
def k500():
    return generate_instance(500, 12, seed=1)


@pytest.fixture(scope="module")
def optima(k500):
    return {"P1": solvers.run("P1", "crunch", k500).objective_s, "P2": solvers.run("P2", "exact", k500).objective_s}


def below(value, ceiling, rtol):
    return value <= ceiling or close(value, ceiling, rtol)


def assert_sound(inst, res, problem, optimum_s):
    """Not an error; a returned answer passes the checker and is not below the optimum; a bound is not above it."""
    assert res.status != Status.ERROR, res.message
    verdict = check_result(inst, res, problem)
    assert verdict.ok, verdict.problems
    if verdict.valid_solution:
        assert below(optimum_s, verdict.objective_s, EXACT_RTOL), (verdict.objective_s, optimum_s)
    if res.bound_s is not None:
        assert math.isfinite(res.bound_s) and below(res.bound_s, optimum_s, BOUND_RTOL), (res.bound_s, optimum_s)


@pytest.mark.parametrize("time_limit", [0.3, 1e-3])
@pytest.mark.parametrize("key", sorted(solvers.REGISTRY), ids="-".join)
def test_every_method_honours_its_time_limit(k500, optima, key, time_limit):
    problem, name = key
    start = time.perf_counter()
    res = solvers.run(problem, name, k500, time_limit=time_limit)
    elapsed = time.perf_counter() - start
    assert elapsed <= time_limit + OVERRUN_ALLOWANCE_S, (key, elapsed, res.status, res.message)
    assert res.status in (Status.OPTIMAL, Status.FEASIBLE, Status.TIME_LIMIT, Status.BOUND, Status.INFEASIBLE)
    assert_sound(k500, res, problem, optima[problem])
    if res.status == Status.TIME_LIMIT:
        assert res.message   # says which limit stopped it


@pytest.mark.parametrize("problem, name, K, time_limit, exact", [
    # K = 50 is beyond SCIP in 0.5 s: an incumbent (at worst P1's start) and SCIP's dual bound
    ("P2", "minlp", 50, 0.5, "exact"),
    # K = 1000: a HiGHS step does not finish in 0.2 s; the incumbent is at worst CRUNCH's start
    ("P2", "milp", 1000, 0.2, "exact"),
    # stopped before HiGHS's first incumbent: the start (a bottleneck assignment) and the
    # elementary bound max_m min_k c[k, m]
    ("P1", "milp", 1000, 1e-3, "crunch"),
], ids=["p2-minlp", "p2-milp", "p1-milp"])
def test_stopped_solver_reports_incumbent_and_bound(problem, name, K, time_limit, exact):
    inst = generate_instance(K, 12, seed=1)
    optimum = solvers.run(problem, exact, inst).objective_s
    res = solvers.run(problem, name, inst, time_limit=time_limit)
    assert res.status == Status.TIME_LIMIT, (res.status, res.message)
    assert res.assignment is not None and res.bound_s is not None
    assert res.bound_s <= res.objective_s
    assert_sound(inst, res, problem, optimum)


# --------------------------------------------------------------------------------------
# The outer guard
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("time_limit, grace", [(0.5, 0.5), (1.0, 0.2)])
def test_guard_kills_at_time_limit_plus_grace(tmp_path, monkeypatch, time_limit, grace):
    monkeypatch.setitem(solvers.REGISTRY, ("P1", "hang"), hang)
    save_instance(generate_instance(5, 3, seed=1), tmp_path / "one.json")
    start = time.monotonic()
    report = compare_paths([tmp_path], problems=["P1"], solvers=["crunch", "hang"], time_limit=time_limit,
                           jobs=1, grace_s=grace)
    wall = time.monotonic() - start
    crunch_row, hang_row = report.rows
    assert crunch_row["status"] == "optimal"
    assert hang_row["status"] == "time_limit" and "killed by the outer guard" in hang_row["message"]
    assert time_limit + grace <= hang_row["seconds"] < time_limit + grace + 1.0
    assert wall < time_limit + grace + 10.0   # worker start-up included
    assert report.issues == []                # a killed method is not an inconsistency


def test_guarded_sweep_of_a_hard_instance_kills_nothing(tmp_path):
    """Every real method stops by itself within the default grace on K = 50 (minlp stops at its limit)."""
    save_instance(generate_instance(50, 12, seed=1), tmp_path / "k50.json")
    report = compare_paths([tmp_path], time_limit=0.5, jobs=2)
    assert len(report.rows) == len(solvers.REGISTRY)
    assert not any("outer guard" in r["message"] for r in report.rows), report.rows
    assert report.issues == [] and report.exit_code == 0
    minlp = next(r for r in report.rows if r["problem"] == "P2" and r["solver"] == "minlp")
    assert minlp["status"] in ("time_limit", "optimal") and minlp["bound_s"] is not None


def test_sequential_harness_passes_the_limit(monkeypatch):
    """In process, every method receives the --time-limit value."""
    seen = {}

    def spy(inst, time_limit=None):
        seen["time_limit"] = time_limit
        return solvers.run("P1", "crunch", inst)

    monkeypatch.setitem(solvers.REGISTRY, ("P1", "spy"), spy)
    compare_instance(generate_instance(5, 3, seed=1), problems=["P1"], solvers=["spy"], time_limit=7.5)
    assert seen == {"time_limit": 7.5}
