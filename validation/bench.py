"""Speed and scale: wall time of every method against the solvers people would use.

Usage::

    python -m validation.bench [--quick] [--out DIR] [--budget SECONDS]

For each size (problem, K devices, M blocks, seed) the benchmark builds one
instance with :func:`bench_instance` (untimed), runs the methods chosen for
that size, and prints each method's status, wall time, time *relative to the
reference measured in the same run* (``crunch`` for P1, ``exact`` for P2),
objective and whether it agrees with the other exact methods.  It writes, in
``--out`` (default ``bench-results/``):

``bench.csv``
    one row per (problem, K, M, seed, method): :data:`BENCH_COLUMNS`;
``growth.csv``
    the time ratio each time K doubles (``kind = step``) and the empirical
    exponent fitted on log-log axes (``kind = fit``): :data:`GROWTH_COLUMNS`;
``targets.csv``
    the issue's speed targets, measured and whether they are met: :data:`TARGET_COLUMNS`;
``machine.json``
    CPU, cores, library versions and the command line;
``time_vs_K.png``
    log-log plot of wall time (s) against K, panels (a) P1 and (b) P2; one colour
    per M (tab10, the same in both panels), one marker and dash pattern per
    method, open markers, x ticks at the K values run, legends outside the axes;
``tables.md``
    the tables of ``docs/performance.md`` from this run, in Markdown
    (:mod:`validation.bench_tables`).

What is timed
-------------
* Each method is called through ``solvers.run(problem, method, instance,
  time_limit, certify=False)``: everything the method does (the MILP's Pyomo
  model build included), without the certificate, whose own cost is timed
  separately for the reference methods and reported in ``certify_s`` (it is
  what :func:`solvers.run` adds by default).  One untimed warm-up call of every
  method on a tiny instance comes first (so that imports are not timed).
* Fast methods run at least :data:`MIN_REPEATS` times (unless that takes
  over :data:`MAX_SPENT_S`) and until :data:`REPEAT_BUDGET_S` (``--budget``)
  is spent, at most :data:`MAX_REPEATS` times, and the *median* is reported;
  the reference solvers (:data:`SLOW_METHODS`) run once, with a time limit.
* ``peer`` is the solver a researcher writes in ten lines around SciPy's
  ``linear_sum_assignment`` (:func:`peer_p1`, :func:`peer_p2`): P1, bisection
  over the sorted distinct latencies with an LSAP on the 0/1 matrix
  ``[c > T]`` as the feasibility test; P2, bisection on T (to a relative
  width of 1e-12) with an LSAP on the weights ``D / (R_k B (T - tcp))`` and
  the fixed-assignment bandwidth of the last feasible assignment at the end.
  It is timed like the fast methods (median of >= 5 runs) where one run takes
  under :data:`PEER_REPEAT_S`, once otherwise, and stopped at
  :data:`PEER_LIMIT_S` (then ``time_limit``, and the ratio is a lower bound).
  Its optimum is checked against the exact one like every method's.
  ``ratio_to_peer`` is each method's time over the peer's, in the same run.
* ``crunch-lean`` / ``exact-lean`` are the references' lean entry points
  (:func:`solvers.p1.p1_answer`, :func:`solvers.p2_exact.p2_answer`): they
  return what the peer returns, ``(T*, assignment)``, with no Result, clock
  or certificate, and must equal the full call's objective bit for bit
  (``objectives_agree``).  Timed with a third of the budget (still at least
  :data:`MIN_REPEATS` runs).  The targets against the peer are measured on
  them; each target's note gives the full call's ratio too.
* ``matrix-pass`` (P1) is not a solver: it is the single vectorised pass
  ``tcp + upload[:, None]`` that builds the (K, M) latency matrix, the floor
  against which CRUNCH is measured.
* ``crunch-batch`` / ``exact-batch`` (:mod:`solvers.batch`) solve
  :data:`BATCH_DRAWS` draws of one size in one call (validation included);
  their ``seconds`` are per draw, against single calls of ``crunch`` /
  ``exact`` on the same, already built instances (``crunch-single`` /
  ``exact-single``, also per draw).
* Peak memory (``peak_bytes``) is measured in a separate, untimed run under
  :mod:`tracemalloc` (NumPy's allocations are tracked) for ``crunch``,
  ``matrix-pass`` and ``exact``; ``matrix_bytes`` = 8 K M.

What is checked (never timed assertions)
----------------------------------------
Every result is re-checked by :func:`validation.check.check_result`; the
exact methods (:data:`solvers.EXACT`) that claim ``optimal`` on one size must
agree to :data:`~instances.tolerances.EXACT_RTOL`; no feasible answer (a
heuristic, or a stopped solver's incumbent) may be below the optimum.  The
exit status is 1 if any of this fails, else 0 (a missed speed target is a
measurement, reported in ``targets.csv`` and the summary, not an error).

Growth
------
For method f and sizes :math:`K_1 < K_2` the local exponent is

.. math:: \\alpha = \\frac{\\log(t_f(K_2) / t_f(K_1))}{\\log(K_2 / K_1)},

and the fitted exponent is the least-squares slope of :math:`\\log t` on
:math:`\\log K` over the sizes with ``K >= FIT_MIN_K`` (small sizes measure
fixed overheads).  An O(K) method shows alpha near 1.

Instances
---------
``generator``: the generator's RoBERTa-base scenario (:mod:`instances.generate`),
with a model of ``max(M, 12)`` layers and the batch scaled as ``32 * 12 // M``,
so that the deepest block needs about the same memory as in the 12-layer
set-up (the default batch of 32 puts the memory wall at block 20 and makes
every instance with M = 48 or 96 infeasible).  ``identical-devices``: the
same with every compute factor 1 and no fading, so that devices differ only
in memory -- the worst case of the row filters of CRUNCH and of the P2 oracle
(every device passes them) and a case full of ties.

Examples
--------
>>> growth_exponent([100, 200, 400], [1.0, 4.0, 16.0])     # t ~ K^2
2.0
>>> median, runs, _ = time_call(lambda: sum(range(1000)), budget_s=0.01, max_repeats=5)
>>> 1 <= runs <= 5 and median > 0
True
"""
from __future__ import annotations

import argparse
import csv
import gc
import json
import math
import os
import platform
import sys
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

import solvers as _solvers
from instances import Instance
from instances.cli import add_version
from instances import generate as _generate
from instances.generate import generate_instance
from solvers.result import Result, Status
from instances.tolerances import EXACT_RTOL, close, rel_gap

from . import bench_tables
from .check import check_result

#: Column order of ``bench.csv``.
BENCH_COLUMNS = ("problem", "scenario", "K", "M", "seed", "method", "status", "seconds", "repeats", "time_limit_s",
                 "reference", "ratio_to_reference", "ratio_to_peer", "certify_s", "objective_s", "gap_to_exact",
                 "objectives_agree", "iterations", "peak_bytes", "matrix_bytes", "note")
