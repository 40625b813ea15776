r"""Reproduce the paper's experiments (Sec. VI), with the exact JBBA optimum beside them.

Usage::

    python -m validation.reproduce [--quick] [--out DIR] [--draws N] [--jobs N]
        [--set NAME=VALUE ...] [--time-limit SECONDS] [--quiet]

writes into ``DIR`` (default ``reproduction/``) a PNG figure and the CSV behind it
for every experiment of the paper that survives the loss of its equations:

================================  ===========================================================
file (``.png`` and ``.csv``)      what
================================  ===========================================================
``fig4_cost_model``               Fig. 4: memory and computation latency per block depth
``fig5_snr``                      Fig. 5: mean round latency vs transmit SNR (K = 20)
``fig6_bandwidth``                Fig. 6: mean round latency vs uplink bandwidth (K = 20)
``fig8_devices``                  Fig. 8: mean round latency vs number of devices, 12..50
``table1_time_to_target``         Table I: time to the target accuracy per GLUE task
``table1_time_to_target_sources`` (CSV) every Table I column's kind: input / fitted / result
``claims.csv``                    every ratio the paper reports, next to ours, in range or not
``fig*_draws.csv``                one row per random draw: every scheme's latency and status
================================  ===========================================================

Fig. 7 (accuracy against fine-tuning time) needs GLUE fine-tuning runs and is
not reproduced.  ``--study`` runs the calibration study instead
(:mod:`validation.study`).

Schemes (:data:`SCHEMES`): the two benchmarks of Sec. VI-A4 (``comm-aware``,
``compute-aware``, equal bandwidth), BA (CRUNCH, the P1 optimum), JBBA by every
registered dual-ascent variant (:data:`DUAL_ASCENT_VARIANTS`: ``dual-ascent``,
the paper's Algorithm 3, and ``dual-ascent-rich``, the improved method, when
registered) and JBBA exact (the P2 optimum, our oracle,
which the paper could not compute).  Every returned solution is re-checked by
the independent checker :mod:`validation.check`; a solution that fails it is
counted as an error, never plotted.

Statistics
----------
Each point of a sweep is ``N`` random draws (seeds 0..N-1 of
:func:`instances.generate.generate_instance`, the same seeds at every point:
common random numbers, so the curves are smooth in x).  For scheme s at a
point, with :math:`F_s` the draws on which s is feasible (the benchmarks hit
the memory wall on some draws, BA and JBBA only when no assignment exists):

.. math::

    \bar T_s = \frac{1}{|F_s|} \sum_{d \in F_s} T_s(d), \qquad
    \rho_{s/r} = \frac{\sum_{d \in F_s \cap F_r} T_s(d)}{\sum_{d \in F_s \cap F_r} T_r(d)}

The plotted line is :math:`\bar T_s` with the interquartile range of
:math:`T_s` over :math:`F_s` shaded; ``infeasible_frac`` =
:math:`1 - |F_s| / N` is in the CSV and the legend.  Because different schemes
are feasible on different draws, every *ratio* is *paired*
(:math:`\rho_{s/r}`, a ratio of means over the draws where both are feasible),
so a benchmark is never flattered by averaging it only over its easy draws.
The dual-ascent gap to the exact optimum is :math:`T_\text{DA}(d)/T^*(d) - 1`
per draw (mean, 90th percentile and maximum are plotted).

Table I
-------
The paper's Table I gives, per GLUE task, the time to reach the target
accuracy with comm-aware, BA and JBBA.  Its premise is that every scheme runs
the same optimisation steps, so time = rounds x mean round latency.  The
rounds per task are not given; they are fitted (:func:`fit_rounds`): with the
paper's times :math:`t_{j,s}` (assumed minutes) and our paired mean latencies
:math:`\bar L_s` (s) at the paper's set-up (K = 20, 10 dB, 100 MHz),

.. math:: \hat r_j = \exp\Big(\frac{1}{3}\sum_s \log\frac{60\, t_{j,s}}{\bar L_s}\Big)

(least squares of :math:`\log t_{j,s} = \log r_j + \log L_s` over the three
schemes), and our time is :math:`\hat r_j \bar L_s`: a *fitted* quantity, not a
result (columns ``fitted_*``; ``input_*`` are the paper's, ``result_*`` ours).  Our ratios between
schemes are then the ratios of our latencies (the same for every task); the
per-task spread of the paper's ratios comes from its measured training curves.
The paper-implied relative latencies :func:`paper_relative_latency` are the
same fit applied to the paper's table alone.

Complexity: one draw costs the five methods (dual ascent dominates, about
0.2 s at K = 20..50); the full run is 22 points x 200 draws, about 7 minutes
on 2 cores; ``--quick`` is 9 points x 8 draws, well under a minute.

Exit status: 0 when done and every consistency check passed (BA <= comm-aware,
exact <= every other scheme, every solution verified), 1 when one failed (listed
on stderr), 2 on bad arguments (one line ``error: ...``).

References
----------
.. [1] "Resource Management for Low-latency Cooperative Fine-tuning of Foundation
   Models at the Network Edge", Sec. VI, Figs. 4-8, Table I.
.. [2] ``docs/reproduction.md`` (calibration and results), ``docs/cost-model.md``.

Examples
--------
>>> rounds = fit_rounds(np.array([[10.0, 6.0, 5.0]]), np.array([3.0, 1.8, 1.5]))
>>> round(float(rounds[0]), 6)          # 10 min at 3 s per round = 200 rounds, for all three
200.0
>>> paired_ratio(np.array([2.0, np.nan, 4.0]), np.array([1.0, 1.0, 2.0]))   # draws 0 and 2 only
2.0
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence, TextIO

import numpy as np
import pandas as pd

from instances.cli import add_version
from instances.generate import ScenarioParams, generate_instance
from solvers import run as run_solver
from solvers.result import Result, Status
from instances.tolerances import EXACT_RTOL

from .check import check_result

# --------------------------------------------------------------------------------------
# What is run
# --------------------------------------------------------------------------------------
#: Blocks: RoBERTa-base, one block per encoder layer (the paper).
BLOCKS = 12
#: Devices of Figs. 5-6 and Table I (the paper).
BASE_DEVICES = 20
#: Draws per point of the full run, and of ``--quick``.
FULL_DRAWS = 200
QUICK_DRAWS = 8
#: Seconds each method may take on one draw (dual ascent takes ~0.1 s at K = 20).
DEFAULT_TIME_LIMIT_S = 60.0
#: Seconds per unit of the paper's Table I (assumed minutes, see ``docs/reproduction.md``).
TABLE_UNIT_S = 60.0
#: Half-width of the range reported around a single value the paper states ("about 0.4").
CLAIM_BAND = 0.05


@dataclass(frozen=True)
class Scheme:
    """One line of the figures: a registered method of :data:`solvers.REGISTRY`."""

    key: str       #: column prefix in the CSVs
    label: str     #: legend text
    problem: str   #: ``"P1"`` or ``"P2"``
    solver: str    #: registry name
    color: str
    marker: str = "o"      #: marker at every data point (lines that coincide stay visible)
    linestyle: str | tuple = "-"   #: matplotlib ``ls``: a name or an (offset, dashes) tuple, distinct per scheme
    ms: float = 5.0        #: marker size: schemes that often coincide get different sizes (larger drawn first)


#: The dual-ascent heuristics for P2, shown when registered: (registry name, key, label, colour, marker, dashes,
#: marker size).  The sizes decrease towards the exact optimum (drawn last, on top), so that when the three
#: JBBA lines coincide every marker still shows: a large open square, a smaller open triangle, an x inside.
DUAL_ASCENT_VARIANTS: tuple[tuple[str, str, str, str, str, str, float], ...] = (
    ("dual-ascent", "jbba", "JBBA (Algorithm 3, as published)", "tab:orange", "s", "--", 8.0),
    ("dual-ascent-rich", "jbba_rich", "JBBA (dual ascent, improved)", "tab:purple", "^", "-.", 6.5),
)


def _schemes() -> tuple[Scheme, ...]:
    """The benchmarks, BA, every registered dual-ascent variant, and the exact JBBA optimum."""
    from solvers import REGISTRY

    out = [Scheme("comm_aware", "comm-aware (benchmark)", "P1", "comm-aware", "tab:gray", "v", (0, (6, 2)), 6.0),
           Scheme("compute_aware", "compute-aware (benchmark)", "P1", "compute-aware", "tab:brown", "<",
                  (0, (3, 1, 1, 1, 1, 1)), 6.0),
           Scheme("ba", "BA (CRUNCH, P1 optimum)", "P1", "crunch", "tab:blue", "o", "-", 6.0)]
    out += [Scheme(key, label, "P2", name, color, marker, dashes, ms)
            for name, key, label, color, marker, dashes, ms in DUAL_ASCENT_VARIANTS if ("P2", name) in REGISTRY]
    out.append(Scheme("jbba_exact", "JBBA exact (P2 optimum, oracle)", "P2", "exact", "tab:red", "x", ":", 5.0))
    return tuple(out)


SCHEMES: tuple[Scheme, ...] = _schemes()
#: Keys of the dual-ascent schemes present (``jbba`` = ``dual-ascent``; ``jbba_rich`` when registered).
HEURISTIC_KEYS = tuple(s.key for s in SCHEMES if s.solver.startswith("dual-ascent"))
SCHEME_KEYS = tuple(s.key for s in SCHEMES)


@dataclass(frozen=True)
class Sweep:
    """One of the paper's latency figures: a parameter swept over values."""

    key: str                      #: file stem, e.g. ``fig5_snr``
    figure: str                   #: the paper's figure
    parameter: str                #: ``"devices"`` (K) or a :class:`ScenarioParams` field
    label: str                    #: x-axis label
    full: tuple[float, ...]       #: values of the full run
    quick: tuple[float, ...]      #: values of ``--quick``


