"""Paper-ready tables and plots from the rows written by ``python -m validation.compare``.

Usage::

    python -m validation.report ROWS.json|ROWS.csv [more ...] --out DIR [--label NAME ...]

Input
-----
Each file holds the rows of one harness run, written with ``--format json``
(``{"rows": [...], "summary": {...}}``; a bare list of rows is accepted too)
or ``--format csv`` (header :data:`~validation.compare.ROW_FIELDS`, the
fields of :data:`~validation.compare.JSON_FIELDS` as JSON text).  The columns
of :data:`REQUIRED_FIELDS` must be present; the others (``bound_s``,
``certified``, ``certificate``, ...) may be missing, as in files written by
older versions of the harness.  Each file is one *run*, labelled by its file
stem or by ``--label``; rows of unusable instance files (problem ``"-"``) are
counted per run and otherwise left out.

Definitions
-----------
A run of a method on an instance is *solved* when it returned a valid
solution: status ``optimal``, ``feasible`` or ``time_limit`` with a finite
objective.  The gap is the harness's ``(T - T*) / T*`` to the proven optimum
``T*`` (absent when there is none); every gap statistic is over the
``gap_runs`` runs that have one.  The 95 % confidence interval of the mean
gap is a percentile bootstrap (:func:`bootstrap_mean_ci`: 10,000 resamples of
the instances with replacement, ``numpy.random.default_rng(12345)`` afresh
for each method, so that each interval does not depend on the others).  The
90th percentile is numpy's linear interpolation between order statistics.

Two methods are compared on the instances both solved: a *win* is an
objective lower by more than :data:`TIE_RTOL` relative, a *tie* one within it.
With several runs, every (run, method) pair is a competitor of its own, so
that a method can be compared with itself across code versions or settings.

Performance profiles (Dolan & More 2002) of the wall time are
:func:`time_ratios` and :func:`profile_rho`; the gap distributions are
empirical distribution functions (:func:`ecdf`).

Output
------
In ``DIR``, one file per table and format, ``NAME.md``, ``NAME.tex``
(booktabs, caption, label ``tab:NAME``, footnotes) and ``NAME.csv`` (full
precision, gaps as fractions): ``inputs``, ``methods``, ``wins`` and
``wins_P1``/``wins_P2`` (wins/ties/losses matrices), ``time_profile``, and with
several runs ``side_by_side``; plots ``profile_time_P1.png``/``.pdf`` and
``gap_ecdf_P1.png``/``.pdf`` per problem.  A summary goes to stdout.

Exit status
-----------
0
    every input file was read;
2
    some input file was unusable (missing, invalid JSON, a CSV without the
    needed columns, ...) -- one line on stderr names the file and the reason,
    and the other files are still reported -- or the output folder cannot be
    written, or the command line is wrong.

Examples
--------
>>> rows = pd.DataFrame({"instance": ["a", "a", "b", "b"], "problem": "P1", "solver": ["x", "y"] * 2,
...                      "status": ["optimal", "feasible", "optimal", "no_solution"],
...                      "objective_s": [1.0, 1.5, 2.0, None], "gap": [0.0, 0.5, 0.0, None],
...                      "seconds": [0.2, 0.1, 0.1, 0.4]})
>>> time_ratios(prepare(rows), "P1").to_dict("list")   # x solved both, y only a
{'x': [2.0, 1.0], 'y': [1.0, inf]}
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd

from instances.cli import EXIT_OK, EXIT_UNUSABLE, add_version

from .compare import JSON_FIELDS, ROW_FIELDS

#: Columns every input must have.
REQUIRED_FIELDS = ("instance", "problem", "solver", "status", "objective_s", "gap", "seconds")

#: Numeric row fields (``null`` / empty -> NaN).
NUMERIC_FIELDS = ("objective_s", "bound_s", "gap", "seconds")

#: Statuses under which a finite objective is a valid solution.
SOLVED_STATUSES = ("optimal", "feasible", "time_limit")

#: ``problem`` of the row the harness writes for an unusable instance file.
UNUSABLE_PROBLEM = "-"

#: Two objectives within this relative distance tie: ``|a - b| <= TIE_RTOL * max(|a|, |b|)``.
TIE_RTOL = 1e-9

#: Bootstrap of the mean gap: number of resamples, generator seed, confidence level.
BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 12345
CI_LEVEL = 0.95

#: Times below this are raised to it before forming time ratios (a zero best time has no ratio).
TIME_FLOOR_S = 1e-9

#: The tau at which the ``time_profile`` table gives rho(tau).
PROFILE_TAUS = (1.0, 2.0, 4.0, 10.0, 100.0)

#: Gaps at most this are drawn as "zero" in the gap ECDF (the log axis has no zero).
ZERO_GAP = 1e-9



class ReportInputError(ValueError):
    """An unusable input file; the message is one line naming the file and the reason."""


# --------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------
def load_rows(path: str | Path) -> pd.DataFrame:
    """The rows of one harness output file, typed.

    Parameters
    ----------
    path : str or Path
        A ``--format json`` or ``--format csv`` file of ``python -m validation.compare``
        (told apart by the suffix ``.json`` / ``.csv``, otherwise by the first character).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`~validation.compare.ROW_FIELDS` in that order (missing optional ones
        filled with None); numeric fields float (NaN for null), ``certified`` nullable boolean,
        list/object fields parsed.

    Raises
    ------
    ReportInputError
        The file cannot be read, is not valid JSON / CSV, lacks a needed column, or holds a
        value of the wrong type.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportInputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ReportInputError(f"{path}: is a folder, not a rows file") from None
    except UnicodeDecodeError:
        raise ReportInputError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise ReportInputError(f"{path}: cannot be read: {exc.strerror}") from None
    suffix = path.suffix.lower()
    as_json = suffix == ".json" or (suffix != ".csv" and text.lstrip()[:1] in ("{", "["))
    frame = _json_frame(text, path) if as_json else _csv_frame(text, path)
    return _typed(frame, path)