#: Column order of ``growth.csv``.
GROWTH_COLUMNS = ("problem", "method", "M", "kind", "K_from", "K_to", "seconds_from", "seconds_to",
                  "time_ratio", "exponent", "points")
#: Column order of ``targets.csv``.
TARGET_COLUMNS = ("target", "problem", "K", "M", "method", "reference", "measured", "threshold",
                  "unit", "met", "note")

#: The method every other one is compared with, per problem.
REFERENCE = {"P1": "crunch", "P2": "exact"}

#: The lean entry points of the references, timed beside them: :func:`solvers.p1.p1_answer` and
#: :func:`solvers.p2_exact.p2_answer` return ``(T*, assignment)``, what the peer returns (no Result).
LEAN = {"P1": "crunch-lean", "P2": "exact-lean"}
#: Reference solvers: run once, with a time limit.
SLOW_METHODS = frozenset({"milp", "minlp", "linear-search", "hungarian-search", "crunch-literal"})
#: The bisection + SciPy LSAP peer: stopped after this many seconds ...
PEER_LIMIT_S = 8.0
#: ... and repeated (median of >= MIN_REPEATS) only where one run takes less than this.
PEER_REPEAT_S = 0.5
#: Draws of the batch-API rows (K = 50, M = 12; fewer with --quick).
BATCH_DRAWS = 10_000
#: Default time limit of a slow method, seconds.
DEFAULT_TIME_LIMIT_S = 60.0
#: Seconds of repeated runs per fast method and size (``--budget``); the median is kept.
REPEAT_BUDGET_S = 0.3
#: At most this many timed runs per method and size.
MAX_REPEATS = 50
#: At least this many timed runs of a fast method (one disturbed run must not decide) ...
MIN_REPEATS = 5
#: ... unless its runs have already taken this long in all (seconds).
MAX_SPENT_S = 5.0
#: Sizes below this K are left out of the fitted exponent (fixed overheads dominate).
FIT_MIN_K = 1000
#: Methods whose peak memory is measured (tracemalloc).
MEMORY_METHODS = frozenset({"crunch", "matrix-pass", "exact"})
#: Pseudo-methods of the bench (not in :data:`solvers.REGISTRY`).
BENCH_ONLY = frozenset({"matrix-pass", "peer", *LEAN.values()})
#: The device counts of the scaling runs (doubling, ending at 100,000).
K_GRID = (50, 100, 200, 400, 800, 1600, 3125, 6250, 12500, 25000, 50000, 100000)
#: "Finishes in seconds" (P2 exact at K = 10,000, M = 96) read as at most this long.
SECONDS_TARGET_S = 10.0
#: Scenarios: the generator's random devices, and identical devices (every
#: f_k = 1, no fading), the worst case of the row filters of CRUNCH and of the
#: P2 oracle (every device passes them).
SCENARIOS = ("generator", "identical-devices")


