r"""Calibration study: is there a scenario in which the paper's stated latency ratios all hold?

Usage::

    python -m validation.study [--quick] [--out DIR] [--draws N] [--quiet]
    python -m validation.reproduce --study [--quick] [--out DIR] [--draws N]   # the same

writes into ``DIR`` (default ``reproduction/``):

=============================  =======================================================
``study_calibration.csv``      one row per scenario point (:data:`STUDY_COLUMNS`)
``study_calibration.png``      heatmaps over the two most influential parameters
=============================  =======================================================

Method
------
The values the paper leaves out are swept (:data:`SWEEPS_1D`, one at a time
around the defaults of :class:`instances.generate.ScenarioParams`, and the 2-D
grid :data:`HEATMAP`).  At each point, for K = 20 and K = 50 devices (M = 12
blocks) and seeds 0..N-1 (the same seeds at every point), three methods are
run on every draw, all without heuristics for BA and JBBA:

* BA: the P1 optimum (CRUNCH, ``crunch``);
* JBBA*: the P2 optimum (parametric assignment, ``exact``);
* comm-aware: the paper's communication-aware benchmark (P1, ``comm-aware``),
  which returns ``no_solution`` when its channel-only choice hits the memory
  wall; such draws are counted (``comm_nosol_k20``, ``comm_nosol_k50``) and
  left out of the ratios that involve it.

Draws on which P1 itself is infeasible (a memory wall for every assignment)
are counted (``p1_infeasible_k20``, ``p1_infeasible_k50``) and left out.

Every ratio is *paired*, a ratio of means over the draws on which both
schemes have a solution,

.. math:: \hat\rho = \frac{\sum_d a_d}{\sum_d b_d}, \qquad
          \widehat{\mathrm{se}}(\hat\rho) = \frac{1}{\bar b}
          \sqrt{\frac{\sum_d (a_d - \hat\rho\, b_d)^2}{n (n - 1)}}

(the standard error of a ratio estimator by the delta method, ``*_se``
columns; n = paired draws, ``*_n`` columns).  The paper's statements
(:data:`CLAIMS`) are tested on the point estimates:

==================  ============================================  ================
column              statement                                     range
==================  ============================================  ================
``ok_ba_comm_k20``  BA / comm-aware at K = 20, "nearly 40 %"      0.55 .. 0.65
``ok_jbba_ba_k20``  JBBA / BA at K = 20, Table I                  0.823 .. 0.881
``ok_jbba_comm_k50``  JBBA / comm-aware at K = 50 (Fig. 8)        0.35 .. 0.45
``ok_jbba_ba_k50``  JBBA / BA at K = 50 (Fig. 8)                  0.55 .. 0.65
``ok_widening``     both gaps widen from K = 20 to K = 50         JBBA/BA and
                                                                  JBBA/comm fall
==================  ============================================  ================

``ok_all`` is their conjunction.  Single stated values get the same
+-0.05 band as ``claims.csv`` of :mod:`validation.reproduce`; the Table I
range is its minimum and maximum over the eight tasks.

Scenario parameters
-------------------
``path_loss_db`` (the average path loss, dB), ``cf_halfwidth`` (f_k ~
U[1 - w, 1 + w]), ``memory_min_gb``/``memory_max_gb`` (cap_k ~ U[lo, hi] GB),
``local_iterations`` (I), ``snr_db`` (transmit SNR, dB) are
:class:`~instances.generate.ScenarioParams` fields.  ``path_loss_exponent``
(alpha) adds a distance-dependent path loss: device k is placed uniformly in
an annulus of radii :data:`CELL_MIN_DISTANCE_M` .. :data:`CELL_RADIUS_M`
around the edge server (distance :math:`d_k = \sqrt{U[d_0^2, R^2]}`, drawn
from its own generator seeded ``(seed, 1)`` so that the other draws of a seed
are unchanged) and

.. math:: \mathrm{PL}_k = \mathrm{PL} + 10\,\alpha \log_{10}(d_k / d_\text{ref}), \qquad
          d_\text{ref} = \sqrt{(d_0^2 + R^2)/2}

so ``path_loss_db`` stays the path loss at the median distance and alpha = 0
is the generator's model (one path loss for every device).  Then
:math:`R_k = \log_2(1 + \mathrm{SNR}_\text{tx} 10^{-\mathrm{PL}_k/10} |h_k|^2)`.

Complexity: per draw one CRUNCH run, one parametric assignment and one sort
(about 1.3 ms at K = 20..50); the full study is about 130 points x 2 K x 50
draws, under a minute on one core.

Examples
--------
>>> round(ratio_se(np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 6.0]))[0], 12)   # exact proportion
0.5
>>> ratio_se(np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 6.0]))[1] < 1e-12
True
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, TextIO

import numpy as np
import pandas as pd

from instances.cli import add_version
from instances.core import Instance
from instances.generate import ScenarioParams, generate_arrays
from solvers import run as run_solver
from solvers.result import Status

#: Blocks (the paper: RoBERTa-base, one block per layer) and the two device counts compared.
BLOCKS = 12
DEVICES = (20, 50)
#: Draws per point of the full study, and of ``--quick``.
STUDY_DRAWS = 50
QUICK_STUDY_DRAWS = 6
#: Cell of the distance-dependent path loss (metres): devices in the annulus [d0, R].
CELL_RADIUS_M = 250.0
CELL_MIN_DISTANCE_M = 10.0
#: The defaults of the study's parameters (those of ScenarioParams; alpha = 0: no distance model).
_DEFAULT = ScenarioParams()
DEFAULTS: dict[str, float] = {
    "path_loss_db": _DEFAULT.path_loss_db,
    "path_loss_exponent": 0.0,
    "cf_halfwidth": round((_DEFAULT.compute_factor_max - _DEFAULT.compute_factor_min) / 2, 9),
    "memory_min_gb": _DEFAULT.memory_min_gb,
    "memory_max_gb": _DEFAULT.memory_max_gb,
    "local_iterations": float(_DEFAULT.local_iterations),
    "snr_db": _DEFAULT.snr_db,
}
PARAMETERS = tuple(DEFAULTS)
#: Units and axis labels of the parameters.
PARAMETER_LABELS = {
    "path_loss_db": "average path loss PL (dB)",
    "path_loss_exponent": "path-loss exponent alpha (dimensionless; distance model, 0 = none)",
    "cf_halfwidth": "compute-factor half-width w (dimensionless): f_k ~ U[1-w, 1+w]",
    "memory_min_gb": "memory budget lower end (GB)",
    "memory_max_gb": "memory budget upper end (GB)",
    "local_iterations": "local iterations I per round",
    "snr_db": "transmit SNR (dB)",
}


@dataclass(frozen=True)
class Claim:
    """One of the paper's statements tested on every point."""

    key: str        #: column suffix: ``ok_<key>``
    text: str       #: what the paper says
    low: float
    high: float