SWEEPS: tuple[Sweep, ...] = (
    Sweep("fig5_snr", "Fig. 5", "snr_db", "transmit SNR (dB)",
          (0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0), (0.0, 10.0, 20.0)),
    Sweep("fig6_bandwidth", "Fig. 6", "bandwidth_mhz", "uplink bandwidth B (MHz)",
          (10.0, 20.0, 50.0, 100.0, 150.0, 200.0), (20.0, 100.0, 200.0)),
    Sweep("fig8_devices", "Fig. 8", "devices", "number of devices K",
          (12, 15, 20, 25, 30, 35, 40, 45, 50), (12, 20, 50)),
)

#: Columns of every ``fig*.csv`` summary (one row per point and scheme).
SUMMARY_COLUMNS = (
    "figure", "parameter", "x", "scheme", "label", "draws", "feasible", "infeasible_frac", "errors",
    "mean_s", "std_s", "q25_s", "median_s", "q75_s",
    "ratio_to_comm_aware", "ratio_to_ba", "ratio_to_exact",
    "gap_to_exact_mean", "gap_to_exact_p90", "gap_to_exact_max",
)

#: The paper's Table I: time to the target accuracy (assumed minutes), per task,
#: for (comm-aware, BA, JBBA).
PAPER_TABLE_I: dict[str, tuple[float, float, float]] = {
    "MNLI": (97.47, 69.86, 58.45),
    "SST2": (15.74, 11.44, 9.74),
    "MRPC": (9.51, 5.81, 5.12),
    "CoLA": (119.18, 87.42, 71.92),
    "QNLI": (32.67, 24.15, 20.11),
    "QQP": (90.46, 58.57, 50.66),
    "RTE": (32.32, 24.05, 19.91),
    "STSB": (54.30, 38.69, 34.02),
}
TABLE_SCHEMES = ("comm_aware", "ba", "jbba")
#: Our schemes shown in Table I: the paper's three (fitted against), the exact optimum, other variants.
TABLE_OURS = ("comm_aware", "ba") + HEURISTIC_KEYS + ("jbba_exact",)

#: Where each kind of number in Table I comes from (the prefix of its column in the CSV).
TABLE_SOURCE_KINDS = {
    "input": "taken from the paper's Table I (its times, assumed minutes, and their ratios)",
    "fitted": "fitted, not a result: rounds per task chosen so that rounds x our latency best matches the "
              "paper's times (log least squares over its three schemes); times = fitted rounds x our latency",
    "result": "ours, measured: mean round latency over the paired draws at K = 20, 10 dB, 100 MHz, and ratios of "
              "these latencies (the same for every task by construction: same rounds for every scheme)",
}

#: Columns of ``table1_time_to_target.csv``: (name, kind of :data:`TABLE_SOURCE_KINDS`).
TABLE_COLUMN_SOURCES: tuple[tuple[str, str], ...] = (
    ("task", "input"),
    ("input_paper_comm_aware_min", "input"), ("input_paper_ba_min", "input"), ("input_paper_jbba_min", "input"),
    ("input_paper_ba_over_comm", "input"), ("input_paper_jbba_over_ba", "input"),
    ("fitted_rounds", "fitted"),
    *((f"fitted_ours_{k}_min", "fitted") for k in TABLE_OURS),
    *((f"result_ours_{k}_latency_s", "result") for k in TABLE_OURS),
    ("result_ours_ba_over_comm", "result"),
    *((f"result_ours_{k}_over_ba", "result") for k in HEURISTIC_KEYS + ("jbba_exact",)),
)
TABLE_COLUMNS = tuple(name for name, _ in TABLE_COLUMN_SOURCES)

#: Columns of ``fig4_cost_model.csv``.
FIG4_COLUMNS = ("block", "memory_gb", "single_device_memory_gb", "forward_latency_s",
                "backward_latency_s", "compute_latency_s", "latency_over_shallowest")

#: Columns of ``claims.csv``: the paper's value and range; ours by the exact optimum and by every
#: dual-ascent variant, whether each falls in the paper's range, and each variant's gap to the exact
#: optimum at the claim's point (mean, 90th percentile, maximum over draws of T/T* - 1).
CLAIM_COLUMNS = (("claim", "where", "paper", "paper_low", "paper_high", "ours_exact", "within_paper_range_exact")
                 + tuple(f"{c}_{k}" if c in ("ours", "within_paper_range") else f"gap_{k}_{c}"
                         for k in HEURISTIC_KEYS
                         for c in ("ours", "within_paper_range", "mean", "p90", "max"))
                 + ("draws_paired",))


def _paper_ratios() -> tuple[np.ndarray, np.ndarray]:
    t = np.array(list(PAPER_TABLE_I.values()))
    return t[:, 1] / t[:, 0], t[:, 2] / t[:, 1]


# --------------------------------------------------------------------------------------
# One draw
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DrawTask:
    """One random instance of one point of one sweep (picklable, for worker processes)."""

    sweep: str
    parameter: str
    x: float
    seed: int
    params: ScenarioParams
    time_limit_s: float | None

    def devices(self) -> int:
        return int(self.x) if self.parameter == "devices" else BASE_DEVICES

    def scenario(self) -> ScenarioParams:
        if self.parameter == "devices":
            return self.params
        return ScenarioParams.with_overrides(self.params, **{self.parameter: float(self.x)})


@dataclass(frozen=True)
class PointTask:
    """Several draws (``seeds``) of one point of one sweep, solved together (picklable)."""

    sweep: str
    parameter: str
    x: float
    seeds: tuple[int, ...]
    params: ScenarioParams
    time_limit_s: float | None

    def draw(self, seed: int) -> DrawTask:
        return DrawTask(self.sweep, self.parameter, self.x, seed, self.params, self.time_limit_s)