# --------------------------------------------------------------------------------------
# Instances and the plan
# --------------------------------------------------------------------------------------
def bench_instance(K: int, M: int, seed: int, scenario: str = "generator") -> Instance:
    """The benchmark's instance: the generator's scenario with ``max(M, 12)`` layers, batch ``32*12//M``.

    ``scenario="identical-devices"`` sets every compute factor to 1 and turns
    fading off, so all devices are alike except for their memory budgets.
    """
    extra = {}
    if scenario == "identical-devices":
        extra = dict(compute_factor_min=1.0, compute_factor_max=1.0, fading="none")
    elif scenario != "generator":
        raise ValueError(f"unknown scenario {scenario!r}; expected one of {SCENARIOS}")
    return generate_instance(K, M, seed=seed, num_layers=max(M, 12), batch_size=max(1, 32 * 12 // M),
                             name=f"bench-{scenario}-K{K}-M{M}-s{seed}", **extra)


@dataclass
class Case:
    """One size to run: an instance and the methods (with their time limits, s) to time on it."""

    problem: str
    K: int
    M: int
    seed: int
    scenario: str = "generator"
    methods: dict[str, float | None] = field(default_factory=dict)

    def add(self, method: str, time_limit_s: float | None = None) -> None:
        if method not in self.methods:
            self.methods[method] = time_limit_s


def plan(quick: bool) -> list[Case]:
    """The sizes and methods of a run (``quick``: a subset finishing in well under a minute)."""
    cases: dict[tuple, Case] = {}

    def case(problem, K, M, seed=0, scenario="generator") -> Case:
        key = (problem, scenario, M, K, seed)
        if key not in cases:
            cases[key] = Case(problem, K, M, seed, scenario)
        return cases[key]

    if quick:
        for K in (20, 50, 100, 200):
            c = case("P1", K, 12)
            for method in ("crunch", "crunch-literal", "matrix-pass", "linear-search", "hungarian-search", "peer"):
                c.add(method, DEFAULT_TIME_LIMIT_S)
        case("P1", 50, 12).add("milp", DEFAULT_TIME_LIMIT_S)
        for method in ("crunch", "matrix-pass", "linear-search", "peer"):
            case("P1", 100, 48).add(method, DEFAULT_TIME_LIMIT_S)
        small = case("P2", 10, 6)
        for method in ("exact", "milp", "minlp", "dual-ascent", "peer"):
            small.add(method, DEFAULT_TIME_LIMIT_S)
        for K in (20, 50, 100):
            case("P2", K, 12).add("exact")
            case("P2", K, 12).add("peer")
        for K in (20, 50):
            case("P2", K, 12).add("dual-ascent")
            case("P2", K, 12).add("dual-ascent-rich")
        case("P2", 20, 12).add("milp", DEFAULT_TIME_LIMIT_S)
        for method in ("crunch", "matrix-pass", "linear-search", "peer"):
            case("P1", 200, 12, scenario="identical-devices").add(method, DEFAULT_TIME_LIMIT_S)
        case("P2", 200, 12, scenario="identical-devices").add("exact")
    else:
        # largest K per M of the methods that grow faster than K (each a few seconds at most)
        linear_max = {12: 800, 48: 200, 96: 200}
        hungarian_max = {12: 400, 48: 100, 96: 0}
        literal_max = {12: 1600, 48: 400, 96: 200}
        milp_max = {12: 200, 48: 0, 96: 0}
        # the peer where it finishes in about a second: K M entries per problem
        peer_max_entries = {"P1": 1_250_000, "P2": 160_000}
        for M in (12, 48, 96):
            for K in ((20,) if M == 12 else ()) + K_GRID:
                if K < 2 * M and (K, M) != (20, 12):   # K = 20, M = 12: the paper's smallest size
                    continue
                seeds = (0, 1, 2) if (K, M) == (50, 12) else (0,)
                for seed in seeds:
                    c = case("P1", K, M, seed)
                    c.add("crunch")
                    c.add("matrix-pass")
                    for method, top in (("crunch-literal", literal_max), ("linear-search", linear_max),
                                        ("hungarian-search", hungarian_max), ("milp", milp_max)):
                        if K <= top[M]:
                            c.add(method, DEFAULT_TIME_LIMIT_S)
                    p2 = case("P2", K, M, seed)
                    p2.add("exact")
                    for c in (c, p2):
                        if K * M <= peer_max_entries[c.problem]:
                            c.add("peer")
        for seed in (0, 1, 2):                              # the P2 target size
            c = case("P2", 20, 12, seed)
            c.add("exact")
            c.add("minlp", DEFAULT_TIME_LIMIT_S)
            c.add("milp", DEFAULT_TIME_LIMIT_S)
        for K in (50, 100, 200):
            case("P2", K, 12).add("milp", DEFAULT_TIME_LIMIT_S)
        for K in (20, 50, 100, 200, 500, 1000):             # dual ascent: iterations, time, gap
            for seed in (0, 1, 2):
                c = case("P2", K, 12, seed)
                c.add("exact")
                c.add("dual-ascent")
                c.add("dual-ascent-rich")
        for M in (96, 384):                                # exact at M = 384 against M = 96, K = 10,000
            case("P2", 10000, M).add("exact")
        for K in (200, 12500, 100000):                      # worst case of the row filters
            c = case("P1", K, 96, scenario="identical-devices")
            c.add("crunch")
            c.add("matrix-pass")
            if K <= 200:
                c.add("linear-search", DEFAULT_TIME_LIMIT_S)
                c.add("peer")
            case("P2", K, 96, scenario="identical-devices").add("exact")
    for c in cases.values():        # the lean entry point wherever its full method runs
        if REFERENCE[c.problem] in c.methods:
            c.methods = {name: limit for method, limit in c.methods.items()
                         for name in ((method, LEAN[c.problem]) if method == REFERENCE[c.problem] else (method,))}
    return sorted(cases.values(), key=lambda c: (c.problem, c.scenario, c.M, c.K, c.seed))


# --------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------
def matrix_pass(instance: Instance) -> np.ndarray:
    """The floor for P1: one vectorised pass building the (K, M) latency matrix (s).  O(KM)."""
    return instance.compute_latency + instance.upload_equal_s[:, None]


class PeerTimeout(Exception):
    """The peer did not finish within :data:`PEER_LIMIT_S`."""


def peer_p1(instance: Instance, time_limit_s: float = math.inf) -> tuple[float, np.ndarray] | None:
    """The obvious P1 solver: bisection over the sorted distinct latencies, an LSAP as the feasibility test.

    .. math:: T^* = \\min \\{ T \\in \\{c_{km}\\} : \\min_x \\textstyle\\sum_m [c_{x(m),m} > T] = 0 \\}

    ``linear_sum_assignment`` on the 0/1 matrix ``[c > T]`` (memory-forbidden
    pairs are ``inf > T``) has minimum 0 iff the pairs under T hold a perfect
    matching.  O(log(KM)) LSAPs of O(M^2 K).  Returns ``(T*, assignment)`` or
    None if infeasible; raises :class:`PeerTimeout` past ``time_limit_s``.
    """
    from scipy.optimize import linear_sum_assignment

    start = time.perf_counter()
    cost = instance.p1_cost()
    values = np.unique(cost[np.isfinite(cost)])

    def match(T):
        if time.perf_counter() - start > time_limit_s:
            raise PeerTimeout
        above = (cost > T).astype(float).T
        blocks, devices = linear_sum_assignment(above)
        return devices if blocks.size == instance.M and above[blocks, devices].sum() == 0 else None

    if values.size == 0 or match(values[-1]) is None:
        return None
    lo, hi = 0, values.size - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if match(values[mid]) is None:
            lo = mid + 1
        else:
            hi = mid
    return float(values[lo]), match(values[lo])


def peer_p2(instance: Instance, time_limit_s: float = math.inf, rtol: float = 1e-12) -> tuple[float, np.ndarray] | None:
    """The obvious P2 solver: bisection on T, an LSAP on the bandwidth weights, the bandwidth equation at the end.

    .. math:: w_{km}(T) = \\frac{D}{R_k B (T - t_{km})}, \\qquad
              T \\text{ feasible} \\iff \\min_x \\textstyle\\sum_m w_{x(m),m}(T) \\le 1,

    bisection from ``[min tcp, 2 max P1 cost]`` until the bracket is ``rtol``
    relative, then :func:`solvers.bandwidth.optimal_bandwidth` of the last
    feasible assignment.  About 45 LSAPs of O(M^2 K).  Returns ``(T, assignment)``
    or None if infeasible; raises :class:`PeerTimeout` past ``time_limit_s``.
    """
    from scipy.optimize import linear_sum_assignment

    from solvers.bandwidth import optimal_bandwidth

    start = time.perf_counter()
    tcp, fits = instance.compute_latency, instance.memory_ok
    share = instance.comm_coef / instance.bandwidth_hz

    def assign(T):
        if time.perf_counter() - start > time_limit_s:
            raise PeerTimeout
        with np.errstate(divide="ignore"):
            w = np.where(fits & (tcp < T), share[:, None] / (T - tcp), np.inf).T
        try:
            blocks, devices = linear_sum_assignment(w)
        except ValueError:
            return None
        return devices if blocks.size == instance.M and w[blocks, devices].sum() <= 1.0 else None

    if instance.M > instance.K or not fits.any(axis=0).all():
        return None
    lo, hi = float(tcp.min()), 2.0 * float(instance.p1_cost()[fits].max())   # the equal split reaches max cost
    best = assign(hi)
    if best is None:
        return None
    while hi - lo > rtol * hi:
        mid = 0.5 * (lo + hi)
        found = assign(mid)
        if found is None:
            lo = mid
        else:
            hi, best = mid, found
    return optimal_bandwidth(instance, best)[0], best


def _peer(problem: str, instance: Instance) -> Result:
    """The peer as a Result (for the checker): ``optimal`` claimed only for comparison, no certificate."""
    started = time.perf_counter()
    solve = peer_p1 if problem == "P1" else peer_p2
    try:
        found = solve(instance, PEER_LIMIT_S)
    except PeerTimeout:
        return Result(solver="peer", problem=problem, status=Status.TIME_LIMIT, seconds=time.perf_counter() - started,
                      message=f"peer stopped after {PEER_LIMIT_S:g} s")
    if found is None:
        return Result(solver="peer", problem=problem, status=Status.NO_SOLUTION, seconds=time.perf_counter() - started,
                      message="the peer found no feasible threshold")
    value, assignment = found
    if problem == "P1":
        band = np.zeros(instance.K)
        band[assignment] = instance.bandwidth_hz / instance.M
    else:
        from solvers.bandwidth import optimal_bandwidth

        value, band = optimal_bandwidth(instance, assignment)
    return Result(solver="peer", problem=problem, status=Status.FEASIBLE, objective_s=value, bound_s=None, seconds=time.perf_counter() - started,
                  assignment=assignment.tolist(), bandwidth_hz=band)


def _call(problem: str, method: str, instance: Instance, time_limit_s: float | None):
    if method == "matrix-pass":
        return matrix_pass(instance)
    if method == "crunch-lean":
        from solvers.p1 import p1_answer

        return p1_answer(instance)
    if method == "exact-lean":
        from solvers.p2_exact import p2_answer

        return p2_answer(instance)
    if method == "peer":
        return _peer(problem, instance)
    return _solvers.run(problem, method, instance, time_limit=time_limit_s, certify=False)


def time_call(fn: Callable[[], object], budget_s: float, max_repeats: int,
              min_repeats: int = 1) -> tuple[float, int, object]:
    """Median wall time (s) of ``fn()`` over repeated runs, the number of runs, and the last output.

    Runs at least ``min_repeats`` times (fewer only once :data:`MAX_SPENT_S`
    is spent), then repeats while the runs so far took less than
    ``budget_s`` in all, up to ``max_repeats`` runs.  The garbage collector
    is paused during each run (as :mod:`timeit` does).
    """
    times, spent, out = [], 0.0, None
    while len(times) < max(1, max_repeats):
        enabled = gc.isenabled()
        gc.disable()
        try:
            start = time.perf_counter()
            out = fn()
            elapsed = time.perf_counter() - start
        finally:
            if enabled:
                gc.enable()
        times.append(elapsed)
        spent += elapsed
        if (spent >= budget_s and len(times) >= min_repeats) or spent >= MAX_SPENT_S:
            break
    return float(np.median(times)), len(times), out


def peak_bytes(fn: Callable[[], object]) -> int:
    """Peak bytes allocated (Python and NumPy) while ``fn()`` runs, by :mod:`tracemalloc`."""
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return int(peak)


def warm_up(methods: set[tuple[str, str]]) -> None:
    """Run every method once on a tiny instance, so that imports and first-call costs are not timed."""
    inst = bench_instance(8, 4, seed=0)
    for problem, method in sorted(methods):
        _call(problem, method, inst, DEFAULT_TIME_LIMIT_S)


def run_case(case: Case, budget_s: float, log: Callable[[str], None]) -> list[dict]:
    """Time every method of ``case`` on its instance; one row (:data:`BENCH_COLUMNS`) per method."""
    instance = bench_instance(case.K, case.M, case.seed, case.scenario)
    rows = []
    for method, limit in case.methods.items():
        slow = method in SLOW_METHODS
        call = lambda: _call(case.problem, method, instance, limit)   # noqa: E731
        if method == "peer":   # once; repeated only if one run is short
            seconds, runs, out = time_call(call, 0.0, 1)
            if seconds < PEER_REPEAT_S:
                seconds, runs, out = time_call(call, budget_s, MAX_REPEATS, MIN_REPEATS)
        elif method in LEAN.values():        # the full method's twin: a third of the budget (>= 5 runs still)
            seconds, runs, out = time_call(call, budget_s / 3, MAX_REPEATS, MIN_REPEATS)
        else:
            seconds, runs, out = time_call(call, budget_s, 1 if slow else MAX_REPEATS, 1 if slow else MIN_REPEATS)
        row = dict.fromkeys(BENCH_COLUMNS)
        row.update(problem=case.problem, scenario=case.scenario, K=case.K, M=case.M, seed=case.seed, method=method, seconds=seconds,
                   repeats=runs, time_limit_s=limit if slow else None, matrix_bytes=8 * case.K * case.M)
        notes = []
        if isinstance(out, Result) and method == REFERENCE[case.problem] and out.status in (Status.OPTIMAL,
                                                                                         Status.INFEASIBLE):
            from solvers.certify import certificate_for

            row["certify_s"], _, _ = time_call(lambda: certificate_for(instance, case.problem, out),
                                               min(budget_s, 0.1), MAX_REPEATS, MIN_REPEATS)
        if isinstance(out, Result) and method != "peer":
            from solvers.certify import attach

            attach(instance, out, case.problem)   # untimed: the claim certified (or withdrawn), then checked
        if isinstance(out, Result):
            row.update(status=out.status.value, objective_s=out.objective_s,
                       iterations=out.info.get("iterations"))
            verdict = check_result(instance, out, case.problem)
            if not verdict.ok:
                notes.append("CHECKER: " + "; ".join(verdict.problems))
            if out.status in (Status.ERROR, Status.TIME_LIMIT) and out.message:
                notes.append(out.message)
            row["_result"] = out
        elif method in LEAN.values():         # (T*, assignment) or None: checked against the full method's
            row["status"] = "infeasible" if out is None else "optimal"
            row["objective_s"] = None if out is None else out[0]
        else:
            row["status"] = "done"
        if method in MEMORY_METHODS:
            row["peak_bytes"] = peak_bytes(lambda: _call(case.problem, method, instance, limit))
        row["note"] = " | ".join(notes)
        rows.append(row)
    compare_rows(rows, case.problem)
    for row in rows:
        row.pop("_result", None)
    log(case_table(case, rows))
    return rows


def batch_rows(draws: int, log: Callable[[str], None], K: int = 50, M: int = 12) -> list[dict]:
    """The batch API against single calls: ``draws`` instances of one size, seconds per draw.

    ``crunch-single`` / ``exact-single``: ``solvers.run(..., certify=False)`` on each
    already built instance, in a loop; ``crunch-batch`` / ``exact-batch``:
    :func:`solvers.batch.crunch_batch` / :func:`~solvers.batch.exact_batch` on the
    stacked arrays, validation included.  Each timed once (each is already a
    loop over ``draws``).  ``objectives_agree``: every draw's batch objective
    equals the single call's (P1 exactly, P2 to 1e-12 relative).
    """
    from solvers import batch

    insts = [bench_instance(K, M, seed) for seed in range(draws)]
    arrays = (np.stack([i.compute_latency for i in insts]), insts[0].block_memory,
              np.stack([i.device_memory for i in insts]), np.stack([i.spectral_efficiency for i in insts]),
              insts[0].gradient_bits, insts[0].bandwidth_hz)
    assert all(np.array_equal(i.block_memory, arrays[1]) and i.gradient_bits == arrays[4]
               and i.bandwidth_hz == arrays[5] for i in insts)
    rows = []
    for problem, name, solve in (("P1", "crunch", batch.crunch_batch), ("P2", "exact", batch.exact_batch)):
        solve(*(a[:2] if np.ndim(a) >= 2 else a for a in arrays))      # untimed: compiles its loop (once per machine)
        single_s, _, singles = time_call(lambda: [_solvers.run(problem, name, i, certify=False) for i in insts], 0.0, 1)
        batch_s, _, out = time_call(lambda: solve(*arrays), 0.0, 1)
        rtol = 0.0 if problem == "P1" else 1e-12
        agree = all(close(out.objective_s[d], r.objective_s, rtol) if r.objective_s is not None
                    else not out.feasible[d] for d, r in enumerate(singles))
        for method, seconds in ((f"{name}-single", single_s), (f"{name}-batch", batch_s)):
            row = dict.fromkeys(BENCH_COLUMNS)
            row.update(problem=problem, scenario="generator", K=K, M=M, seed=0, method=method, status="done",
                       seconds=seconds / draws, repeats=1, reference=f"{name}-single",
                       ratio_to_reference=seconds / single_s, objectives_agree=agree,
                       note=f"seconds per draw over {draws} draws")
            rows.append(row)
        log(f"{problem} batch API, K={K}, M={M}, {draws} draws: single calls {single_s / draws:.3g} s/draw, "
            f"batch {batch_s / draws:.3g} s/draw ({single_s / batch_s:.1f}x less per draw); answers equal: {agree}")
    return rows


def compare_rows(rows: list[dict], problem: str) -> None:
    """Fill ``reference``, ``ratio_to_reference``, ``ratio_to_peer``, ``gap_to_exact``, ``objectives_agree`` in place.

    The optimum is the reference's objective (or, if it did not run or failed,
    the first exact method's); an exact method claiming ``optimal`` agrees when
    it is within ``EXACT_RTOL``; any other objective (heuristic, incumbent)
    agrees when it is not below the optimum beyond ``EXACT_RTOL``; an
    infeasibility claim agrees when no method found a solution.
    """
    reference = REFERENCE[problem]
    by_method = {r["method"]: r for r in rows}
    ref = by_method.get(reference)
    exact_optimal = [r for r in rows if r["method"] in _solvers.EXACT[problem] and r["status"] == "optimal"]
    if ref is not None and ref["status"] == "optimal":
        optimum = ref["objective_s"]
    else:
        optimum = exact_optimal[0]["objective_s"] if exact_optimal else None
    anyone_solved = any(r["objective_s"] is not None for r in rows if r["method"] != LEAN[problem])
    peer = by_method.get("peer")
    for r in rows:
        if ref is not None and ref["seconds"]:
            r["reference"] = reference
            r["ratio_to_reference"] = r["seconds"] / ref["seconds"]
        if peer is not None and peer["seconds"]:
            r["ratio_to_peer"] = r["seconds"] / peer["seconds"]
        if r["method"] == LEAN[problem]:      # the same answer as its full method, to the last bit
            r["objectives_agree"] = ref is not None and r["objective_s"] == ref["objective_s"] and \
                (r["status"] == "infeasible") == (ref["status"] == "infeasible")
            if r["objective_s"] is not None and optimum is not None:
                r["gap_to_exact"] = rel_gap(r["objective_s"], optimum)
            continue
        if r["status"] == "infeasible":          # a proof: nobody may have found a solution
            r["objectives_agree"] = not anyone_solved
            continue
        if r["objective_s"] is None or optimum is None:
            continue
        r["gap_to_exact"] = rel_gap(r["objective_s"], optimum)
        if r in exact_optimal or r["method"] == "peer":   # the peer must find the optimum too
            r["objectives_agree"] = close(r["objective_s"], optimum, EXACT_RTOL)
        else:
            r["objectives_agree"] = r["objective_s"] >= optimum * (1.0 - EXACT_RTOL)
        if r["note"].startswith("CHECKER"):
            r["objectives_agree"] = False


# --------------------------------------------------------------------------------------
# Growth, targets
# --------------------------------------------------------------------------------------
def growth_exponent(ks, seconds) -> float:
    """Least-squares slope of log(seconds) on log(K): t ~ K^alpha.

    >>> round(growth_exponent([1000, 2000, 4000], [0.01, 0.02, 0.04]), 6)
    1.0
    """
    slope, _ = np.polyfit(np.log(np.asarray(ks, float)), np.log(np.asarray(seconds, float)), 1)
    return float(round(slope, 12))


def growth_rows(rows: list[dict]) -> list[dict]:
    """Per (problem, method, M): time ratio and local exponent between consecutive K, and a fit."""
    out = []
    series: dict[tuple, list[tuple[int, float]]] = {}
    for r in rows:
        if r["seed"] != 0 or r["scenario"] != "generator" or r["status"] not in ("optimal", "feasible", "done"):
            continue
        series.setdefault((r["problem"], r["method"], r["M"]), []).append((r["K"], r["seconds"]))
    for (problem, method, M), points in sorted(series.items()):
        points.sort()
        if len(points) < 2:
            continue
        for (k1, t1), (k2, t2) in zip(points, points[1:]):
            out.append(dict(problem=problem, method=method, M=M, kind="step", K_from=k1, K_to=k2,
                            seconds_from=t1, seconds_to=t2, time_ratio=t2 / t1,
                            exponent=math.log(t2 / t1) / math.log(k2 / k1), points=2))
        fit = [(k, t) for k, t in points if k >= FIT_MIN_K]
        if len(fit) < 3:
            fit = points
        ks, ts = zip(*fit)
        out.append(dict(problem=problem, method=method, M=M, kind="fit", K_from=ks[0], K_to=ks[-1],
                        seconds_from=ts[0], seconds_to=ts[-1], time_ratio=ts[-1] / ts[0],
                        exponent=growth_exponent(ks, ts), points=len(fit)))
    return out


def _find(rows, problem, K, M, method, scenario="generator") -> list[dict]:
    return [r for r in rows
            if (r["problem"], r["scenario"], r["K"], r["M"], r["method"]) == (problem, scenario, K, M, method)]


def _pairs(rows, problem, K, M, method, reference, scenario="generator"):
    """(method row, reference row) per seed where both ran."""
    refs = {r["seed"]: r for r in _find(rows, problem, K, M, reference, scenario)}
    return [(r, refs[r["seed"]]) for r in _find(rows, problem, K, M, method, scenario) if r["seed"] in refs]


def target_rows(rows: list[dict]) -> list[dict]:
    """The issue's targets, measured on this run (worst seed); ``met`` is None when a size was not run."""
    out = []

    def add(name, problem, K, M, method, reference, measured, threshold, unit, met, note=""):
        out.append(dict(target=name, problem=problem, K=K, M=M, method=method, reference=reference,
                        measured=measured, threshold=threshold, unit=unit, met=met, note=note))

    for reference, threshold in (("milp", 100.0), ("linear-search", 20.0)):
        pairs = _pairs(rows, "P1", 50, 12, "crunch", reference)
        name = f"P1 crunch at least {threshold:g}x faster than {reference} (K=50, M=12)"
        if not pairs:
            add(name, "P1", 50, 12, "crunch", reference, None, threshold, "speed-up", None, "size not run")
            continue
        speedups = [ref["seconds"] / r["seconds"] for r, ref in pairs]
        agree = all(ref["objectives_agree"] is not False and r["objectives_agree"] is not False for r, ref in pairs)
        stopped = [ref["seed"] for _, ref in pairs if ref["status"] == "time_limit"]
        note = f"{len(pairs)} seed(s), worst shown; objectives agree: {agree}"
        if stopped:
            note += f"; {reference} stopped by its time limit on seed(s) {stopped} (speed-up is a lower bound)"
        add(name, "P1", 50, 12, "crunch", reference, min(speedups), threshold, "speed-up",
            min(speedups) >= threshold and agree, note)

    K, M = 100000, 96
    for scenario, label, limit in (("generator", "", 30.0), ("identical-devices", ", identical devices: worst case", 5.0)):
        pairs = _pairs(rows, "P1", K, M, "crunch", "matrix-pass", scenario)
        name_t = f"P1 crunch within {limit:g}x of one matrix pass (K={K}, M={M}{label})"
        name_m = f"P1 crunch peak memory within 3x of the matrix (K={K}, M={M}{label})"
        if pairs:
            r, ref = pairs[0]
            ratio = r["seconds"] / ref["seconds"]
            add(name_t, "P1", K, M, "crunch", "matrix-pass", ratio, limit, "time ratio", ratio <= limit,
                f"crunch {r['seconds']:.4g} s, matrix pass {ref['seconds']:.4g} s")
            mem = r["peak_bytes"] / ref["peak_bytes"]
            add(name_m, "P1", K, M, "crunch", "matrix-pass", mem, 3.0, "peak-memory ratio", mem <= 3.0,
                f"crunch {r['peak_bytes'] / 1e6:.1f} MB, matrix pass {ref['peak_bytes'] / 1e6:.1f} MB "
                f"(matrix {r['matrix_bytes'] / 1e6:.1f} MB)")
        else:
            add(name_t, "P1", K, M, "crunch", "matrix-pass", None, limit, "time ratio", None, "size not run")
            add(name_m, "P1", K, M, "crunch", "matrix-pass", None, 3.0, "peak-memory ratio", None, "size not run")

    # against the bisection + LSAP peer: the paper's sizes, and every size from K = 1000 on; measured on
    # the lean entry point, which returns what the peer returns, with the full call's ratio in the note
    for problem, method in (("P1", "crunch"), ("P2", "exact")):
        lean = LEAN[problem]
        for K in (20, 50):
            pairs = [(r, ref) for r, ref in _pairs(rows, problem, K, 12, lean, "peer") if ref["status"] != "time_limit"]
            name = f"{problem} {method} at least 5x faster than the bisection + LSAP peer (K={K}, M=12)"
            if not pairs:
                add(name, problem, K, 12, lean, "peer", None, 5.0, "speed-up", None, "size not run")
                continue
            speedups = [ref["seconds"] / r["seconds"] for r, ref in pairs]
            full = [ref["seconds"] / r["seconds"] for r, ref in _pairs(rows, problem, K, 12, method, "peer")]
            agree = all(ref["objectives_agree"] is True and r["objectives_agree"] is True for r, ref in pairs)
            add(name, problem, K, 12, lean, "peer", min(speedups), 5.0, "speed-up", min(speedups) >= 5.0 and agree,
                f"{len(pairs)} seed(s), worst shown; the full call solvers.run(..., certify=False): "
                f"{min(full):.3g}x; optima equal: {agree}")
        large = [(r, ref) for r in rows if r["problem"] == problem and r["method"] == lean and r["K"] >= 1000
                 for ref in _find(rows, problem, r["K"], r["M"], "peer", r["scenario"]) if ref["seed"] == r["seed"]]
        name = f"{problem} {method} at least 50x faster than the peer at every size with K >= 1000"
        if large:
            worst = min(large, key=lambda p: p[1]["seconds"] / p[0]["seconds"])
            speedup = worst[1]["seconds"] / worst[0]["seconds"]
            finished = all(ref["status"] != "time_limit" for _, ref in large)
            full = [ref["seconds"] / r["seconds"] for r0, ref0 in large
                    for r, ref in _pairs(rows, problem, r0["K"], r0["M"], method, "peer", r0["scenario"])
                    if r["seed"] == r0["seed"]]
            add(name, problem, worst[0]["K"], worst[0]["M"], lean, "peer", speedup, 50.0, "speed-up",
                speedup >= 50.0, f"{len(large)} sizes, worst at K={worst[0]['K']}, M={worst[0]['M']}; "
                f"the full call's worst: {min(full):.3g}x"
                + ("" if finished else "; the peer hit its time limit on some sizes (lower bounds there)"))
        else:
            add(name, problem, None, None, lean, "peer", None, 50.0, "speed-up", None, "size not run")

    for variant in ("dual-ascent", "dual-ascent-rich"):
        for K in (20, 1000):
            pairs = _pairs(rows, "P2", K, 12, variant, "exact")
            name = f"P2 {variant} within 20x of exact's time (K={K}, M=12)"
            if not pairs:
                add(name, "P2", K, 12, variant, "exact", None, 20.0, "time ratio", None, "size not run")
                continue
            ratios = [r["seconds"] / ref["seconds"] for r, ref in pairs]
            add(name, "P2", K, 12, variant, "exact", max(ratios), 20.0, "time ratio", max(ratios) <= 20.0,
                f"{len(pairs)} seed(s), worst shown; both through solvers.run(..., certify=False)")

    a, b = _find(rows, "P2", 10000, 384, "exact"), _find(rows, "P2", 10000, 96, "exact")
    name = "P2 exact at K=10,000, M=384 within 5x of its time at M=96"
    if a and b:
        ratio = a[0]["seconds"] / b[0]["seconds"]
        add(name, "P2", 10000, 384, "exact", "exact M=96", ratio, 5.0, "time ratio", ratio <= 5.0,
            f"{a[0]['seconds']:.4g} s vs {b[0]['seconds']:.4g} s")
    else:
        add(name, "P2", 10000, 384, "exact", "exact M=96", None, 5.0, "time ratio", None, "size not run")

    for problem, name_ in (("P1", "crunch"), ("P2", "exact")):
        found = _find(rows, problem, 50, 12, f"{name_}-batch")
        name = f"{problem} {name_} batch at least 10x less time per draw than single calls (K=50, M=12)"
        if found:
            r = found[0]
            speedup = 1.0 / r["ratio_to_reference"]
            add(name, problem, 50, 12, f"{name_}-batch", f"{name_}-single", speedup, 10.0, "speed-up",
                speedup >= 10.0 and r["objectives_agree"] is True, r["note"])
        else:
            add(name, problem, 50, 12, f"{name_}-batch", f"{name_}-single", None, 10.0, "speed-up", None, "not run")

    pairs = _pairs(rows, "P2", 20, 12, "exact", "minlp")
    name = "P2 exact at least 1000x faster than minlp (SCIP), same objective to 1e-6 (K=20, M=12)"
    if pairs:
        speedups = [ref["seconds"] / r["seconds"] for r, ref in pairs]
        agree = all(ref["objectives_agree"] is True for _, ref in pairs)
        add(name, "P2", 20, 12, "exact", "minlp", min(speedups), 1000.0, "speed-up",
            min(speedups) >= 1000.0 and agree,
            f"{len(pairs)} seed(s), worst shown; minlp statuses {[ref['status'] for _, ref in pairs]}; "
            f"objectives agree: {agree}")
    else:
        add(name, "P2", 20, 12, "exact", "minlp", None, 1000.0, "speed-up", None, "size not run")

    found = _find(rows, "P2", 10000, 96, "exact")
    name = f"P2 exact finishes in seconds (at most {SECONDS_TARGET_S:g} s) at K=10,000, M=96"
    if found:
        r = found[0]
        add(name, "P2", 10000, 96, "exact", "", r["seconds"], SECONDS_TARGET_S, "seconds",
            r["seconds"] <= SECONDS_TARGET_S and r["status"] == "optimal", f"status {r['status']}")
    else:
        add(name, "P2", 10000, 96, "exact", "", None, SECONDS_TARGET_S, "seconds", None, "size not run")
    return out


# --------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------
def _fmt(value, spec=".3g") -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return format(value, spec)
    return str(value)


def case_table(case: Case, rows: list[dict]) -> str:
    """The console table of one size: time, ratios to the reference and to the peer, certificate cost."""
    ref = REFERENCE[case.problem]
    lines = [f"{case.problem}  K={case.K}  M={case.M}  seed={case.seed}  ({case.scenario})",
             f"  {'method':<17}{'status':<12}{'seconds':>11}{'runs':>6}{'x ' + ref:>10}{'x peer':>10}"
             f"{'certify_s':>11}{'objective_s':>16}{'gap':>10}  {'agree':<6}{'iter':>6}  note"]
    for r in rows:
        lines.append(f"  {r['method']:<17}{r['status']:<12}{_fmt(r['seconds']):>11}{r['repeats']:>6}"
                     f"{_fmt(r['ratio_to_reference']):>10}{_fmt(r['ratio_to_peer']):>10}{_fmt(r['certify_s']):>11}"
                     f"{_fmt(r['objective_s'], '.10g'):>16}"
                     f"{_fmt(r['gap_to_exact'], '.2e'):>10}  {_fmt(r['objectives_agree']):<6}"
                     f"{_fmt(r['iterations']):>6}  {r['note'][:80]}")
    return "\n".join(lines)


def write_csv(path: Path, columns, rows) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})