def _json_frame(text: str, path: Path) -> pd.DataFrame:
    """The ``rows`` of a JSON document as a DataFrame (values as written)."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportInputError(f"{path}: invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    rows = doc.get("rows") if isinstance(doc, dict) else doc
    if not isinstance(rows, list):
        raise ReportInputError(f'{path}: JSON holds no "rows" list (expected the output of '
                               "python -m validation.compare --format json)")
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise ReportInputError(f"{path}: row {index} is not a JSON object")
        missing = [key for key in REQUIRED_FIELDS if key not in row]
        if missing:
            raise ReportInputError(f"{path}: row {index} lacks the key(s) {', '.join(missing)}")
    return pd.DataFrame.from_records(rows, columns=_columns_in(rows))


def _columns_in(rows: list[dict]) -> list[str]:
    """Every key of the rows, ROW_FIELDS first (so an empty list still has the columns)."""
    extra = dict.fromkeys(key for row in rows for key in row if key not in ROW_FIELDS)
    return [*ROW_FIELDS, *extra]


def _csv_frame(text: str, path: Path) -> pd.DataFrame:
    """A CSV file as a DataFrame of strings, list/object fields parsed from their JSON text."""
    import io

    if not text.strip():
        raise ReportInputError(f"{path}: empty file (no CSV header)")
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, ValueError) as exc:
        reason = " ".join(str(exc).split())
        raise ReportInputError(f"{path}: invalid CSV: {reason}") from None
    missing = [col for col in REQUIRED_FIELDS if col not in frame.columns]
    if missing:
        raise ReportInputError(f"{path}: CSV lacks the column(s) {', '.join(missing)} "
                               f"(needs {', '.join(REQUIRED_FIELDS)})")
    frame = frame.astype(object).where(frame != "", None)   # an empty CSV cell is a null
    for col in JSON_FIELDS:
        if col in frame.columns:
            frame[col] = [_json_cell(v, path, col, i) for i, v in enumerate(frame[col])]
    return frame


def _json_cell(value, path: Path, column: str, index: int):
    if value is None:
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        raise ReportInputError(f"{path}: row {index}, column {column}: not JSON text: {value[:40]!r}") from None


def _typed(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Every ROW_FIELDS column present, numbers as float, ``certified`` as nullable boolean."""
    frame = frame.copy()
    for col in ROW_FIELDS:
        if col not in frame.columns:
            frame[col] = None
    for col in ("instance", "problem", "solver", "status", "message"):
        frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
        frame[col] = [None if v is None else str(v) for v in frame[col]]
    for col in ("problem", "solver", "status"):
        bad = frame[col].isna() & ~(frame["problem"] == UNUSABLE_PROBLEM)
        if bad.any():
            raise ReportInputError(f"{path}: row {int(np.flatnonzero(bad)[0])}, column {col}: empty")
    for col in NUMERIC_FIELDS:
        frame[col] = _numbers(frame[col], path, col)
    frame["certified"] = pd.array([_flag(v, path, i) for i, v in enumerate(frame["certified"])], dtype="boolean")
    return frame[[*ROW_FIELDS, *(c for c in frame.columns if c not in ROW_FIELDS)]].reset_index(drop=True)


def _numbers(column: pd.Series, path: Path, name: str) -> pd.Series:
    """Floats (NaN for null); a value that is there but is no number is an error."""
    values = pd.to_numeric(column, errors="coerce").astype(float)
    bad = values.isna() & column.notna()
    if bad.any():
        index = int(np.flatnonzero(bad)[0])
        raise ReportInputError(f"{path}: row {index}, column {name}: not a number: {column.iloc[index]!r}")
    return values