#: Schemes solved for all the draws of a point in one call of the batch API
#: (:mod:`solvers.batch`: the same answers as one call per draw, tested there).
BATCH_SOLVERS = {("P1", "crunch"): "crunch_instances", ("P2", "exact"): "exact_instances"}

#: Draws solved together (one :class:`PointTask`): large enough for the batch
#: API to pay off, small enough to keep worker processes busy and progress live.
POINT_CHUNK = 50


def _batch_results(scheme: Scheme, insts: list, time_limit_s: float | None) -> list[Result]:
    """Every draw's Result of ``scheme`` by the batch API, certified as a single call's would be."""
    from solvers import batch
    from solvers.certify import attach

    started = time.perf_counter()
    out = getattr(batch, BATCH_SOLVERS[(scheme.problem, scheme.solver)])(insts)
    per_draw_s = (time.perf_counter() - started) / len(insts)
    results = []
    for i, inst in enumerate(insts):
        if out.feasible[i]:
            res = Result(solver=scheme.solver, problem=scheme.problem, status=Status.OPTIMAL,
                         objective_s=float(out.objective_s[i]), bound_s=float(out.objective_s[i]),
                         seconds=per_draw_s, assignment=out.assignment[i].tolist(),
                         bandwidth_hz=out.bandwidth_hz[i])
        else:
            res = Result(solver=scheme.solver, problem=scheme.problem, status=Status.INFEASIBLE,
                         seconds=per_draw_s, message="no assignment satisfies C1-C3 (batch API)")
        results.append(attach(inst, res, scheme.problem))
    return results


def solve_point(task: PointTask) -> list[dict]:
    """Generate the draws' instances, run every scheme, verify every answer; one row per draw.

    A row holds ``sweep, parameter, x, seed, K`` and, per scheme,
    ``<key>_s`` (round latency, NaN unless a verified solution exists),
    ``<key>_status`` (the method's status, or ``check-failed``) and
    ``<key>_seconds`` (the method's wall time; for the schemes of
    :data:`BATCH_SOLVERS` the batch's time divided by the draws).  Every claim
    carries its certificate and every answer is checked by
    :func:`validation.check.check_result`.
    """
    draws = [task.draw(seed) for seed in task.seeds]
    insts = [generate_instance(d.devices(), BLOCKS, d.seed, d.scenario(), allow_infeasible=True) for d in draws]
    rows = [{"sweep": task.sweep, "parameter": task.parameter, "x": float(task.x), "seed": seed, "K": inst.K}
            for seed, inst in zip(task.seeds, insts)]
    for scheme in SCHEMES:
        if (scheme.problem, scheme.solver) in BATCH_SOLVERS:
            results = _batch_results(scheme, insts, task.time_limit_s)
        else:
            results = [run_solver(scheme.problem, scheme.solver, inst, time_limit=task.time_limit_s)
                       for inst in insts]
        for row, inst, res in zip(rows, insts, results):
            verdict = check_result(inst, res, scheme.problem)
            status = res.status.value if verdict.ok else "check-failed"
            ok = verdict.valid_solution and res.status in (Status.OPTIMAL, Status.FEASIBLE)
            row[f"{scheme.key}_s"] = float(verdict.objective_s) if ok else math.nan
            row[f"{scheme.key}_status"] = status
            row[f"{scheme.key}_seconds"] = float(res.seconds)
    return rows


def solve_draw(task: DrawTask) -> dict:
    """:func:`solve_point` on the one draw of ``task``: its row."""
    return solve_point(PointTask(task.sweep, task.parameter, task.x, (task.seed,), task.params,
                                 task.time_limit_s))[0]


def draw_tasks(sweep: Sweep, values: Sequence[float], draws: int, params: ScenarioParams,
               time_limit_s: float | None) -> list[DrawTask]:
    """Every (value, seed) of one sweep, in order."""
    return [DrawTask(sweep.key, sweep.parameter, float(x), seed, params, time_limit_s)
            for x in values for seed in range(draws)]


def point_tasks(sweep: Sweep, values: Sequence[float], draws: int, params: ScenarioParams,
                time_limit_s: float | None, chunk: int = POINT_CHUNK) -> list[PointTask]:
    """The draws of one sweep in chunks of at most ``chunk`` seeds per point, in (value, seed) order."""
    return [PointTask(sweep.key, sweep.parameter, float(x), tuple(range(first, min(first + chunk, draws))),
                      params, time_limit_s)
            for x in values for first in range(0, draws, chunk)]