def _table_one_range() -> tuple[float, float]:
    from .reproduce import PAPER_TABLE_I
    t = np.array(list(PAPER_TABLE_I.values()))
    ratio = t[:, 2] / t[:, 1]
    return float(ratio.min()), float(ratio.max())


_JB_LOW, _JB_HIGH = _table_one_range()
CLAIMS: tuple[Claim, ...] = (
    Claim("ba_comm_k20", "BA / comm-aware at K = 20: 'nearly 40 % reduction' (0.6 +- 0.05)", 0.55, 0.65),
    Claim("jbba_ba_k20", "JBBA / BA at K = 20: Table I range over tasks", _JB_LOW, _JB_HIGH),
    Claim("jbba_comm_k50", "JBBA / comm-aware at K = 50: '40 % of the benchmark' (0.4 +- 0.05)", 0.35, 0.45),
    Claim("jbba_ba_k50", "JBBA / BA at K = 50: '60 % of the BA' (0.6 +- 0.05)", 0.55, 0.65),
)
#: The ratios of the study: (name, numerator scheme, denominator scheme, K).
RATIOS = (
    ("ba_comm_k20", "ba", "comm", 20),
    ("jbba_ba_k20", "jbba", "ba", 20),
    ("jbba_comm_k20", "jbba", "comm", 20),
    ("ba_comm_k50", "ba", "comm", 50),
    ("jbba_ba_k50", "jbba", "ba", 50),
    ("jbba_comm_k50", "jbba", "comm", 50),
)
CLAIM_KEYS = tuple(c.key for c in CLAIMS) + ("widening",)

