"""Time limits: every method honours ``time_limit``; a stopped one reports its incumbent and bound.

(The outer guard of the parallel harness, which kills what does not stop, is
tested in ``tests/test_guard.py``.)

Oracles: the wall clock, the independent checker (validation.check) for every
incumbent, and the exact optimum from a fast exact method (crunch for P1,
exact for P2, both of which finish in milliseconds at these sizes) for every
incumbent and bound.

Allowance: a method's wall time, everything it does in process included
(model building, the hand-over to a solver, the certificate), must stay within
:func:`time_allowance_s` = max(1.5 x limit, limit + 2 s).  The methods that
build models (P1 milp, P2 milp, minlp, relaxation) and those that loop (linear
search, dual ascent) run at K = 500, M = 12 and at K = 5000, M = 48, where a
model alone would take seconds to tens of seconds to build: they must
estimate that and stop instead.  The allowance is large against what the
methods measure on this machine (overruns of a few tenths of a second), so no
assertion depends on the machine's speed beyond it.
"""
from __future__ import annotations

import functools
import math
import time

import pytest

import solvers
from instances.generate import generate_instance
from solvers.result import Status
from instances.tolerances import BOUND_RTOL, EXACT_RTOL, close
from validation.check import check_result
from validation.compare import compare_instance


def time_allowance_s(time_limit: float) -> float:
    """Wall time (s) a method may take with ``time_limit``: max(1.5 x limit, limit + 2 s).

    The fixed 2 s covers what a limit cannot stop at a fine grain (the first
    Pyomo import of a process, the last solver call, the certificate) on a
    loaded 2-core machine; the 1.5 factor, a solver's own overrun of long limits.

    >>> time_allowance_s(1.0), time_allowance_s(10.0)
    (3.0, 15.0)
    """
    return max(1.5 * time_limit, time_limit + 2.0)


#: The instances, by size: the generator's scenario; at M = 48 with 48 layers and the batch
#: scaled to 32 * 12 // 48 = 8, as validation.bench does, so that the deepest block fits
#: (the default batch puts a memory wall at block 20).  "identical" devices differ only in
#: memory: nearly every pair is as fast as the optimum, so the P1 MILP would keep 225,000 of
#: its 240,000 pairs (about 10 s to build: it must be refused, not built).
SIZES = {
    "K500": dict(K=500, M=12),
    "K5000-M48": dict(K=5000, M=48, num_layers=48, batch_size=8),
    "K5000-M48-identical": dict(K=5000, M=48, num_layers=48, batch_size=8, compute_factor_min=1.0,
                                compute_factor_max=1.0, fading="none"),
}

#: Methods run at every size: those that build a model or loop over thresholds or iterations.
#: The others (closed forms, benchmarks, the exact P2 method) run at K = 500 only.
SCALING_METHODS = [("P1", "milp"), ("P1", "linear-search"), ("P2", "milp"), ("P2", "minlp"),
                   ("P2", "relaxation"), ("P2", "dual-ascent"), ("P2", "dual-ascent-rich")]


@functools.lru_cache(maxsize=None)
def sized(size: str):
    """The instance of ``size`` and its optima (crunch for P1, exact for P2), built once."""
    spec = dict(SIZES[size])
    inst = generate_instance(spec.pop("K"), spec.pop("M"), seed=1, **spec)
    return inst, {"P1": solvers.run("P1", "crunch", inst).objective_s,
                  "P2": solvers.run("P2", "exact", inst).objective_s}


def every_case():
    """(size, method, time limit) of test_every_method_honours_its_time_limit."""
    for size in SIZES:
        for key in sorted(solvers.REGISTRY) if size == "K500" else SCALING_METHODS:
            for time_limit in ([0.3, 1e-3] if size == "K500" else [1.0, 1e-3]):
                yield pytest.param(size, key, time_limit, id=f"{size}-{'-'.join(key)}-{time_limit:g}")


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


@pytest.mark.parametrize("size, key, time_limit", list(every_case()))
def test_every_method_honours_its_time_limit(size, key, time_limit):
    inst, optima = sized(size)
    problem, name = key
    start = time.perf_counter()
    res = solvers.run(problem, name, inst, time_limit=time_limit)
    elapsed = time.perf_counter() - start
    assert elapsed <= time_allowance_s(time_limit), (key, elapsed, res.status, res.message)
    assert_sound(inst, res, problem, optima[problem])
    if res.status == Status.TIME_LIMIT:
        assert res.message   # says which limit stopped it


@pytest.mark.parametrize("problem, name, K, time_limit, exact", [
    # K = 50 is beyond SCIP in 0.5 s: an incumbent (at worst P1's start) and SCIP's dual bound
    ("P2", "minlp", 50, 0.5, "exact"),
    # K = 1000: a HiGHS step does not finish in 0.2 s; the incumbent is at worst CRUNCH's start
    ("P2", "milp", 1000, 0.2, "exact"),
    # stopped in its start heuristic, before any model: Proposition 1's assignment on the
    # memory prefix (or a better one of the bisection) and the bound the bisection has proven
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


def test_sequential_harness_passes_the_limit(monkeypatch):
    """In process, every method receives the --time-limit value."""
    seen = {}

    def spy(inst, time_limit=None):
        seen["time_limit"] = time_limit
        return solvers.run("P1", "crunch", inst)

    monkeypatch.setitem(solvers.REGISTRY, ("P1", "spy"), spy)
    compare_instance(generate_instance(5, 3, seed=1), problems=["P1"], solvers=["spy"], time_limit=7.5)
    assert seen == {"time_limit": 7.5}