def _flag(value, path: Path, index: int):
    """``certified`` as True / False / None (JSON booleans, or CSV text True/False/empty)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    if text in ("", "none", "null"):
        return None
    raise ReportInputError(f"{path}: row {index}, column certified: not true/false: {value!r}")


def run_labels(paths: Sequence[str | Path], labels: Sequence[str] | None = None) -> list[str]:
    """One label per input: ``labels`` if given, else the file stem (the path where stems repeat).

    >>> run_labels(["a/rows.json", "b/rows.csv", "v2.json", "v2.json"])
    ['a/rows.json', 'b/rows.csv', 'v2.json', 'v2.json#2']
    """
    if labels is not None:
        if len(labels) != len(paths):
            raise ValueError(f"{len(labels)} label(s) for {len(paths)} file(s)")
        if len(set(labels)) != len(labels):
            raise ValueError("labels must differ from each other")
        return list(labels)
    stems = [Path(p).stem for p in paths]
    named = [s if stems.count(s) == 1 else str(p) for s, p in zip(stems, paths)]
    # the same file given twice: number the repeats
    return [n if named[:i].count(n) == 0 else f"{n}#{named[:i].count(n) + 1}" for i, n in enumerate(named)]


@dataclass
class Loaded:
    """Every input: the rows of the readable ones and one line per unusable one."""

    rows: pd.DataFrame
    inputs: pd.DataFrame
    errors: list[str] = field(default_factory=list)


def load_runs(paths: Sequence[str | Path], labels: Sequence[str] | None = None) -> Loaded:
    """Load every file as a run; an unusable file is recorded (``inputs.error``), not raised."""
    frames, records, errors = [], [], []
    for path, label in zip(paths, run_labels(paths, labels)):
        record = {"run": label, "file": str(path), "rows": 0, "usable_rows": 0, "unusable_rows": 0,
                  "instances": 0, "error": None}
        try:
            rows = load_rows(path)
        except ReportInputError as exc:
            record["error"] = str(exc)
            errors.append(str(exc))
        else:
            unusable = rows["problem"] == UNUSABLE_PROBLEM
            record.update(rows=len(rows), usable_rows=int((~unusable).sum()), unusable_rows=int(unusable.sum()),
                          instances=rows.loc[~unusable, "instance"].nunique())
            frames.append(rows.assign(run=label))
        records.append(record)
    empty = pd.DataFrame(columns=[*ROW_FIELDS, "run"])
    rows = pd.concat(frames, ignore_index=True) if frames else empty
    return Loaded(prepare(rows), pd.DataFrame.from_records(records), errors)


def prepare(rows: pd.DataFrame) -> pd.DataFrame:
    """The usable rows with the derived columns the analysis uses.

    Adds ``run`` (``"run"`` if absent), ``competitor`` (the method, or ``"run: method"`` when
    there are several runs), ``solved`` (a valid solution, see the module doc) and
    ``objective_solved`` (the objective of a solved run, else NaN); drops rows of unusable
    instance files (problem ``"-"``).
    """
    rows = rows[rows["problem"] != UNUSABLE_PROBLEM].copy()
    if "run" not in rows.columns:
        rows["run"] = "run"
    if "certified" not in rows.columns:
        rows["certified"] = pd.array([None] * len(rows), dtype="boolean")
    for col in ("objective_s", "gap", "seconds"):
        rows[col] = pd.to_numeric(rows[col], errors="coerce").astype(float)
    several = rows["run"].nunique() > 1
    rows["competitor"] = (rows["run"].astype(str) + ": " + rows["solver"]) if several else rows["solver"]
    rows["solved"] = rows["status"].isin(SOLVED_STATUSES) & np.isfinite(rows["objective_s"])
    rows["objective_solved"] = rows["objective_s"].where(rows["solved"])
    return rows.reset_index(drop=True)


def _competitors(rows: pd.DataFrame) -> pd.DataFrame:
    """(competitor, run, solver) in order of first appearance."""
    return rows[["competitor", "run", "solver"]].drop_duplicates("competitor").reset_index(drop=True)


# --------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------
def bootstrap_mean_ci(values, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED,
                      level: float = CI_LEVEL) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval of the mean.

    Draws ``resamples`` samples of ``len(values)`` values with replacement (generator
    ``numpy.random.default_rng(seed)``), takes the mean of each, and returns the
    ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of these means (Efron's percentile
    interval).  Deterministic for a given seed; ``(nan, nan)`` for no values.

    >>> bootstrap_mean_ci([0.25, 0.25])
    (0.25, 0.25)
    >>> low, high = bootstrap_mean_ci([0.0, 0.1, 0.2, 0.7]); low <= 0.25 <= high
    True
    """
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    # in chunks, so that a long list of gaps never needs resamples x n numbers at once
    chunk = max(1, 2_000_000 // values.size)
    means = np.concatenate([values[rng.integers(0, values.size, size=(min(chunk, resamples - start), values.size))]
                            .mean(axis=1) for start in range(0, resamples, chunk)])
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return (float(low), float(high))


def method_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per run, problem and method: counts, gap statistics with the bootstrap CI, times.

    Columns: ``runs``, ``unsupported`` (runs the method refused: an instance beyond what it
    solves), ``solved``, ``optimal``, ``certified`` (``certified`` is true),
    ``gap_runs`` (runs with a gap), ``mean_gap``, ``ci95_low``, ``ci95_high``, ``median_gap``,
    ``p90_gap``, ``max_gap`` (over the ``gap_runs``), ``median_s``, ``total_s`` (wall time over
    all ``runs``).  Gaps are fractions.
    """
    records = []
    for (run, problem, solver), group in rows.groupby(["run", "problem", "solver"], sort=False):
        gaps = group["gap"].to_numpy(dtype=float)
        gaps = gaps[np.isfinite(gaps)]
        low, high = bootstrap_mean_ci(gaps)
        has = gaps.size > 0
        records.append({
            "run": run, "problem": problem, "solver": solver,
            "runs": len(group),
            "unsupported": int((group["status"] == "unsupported").sum()),
            "solved": int(group["solved"].sum()),
            "optimal": int((group["status"] == "optimal").sum()),
            "certified": int(group["certified"].astype("boolean").fillna(False).sum()),
            "gap_runs": int(gaps.size),
            "mean_gap": float(gaps.mean()) if has else math.nan,
            "ci95_low": low, "ci95_high": high,
            "median_gap": float(np.median(gaps)) if has else math.nan,
            "p90_gap": float(np.percentile(gaps, 90)) if has else math.nan,
            "max_gap": float(gaps.max()) if has else math.nan,
            "median_s": float(group["seconds"].median()),
            "total_s": float(group["seconds"].sum()),
        })
    return pd.DataFrame.from_records(records, columns=METHOD_COLUMNS)


METHOD_COLUMNS = ["run", "problem", "solver", "runs", "unsupported", "solved", "optimal", "certified", "gap_runs", "mean_gap",
                  "ci95_low", "ci95_high", "median_gap", "p90_gap", "max_gap", "median_s", "total_s"]


def _instances(rows: pd.DataFrame, problem: str) -> list[str]:
    """The instances run for ``problem`` in any run, in order of first appearance."""
    return list(dict.fromkeys(rows.loc[rows["problem"] == problem, "instance"]))


def _per_instance(rows: pd.DataFrame, problem: str, column: str) -> pd.DataFrame:
    """instance x competitor table of ``column`` for ``problem`` (first non-null value of duplicates).

    Every competitor of the problem is a column, and every instance of the problem a row, even
    where a competitor has no row for it (NaN).
    """
    sub = rows[rows["problem"] == problem]
    table = sub.groupby(["instance", "competitor"], sort=False)[column].first().unstack("competitor")
    return table.reindex(index=_instances(rows, problem), columns=_competitors(sub)["competitor"])


def wins_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Pairwise wins, ties and losses of the objectives, per problem and ordered pair of competitors.

    Over the ``instances`` both competitors solved, a win is
    ``a < b`` with ``|a - b| > TIE_RTOL * max(|a|, |b|)``, a tie ``|a - b| <= TIE_RTOL * max(|a|, |b|)``.
    """
    records = []
    for problem in rows["problem"].unique():
        objectives = _per_instance(rows, problem, "objective_solved")
        who = _competitors(rows[rows["problem"] == problem]).set_index("competitor")
        for a in objectives.columns:
            for b in objectives.columns:
                if a == b:
                    continue
                x, y = objectives[a], objectives[b]
                both = x.notna() & y.notna()
                tie = both & ((x - y).abs() <= TIE_RTOL * np.maximum(x.abs(), y.abs()))
                records.append({"run": who.at[a, "run"], "problem": problem, "solver": who.at[a, "solver"],
                                "opponent_run": who.at[b, "run"], "opponent": who.at[b, "solver"],
                                "competitor": a, "opponent_competitor": b,
                                "instances": int(both.sum()), "wins": int((both & ~tie & (x < y)).sum()),
                                "ties": int(tie.sum()), "losses": int((both & ~tie & (x > y)).sum())})
    return pd.DataFrame.from_records(records, columns=WIN_COLUMNS)


WIN_COLUMNS = ["run", "problem", "solver", "opponent_run", "opponent", "competitor", "opponent_competitor",
               "instances", "wins", "ties", "losses"]


def wins_matrix(wins: pd.DataFrame, problem: str) -> pd.DataFrame:
    """The compact matrix of one problem: cell (row A, column B) = ``wins/ties/losses`` of A against B."""
    sub = wins[wins["problem"] == problem]
    order = list(dict.fromkeys(sub["competitor"]))
    cells = sub.assign(cell=sub["wins"].astype(str) + "/" + sub["ties"].astype(str) + "/" + sub["losses"].astype(str))
    matrix = cells.pivot(index="competitor", columns="opponent_competitor", values="cell")
    matrix = matrix.reindex(index=order, columns=order).fillna("-")
    matrix.index.name = "method"
    matrix.columns.name = None
    return matrix.reset_index()


def time_ratios(rows: pd.DataFrame, problem: str) -> pd.DataFrame:
    r"""Performance ratios of the wall time (Dolan & More 2002), instance x competitor.

    With :math:`t_{i,s}` the time of competitor :math:`s` on instance :math:`i` where it
    solved it (:math:`+\infty` where it did not, or has no row), raised to
    :data:`TIME_FLOOR_S`,

    .. math:: r_{i,s} = \frac{t_{i,s}}{\min_{s'} t_{i,s'}},

    and :math:`r_{i,s} = +\infty` for every :math:`s` on an instance no competitor solved.

    References
    ----------
    E. D. Dolan and J. J. More, "Benchmarking optimization software with performance
    profiles", Mathematical Programming 91(2):201-213, 2002.
    """
    times = _per_instance(rows.assign(t=rows["seconds"].where(rows["solved"])), problem, "t")
    times = times.fillna(np.inf).clip(lower=TIME_FLOOR_S)
    best = times.min(axis=1)
    ratios = times.div(best, axis=0)
    return ratios.where(np.isfinite(best), np.inf, axis=0)


def profile_rho(ratios: pd.DataFrame, taus: Iterable[float]) -> pd.DataFrame:
    r"""The performance profile :math:`\rho_s(\tau)` at the given :math:`\tau`, tau x competitor.

    .. math:: \rho_s(\tau) = \frac{1}{|I|}\,\bigl|\{\, i \in I : r_{i,s} \le \tau \,\}\bigr|,

    the fraction of the instances :math:`I` (all rows of ``ratios``) on which :math:`s` was
    within a factor :math:`\tau \ge 1` of the fastest; :math:`\rho_s(1)` is the fraction on which
    it was fastest, :math:`\lim_{\tau\to\infty} \rho_s(\tau)` the fraction it solved.

    >>> profile_rho(pd.DataFrame({"x": [1.0, 3.0, np.inf]}), [1, 2, 4])["x"].round(3).tolist()
    [0.333, 0.333, 0.667]
    """
    taus = np.asarray(list(taus), dtype=float)
    within = ratios.to_numpy()[:, :, None] <= taus[None, None, :]
    rho = within.mean(axis=0).T if len(ratios) else np.zeros((taus.size, ratios.shape[1]))
    return pd.DataFrame(rho, index=pd.Index(taus, name="tau"), columns=ratios.columns)


def profile_table(rows: pd.DataFrame, taus: Sequence[float] = PROFILE_TAUS) -> pd.DataFrame:
    """Per problem and competitor: instances, solved, and rho(tau) at ``taus`` (columns ``rho(tau)``)."""
    records = []
    for problem in rows["problem"].unique():
        ratios = time_ratios(rows, problem)
        rho = profile_rho(ratios, taus)
        who = _competitors(rows[rows["problem"] == problem]).set_index("competitor")
        for comp in ratios.columns:
            record = {"run": who.at[comp, "run"], "problem": problem, "solver": who.at[comp, "solver"],
                      "instances": len(ratios), "solved": int(np.isfinite(ratios[comp]).sum())}
            record.update({f"rho({tau:g})": float(rho.at[tau, comp]) for tau in rho.index})
            records.append(record)
    return pd.DataFrame.from_records(records, columns=["run", "problem", "solver", "instances", "solved",
                                                        *(f"rho({tau:g})" for tau in taus)])


def ecdf(values, x) -> np.ndarray:
    """Empirical distribution function of ``values`` at ``x``: the fraction of values <= x.

    >>> ecdf([0.1, 0.25, 0.1], [0.05, 0.1, 0.2, 0.25]).round(3).tolist()
    [0.0, 0.667, 0.667, 1.0]
    """
    values = np.sort(np.asarray(values, dtype=float))
    if values.size == 0:
        return np.full(np.shape(x), math.nan)
    return np.searchsorted(values, np.asarray(x, dtype=float), side="right") / values.size


def side_by_side(methods: pd.DataFrame) -> pd.DataFrame:
    """Per problem and method, one column group per run: ``mean_gap [run]`` (over ``gap_runs [run]``)
    and ``median_s [run]``; methods a run lacks are NaN."""
    runs = list(dict.fromkeys(methods["run"]))
    keys = list(dict.fromkeys(zip(methods["problem"], methods["solver"])))
    wide = methods.set_index(["problem", "solver", "run"])[["mean_gap", "gap_runs", "median_s"]].unstack("run")
    wide = wide.reindex(pd.MultiIndex.from_tuples(keys, names=["problem", "solver"]))
    columns = {f"{metric} [{run}]": wide[(metric, run)] for run in runs for metric in ("mean_gap", "gap_runs", "median_s")}
    out = pd.DataFrame(columns).reset_index()
    for run in runs:   # a count, not a float, and 0 where the method did not run
        out[f"gap_runs [{run}]"] = out[f"gap_runs [{run}]"].fillna(0).astype(int)
    return out


def analyse(loaded: Loaded) -> dict[str, pd.DataFrame]:
    """Every table of the report, by name (see the module doc)."""
    rows = loaded.rows
    methods = method_table(rows)
    wins = wins_table(rows)
    frames = {"inputs": loaded.inputs, "methods": methods, "wins": wins}
    for problem in rows["problem"].unique():
        frames[f"wins_{problem}"] = wins_matrix(wins, problem)
    frames["time_profile"] = profile_table(rows)
    if methods["run"].nunique() > 1:
        frames["side_by_side"] = side_by_side(methods)
    return frames


# --------------------------------------------------------------------------------------
# Tables: Markdown, LaTeX, CSV
# --------------------------------------------------------------------------------------
BOOTSTRAP_NOTE = (f"ci95_low, ci95_high: {CI_LEVEL:.0%} percentile-bootstrap interval of mean_gap over the "
                  f"gap_runs instances ({BOOTSTRAP_RESAMPLES:,} resamples with replacement, "
                  f"numpy default_rng seed {BOOTSTRAP_SEED}).")
GAP_NOTE = ("gap = (T - T*)/T* to the proven optimum T*, in percent; mean, median, p90 (linear interpolation) "
            "and max over the gap_runs runs with a proven optimum.")

#: name -> (caption, footnotes); the ``wins_<problem>`` matrices share one entry.
CAPTIONS = {
    "inputs": ("Input files (one run each)",
               [("unusable_rows: rows of instance files the harness could not load (problem \"-\"); "
                 "left out of every other table.")]),
    "methods": ("Methods per run and problem: counts, optimality gap, wall time",
                [("unsupported: runs the method refused (an instance beyond what it solves, e.g. devices that "
                  "take several blocks); solved: a valid solution (status optimal, feasible, or time_limit with "
                  "an objective); certified: claims whose certificate the checker verified."), GAP_NOTE, BOOTSTRAP_NOTE,
                 "median_s, total_s: wall time in seconds over all runs of the method."]),
    "wins": ("Pairwise comparison of the objectives",
             [(f"Over the instances both methods solved: win = objective lower by more than {TIE_RTOL:g} "
               "relative, tie = within it.")]),
    "wins_matrix": ("Wins/ties/losses of the row method against the column method",
                    [("Cell = wins/ties/losses over the instances both solved; tie = objectives within "
                      f"{TIE_RTOL:g} relative.")]),
    "time_profile": ("Performance profile of the wall time (Dolan and More 2002)",
                     [("rho(tau): fraction of the instances the method solved within tau times the best "
                       "time of all methods on the instance; unsolved = infinite ratio; rho(1) = fastest.")]),
    "side_by_side": ("Runs side by side: mean gap and median wall time per method",
                     [("mean_gap [run]: mean of (T - T*)/T* in percent over gap_runs [run] runs; "
                       "median_s [run]: median wall time in seconds over all runs of the method.")]),
}


@dataclass
class Table:
    """One table of the report: its name (file stem), numbers, caption and footnotes."""

    name: str
    frame: pd.DataFrame
    caption: str
    notes: list[str]


def tables(frames: dict[str, pd.DataFrame]) -> list[Table]:
    """The frames to write, each with its caption and notes (helper columns dropped)."""
    out = []
    for name, frame in frames.items():
        if name.startswith("wins_"):
            caption, notes = CAPTIONS["wins_matrix"]
            caption = f"{caption}, {name.removeprefix('wins_')}"
        else:
            caption, notes = CAPTIONS[name]
        if name == "wins":
            frame = frame.drop(columns=["competitor", "opponent_competitor"])
        out.append(Table(name, frame, caption, list(notes)))
    return out


def _is_gap(column: str) -> bool:
    return column.split(" [")[0] in ("mean_gap", "median_gap", "p90_gap", "max_gap", "ci95_low", "ci95_high")


def _cell(column: str, value) -> str:
    """Text of one cell: gaps in percent, seconds and ratios to 4 significant digits, '-' for missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "-"
    if isinstance(value, (float, np.floating)):
        if _is_gap(column):
            return f"{100 * value:.4g}%"
        if column.startswith("rho("):
            return f"{value:.3f}"
        return f"{value:.4g}"
    return str(value)


def display(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as text, formatted for reading (:func:`_cell`)."""
    return pd.DataFrame({col: [_cell(col, v) for v in frame[col]] for col in frame.columns}, index=frame.index)


def _numeric_columns(frame: pd.DataFrame) -> list[bool]:
    return [pd.api.types.is_numeric_dtype(frame[col]) for col in frame.columns]


def to_markdown(table: Table) -> str:
    """A pipe table with the caption above and the notes below (numbers right-aligned)."""
    text = display(table.frame)
    align = ["---:" if num else ":---" for num in _numeric_columns(table.frame)]

    def line(cells) -> str:
        return "| " + " | ".join(str(c).replace("|", r"\|") for c in cells) + " |"

    out = [f"**Table: {table.caption}.**", "", line(text.columns), "| " + " | ".join(align) + " |"]
    out += [line(row) for row in text.itertuples(index=False)]
    out += [""] + [f"{n}. {note}" if len(table.notes) > 1 else note for n, note in enumerate(table.notes, 1)]
    return "\n".join(out) + "\n"


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def latex_escape(text: str) -> str:
    r"""``text`` with LaTeX's special characters escaped.

    >>> latex_escape("mean_gap 5% {x}")
    'mean\\_gap 5\\% \\{x\\}'
    """
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def to_latex(table: Table) -> str:
    """A booktabs ``table`` environment: caption, label ``tab:<name>``, footnotes under the tabular."""
    columns = "".join("r" if num else "l" for num in _numeric_columns(table.frame))
    body = display(table.frame).to_latex(index=False, escape=True, column_format=columns,
                                         caption=latex_escape(table.caption), label=f"tab:{table.name}")
    notes = "".join(f"\\par\\footnotesize {latex_escape(note)}\n" for note in table.notes)
    return body.replace("\\end{table}", "\\smallskip\n" + notes + "\\end{table}")


def write_tables(frames: dict[str, pd.DataFrame], out_dir: Path) -> list[Path]:
    """``NAME.md``, ``NAME.tex`` and ``NAME.csv`` for every table; returns the paths written."""
    written = []
    for table in tables(frames):
        for suffix, text in ((".md", to_markdown(table)), (".tex", to_latex(table)),
                             (".csv", table.frame.to_csv(index=False))):
            path = out_dir / f"{table.name}{suffix}"
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written


# --------------------------------------------------------------------------------------
# Plots (matplotlib, Agg)
# --------------------------------------------------------------------------------------
def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


_LINESTYLES = ("-", "--", "-.", ":")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")


def line_styles(competitors: pd.DataFrame) -> list[dict]:
    """One distinct line style per competitor (rows with ``run`` and ``solver``).

    Hue and marker tell the methods apart.  With several runs, the dash pattern, the shade
    (darker for later runs) and the marker fill (open for the first run) tell the runs apart;
    with one run the dash pattern changes with the method too.  The line width decreases from
    the first line to the last, so that a line drawn over an equal one leaves it visible.
    """
    import matplotlib

    colours = matplotlib.colormaps["tab10"].colors
    methods = list(dict.fromkeys(competitors["solver"]))
    runs = list(dict.fromkeys(competitors["run"]))
    n = len(competitors)
    widths = np.linspace(3.2, 1.2, n) if n > 1 else [1.8]
    styles = []
    for i, (run, solver) in enumerate(zip(competitors["run"], competitors["solver"])):
        j, r = methods.index(solver), runs.index(run)
        darken = 0.5 * r / (len(runs) - 1) if len(runs) > 1 else 0.0
        colour = tuple((1 - darken) * c for c in colours[j % 10])
        styles.append({"color": colour, "linestyle": _LINESTYLES[(r if len(runs) > 1 else j) % 4],
                       "marker": _MARKERS[j % 10], "linewidth": float(widths[i]),
                       "markersize": 4 + 2 * (n - 1 - i) / max(n - 1, 1),
                       "markerfacecolor": "none" if r == 0 else colour})
    return styles


def _plain_log_ticks(axis) -> None:
    """Major ticks of a log axis as plain numbers (``0.1``, ``10``), no minor tick labels."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _save(fig, stem: Path) -> list[Path]:
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    for path in paths:
        fig.savefig(path, dpi=150, bbox_inches="tight")
    return paths


def plot_time_profile(rows: pd.DataFrame, problem: str, stem: Path) -> list[Path]:
    """Performance profile of the wall time of ``problem``: rho(tau) against log2 tau, step lines."""
    plt = _pyplot()
    ratios = time_ratios(rows, problem)
    finite = ratios.to_numpy()[np.isfinite(ratios.to_numpy())]
    tau_max = 2.0 * max(finite.max() if finite.size else 1.0, 1.0)
    # rho is a right-continuous step function, exact at its jumps: evaluate there, draw "post" steps
    taus = np.unique(np.concatenate([[1.0], finite, [tau_max]]))
    rho = profile_rho(ratios, taus)
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    who = _competitors(rows[rows["problem"] == problem])
    for comp, style in zip(ratios.columns, line_styles(who)):
        solved = int(np.isfinite(ratios[comp]).sum())
        ax.step(taus, rho[comp], where="post", label=f"{comp} ({solved}/{len(ratios)} solved)",
                markevery=_jumps(rho[comp].to_numpy()), **style)
    ax.set_xscale("log", base=2)
    ax.set_xlim(1.0, tau_max)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel(r"$\tau$ (wall time / fastest method's time on the instance, log$_2$ scale)")
    ax.set_ylabel(r"$\rho(\tau)$ (fraction of instances)")
    ax.set_title(f"{problem}: performance profile of wall time (Dolan & Moré 2002)\n"
                 f"{len(ratios)} instances; unsolved = infinite ratio", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
    paths = _save(fig, stem)
    plt.close(fig)
    return paths


def _jumps(y: np.ndarray) -> list[int]:
    """Indices where a step function changes (and its first point): where the markers go."""
    return [0, *np.flatnonzero(np.diff(y) != 0) + 1]


def plot_gap_ecdf(rows: pd.DataFrame, problem: str, stem: Path) -> list[Path]:
    """ECDF of the gap per competitor of ``problem``; log x axis, zero gaps as the level at the left
    edge and counted in the legend."""
    plt = _pyplot()
    sub = rows[(rows["problem"] == problem) & np.isfinite(rows["gap"])]
    gaps = {comp: group["gap"].to_numpy() for comp, group in sub.groupby("competitor", sort=False)}
    positive = sub.loc[sub["gap"] > ZERO_GAP, "gap"].to_numpy()
    log_x = positive.size > 0
    left, right = (positive.min() / 2, positive.max() * 2) if log_x else (-1e-3, 1e-3)
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    # the same style per competitor as in the time profile, also for those without a gap
    who = _competitors(rows[rows["problem"] == problem])
    styles = dict(zip(who["competitor"], line_styles(who)))
    for comp, values in gaps.items():
        style = styles[comp]
        xs = np.unique(np.concatenate([[left], values[values > ZERO_GAP], [right]]))
        ys = ecdf(values, xs)
        zero = int((values <= ZERO_GAP).sum())
        ax.step(100 * xs, ys, where="post", markevery=_jumps(ys),
                label=f"{comp} (n={values.size}, {zero} zero)", **style)
    if log_x:
        ax.set_xscale("log")
        _plain_log_ticks(ax.xaxis)
    ax.set_xlim(100 * left, 100 * right)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("gap (T - T*)/T* (%, log scale)" if log_x else "gap (T - T*)/T* (%)")
    ax.set_ylabel("fraction of runs with gap ≤ x")
    ax.set_title(f"{problem}: distribution of the optimality gap\n"
                 "runs with a proven optimum T*; level at the left edge = share of zero gaps", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    if gaps:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
    else:
        ax.text(0.5, 0.5, "no run with a proven optimum", ha="center", va="center", transform=ax.transAxes)
    paths = _save(fig, stem)
    plt.close(fig)
    return paths


def write_plots(rows: pd.DataFrame, out_dir: Path) -> list[Path]:
    """The time profile and the gap ECDF of every problem, PNG and PDF; returns the paths written."""
    written = []
    for problem in rows["problem"].unique():
        written += plot_time_profile(rows, problem, out_dir / f"profile_time_{problem}")
        written += plot_gap_ecdf(rows, problem, out_dir / f"gap_ecdf_{problem}")
    return written


# --------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------
def report(paths: Sequence[str | Path], out_dir: str | Path, labels: Sequence[str] | None = None) -> dict[str, pd.DataFrame]:
    """Load the row files, write every table and plot into ``out_dir``, return the tables.

    Parameters
    ----------
    paths : sequence of str or Path
        Row files (JSON or CSV) of ``python -m validation.compare``, one run each.
    out_dir : str or Path
        Created if needed.
    labels : sequence of str, optional
        One run label per file (default: the file stems).

    Returns
    -------
    dict of str to pandas.DataFrame
        ``inputs`` (one row per file; ``error`` says why an unusable one was left out),
        ``methods``, ``wins``, ``wins_<problem>``, ``time_profile``, and ``side_by_side``
        with two or more usable runs.  Numbers are unformatted (gaps as fractions).
    """
    loaded = load_runs(paths, labels)
    frames = analyse(loaded)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_tables(frames, out_dir)
    write_plots(loaded.rows, out_dir)
    return frames


def summary_text(frames: dict[str, pd.DataFrame], written: Sequence[Path]) -> str:
    """What a reader needs first: the inputs, and per problem the main method numbers."""
    inputs = frames["inputs"]
    out = [f"{len(inputs)} input file(s), {int(inputs['error'].isna().sum())} usable:"]
    for rec in inputs.itertuples(index=False):
        out.append(f"  {rec.run}: {rec.file}: " + (f"UNUSABLE: {rec.error}" if isinstance(rec.error, str) else
                   f"{rec.rows} rows, {rec.instances} instances, {rec.unusable_rows} unusable-instance rows"))
    methods = frames["methods"]
    for problem, group in methods.groupby("problem", sort=False):
        shown = group.assign(**{"mean_gap (n)": [f"{_cell('mean_gap', g)} ({n})"
                                                 for g, n in zip(group["mean_gap"], group["gap_runs"])]})
        shown = display(shown[["run", "solver", "runs", "solved", "optimal", "certified", "mean_gap (n)",
                               "ci95_low", "ci95_high", "max_gap", "median_s"]])
        out.append(f"\n{problem} (gap = (T - T*)/T*; CI: bootstrap of the mean, seed {BOOTSTRAP_SEED}):")
        out.append("\n".join("  " + line for line in shown.to_string(index=False).splitlines()))
    out.append(f"\nwrote {len(written)} file(s) to {Path(written[0]).parent if written else '-'}")
    return "\n".join(out)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m validation.report",
        description="Tables (Markdown, LaTeX, CSV) and plots (PNG, PDF) for a paper from the rows of "
                    "python -m validation.compare --format json|csv. Each file is one run; several runs "
                    "are compared side by side.",
        epilog="An unusable input file (missing, invalid JSON, a CSV without the needed columns "
               f"{', '.join(REQUIRED_FIELDS)}) gets one line on stderr naming it and the reason; the other "
               "files are still reported. Exit status: 0 every input was read; 2 an input was unusable, "
               "the output folder cannot be written, or bad arguments.")
    parser.add_argument("paths", nargs="+", metavar="ROWS", help="row files (.json or .csv) written by validation.compare")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the tables and plots (created if needed)")
    parser.add_argument("--label", action="append", metavar="NAME",
                        help="run label of the next file, repeated once per file (default: file stems)")
    return add_version(parser)


def main(argv: list[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Command-line entry point; returns the exit status (see the module doc)."""
    stdout = sys.stdout if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        labels = run_labels(args.paths, args.label)
    except ValueError as exc:
        parser.error(f"--label: {exc}")
    out_dir = Path(args.out)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"{out_dir}: cannot create the output folder: {exc.strerror}", file=stderr)
        return EXIT_UNUSABLE
    loaded = load_runs(args.paths, labels)
    for line in loaded.errors:
        print(line, file=stderr)
    frames = analyse(loaded)
    try:
        written = write_tables(frames, out_dir) + write_plots(loaded.rows, out_dir)
    except OSError as exc:
        print(f"{out_dir}: cannot write: {exc.strerror}", file=stderr)
        return EXIT_UNUSABLE
    print(summary_text(frames, written), file=stdout)
    return EXIT_UNUSABLE if loaded.errors else EXIT_OK


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:   # e.g. piped into `head`: stop quietly
        sys.stderr.close()
        sys.exit(EXIT_OK)