#: Columns of ``study_calibration.csv``.
STUDY_COLUMNS = (
    ("sweep", "varied") + PARAMETERS + ("draws",)
    + tuple(f"{name}{suffix}" for name, *_ in RATIOS for suffix in ("", "_se", "_n"))
    + ("p1_infeasible_k20", "p1_infeasible_k50", "comm_nosol_k20", "comm_nosol_k50")
    + tuple(f"ok_{k}" for k in CLAIM_KEYS) + ("claims_held", "ok_all")
)

#: One-at-a-time sweeps around :data:`DEFAULTS`: (parameter or pair, values).  Memory moves as a
#: 12 GB window (lower end given; upper = lower + 12).
SWEEPS_1D: dict[str, tuple[float, ...]] = {
    "path_loss_db": (5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 35.0),
    "path_loss_exponent": (0.0, 2.0, 3.0, 3.76, 4.5),
    "cf_halfwidth": (0.1, 0.3, 0.5, 0.6, 0.7, 0.9),
    "memory_min_gb": (4.0, 6.0, 8.0, 10.0, 12.0),
    "local_iterations": (1.0, 2.0, 4.0, 8.0),
    "snr_db": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
}
QUICK_SWEEPS_1D: dict[str, tuple[float, ...]] = {
    "path_loss_db": (15.0, 25.0),
    "path_loss_exponent": (0.0, 3.76),
    "cf_halfwidth": (0.3, 0.9),
    "memory_min_gb": (6.0,),
    "local_iterations": (2.0,),
    "snr_db": (15.0,),
}
#: The 2-D grid of the heatmap: (x parameter, x values, y parameter, y values).
HEATMAP = ("path_loss_db", (5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 35.0),
           "cf_halfwidth", (0.1, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9))
QUICK_HEATMAP = ("path_loss_db", (15.0, 25.0), "cf_halfwidth", (0.3, 0.9))
#: Extra 2-D grid: distance model x path loss (a second heatmap row).
HEATMAP_DISTANCE = ("path_loss_db", (5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 35.0),
                    "path_loss_exponent", (0.0, 2.0, 3.0, 3.76, 4.5))
QUICK_HEATMAP_DISTANCE = ("path_loss_db", (15.0, 25.0), "path_loss_exponent", (0.0, 3.76))


# --------------------------------------------------------------------------------------
# One draw, one point
# --------------------------------------------------------------------------------------
def scenario(point: dict[str, float]) -> ScenarioParams:
    """The :class:`ScenarioParams` of a study point (every key of :data:`DEFAULTS` present)."""
    w = float(point["cf_halfwidth"])
    return ScenarioParams.with_overrides(
        path_loss_db=float(point["path_loss_db"]), snr_db=float(point["snr_db"]),
        compute_factor_min=1.0 - w, compute_factor_max=1.0 + w,
        memory_min_gb=float(point["memory_min_gb"]), memory_max_gb=float(point["memory_max_gb"]),
        local_iterations=int(round(point["local_iterations"])))