def machine_info(argv: list[str]) -> dict:
    """CPU model, cores and the versions of everything timed here."""
    from importlib import metadata

    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    try:
        import pyscipopt

        scip = str(pyscipopt.Model().version())
    except Exception as exc:  # informational only
        scip = f"unavailable ({type(exc).__name__})"
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "cpu": cpu, "logical_cpus": os.cpu_count(), "usable_cpus": usable,
        "platform": platform.platform(), "python": platform.python_version(),
        "numpy": np.__version__, "scipy": version("scipy"), "highspy (HiGHS)": version("highspy"),
        "pyscipopt": version("pyscipopt"), "SCIP": scip, "pyomo": version("pyomo"),
        "cvxpy": version("cvxpy"), "matplotlib": version("matplotlib"),
        "command": " ".join(["python -m validation.bench", *argv]),
        "instance_generator": f"instances.generate {_generate.GENERATOR_VERSION} "
                              f"(cost model {_generate.COST_MODEL_VERSION})",
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        # other processes on the machine disturb the timings: record how busy it was
        "load_average_1_5_15_min_start": _load_average(),
    }


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


#: Markers and dash patterns of the methods in ``time_vs_K.png``: method i (in sorted order over both
#: panels) gets marker i and dashes i (mod the lengths), so a method looks the same in both panels.
PLOT_MARKERS = ("o", "s", "^", "v", "D", "<", ">", "P", "X", "*", "p", "h", "+", "x", "1", "2", "d", "8", "3", "4")
PLOT_DASHES = ("-", "--", "-.", ":", (0, (6, 2)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 1)), (0, (8, 2, 2, 2)))