class Progress:
    """A plain progress line on stderr (``label done/total, elapsed, time left``); no dependency."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None, every_s: float = 0.5):
        self.total, self.label, self.stream, self.every_s = total, label, stream, every_s
        self.done, self.start, self.last = 0, time.perf_counter(), -math.inf

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.perf_counter()
        if self.stream is None or (now - self.last < self.every_s and self.done < self.total):
            return
        self.last = now
        elapsed = now - self.start
        left = elapsed / self.done * (self.total - self.done) if self.done else math.nan
        self.stream.write(f"\r{self.label}: {self.done}/{self.total} draws, {elapsed:5.0f} s elapsed, "
                          f"~{left:4.0f} s left ")
        if self.done >= self.total:
            self.stream.write("\n")
        self.stream.flush()


def run_tasks(tasks: list[PointTask], jobs: int, progress: Progress) -> pd.DataFrame:
    """Solve every draw (in ``jobs`` processes when > 1); rows in task order (deterministic)."""
    rows: list[dict] = []
    if jobs <= 1:
        for task in tasks:
            rows.extend(solve_point(task))
            progress.update(len(task.seeds))
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for part in pool.map(solve_point, tasks):
                rows.extend(part)
                progress.update(len(part))
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------
def paired_ratio(values: np.ndarray, reference: np.ndarray) -> float:
    r"""Ratio of means over the draws where both are finite: :math:`\sum v_d / \sum r_d`.

    NaN marks an infeasible draw; NaN is returned when no draw is paired.  O(N).

    >>> paired_ratio(np.array([1.0, 3.0]), np.array([2.0, 2.0]))
    1.0
    >>> math.isnan(paired_ratio(np.array([np.nan]), np.array([1.0])))
    True
    """
    both = np.isfinite(values) & np.isfinite(reference)
    if not both.any():
        return math.nan
    return float(np.sum(values[both]) / np.sum(reference[both]))


def _gap_stats(values: np.ndarray, exact: np.ndarray) -> tuple[float, float, float]:
    both = np.isfinite(values) & np.isfinite(exact)
    if not both.any():
        return math.nan, math.nan, math.nan
    gap = values[both] / exact[both] - 1.0
    return float(gap.mean()), float(np.quantile(gap, 0.9)), float(gap.max())


def summarise(draws: pd.DataFrame, sweep: Sweep) -> pd.DataFrame:
    """One row per (x, scheme) with the columns :data:`SUMMARY_COLUMNS` (see the module docstring).

    O(points x schemes x draws).
    """
    out = []
    for x, group in draws.groupby("x", sort=True):
        ref = {key: group[f"{key}_s"].to_numpy(float) for key in SCHEME_KEYS}
        for scheme in SCHEMES:
            v = ref[scheme.key]
            feasible = v[np.isfinite(v)]
            statuses = group[f"{scheme.key}_status"]
            errors = int(statuses.isin(["error", "check-failed", "time_limit"]).sum())
            q = np.quantile(feasible, [0.25, 0.5, 0.75]) if feasible.size else [math.nan] * 3
            gap = _gap_stats(v, ref["jbba_exact"])
            out.append({
                "figure": sweep.figure, "parameter": sweep.parameter, "x": float(x),
                "scheme": scheme.key, "label": scheme.label,
                "draws": int(v.size), "feasible": int(feasible.size),
                "infeasible_frac": float(1.0 - feasible.size / v.size) if v.size else math.nan,
                "errors": errors,
                "mean_s": float(feasible.mean()) if feasible.size else math.nan,
                "std_s": float(feasible.std(ddof=1)) if feasible.size > 1 else math.nan,
                "q25_s": float(q[0]), "median_s": float(q[1]), "q75_s": float(q[2]),
                "ratio_to_comm_aware": paired_ratio(v, ref["comm_aware"]),
                "ratio_to_ba": paired_ratio(v, ref["ba"]),
                "ratio_to_exact": paired_ratio(v, ref["jbba_exact"]),
                "gap_to_exact_mean": gap[0], "gap_to_exact_p90": gap[1], "gap_to_exact_max": gap[2],
            })
    return pd.DataFrame(out, columns=list(SUMMARY_COLUMNS))


def consistency_problems(draws: pd.DataFrame) -> list[str]:
    """Facts that must hold on every draw; one line per violation.

    * BA (the P1 optimum) <= the comm-aware and compute-aware benchmarks (P1-feasible assignments);
    * JBBA exact (the P2 optimum) <= every other scheme (each is P2-feasible);
    * no method errs or returns a solution the checker rejects;
    * a scheme is feasible only if P1 is (C1-C3 are the same for all).

    Comparisons allow :data:`instances.tolerances.EXACT_RTOL`.  O(draws x schemes).
    """
    problems = []
    slack = 1.0 + EXACT_RTOL
    for _, row in draws.iterrows():
        where = f"{row['sweep']} x={row['x']:g} seed={row['seed']}"
        ba, exact = row["ba_s"], row["jbba_exact_s"]
        for key in SCHEME_KEYS:
            status = row[f"{key}_status"]
            if status in ("error", "check-failed", "time_limit"):
                problems.append(f"{where}: {key} ended with status {status}")
            value = row[f"{key}_s"]
            if math.isfinite(value) and not math.isfinite(ba):
                problems.append(f"{where}: {key} found a solution but BA says infeasible")
            if math.isfinite(value) and math.isfinite(exact) and exact > value * slack:
                problems.append(f"{where}: JBBA exact {exact:.9g} s above {key} {value:.9g} s")
            if math.isfinite(value) and not math.isfinite(exact):
                problems.append(f"{where}: {key} found a solution but JBBA exact did not")
        for key in ("comm_aware", "compute_aware"):
            value = row[f"{key}_s"]
            if math.isfinite(value) and ba > value * slack:
                problems.append(f"{where}: BA {ba:.9g} s above {key} {value:.9g} s")
    return problems


# --------------------------------------------------------------------------------------
# Table I
# --------------------------------------------------------------------------------------
def fit_rounds(paper_times: np.ndarray, latency_s: np.ndarray, unit_s: float = TABLE_UNIT_S) -> np.ndarray:
    r"""Rounds per task that best explain the paper's times with our latencies.

    Least squares in logs of :math:`t_{j,s} \cdot u = r_j L_s` over the schemes s:

    .. math:: \hat r_j = \exp\Big(\operatorname{mean}_s \log \frac{u\, t_{j,s}}{L_s}\Big)

    Parameters
    ----------
    paper_times : (tasks, schemes) array, in units of ``unit_s`` seconds
    latency_s : (schemes,) our mean round latency of each scheme, seconds
    unit_s : seconds per unit of ``paper_times`` (60: minutes)

    Returns
    -------
    (tasks,) array of rounds (not rounded: an estimate).  O(tasks x schemes).

    >>> r = fit_rounds(np.array([[2.0, 1.0], [4.0, 2.0]]), np.array([60.0, 30.0]))
    >>> r.round(9).tolist()             # exact data: 2 and 4 rounds, recovered
    [2.0, 4.0]
    """
    logs = np.log(np.asarray(paper_times, float) * unit_s) - np.log(np.asarray(latency_s, float))[None, :]
    return np.exp(logs.mean(axis=1))


def paper_relative_latency(paper_times: np.ndarray) -> np.ndarray:
    r"""The paper's per-round latency of each scheme relative to the first, implied by its table.

    The same log-least-squares fit with rounds free: :math:`\exp(\operatorname{mean}_j
    \log(t_{j,s} / t_{j,0}))`.  O(tasks x schemes).

    >>> paper_relative_latency(np.array([[10.0, 7.0], [20.0, 14.0]])).round(6).tolist()
    [1.0, 0.7]
    """
    t = np.asarray(paper_times, float)
    return np.exp(np.mean(np.log(t / t[:, :1]), axis=0))


def table_one(draws: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Table I analogue from the draws at the paper's set-up (K = 20, 10 dB, 100 MHz).

    Mean latencies are paired: over the draws on which every scheme of
    :data:`TABLE_OURS` is feasible (i.e. where the comm-aware benchmark is).
    Returns the table (:data:`TABLE_COLUMNS`, each column's kind in
    :data:`TABLE_COLUMN_SOURCES`: ``input_*`` from the paper, ``fitted_*``
    fitted to it, ``result_*`` ours) and the latencies used.
    """
    keys = TABLE_OURS
    values = np.column_stack([draws[f"{k}_s"].to_numpy(float) for k in keys])
    paired = np.all(np.isfinite(values), axis=1)
    if not paired.any():
        latency = {k: math.nan for k in keys}
    else:
        latency = {k: float(values[paired, i].mean()) for i, k in enumerate(keys)}
    paper = np.array(list(PAPER_TABLE_I.values()))
    ours_l = np.array([latency[k] for k in TABLE_SCHEMES])
    rounds = fit_rounds(paper, ours_l) if np.all(np.isfinite(ours_l)) else np.full(len(paper), math.nan)
    rows = []
    for j, task in enumerate(PAPER_TABLE_I):
        c, b, jb = paper[j]
        row = {"task": task, "input_paper_comm_aware_min": c, "input_paper_ba_min": b, "input_paper_jbba_min": jb,
               "input_paper_ba_over_comm": b / c, "input_paper_jbba_over_ba": jb / b, "fitted_rounds": rounds[j]}
        row.update({f"fitted_ours_{k}_min": rounds[j] * latency[k] / TABLE_UNIT_S for k in keys})
        row.update({f"result_ours_{k}_latency_s": latency[k] for k in keys})
        row["result_ours_ba_over_comm"] = latency["ba"] / latency["comm_aware"]
        row.update({f"result_ours_{k}_over_ba": latency[k] / latency["ba"] for k in HEURISTIC_KEYS + ("jbba_exact",)})
        rows.append(row)
    info = {"paired_draws": int(paired.sum()), "draws": int(len(draws)),
            **{f"{k}_mean_s": latency[k] for k in keys}}
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS)), info


def table_sources() -> pd.DataFrame:
    """``column, kind, meaning`` for every column of Table I (``table1_time_to_target_sources.csv``)."""
    return pd.DataFrame([{"column": name, "kind": kind, "meaning": TABLE_SOURCE_KINDS[kind]}
                         for name, kind in TABLE_COLUMN_SOURCES], columns=["column", "kind", "meaning"])