def device_path_loss_db(K: int, seed: int, path_loss_db: float, exponent: float) -> np.ndarray:
    """Per-device path loss (dB) of the distance model (module docstring); ``exponent`` 0: all equal.

    >>> device_path_loss_db(3, 0, 20.0, 0.0).tolist()
    [20.0, 20.0, 20.0]
    """
    if exponent == 0.0:
        return np.full(K, float(path_loss_db))
    rng = np.random.default_rng([seed, 1])
    d0, R = CELL_MIN_DISTANCE_M, CELL_RADIUS_M
    distance_m = np.sqrt(rng.uniform(d0 ** 2, R ** 2, size=K))
    d_ref = math.sqrt((d0 ** 2 + R ** 2) / 2.0)
    return path_loss_db + 10.0 * exponent * np.log10(distance_m / d_ref)


def study_instance(K: int, seed: int, point: dict[str, float]) -> Instance:
    """The draw ``seed`` of a study point with K devices (memory walls allowed: counted, not refused)."""
    params = scenario(point)
    arrays = generate_arrays(K, BLOCKS, seed, params, allow_infeasible=True)
    draws = arrays.pop("draws")
    arrays.pop("infeasible")
    loss_db = device_path_loss_db(K, seed, params.path_loss_db, float(point["path_loss_exponent"]))
    receive_snr = 10.0 ** ((params.snr_db - loss_db) / 10.0) * draws["channel_gain"]
    arrays["spectral_efficiency"] = np.log1p(receive_snr) / math.log(2.0)
    return Instance.from_arrays(**arrays, name=f"study-K{K}-s{seed}")


def solve_study_draw(K: int, seed: int, point: dict[str, float]) -> tuple[float, float, float, str]:
    """(BA, JBBA*, comm-aware) round latencies in s (NaN without a solution) and comm-aware's status."""
    inst = study_instance(K, seed, point)
    out = []
    status = ""
    for problem, name in (("P1", "crunch"), ("P2", "exact"), ("P1", "comm-aware")):
        res = run_solver(problem, name, inst, certify=False)
        if res.status == Status.ERROR or res.status == Status.TIME_LIMIT:
            raise RuntimeError(f"{problem} {name} on K={K} seed={seed} {point}: {res.status} {res.message}")
        ok = res.status in (Status.OPTIMAL, Status.FEASIBLE) and res.objective_s is not None
        out.append(float(res.objective_s) if ok else math.nan)
        status = res.status.value
    return out[0], out[1], out[2], status