def plot_series(rows: list[dict]) -> dict[str, dict[tuple[str, int], list[tuple[int, float]]]]:
    """What :func:`plot` draws: per problem, ``(method, M) -> [(K, seconds), ...]`` sorted by K.

    Seed 0, the generator's instances, solved sizes only (status optimal, feasible or done).
    """
    out: dict[str, dict[tuple[str, int], list[tuple[int, float]]]] = {"P1": {}, "P2": {}}
    for r in rows:
        if (r["problem"] in out and r["seed"] == 0 and r["scenario"] == "generator"
                and r["status"] in ("optimal", "feasible", "done")):
            out[r["problem"]].setdefault((r["method"], int(r["M"])), []).append((int(r["K"]), float(r["seconds"])))
    for series in out.values():
        for points in series.values():
            points.sort()
    return out


def plot_styles(series: dict[str, dict[tuple[str, int], list]]) -> tuple[dict[int, str], dict[str, tuple]]:
    """(colour of each M, (marker, dashes) of each method), shared by both panels.

    One qualitative colour (tab10) per M value, one marker and dash pattern per method.
    """
    Ms = sorted({M for s in series.values() for _, M in s})
    methods = sorted({m for s in series.values() for m, _ in s})
    colors = {M: f"C{i % 10}" for i, M in enumerate(Ms)}
    styles = {m: (PLOT_MARKERS[i % len(PLOT_MARKERS)], PLOT_DASHES[i % len(PLOT_DASHES)])
              for i, m in enumerate(methods)}
    return colors, styles