# --------------------------------------------------------------------------------------
# Fig. 4 and the claims
# --------------------------------------------------------------------------------------
def fig4_table(params: ScenarioParams) -> pd.DataFrame:
    """Per block m: memory mu_m (GB), single-device memory, t_F, t_B(m), I (t_F + t_B(m)) (s).

    From :class:`instances.costmodel.EncoderCostModel` on the normalised device (f = 1).
    ``block`` is 0-based like the instance files (block 0, the shallowest, backpropagates
    through one layer; block m through m + 1 when every layer is a block).
    """
    cm = params.model
    M = cm.num_layers
    mu_gb = cm.block_memory_bytes(M) / 1e9
    t_b = cm.backward_latency_s(M)
    total = params.local_iterations * (cm.forward_latency_s + t_b)
    return pd.DataFrame({
        "block": np.arange(M), "memory_gb": mu_gb,
        "single_device_memory_gb": cm.single_device_memory_bytes / 1e9,
        "forward_latency_s": params.local_iterations * cm.forward_latency_s,
        "backward_latency_s": params.local_iterations * t_b,
        "compute_latency_s": total, "latency_over_shallowest": total / total[0],
    }, columns=list(FIG4_COLUMNS))


def _point(summary: pd.DataFrame, x: float, scheme: str, column: str) -> float:
    hit = summary[(summary["x"] == x) & (summary["scheme"] == scheme)]
    return float(hit[column].iloc[0]) if len(hit) else math.nan


def _paired_count(draws: pd.DataFrame, x: float, keys: Iterable[str]) -> int:
    at = draws[draws["x"] == x]
    if at.empty:
        return 0
    return int(np.all(np.column_stack([np.isfinite(at[f"{k}_s"].to_numpy(float)) for k in keys]), axis=1).sum())


def claims(summaries: dict[str, pd.DataFrame], draws: dict[str, pd.DataFrame], fig4: pd.DataFrame,
           scenario: ScenarioParams | None = None) -> pd.DataFrame:
    """Every number the paper reports that we can measure, next to ours (:data:`CLAIM_COLUMNS`).

    The paper's set-up (K = 20) is read from the Fig. 8 sweep at K = 20 (the
    scenario's SNR and bandwidth: 10 dB, 100 MHz by default), K = 50 from its
    last point.  ``paper_low``/``paper_high`` are the paper's range, or
    :data:`CLAIM_BAND` around a single stated value.
    """
    scenario = scenario or ScenarioParams()
    ba_comm, jbba_ba = _paper_ratios()
    rows = []
    s8, d8 = summaries.get("fig8_devices"), draws.get("fig8_devices")

    def inside(value, low, high):
        return (bool(math.isfinite(value) and low <= value <= high)) if math.isfinite(low) else None

    def add(claim, where, paper, low, high, ours, paired, x=None):
        """``ours``: one value for every scheme, or a function key -> value."""
        value = ours if callable(ours) else (lambda key: ours)
        row = dict(claim=claim, where=where, paper=paper, paper_low=low, paper_high=high,
                   ours_exact=value("jbba_exact"), draws_paired=paired)
        row["within_paper_range_exact"] = inside(row["ours_exact"], low, high)
        for key in HEURISTIC_KEYS:
            row[f"ours_{key}"] = value(key)
            row[f"within_paper_range_{key}"] = inside(value(key), low, high)
            for stat in ("mean", "p90", "max"):
                row[f"gap_{key}_{stat}"] = (_point(s8, x, key, f"gap_to_exact_{stat}")
                                            if x is not None else math.nan)
        rows.append(row)

    deep = fig4["compute_latency_s"].iloc[-1] / fig4["compute_latency_s"].iloc[0]
    add("Fig. 4: deepest / shallowest block latency", "cost model", 2.0, 1.7, 2.3, deep, 0)
    single = fig4["single_device_memory_gb"].iloc[0]
    add("Fig. 4: single-device memory (GB)", "cost model, batch 32", 12.0, 11.0, 12.5, single, 0)

    def stated(value):   # a single value the paper states, with the reporting band around it
        return value, value - CLAIM_BAND, value + CLAIM_BAND

    if s8 is None:
        return pd.DataFrame(rows, columns=list(CLAIM_COLUMNS))
    base = float(BASE_DEVICES)
    jbba_keys = HEURISTIC_KEYS + ("jbba_exact",)
    if (s8["x"] == base).any():     # the paper's set-up: K = 20 at the scenario's SNR and bandwidth
        where = f"K={BASE_DEVICES}, {scenario.snr_db:g} dB, {scenario.bandwidth_mhz:g} MHz"
        n = _paired_count(d8, base, ("ba", "comm_aware"))
        r = _point(s8, base, "ba", "ratio_to_comm_aware")
        add("Figs. 5-6: BA / benchmark (comm-aware), 'nearly 40% reduction'", where, *stated(0.6), r, n, base)
        add("Table I: BA / comm-aware (range over tasks)", where,
            float(np.exp(np.log(ba_comm).mean())), float(ba_comm.min()), float(ba_comm.max()), r, n, base)
        n = _paired_count(d8, base, ("ba",) + jbba_keys)
        add("Table I: JBBA / BA (range over tasks)", where,
            float(np.exp(np.log(jbba_ba).mean())), float(jbba_ba.min()), float(jbba_ba.max()),
            lambda key: _point(s8, base, key, "ratio_to_ba"), n, base)
        n = _paired_count(d8, base, ("ba", "compute_aware"))
        r = 1.0 / _point(s8, base, "compute_aware", "ratio_to_ba")
        add("Figs. 5-6: BA / compute-aware benchmark", where, math.nan, math.nan, math.nan, r, n, base)
    if (s8["x"] == 50.0).any():
        n = _paired_count(d8, 50.0, jbba_keys + ("comm_aware",))
        add("Fig. 8: JBBA / benchmark (comm-aware)", "K=50", *stated(0.4),
            lambda key: _point(s8, 50.0, key, "ratio_to_comm_aware"), n, 50.0)
        n = _paired_count(d8, 50.0, jbba_keys + ("ba",))
        add("Fig. 8: JBBA / BA", "K=50", *stated(0.6), lambda key: _point(s8, 50.0, key, "ratio_to_ba"), n, 50.0)
        n = _paired_count(d8, 50.0, ("ba", "comm_aware"))
        r = _point(s8, 50.0, "ba", "ratio_to_comm_aware")
        add("Fig. 8: BA / benchmark (comm-aware), implied 0.4 / 0.6", "K=50", *stated(0.4 / 0.6), r, n, 50.0)
    return pd.DataFrame(rows, columns=list(CLAIM_COLUMNS))


#: How :func:`claims_text` marks a value of ours: inside the paper's range, outside it, no range stated.
RANGE_MARKS = {True: "yes", False: "NO", None: "-"}