def ratio_se(a: np.ndarray, b: np.ndarray) -> tuple[float, float, int]:
    r"""Paired ratio of means, its delta-method standard error, and the paired count.

    Over the draws where both are finite: :math:`\hat\rho = \sum a / \sum b`,
    :math:`\mathrm{se} = \sqrt{\sum (a - \hat\rho b)^2 / (n (n-1))} / \bar b`
    (NaN for n < 2; the ratio is NaN for n = 0).  O(n).
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    both = np.isfinite(a) & np.isfinite(b)
    n = int(both.sum())
    if n == 0:
        return math.nan, math.nan, 0
    a, b = a[both], b[both]
    rho = float(a.sum() / b.sum())
    if n < 2:
        return rho, math.nan, n
    se = math.sqrt(float(np.sum((a - rho * b) ** 2)) / (n * (n - 1))) / float(b.mean())
    return rho, se, n


def point_draws(point: dict[str, float], draws: int) -> pd.DataFrame:
    """Every draw of a point: ``K, seed, ba_s, jbba_s, comm_s, comm_status``."""
    rows = []
    for K in DEVICES:
        for seed in range(draws):
            ba, jbba, comm, status = solve_study_draw(K, seed, point)
            rows.append({"K": K, "seed": seed, "ba_s": ba, "jbba_s": jbba, "comm_s": comm,
                         "comm_status": status})
    return pd.DataFrame(rows)


def judge(row: dict) -> dict:
    """Add the ``ok_*`` columns, ``claims_held`` and ``ok_all`` to a row holding the ratios."""
    for claim in CLAIMS:
        v = row[claim.key]
        row[f"ok_{claim.key}"] = bool(math.isfinite(v) and claim.low <= v <= claim.high)
    row["ok_widening"] = bool(row["jbba_ba_k50"] < row["jbba_ba_k20"]
                              and row["jbba_comm_k50"] < row["jbba_comm_k20"])
    row["claims_held"] = int(sum(row[f"ok_{k}"] for k in CLAIM_KEYS))
    row["ok_all"] = row["claims_held"] == len(CLAIM_KEYS)
    return row


def summarise_point(frame: pd.DataFrame, point: dict[str, float], sweep: str, varied: str) -> dict:
    """One CSV row (:data:`STUDY_COLUMNS`) from the draws of a point."""
    row: dict = {"sweep": sweep, "varied": varied, **{p: float(point[p]) for p in PARAMETERS},
                 "draws": int(frame["seed"].nunique())}
    for name, num, den, K in RATIOS:
        at = frame[frame["K"] == K]
        rho, se, n = ratio_se(at[f"{num}_s"].to_numpy(float), at[f"{den}_s"].to_numpy(float))
        row[name], row[f"{name}_se"], row[f"{name}_n"] = rho, se, n
    for K in DEVICES:
        at = frame[frame["K"] == K]
        row[f"p1_infeasible_k{K}"] = int(at["ba_s"].isna().sum())
        row[f"comm_nosol_k{K}"] = int((at["comm_status"] == Status.NO_SOLUTION.value).sum())
    return judge(row)


# --------------------------------------------------------------------------------------
# The grid
# --------------------------------------------------------------------------------------
def _point(**changes: float) -> dict[str, float]:
    point = dict(DEFAULTS)
    point.update(changes)
    if "memory_min_gb" in changes and "memory_max_gb" not in changes:   # a 12 GB window
        point["memory_max_gb"] = changes["memory_min_gb"] + (DEFAULTS["memory_max_gb"] - DEFAULTS["memory_min_gb"])
    return point


def study_points(quick: bool = False) -> list[tuple[str, str, dict[str, float]]]:
    """(sweep, varied, point) of every point: the default, the 1-D sweeps, the two 2-D grids.

    A point of several sweeps is listed once per sweep (rows of the CSV are per sweep).
    """
    sweeps = QUICK_SWEEPS_1D if quick else SWEEPS_1D
    points = [("default", "", _point())]
    for name, values in sweeps.items():
        points += [(f"1d:{name}", name, _point(**{name: v})) for v in values]
    for grid in ((QUICK_HEATMAP, QUICK_HEATMAP_DISTANCE) if quick else (HEATMAP, HEATMAP_DISTANCE)):
        xp, xs, yp, ys = grid
        points += [(f"2d:{xp}x{yp}", f"{xp},{yp}", _point(**{xp: x, yp: y})) for y in ys for x in xs]
    return points


def run_study(draws: int = STUDY_DRAWS, quick: bool = False, progress: TextIO | None = None) -> pd.DataFrame:
    """Evaluate every point of :func:`study_points`; one row each (:data:`STUDY_COLUMNS`).

    Identical points (the same parameter values in several sweeps) are solved once.
    """
    cache: dict[tuple, pd.DataFrame] = {}
    rows = []
    points = study_points(quick)
    start = time.perf_counter()
    for i, (sweep, varied, point) in enumerate(points):
        key = tuple(point[p] for p in PARAMETERS)
        if key not in cache:
            cache[key] = point_draws(point, draws)
        rows.append(summarise_point(cache[key], point, sweep, varied))
        if progress is not None:
            progress.write(f"\rcalibration study: {i + 1}/{len(points)} points, "
                           f"{time.perf_counter() - start:4.0f} s ")
            progress.flush()
    if progress is not None:
        progress.write("\n")
    return pd.DataFrame(rows, columns=list(STUDY_COLUMNS))


def influence(table: pd.DataFrame) -> pd.DataFrame:
    """Per 1-D sweep: the range (max - min) of each claimed ratio over the sweep's values."""
    out = []
    for sweep, group in table[table["sweep"].str.startswith("1d:")].groupby("sweep", sort=False):
        out.append({"parameter": sweep[3:], **{c.key: float(group[c.key].max() - group[c.key].min())
                                                for c in CLAIMS}})
    return pd.DataFrame(out)