def plot(rows: list[dict], path: Path) -> None:
    """``time_vs_K.png``: log-log wall time against K, (a) P1 and (b) P2 (seed 0, solved sizes).

    Colour = M (one tab10 colour per M value, the same in both panels); marker and dash
    pattern = method (the same in both panels); open markers, so that methods whose times
    coincide stay visible.  The x ticks are exactly the K values plotted in each panel;
    the legends (methods, then M) sit to the right of the axes.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import NullLocator

    series = plot_series(rows)
    colors, styles = plot_styles(series)
    # slightly different sizes (later methods smaller, drawn on top): coinciding markers stay visible
    sizes = {m: 7.0 - 0.75 * (i % 3) for i, m in enumerate(sorted(styles))}
    fig, axes = plt.subplots(2, 1, figsize=(12, 10))
    legends = []   # the method legends, added as extra artists: bbox_inches="tight" then keeps them whole
    for ax, letter, problem, what in zip(axes, "ab", ("P1", "P2"), ("BA", "JBBA")):
        panel = series[problem]
        for z, ((method, M), points) in enumerate(sorted(panel.items())):
            ks, ts = zip(*points)
            marker, dashes = styles[method]
            ax.loglog(ks, ts, ls=dashes, marker=marker, ms=sizes[method], mfc="none", mew=1.2, lw=1.2,
                      color=colors[M], zorder=2 + z)
        ax.set_title(f"({letter}) {problem} ({what}): wall time against the number of devices K", fontsize=10)
        ax.set_xlabel("number of devices K (log scale; ticks at the K values run)")
        ax.set_ylabel("wall time per solve (s)\nmedian of repeated runs; one run for\nMILP, MINLP and the searches",
                      fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        ks = sorted({k for points in panel.values() for k, _ in points})
        if ks:
            ax.set_xticks(ks, [f"{k:,}" for k in ks], rotation=45 if len(ks) > 8 else 0, fontsize=8)
            ax.xaxis.set_minor_locator(NullLocator())
        if panel:
            methods = sorted({m for m, _ in panel})
            Ms = sorted({M for _, M in panel})
            first = ax.legend([Line2D([], [], color="black", ls=styles[m][1], marker=styles[m][0], mfc="none")
                               for m in methods], methods, title="method (marker, dashes)", fontsize=7,
                              title_fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
            ax.add_artist(first)
            legends.append(first)
            ax.legend([Line2D([], [], color=colors[M], lw=3) for M in Ms], [f"M = {M}" for M in Ms],
                      title="blocks M (colour)", fontsize=7, title_fontsize=7, loc="lower left",
                      bbox_to_anchor=(1.01, 0.0), borderaxespad=0.0)
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight", bbox_extra_artists=legends)   # legends outside the axes kept
    plt.close(fig)


def summary(growth: list[dict], targets: list[dict]) -> str:
    """Console summary: fitted exponents and the targets."""
    lines = ["", "Growth (fit of log t on log K; seed 0; K >= %d where 3+ such sizes exist)" % FIT_MIN_K]
    for g in growth:
        if g["kind"] == "fit":
            lines.append(f"  {g['problem']} {g['method']:<14} M={g['M']:<3} K {g['K_from']}..{g['K_to']}: "
                         f"exponent {g['exponent']:.2f} ({g['points']} sizes)")
    lines.append("")
    lines.append("Time ratio each time K doubles (seed 0):")
    steps: dict[tuple, list[str]] = {}
    for g in growth:
        if g["kind"] == "step":
            steps.setdefault((g["problem"], g["method"], g["M"]), []).append(
                f"{g['K_to']}:{g['time_ratio']:.2f}")
    for (problem, method, M), items in steps.items():
        lines.append(f"  {problem} {method:<14} M={M:<3} " + " ".join(items))
    lines.append("")
    lines.append("Targets:")
    for t in targets:
        lines.append(f"  [{_fmt(t['met']):>3}] {t['target']}: measured {_fmt(t['measured'])} "
                     f"(threshold {t['threshold']:g} {t['unit']}) {t['note']}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m validation.bench",
                                description="Time the P1/P2 methods against the reference solvers "
                                            "(MILP, MINLP, linear search, one matrix pass) up to K = 100,000.")
    p.add_argument("--quick", action="store_true", help="a small subset (well under a minute)")
    p.add_argument("--out", default="bench-results", help="output folder (default bench-results/)")
    p.add_argument("--budget", type=float, default=None,
                   help=f"seconds of repeated runs per fast method and size (default {REPEAT_BUDGET_S}, "
                        f"--quick 0.05)")
    add_version(p)
    return p


def main(argv: list[str] | None = None, stdout=None) -> int:
    """Run the benchmark; returns 0, or 1 if some methods disagree or a checker failed."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    out = stdout or sys.stdout

    def log(text: str) -> None:
        print(text, file=out, flush=True)

    budget = args.budget if args.budget is not None else (0.05 if args.quick else REPEAT_BUDGET_S)
    if not (budget >= 0 and math.isfinite(budget)):
        log(f"error: --budget must be a non-negative number of seconds, got {budget!r}")
        return 2
    folder = Path(args.out)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        log(f"error: cannot create {folder}: {exc}")
        return 2
    machine = machine_info(argv)
    log("machine: " + json.dumps(machine))
    cases = plan(args.quick)
    started = time.perf_counter()
    warm_up({(c.problem, m) for c in cases for m in c.methods})
    rows: list[dict] = []
    for case in cases:
        rows.extend(run_case(case, budget, log))
    rows.extend(batch_rows(200 if args.quick else BATCH_DRAWS, log))
    growth = growth_rows(rows)
    targets = target_rows(rows)
    machine["wall_seconds"] = round(time.perf_counter() - started, 1)
    machine["load_average_1_5_15_min_end"] = _load_average()
    write_csv(folder / "bench.csv", BENCH_COLUMNS, rows)
    write_csv(folder / "growth.csv", GROWTH_COLUMNS, growth)
    write_csv(folder / "targets.csv", TARGET_COLUMNS, targets)
    (folder / "machine.json").write_text(json.dumps(machine, indent=2) + "\n")
    plot(rows, folder / "time_vs_K.png")
    (folder / "tables.md").write_text(bench_tables.markdown(rows, targets))
    log(summary(growth, targets))
    bad = [r for r in rows if r["objectives_agree"] is False or (r["note"] or "").startswith("CHECKER")
           or r["status"] == "error"]
    log(f"\nwrote {folder}/bench.csv, growth.csv, targets.csv, machine.json, time_vs_K.png, tables.md "
        f"({len(rows)} rows, {machine['wall_seconds']} s)")
    if bad:
        log("DISAGREEMENT / FAILURE in: " + ", ".join(
            f"{r['problem']} K={r['K']} M={r['M']} seed={r['seed']} {r['method']} ({r['status']}; {r['note']})"
            for r in bad))
        return 1
    log("all compared objectives agree; every answer passed the independent checker")
    return 0


if __name__ == "__main__":
    sys.exit(main())