def _range_mark(value) -> str:
    """``within_paper_range_*`` (True / False / None, or as read back from the CSV) -> its mark."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return RANGE_MARKS[None]
    if isinstance(value, str):
        value = {"true": True, "false": False}.get(value.strip().lower())
        return RANGE_MARKS[value]
    return RANGE_MARKS[bool(value)]


def claims_text(claims_table: pd.DataFrame) -> str:
    """The console form of ``claims.csv``: every value of ours followed by its range mark.

    ``yes`` = inside the paper's range (``paper_low`` .. ``paper_high``), ``NO`` = outside,
    ``-`` = the paper states no number; the marks are the ``within_paper_range_*`` columns.
    O(claims).

    >>> t = pd.DataFrame([dict(claim="c", where="w", paper=0.6, paper_low=0.55, paper_high=0.65, ours_exact=0.7,
    ...                        within_paper_range_exact=False, draws_paired=3)])
    >>> claims_text(t).splitlines()[2].split()
    ['c', 'w', '0.600', '(0.550-0.650)', '0.700', 'NO', '3']
    """
    keys = [("exact", "ours_exact", "within_paper_range_exact", "ours, exact")]
    keys += [(k, f"ours_{k}", f"within_paper_range_{k}", f"ours, {k}") for k in HEURISTIC_KEYS
             if f"ours_{k}" in claims_table.columns]
    header = ["claim", "where", "paper (range)"] + [title for *_, title in keys] + ["paired draws"]
    rows = []
    for _, r in claims_table.iterrows():
        if math.isfinite(r["paper_low"]):
            paper = f"{r['paper']:.3f} ({r['paper_low']:.3f}-{r['paper_high']:.3f})"
        else:
            paper = "(not stated)"
        ours = [f"{r[value]:.3f} {_range_mark(r[mark]):<3}" for _, value, mark, _ in keys]
        rows.append([str(r["claim"]), str(r["where"]), paper, *ours, str(int(r["draws_paired"]))])
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(wd) if i < 2 else h.rjust(wd) for i, (h, wd) in enumerate(zip(header, widths))),
             "  ".join("-" * wd for wd in widths)]
    for row in rows:
        lines.append("  ".join(c.ljust(wd) if i < 2 else c.rjust(wd) for i, (c, wd) in enumerate(zip(row, widths))))
    lines.append("")
    named = [f"{s.key} = {s.label}" for s in SCHEMES if s.key in HEURISTIC_KEYS and f"ours_{s.key}" in claims_table]
    if named:
        lines.append("; ".join(named))
    lines.append(f"after each value of ours: {RANGE_MARKS[True]} = inside the paper's range, {RANGE_MARKS[False]} = "
                 f"outside it, {RANGE_MARKS[None]} = no range stated (claims.csv: within_paper_range_*)")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------
# Figures (matplotlib, Agg)
# --------------------------------------------------------------------------------------
def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


#: x-axis label of every figure that numbers blocks (the convention of docs/formulation.md, "Indexing").
BLOCK_AXIS_LABEL = "block m (0-based; block 0 the shallowest)"


def plot_fig4(table: pd.DataFrame, path: Path, measured: pd.DataFrame | None = None) -> None:
    """Fig. 4 analogue: (a) memory per block (bars, single-device line), (b) latency per block.

    With ``measured`` (:func:`_measured_fig4`: a profile measured on a CPU),
    two more panels put the measured shape beside the analytic one at the
    profile's batch and sequence length: (c) latency relative to the
    shallowest block, (d) memory per block.  Blocks are numbered from 0 (as in
    the instance files), the ticks are at every block, and the legends sit to
    the right of the axes.
    """
    plt = _pyplot()
    rows = 1 if measured is None else 2
    fig, axes = plt.subplots(rows, 2, figsize=(14, 3.9 * rows), squeeze=False)
    ax_m, ax_t = axes[0]
    blocks = table["block"].to_numpy()
    ax_m.bar(blocks, table["memory_gb"], color="tab:blue", label="one block (multi-device DEFT)")
    ax_m.axhline(table["single_device_memory_gb"].iloc[0], color="tab:red", ls="--", zorder=3,
                 label=f"single-device fine-tuning\n({table['single_device_memory_gb'].iloc[0]:.1f} GB)")
    ax_m.set(xlabel=BLOCK_AXIS_LABEL + "\n(block m backpropagates through m + 1 layers)", ylabel="memory (GB)",
             title="(a) memory to compute one block's gradient",
             ylim=(0, 1.1 * table["single_device_memory_gb"].iloc[0]))
    ax_t.bar(blocks, table["forward_latency_s"], color="tab:gray", label="forward t_F")
    ax_t.bar(blocks, table["backward_latency_s"], bottom=table["forward_latency_s"], color="tab:orange",
             hatch="//", edgecolor="white", label="backward t_B(m)")
    ax_t.set(xlabel=BLOCK_AXIS_LABEL, ylabel="latency per round,\nreference device (s)",
             title=f"(b) computation latency (deepest / shallowest = {table['latency_over_shallowest'].iloc[-1]:.2f})")
    ax_t.set_ylim(0, 1.1 * float(table["compute_latency_s"].max()))
    for ax in (ax_m, ax_t):
        ax.set_xticks(blocks)
        _outside_legend(ax)
    if measured is not None:
        ax_c, ax_d = axes[1]
        mblocks = measured["block"].to_numpy()
        where = (f"measured on {measured.attrs.get('machine', 'this CPU')},\nbatch {measured.attrs.get('batch_size')}, "
                 f"sequence {measured.attrs.get('seq_len')}")
        ax_c.plot(mblocks, measured["analytic_latency_over_shallowest"], ls="--", marker="s", ms=7, mfc="none",
                  color="tab:gray", label="analytic", zorder=3)
        ax_c.plot(mblocks, measured["measured_latency_over_shallowest"], ls="-", marker="o", ms=4.5,
                  color="tab:green", zorder=4,
                  label=f"measured\n(fit R² = {measured.attrs.get('measured_latency_r2', float('nan')):.3f})")
        ax_c.set(xlabel=BLOCK_AXIS_LABEL, ylabel="latency / latency of block 0\n(ratio, dimensionless)",
                 title="(c) latency shape: measured vs analytic")
        ax_d.plot(mblocks, measured["analytic_memory_gb"], ls="--", marker="s", ms=7, mfc="none", color="tab:gray",
                  label="analytic", zorder=3)
        ax_d.plot(mblocks, measured["measured_memory_gb"], ls="-", marker="o", ms=4.5, color="tab:green", zorder=4,
                  label="measured\n(tensor memory)")
        ax_d.set(xlabel=BLOCK_AXIS_LABEL, ylabel="memory (GB)", title="(d) memory per block: measured vs analytic")
        for ax in (ax_c, ax_d):
            ax.set_xticks(mblocks)
            ax.grid(alpha=0.3)
            _outside_legend(ax)
        # the measurement's conditions go under the legend, off the data
        ax_c.text(1.02, 0.0, where, transform=ax_c.transAxes, ha="left", va="bottom", fontsize=7)
    fig.suptitle("Fig. 4 analogue: RoBERTa-base, LoRA r = 8 ((a), (b): cost model, batch 32; "
                 "(c), (d): profile measured on this machine)" if measured is not None else
                 "Fig. 4 analogue: RoBERTa-base, LoRA r = 8, batch 32 (cost model)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _measured_fig4() -> pd.DataFrame | None:
    """The shipped measured profile beside its analytic counterpart (:func:`instances.profile.fig4_comparison`).

    Needs only the shipped file, not PyTorch; None (with the figure's lower
    panels left out) if it cannot be read.
    """
    try:
        from instances.profile import SHIPPED_COST_MODEL, fig4_comparison

        return fig4_comparison(SHIPPED_COST_MODEL)    # blocks already 0..L-1, in depth order
    except Exception:   # noqa: BLE001 - the figure is drawn without the measured panels
        return None


#: The paper's values drawn as markers on the ratio panels: (sweep, x, ratio kind, value, low, high).
def _paper_markers() -> list[tuple[str, float, str, float, float, float]]:
    ba_comm, jbba_ba = _paper_ratios()
    out = []
    for sweep, x in (("fig5_snr", 10.0), ("fig6_bandwidth", 100.0), ("fig8_devices", 20.0)):
        out.append((sweep, x, "ba_comm", float(np.exp(np.log(ba_comm).mean())), ba_comm.min(), ba_comm.max()))
        out.append((sweep, x, "jbba_ba", float(np.exp(np.log(jbba_ba).mean())), jbba_ba.min(), jbba_ba.max()))
    out.append(("fig8_devices", 50.0, "jbba_comm", 0.4, 0.4, 0.4))
    out.append(("fig8_devices", 50.0, "jbba_ba", 0.6, 0.6, 0.6))
    return out


#: Colour of the paper's star for each ratio kind (that of the matching line of ours).
_KIND_COLORS = {"ba_comm": "tab:blue", "jbba_ba": "tab:red", "jbba_comm": "tab:green"}


def _ratio_lines() -> list[tuple[str, str, str, str, str, object, float]]:
    """(legend, scheme, column, colour, marker, dashes, marker size) of the ratio panel (b).

    Every line has its own (marker, dashes) pair; the dual-ascent variants and the exact
    optimum keep their scheme's marker and size, so that when their ratios coincide the
    large open marker, the smaller open one and the x inside them all stay visible.
    """
    lines = [("BA / comm-aware", "ba", "ratio_to_comm_aware", _KIND_COLORS["ba_comm"], "o", "-", 6.0)]
    for scheme in SCHEMES:
        if scheme.key in HEURISTIC_KEYS:
            lines.append((f"{scheme.label} / BA", scheme.key, "ratio_to_ba", scheme.color, scheme.marker,
                          scheme.linestyle, scheme.ms))
    lines.append(("JBBA exact / BA", "jbba_exact", "ratio_to_ba", _KIND_COLORS["jbba_ba"], "x", ":", 5.0))
    lines.append(("JBBA exact / comm-aware", "jbba_exact", "ratio_to_comm_aware", _KIND_COLORS["jbba_comm"], "D",
                  (0, (6, 2)), 5.5))
    return lines


#: Line style of each statistic of the gap panel (c): (column suffix, legend, dashes, marker size, filled).
_GAP_STATS = (("mean", "mean", "-", 7.0, False), ("p90", "90th percentile", "--", 5.0, False),
              ("max", "maximum", ":", 3.5, True))


def _outside_legend(ax, **kw) -> None:
    """A legend to the right of the axes, never over the data."""
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, **kw)


def plot_sweep(summary: pd.DataFrame, sweep: Sweep, path: Path, draws_per_point: int) -> None:
    """Three panels: (a) mean latency with IQR bands; (b) paired ratios with the paper's values;
    (c) each dual-ascent variant's gap to the exact optimum.

    Every line has its own colour, marker and dash pattern; markers are open and of
    decreasing size towards the exact optimum, which is drawn on top (``zorder``), so
    that lines which coincide stay visible.  The paper's stars are drawn under our
    lines.  Legends sit to the right of the axes; the x ticks are the swept values.
    """
    plt = _pyplot()
    from matplotlib.ticker import NullLocator

    fig, (ax_l, ax_r, ax_g) = plt.subplots(3, 1, figsize=(10.5, 10.5), sharex=True,
                                           gridspec_kw={"height_ratios": [3, 2, 1.6]})
    xs = sorted(set(summary["x"]))
    for z, scheme in enumerate(SCHEMES):
        s = summary[summary["scheme"] == scheme.key].sort_values("x")
        low, high = s["infeasible_frac"].min(), s["infeasible_frac"].max()
        spread = f"{low:.0%}" if round(100 * low) == round(100 * high) else f"{low:.0%}-{high:.0%}"
        label = scheme.label + (f"\n[infeasible on {spread} of draws]" if high > 0 else "")
        ax_l.plot(s["x"], s["mean_s"], ls=scheme.linestyle, marker=scheme.marker, ms=scheme.ms, mfc="none",
                  mew=1.3, color=scheme.color, label=label, zorder=3 + z)
        ax_l.fill_between(s["x"], s["q25_s"], s["q75_s"], color=scheme.color, alpha=0.12, lw=0, zorder=1)
    ax_l.set_yscale("log")
    ax_l.set(ylabel="round latency (s)")
    ax_l.set_title(f"(a) {sweep.figure} analogue: mean round latency over each scheme's feasible draws "
                   f"({draws_per_point} draws per point; band = interquartile range)", fontsize=9)
    _outside_legend(ax_l)
    ax_l.grid(alpha=0.3, which="both")
    for z, (name, key, column, color, marker, dashes, ms) in enumerate(_ratio_lines()):
        s = summary[summary["scheme"] == key].sort_values("x")
        ax_r.plot(s["x"], s[column], ls=dashes, marker=marker, ms=ms, mfc="none", mew=1.3, color=color, label=name,
                  zorder=3 + z)
    first = True
    for sw, x, kind, value, low, high in _paper_markers():
        if sw != sweep.key or not (summary["x"] == x).any():
            continue
        ax_r.errorbar([x], [value], yerr=[[value - low], [high - value]], fmt="*", ms=13, color=_KIND_COLORS[kind],
                      mec="black", alpha=0.75, capsize=4, zorder=2,
                      label="paper (star; bar = Table I range)" if first else None)
        first = False
    ax_r.set(ylabel="paired ratio of mean\nlatencies (dimensionless)")
    ax_r.set_title("(b) paired latency ratios (sum over the draws where both schemes are feasible)", fontsize=9)
    _outside_legend(ax_r)
    ax_r.grid(alpha=0.3)
    z = 3
    for scheme in SCHEMES:
        if scheme.key not in HEURISTIC_KEYS:
            continue
        s = summary[summary["scheme"] == scheme.key].sort_values("x")
        for stat, name, dashes, ms, filled in _GAP_STATS:
            ax_g.plot(s["x"], 100 * s[f"gap_to_exact_{stat}"], ls=dashes, marker=scheme.marker, ms=ms, mew=1.2,
                      mfc=scheme.color if filled else "none", color=scheme.color, zorder=z,
                      label=f"{scheme.label}: {name}" if stat == "mean" else f"  {name}")
            z += 1
    ax_g.set_yscale("symlog", linthresh=0.1)
    gaps = summary[summary["scheme"].isin(HEURISTIC_KEYS)][[f"gap_to_exact_{s[0]}" for s in _GAP_STATS]]
    top = 100 * float(np.nanmax(gaps.to_numpy(float))) if np.isfinite(gaps.to_numpy(float)).any() else 1.0
    ticks = [0.0] + [t for t in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100) if t <= 1.5 * max(top, 0.2)]
    ax_g.set_yticks(ticks, [f"{t:g}" for t in ticks])      # plain labels, every decade step 1-2-5
    ax_g.yaxis.set_minor_locator(NullLocator())
    ax_g.set(xlabel=sweep.label, ylabel="gap to exact JBBA (%)\n(symlog)")
    ax_g.set_title("(c) dual-ascent heuristics: T / T* - 1 over the draws", fontsize=9)
    _outside_legend(ax_g)
    ax_g.grid(alpha=0.3, which="both")
    ax_g.set_xticks(xs, [f"{x:g}" for x in xs])
    ax_g.xaxis.set_minor_locator(NullLocator())
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_table(table: pd.DataFrame, path: Path) -> None:
    """Table I analogue: per task, the paper's ratios (inputs, light hatched bars) beside ours (results,
    solid bars in the same colour), and each dual-ascent variant's ratio as an open marker on top."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(12, 4.2))
    x = np.arange(len(table))
    w = 0.2
    ax.bar(x - 1.5 * w, table["input_paper_ba_over_comm"], w, color="tab:blue", alpha=0.4,
           hatch="//", label="paper BA / comm-aware (input: its Table I)")
    ax.bar(x - 0.5 * w, table["result_ours_ba_over_comm"], w, color="tab:blue", label="ours BA / comm-aware (result)")
    ax.bar(x + 0.5 * w, table["input_paper_jbba_over_ba"], w, color="tab:red", alpha=0.35,
           hatch="//", label="paper JBBA / BA (input: its Table I)")
    ax.bar(x + 1.5 * w, table["result_ours_jbba_exact_over_ba"], w, color="tab:red",
           label="ours JBBA exact / BA (result)")
    for z, scheme in enumerate(SCHEMES):
        if scheme.key in HEURISTIC_KEYS:
            ax.plot(x + 1.5 * w, table[f"result_ours_{scheme.key}_over_ba"], ls="none", marker=scheme.marker,
                    ms=scheme.ms + 1, mfc="none", mew=1.5, color=scheme.color, zorder=4 + z,
                    label=f"ours {scheme.label} / BA (result)")
    ax.set_xticks(x, table["task"])
    ax.set(ylabel="ratio of times to target\n(dimensionless)", ylim=(0, 1.05), xlabel="GLUE task")
    ax.set_title("Table I analogue, K = 20, 10 dB, 100 MHz: paper = its Table I (input); ours = ratio of our mean\n"
                 "round latencies (result), equal for every task by construction; times to target are fitted (CSV)",
                 fontsize=9)
    _outside_legend(ax)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------