# --------------------------------------------------------------------------------------
# Figure
# --------------------------------------------------------------------------------------
_PANELS = (  # (column, title, claim key or None)
    ("ba_comm_k20", "BA / comm-aware, K = 20\n(paper: ~0.6)", "ba_comm_k20"),
    ("jbba_ba_k20", "JBBA* / BA, K = 20\n(paper: 0.82-0.88)", "jbba_ba_k20"),
    ("jbba_comm_k50", "JBBA* / comm-aware, K = 50\n(paper: 0.40)", "jbba_comm_k50"),
    ("jbba_ba_k50", "JBBA* / BA, K = 50\n(paper: 0.60)", "jbba_ba_k50"),
    ("widen", "JBBA*/BA at K = 50 minus K = 20\n(paper: < 0, the gap widens)", "widening"),
    ("claims_held", "claims held (of 5)\n(outlined: all hold)", None),
)


def plot_study(table: pd.DataFrame, path: Path, draws: int) -> None:
    """Heatmaps: one row per 2-D grid, one panel per claimed quantity; cells where it holds dotted."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    grids = [g for g in dict.fromkeys(table["sweep"]) if g.startswith("2d:")]
    fig, axes = plt.subplots(len(grids), len(_PANELS), figsize=(3.3 * len(_PANELS), 3.6 * len(grids) + 0.9),
                             squeeze=False)
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    any_all = bool(table["ok_all"].any())
    for r, grid in enumerate(grids):
        g = table[table["sweep"] == grid].copy()
        xp, yp = g["varied"].iloc[0].split(",")
        xs, ys = sorted(set(g[xp])), sorted(set(g[yp]))
        g["widen"] = g["jbba_ba_k50"] - g["jbba_ba_k20"]
        for c, (column, title, claim) in enumerate(_PANELS):
            ax = axes[r, c]
            z = np.full((len(ys), len(xs)), np.nan)
            ok = np.zeros_like(z, dtype=bool)
            for _, row in g.iterrows():
                i, j = ys.index(row[yp]), xs.index(row[xp])
                z[i, j] = row[column]
                ok[i, j] = bool(row[f"ok_{claim}"]) if claim else bool(row["ok_all"])
            if column == "claims_held":
                im = ax.imshow(z, origin="lower", aspect="auto", cmap="viridis", vmin=0, vmax=len(CLAIM_KEYS))
            elif column == "widen":
                lim = max(0.05, float(np.nanmax(np.abs(z))))
                im = ax.imshow(z, origin="lower", aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim)
            else:
                im = ax.imshow(z, origin="lower", aspect="auto", cmap="magma", vmin=0.0, vmax=1.0)
            for i in range(len(ys)):
                for j in range(len(xs)):
                    if np.isfinite(z[i, j]):
                        text = f"{z[i, j]:.0f}" if column == "claims_held" else f"{z[i, j]:.2f}"
                        shade = im.cmap(im.norm(z[i, j]))
                        light = 0.299 * shade[0] + 0.587 * shade[1] + 0.114 * shade[2] > 0.5
                        ax.text(j, i, text + ("*" if ok[i, j] and claim else ""), ha="center", va="center",
                                fontsize=7.5, color="black" if light else "white")
                    if ok[i, j] and not claim:
                        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="red", lw=2.5))
            ax.set_xticks(range(len(xs)), [f"{x:g}" for x in xs], fontsize=7)
            ax.set_yticks(range(len(ys)), [f"{y:g}" for y in ys], fontsize=7)
            ax.set_xlabel(PARAMETER_LABELS[xp], fontsize=7)
            if c == 0:
                ax.set_ylabel(PARAMETER_LABELS[yp], fontsize=7)
            ax.set_title(f"({next(letters)}) {title}", fontsize=8)
            cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
            cb.ax.tick_params(labelsize=6)
            cb.set_label("claims held (count)" if column == "claims_held" else
                         "paired ratio of mean latencies (dimensionless)" if column != "widen" else
                         "difference of ratios (dimensionless)", fontsize=6)
    verdict = ("outlined cells: every stated number holds" if any_all
               else "no cell where every stated number holds")
    fig.suptitle(f"Calibration study, exact optima (BA = P1 optimum, JBBA* = P2 optimum), M = 12, "
                 f"{draws} draws per cell and K; '*' = that claim holds; {verdict}", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --------------------------------------------------------------------------------------
# Driver and command line
# --------------------------------------------------------------------------------------
@dataclass
class Study:
    """What one run produced."""

    table: pd.DataFrame
    csv: Path
    png: Path
    seconds: float


def study(out: str | Path = "reproduction", quick: bool = False, draws: int | None = None,
          progress: TextIO | None = sys.stderr) -> Study:
    """Run the calibration study and write ``study_calibration.{csv,png}`` into ``out``."""
    start = time.perf_counter()
    n = draws if draws is not None else (QUICK_STUDY_DRAWS if quick else STUDY_DRAWS)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = run_study(n, quick, progress)
    csv, png = out / "study_calibration.csv", out / "study_calibration.png"
    table.to_csv(csv, index=False)
    plot_study(table, png, n)
    return Study(table, csv, png, time.perf_counter() - start)


def report(result: Study) -> str:
    """A plain-text summary: the default point, each claim's best point, the region where all hold."""
    t = result.table
    lines = []
    base = t[t["sweep"] == "default"].iloc[0]
    lines.append("default scenario: " + ", ".join(f"{n} {base[n]:.3f}" for n, *_ in RATIOS))
    for claim in CLAIMS:
        held = t[t[f"ok_{claim.key}"]]
        lines.append(f"{claim.key}: holds at {len(held)} of {len(t)} rows "
                     f"(range {claim.low:.3f}-{claim.high:.3f}; ours {t[claim.key].min():.3f}-{t[claim.key].max():.3f})")
    lines.append(f"widening: holds at {int(t['ok_widening'].sum())} of {len(t)} rows")
    lines.append(f"most claims held at one point: {int(t['claims_held'].max())} of {len(CLAIM_KEYS)}")
    allrows = t[t["ok_all"]]
    lines.append("every claim holds at: " + ("no point" if allrows.empty else
                 "; ".join(", ".join(f"{p}={r[p]:g}" for p in PARAMETERS) for _, r in allrows.iterrows())))
    lines.append(f"wrote {result.csv} and {result.png} in {result.seconds:.0f} s")
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    class _Parser(argparse.ArgumentParser):
        def error(self, message):  # one line, exit 2
            self.exit(2, f"error: {message}\n")

    p = _Parser(prog="python -m validation.study",
                description="Calibration study: sweep the values the paper leaves out and report where its "
                            "stated latency ratios hold, with exact optima. See docs/reproduction.md.")
    p.add_argument("--quick", action="store_true", help=f"a few points, {QUICK_STUDY_DRAWS} draws each (seconds)")
    p.add_argument("--out", default="reproduction", help="output folder (default: reproduction/)")
    p.add_argument("--draws", type=int, default=None,
                   help=f"draws per point and K (default {STUDY_DRAWS}; {QUICK_STUDY_DRAWS} with --quick)")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    add_version(p)
    return p


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Command-line entry point: 0 when written, 2 on bad arguments, 130 when interrupted."""
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    args = build_parser().parse_args(argv)
    if args.draws is not None and args.draws < 2:
        stderr.write(f"error: --draws must be at least 2, got {args.draws}\n")
        return 2
    try:
        result = study(args.out, quick=args.quick, draws=args.draws, progress=None if args.quiet else stderr)
    except KeyboardInterrupt:
        stderr.write("\ninterrupted\n")
        return 130
    except OSError as exc:
        stderr.write(f"error: {exc}\n")
        return 2
    stdout.write(report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