@dataclass
class Reproduction:
    """Everything one run produced (also written to disk by :func:`reproduce`)."""

    out: Path
    draws: dict[str, pd.DataFrame]
    summaries: dict[str, pd.DataFrame]
    table: pd.DataFrame
    table_info: dict
    fig4: pd.DataFrame
    claims: pd.DataFrame
    problems: list[str]
    seconds: float
    files: list[Path]


def reproduce(out: str | Path = "reproduction", quick: bool = False, draws: int | None = None,
              jobs: int = 1, params: ScenarioParams | None = None, time_limit_s: float | None = DEFAULT_TIME_LIMIT_S,
              progress: TextIO | None = sys.stderr) -> Reproduction:
    """Run every experiment, write the figures and CSVs into ``out``; see the module docstring.

    Parameters
    ----------
    out : folder (created)
    quick : fewer points and draws (:data:`QUICK_DRAWS`)
    draws : draws per point (default :data:`FULL_DRAWS`, or :data:`QUICK_DRAWS` with ``quick``)
    jobs : worker processes (1: in this process)
    params : scenario (default :class:`ScenarioParams`, the calibrated defaults)
    time_limit_s : per method and draw
    progress : stream for the progress line (None: silent)
    """
    sw = time.perf_counter()
    params = params or ScenarioParams()
    n = draws if draws is not None else (QUICK_DRAWS if quick else FULL_DRAWS)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []

    fig4 = fig4_table(params)
    fig4.to_csv(out / "fig4_cost_model.csv", index=False)
    measured = _measured_fig4()
    if measured is not None:
        measured.to_csv(out / "fig4_measured.csv", index=False)
        files.append(out / "fig4_measured.csv")
    plot_fig4(fig4, out / "fig4_cost_model.png", measured)
    files += [out / "fig4_cost_model.csv", out / "fig4_cost_model.png"]

    all_draws, summaries = {}, {}
    for sweep in SWEEPS:
        values = sweep.quick if quick else sweep.full
        tasks = point_tasks(sweep, values, n, params, time_limit_s)
        frame = run_tasks(tasks, jobs, Progress(len(values) * n, f"{sweep.figure} ({sweep.key})", progress))
        summary = summarise(frame, sweep)
        frame.to_csv(out / f"{sweep.key}_draws.csv", index=False)
        summary.to_csv(out / f"{sweep.key}.csv", index=False)
        plot_sweep(summary, sweep, out / f"{sweep.key}.png", n)
        files += [out / f"{sweep.key}_draws.csv", out / f"{sweep.key}.csv", out / f"{sweep.key}.png"]
        all_draws[sweep.key], summaries[sweep.key] = frame, summary

    base = all_draws["fig8_devices"]           # K = 20 at the scenario's SNR and bandwidth
    table, info = table_one(base[base["x"] == float(BASE_DEVICES)])
    table.to_csv(out / "table1_time_to_target.csv", index=False)
    table_sources().to_csv(out / "table1_time_to_target_sources.csv", index=False)
    plot_table(table, out / "table1_time_to_target.png")
    files += [out / "table1_time_to_target.csv", out / "table1_time_to_target_sources.csv",
              out / "table1_time_to_target.png"]

    claim_table = claims(summaries, all_draws, fig4, params)
    claim_table.to_csv(out / "claims.csv", index=False)
    files.append(out / "claims.csv")

    problems = [p for frame in all_draws.values() for p in consistency_problems(frame)]
    return Reproduction(out, all_draws, summaries, table, info, fig4, claim_table, problems,
                        time.perf_counter() - sw, files)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def _setting(text: str) -> tuple[str, object]:
    """``NAME=VALUE`` -> (name, value typed like the field's default); unknown names pass through
    (:meth:`ScenarioParams.with_overrides` then rejects them by name)."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    name, value = (part.strip() for part in text.split("=", 1))
    defaults = ScenarioParams().flat()
    kind = type(defaults.get(name)) if defaults.get(name) is not None else float
    if name not in defaults:
        return name, value
    try:
        return name, kind(value) if kind is not bool else value.lower() in ("1", "true", "yes")
    except ValueError:
        raise argparse.ArgumentTypeError(f"{name} needs a {kind.__name__}, got {value!r}") from None


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2
        self.exit(2, f"error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m validation.reproduce",
                description="Reproduce the paper's Figs. 4, 5, 6, 8 and Table I with the exact JBBA optimum "
                            "(PNG figures and the CSV behind each). See docs/reproduction.md.")
    p.add_argument("--quick", action="store_true",
                   help=f"3 points per sweep, {QUICK_DRAWS} draws each (under a minute)")
    p.add_argument("--out", default="reproduction", help="output folder (default: reproduction/)")
    p.add_argument("--draws", type=_positive_int, default=None,
                   help=f"random draws per point (default {FULL_DRAWS}; {QUICK_DRAWS} with --quick)")
    p.add_argument("--jobs", type=_positive_int, default=max(1, os.cpu_count() or 1),
                   help="worker processes (default: all CPUs)")
    p.add_argument("--set", dest="settings", type=_setting, action="append", default=[], metavar="NAME=VALUE",
                   help="override a scenario default (any ScenarioParams / EncoderCostModel field), "
                        "e.g. --set path_loss_db=23; repeatable")
    p.add_argument("--time-limit", type=_positive_float, default=DEFAULT_TIME_LIMIT_S,
                   help=f"seconds per method and draw (default {DEFAULT_TIME_LIMIT_S:g})")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.add_argument("--study", action="store_true",
                   help="run the calibration study instead (validation.study: where do the paper's ratios hold?); "
                        "uses --quick, --out, --draws, --quiet")
    add_version(p)
    return p


def main(argv: list[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Command-line entry point; returns the exit status (see the module docstring)."""
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    args = build_parser().parse_args(argv)
    if args.study:
        if args.settings:
            stderr.write("error: --study sweeps the scenario itself; --set does not apply\n")
            return 2
        from . import study
        forwarded = ["--out", args.out] + (["--quick"] if args.quick else []) + (["--quiet"] if args.quiet else [])
        forwarded += ["--draws", str(args.draws)] if args.draws is not None else []
        return study.main(forwarded, stdout=stdout, stderr=stderr)
    try:
        params = ScenarioParams.with_overrides(None, **dict(args.settings))
    except (ValueError, TypeError) as exc:
        stderr.write(f"error: {exc}\n")
        return 2
    try:
        result = reproduce(args.out, quick=args.quick, draws=args.draws, jobs=args.jobs, params=params,
                           time_limit_s=args.time_limit, progress=None if args.quiet else stderr)
    except KeyboardInterrupt:
        stderr.write("\ninterrupted\n")
        return 130
    except (ValueError, OSError) as exc:
        stderr.write(f"error: {exc}\n")
        return 2
    stdout.write(claims_text(result.claims))
    stdout.write(f"\nwrote {len(result.files)} files to {result.out}/ in {result.seconds:.0f} s\n")
    if result.problems:
        stderr.write(f"{len(result.problems)} consistency problem(s):\n")
        for line in result.problems[:50]:
            stderr.write(f"  {line}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
