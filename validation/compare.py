"""The validation harness: run every method on every instance and cross-check them.

Usage::

    python -m validation.compare PATH... [--format table|csv|json] [--output FILE]
        [--solvers a,b] [--problems P1,P2] [--time-limit SECONDS]
        [--jobs N | --dask ADDRESS] [--grace SECONDS]

Every ``*.json`` file under the given files and folders (recursive, sorted) is
loaded with :func:`instances.load_instance` and every registered method of
:data:`solvers.REGISTRY` is run on it (through :func:`solvers.run`, which turns
exceptions into ``error`` results), for each selected problem.  Each result is
re-checked by the independent checker :mod:`validation.check`, then the
results of one instance and one problem are compared with each other:

* the *exact* methods (:data:`solvers.EXACT`) that claim ``optimal`` must agree
  to :data:`~solvers.tolerances.EXACT_RTOL`; their (lowest valid) objective is
  the *proven optimum* ``T*``;
* an infeasibility claim by an exact or lower-bound method is a proof, so it
  contradicts any exact ``optimal`` claim and any valid solution;
* no valid solution may be below ``T*`` (beyond ``EXACT_RTOL``);
* no reported lower bound ``bound_s`` may be above the best valid solution
  (beyond :data:`~solvers.tolerances.BOUND_RTOL`);
* every returned solution must pass the checker, and no method may error.

The gap of each method is

.. math:: \\mathrm{gap} = (T - T^*) / T^*

(:func:`solvers.tolerances.rel_gap`), reported where both exist.

Exit status
-----------
0
    every usable instance was consistent and every input was usable;
1
    an inconsistency was found (listed in the summary and on stderr) -- this
    takes precedence over 2, so that 0/1 always answer "do the methods agree";
2
    some input was unusable (a bad file, a folder without ``*.json``, bad
    command-line arguments) and no inconsistency was found;
130
    interrupted (Ctrl-C); the rows finished so far are written.

Output
------
``table`` (default) prints one table per instance and problem as soon as it is
done, then a summary; ``csv`` writes one row per result as each (instance,
problem) finishes (the summary goes to stderr); ``json`` writes
``{"rows": [...], "summary": {...}}`` at the end (also on Ctrl-C).  Rows carry
the keys of :data:`ROW_FIELDS`; an unusable file gets one row with problem and
solver ``"-"``, status ``error`` and the :class:`~instances.InstanceError`
message.  Non-finite numbers are written as ``null`` in JSON.

The orchestration is available without a subprocess: :func:`compare_paths`,
:func:`compare_instance` and :func:`main`.

Time limits, parallel runs
--------------------------
Each method receives ``time_limit`` (default 60 s).  By default the methods
run in this process, one after the other, and are trusted to honour it.
With ``--jobs N`` they run in N worker processes, with ``--dask ADDRESS`` as
tasks on an existing Dask cluster (:mod:`validation.parallel`); there an
*outer guard* kills a method that has not answered ``--grace`` seconds after
its limit (default ``max(5, limit / 2)``) and reports it as ``time_limit``
("killed by the outer guard"), and a worker that dies gives an ``error`` row;
the sweep goes on.  The rows, tables and exit status are those of the
sequential run, in the same order (only ``seconds`` differs); on Ctrl-C the
workers are killed and every finished row is written.

Examples
--------
>>> import itertools
>>> from instances import Instance
>>> from validation.check import check_assignment, p1_latency
>>> inst = Instance.from_arrays([[1.0, 2.0], [1.5, 1.5], [0.5, 3.0]], [1.0, 2.0],
...     [4.0, 1.0, 4.0], [1.0, 2.0, 4.0], gradient_bits=1.0, bandwidth_hz=1.0, name="doc")
>>> report = compare_instance(inst, problems=["P1"], solvers=["crunch", "linear-search", "comm-aware"])
>>> report.groups[0].optimum_s, report.exit_code
(3.5, 0)
>>> # re-check the optimum by enumeration with the independent checker
>>> min(p1_latency(inst, a) for a in itertools.permutations(range(3), 2) if not check_assignment(inst, a))
3.5
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, TextIO

import solvers as _solvers
from instances import Instance, InstanceError, load_instance
from instances.discovery import find_instance_files
from solvers.certify import attach
from solvers.result import Result, Status
from solvers.tolerances import BOUND_RTOL, EXACT_RTOL, close, rel_gap

from .check import Check, check_result

#: Keys of one output row, in column order.
ROW_FIELDS = ("instance", "problem", "solver", "status", "objective_s", "bound_s", "gap",
              "seconds", "assignment", "bandwidth_hz", "message", "certified", "certificate")

#: Row fields that hold lists or objects (written as JSON text in CSV).
JSON_FIELDS = ("assignment", "bandwidth_hz", "certificate")

DEFAULT_TIME_LIMIT_S = 60.0

EXIT_OK = 0
EXIT_INCONSISTENT = 1
EXIT_UNUSABLE = 2
EXIT_INTERRUPTED = 130

STATUSES = tuple(s.value for s in Status)


# --------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------
@dataclass
class Outcome:
    """One method on one instance for one problem: its result and the checker's verdict."""

    instance: str
    problem: str
    solver: str
    result: Result
    check: Check
    gap: float | None = None

    def row(self) -> dict:
        """The output row (keys :data:`ROW_FIELDS`)."""
        row = self.result.to_row(self.instance)
        row.update(problem=self.problem, solver=self.solver, gap=self.gap)
        return row


@dataclass
class Group:
    """All methods run for one problem on one instance, and what comparing them found.

    ``verdict`` is ``"optimal"`` (a proven optimum ``optimum_s``, seconds),
    ``"infeasible"`` (proven by an exact or bound method) or ``"unknown"``.
    """

    instance: str
    problem: str
    outcomes: list[Outcome] = field(default_factory=list)
    optimum_s: float | None = None
    verdict: str = "unknown"
    issues: list[str] = field(default_factory=list)
    complete: bool = True

    @property
    def rows(self) -> list[dict]:
        return [o.row() for o in self.outcomes]


@dataclass
class Report:
    """Everything a harness run found.

    Attributes
    ----------
    files : list of str
        Every input considered, in run order (usable or not).
    groups : list of Group
        One per (usable instance, problem) run.
    unusable : list of str
        One line per unusable input (the :class:`~instances.InstanceError` message).
    rows : list of dict
        Output rows in run order, unusable inputs included.
    interrupted : bool
        The run was stopped by Ctrl-C; the report holds what finished.
    """

    files: list[str] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    unusable: list[str] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)
    interrupted: bool = False

    @property
    def issues(self) -> list[str]:
        """Every inconsistency found, one line each."""
        return [line for g in self.groups for line in g.issues]

    @property
    def outcomes(self) -> list[Outcome]:
        return [o for g in self.groups for o in g.outcomes]

    @property
    def exit_code(self) -> int:
        """0 consistent, 1 inconsistency (takes precedence), 2 unusable input (see module doc)."""
        if self.issues:
            return EXIT_INCONSISTENT
        if self.unusable:
            return EXIT_UNUSABLE
        return EXIT_OK

    def method_table(self):
        """pandas DataFrame: per (problem, solver) the run count, counts by status, certified
        claims (verified), withdrawn claims (``uncertified``), failed checks, and mean / max gap to
        the proven optimum over the ``gapped`` runs that have one."""
        import pandas as pd

        stats: dict[tuple[str, str], dict] = {}
        for o in self.outcomes:
            s = stats.setdefault((o.problem, o.solver), {"problem": o.problem, "solver": o.solver, "runs": 0,
                                                         **{st: 0 for st in STATUSES}, "certified": 0,
                                                         "uncertified": 0, "check_failed": 0, "gaps": []})
            s["runs"] += 1
            s[o.result.status.value] += 1
            s["certified"] += o.result.certificate is not None and o.check.ok
            s["uncertified"] += "uncertified" in o.result.info
            s["check_failed"] += 0 if o.check.ok else 1
            if o.gap is not None and math.isfinite(o.gap):
                s["gaps"].append(o.gap)
        records = []
        for s in stats.values():
            gaps = s.pop("gaps")
            s["gapped"] = len(gaps)
            s["mean_gap"] = sum(gaps) / len(gaps) if gaps else None
            s["max_gap"] = max(gaps) if gaps else None
            records.append(s)
        columns = ["problem", "solver", "runs", *STATUSES, "certified", "uncertified", "check_failed",
                   "gapped", "mean_gap", "max_gap"]
        return pd.DataFrame.from_records(records, columns=columns)

    def summary(self) -> dict:
        """JSON-ready summary: counts, per-method statistics, problems found, exit code."""
        usable = len({g.instance for g in self.groups})
        methods = self.method_table()
        return {
            "instances": len(self.files),
            "usable": usable,
            "unusable": len(self.unusable),
            "interrupted": self.interrupted,
            "methods": _sanitize(methods.astype(object).where(methods.notna(), None).to_dict("records")),
            "problems": self.issues,
            "unusable_inputs": list(self.unusable),
            "exit_code": EXIT_INTERRUPTED if self.interrupted else self.exit_code,
        }

    def summary_text(self, include_lines: bool = True) -> str:
        """Readable summary (``include_lines=False`` omits the one-line problem list)."""
        usable = len({g.instance for g in self.groups})
        out = [f"Summary: {len(self.files)} instance file(s): {usable} usable, {len(self.unusable)} unusable"
               + (" (INTERRUPTED: partial results)" if self.interrupted else "")]
        methods = self.method_table()
        if len(methods):
            unused = [s for s in (*STATUSES, "uncertified") if not methods[s].any()]
            shown = methods.drop(columns=unused).rename(columns={"gapped": "gap_runs"})
            for col in ("mean_gap", "max_gap"):
                shown[col] = [_fmt_gap(v) for v in shown[col]]
            out.append("Methods (gap = (T - T*) / T* against the proven optimum T*, over gap_runs runs; "
                       "certified = optimal/infeasible claims whose certificate the checker verified):")
            out.append(_indent(_to_text(shown)))
        issues = self.issues
        if include_lines:
            out.append(f"Problems found: {len(issues)}")
            out.extend(f"  - {line}" for line in issues)
            if self.unusable:
                out.append(f"Unusable input: {len(self.unusable)}")
                out.extend(f"  - {line}" for line in self.unusable)
        else:
            out.append(f"Problems found: {len(issues)}; unusable input: {len(self.unusable)} (listed above)")
        code = EXIT_INTERRUPTED if self.interrupted else self.exit_code
        meaning = {EXIT_OK: "consistent", EXIT_INCONSISTENT: "inconsistency found",
                   EXIT_UNUSABLE: "unusable input", EXIT_INTERRUPTED: "interrupted"}[code]
        out.append(f"Exit status: {code} ({meaning})")
        return "\n".join(out)


# --------------------------------------------------------------------------------------
# Selection and discovery
# --------------------------------------------------------------------------------------
def select_solvers(problems: Iterable[str] | None = None,
                   names: Iterable[str] | None = None) -> dict[str, list[str]]:
    """Methods to run per problem, in registration order.

    Raises
    ------
    ValueError
        An unknown problem, a method registered for none of the selected
        problems, or an empty selection.

    >>> select_solvers(["P1"], ["milp", "crunch"])
    {'P1': ['crunch', 'milp']}
    """
    problems = list(_solvers.PROBLEMS if problems is None else problems)
    bad = [p for p in problems if p not in _solvers.PROBLEMS]
    if bad:
        raise ValueError(f"unknown problem(s) {', '.join(bad)}; choose from {', '.join(_solvers.PROBLEMS)}")
    chosen = {p: _solvers.solvers_for(p) for p in problems}
    if names is not None:
        names = list(names)
        known = {n for p in problems for n in chosen[p]}
        unknown = [n for n in names if n not in known]
        if unknown:
            available = ", ".join(f"{p}: {', '.join(chosen[p]) or '(none registered)'}" for p in problems)
            raise ValueError(f"unknown solver(s) {', '.join(unknown)} for {', '.join(problems)}; "
                             f"available: {available}")
        chosen = {p: [n for n in chosen[p] if n in names] for p in problems}
    if not any(chosen.values()):
        raise ValueError(f"no registered method for {', '.join(problems)}")
    return {p: v for p, v in chosen.items() if v}


# --------------------------------------------------------------------------------------
# Running and comparing
# --------------------------------------------------------------------------------------
def run_solver(problem: str, name: str, instance: Instance, time_limit: float | None,
               label: str) -> Outcome:
    """Run one method (exceptions become ``error`` results) and check its answer."""
    result = _solvers.run(problem, name, instance, time_limit=time_limit)
    return checked_outcome(problem, name, instance, result, label)


def checked_outcome(problem: str, name: str, instance: Instance, result, label: str) -> Outcome:
    """Certify one method's claim and check its answer (however it was run) with the independent checker.

    An ``optimal`` / ``infeasible`` claim without a certificate gets one here
    (:func:`solvers.certify.attach`), or is withdrawn with the reason.
    """
    if not isinstance(result, Result):
        result = Result(name, problem, Status.ERROR,
                        message=f"returned {type(result).__name__}, not a Result")
    result = attach(instance, result, problem)
    try:
        verdict = check_result(instance, result, problem)
    except Exception as exc:  # a malformed result must not stop the harness
        verdict = Check([f"could not be checked: {type(exc).__name__}: {exc}"])
    return Outcome(label, problem, name, result, verdict)


def _has_solution_claim(o: Outcome) -> bool:
    return o.result.assignment is not None


def assess(group: Group) -> Group:
    """Compare the outcomes of one group: set ``optimum_s``, ``verdict``, gaps and ``issues``.

    Pure (no solver is run), so it can be tested on hand-made results.
    O(n^2) in the number n of outcomes (about a dozen methods).
    """
    exact = _solvers.EXACT.get(group.problem, set())
    where = f"{group.instance} [{group.problem}]"
    issues = []
    for o in group.outcomes:
        if o.result.status == Status.ERROR:
            issues.append(f"{where} {o.solver}: error: {o.result.message or '(no message)'}")
        issues.extend(f"{where} {o.solver}: {p}" for p in o.check.problems)
    valid = [o for o in group.outcomes if o.check.valid_solution]
    claims = [o for o in group.outcomes if o.solver in exact and o.result.status == Status.OPTIMAL
              and o.result.objective_s is not None and math.isfinite(o.result.objective_s)]
    # an infeasible claim is a proof (its certificate is checked), whichever method made it
    infeasible = [o for o in group.outcomes if o.result.status == Status.INFEASIBLE]
    withdrawn = [o for o in group.outcomes if o.solver in exact and o.result.info.get("claimed_status") == "optimal"]

    if claims:
        lo = min(claims, key=lambda o: o.result.objective_s)
        hi = max(claims, key=lambda o: o.result.objective_s)
        if not close(lo.result.objective_s, hi.result.objective_s, EXACT_RTOL):
            values = ", ".join(f"{o.solver} {o.result.objective_s:.10g} s" for o in claims)
            issues.append(f"{where}: exact methods disagree: {values} "
                          f"(relative difference {rel_gap(hi.result.objective_s, lo.result.objective_s):.3g})")
    for o in infeasible:
        witnesses = claims + [v for v in valid if v not in claims]
        if witnesses:
            w = witnesses[0]
            issues.append(f"{where}: {o.solver} says infeasible but {w.solver} "
                          f"{'claims the optimum' if w in claims else 'returned a valid solution'} "
                          f"({w.result.objective_s:.10g} s)")

    proven = [o for o in claims if o.check.valid_solution]
    if proven:
        group.verdict = "optimal"
        group.optimum_s = min(o.result.objective_s for o in proven)
    elif infeasible and not valid and not claims:
        group.verdict = "infeasible"

    if group.optimum_s is not None:
        for o in withdrawn:
            obj = o.check.objective_s
            if obj is not None and not close(obj, group.optimum_s, EXACT_RTOL):
                issues.append(f"{where}: exact methods disagree: {o.solver} claimed optimal {obj:.10g} s "
                              f"(not certified) but the certified optimum is {group.optimum_s:.10g} s "
                              f"(relative difference {rel_gap(obj, group.optimum_s):.3g})")
        for o in valid:
            if o.check.objective_s < group.optimum_s and not close(o.check.objective_s, group.optimum_s, EXACT_RTOL):
                issues.append(f"{where} {o.solver}: valid solution of {o.check.objective_s:.10g} s is below "
                              f"the proven optimum {group.optimum_s:.10g} s")
    if valid:
        best = min(valid, key=lambda o: o.check.objective_s)
        best_s = best.check.objective_s
        what = ("the proven optimum" if group.optimum_s is not None and best_s >= group.optimum_s
                else f"{best.solver}'s valid solution")
        for o in group.outcomes:
            b = o.result.bound_s
            if b is not None and math.isfinite(b) and b > best_s and not close(b, best_s, BOUND_RTOL):
                issues.append(f"{where} {o.solver}: lower bound {b:.10g} s is above {what} {best_s:.10g} s")

    for o in group.outcomes:
        obj = o.result.objective_s
        o.gap = (rel_gap(obj, group.optimum_s)
                 if group.optimum_s is not None and obj is not None and math.isfinite(obj) else None)
    group.issues = issues
    return group


def compare_instance(instance: Instance, label: str | None = None, solvers: Iterable[str] | None = None,
                     problems: Iterable[str] | None = None, time_limit: float | None = DEFAULT_TIME_LIMIT_S,
                     report: Report | None = None,
                     on_group: Callable[[Group], None] | None = None,
                     on_issue: Callable[[str], None] | None = None) -> Report:
    """Run and cross-check the selected methods on one instance (see the module doc).

    Parameters
    ----------
    instance : Instance
    label : str, optional
        Name of the instance in rows and messages (default: its source file, else its name).
    solvers, problems : iterable of str, optional
        Method names and problems to run (default: all registered).
    time_limit : float, optional
        Seconds, passed to every method.
    report : Report, optional
        Accumulate into this report (default: a new one).
    on_group, on_issue : callable, optional
        Called with each finished :class:`Group` and each problem line, as they come.

    Returns
    -------
    Report
        ``report.interrupted`` is set if Ctrl-C stopped the run; the group
        being run is then kept with the methods that finished.
    """
    selection = select_solvers(problems, solvers)
    if report is None:
        report = Report()
    if label is None:
        label = instance.source if not instance.source.startswith("<") else instance.name
    report.files.append(label)
    for problem, names in selection.items():
        group = Group(label, problem)
        try:
            for name in names:
                group.outcomes.append(run_solver(problem, name, instance, time_limit, label))
        except KeyboardInterrupt:
            group.complete = False
            report.interrupted = True
        if group.outcomes:
            _finish_group(group, report, on_group, on_issue)
        if report.interrupted:
            break
    return report


def _finish_group(group, report, on_group, on_issue) -> None:
    assess(group)
    report.groups.append(group)
    report.rows.extend(group.rows)
    if on_issue is not None:
        for line in group.issues:
            on_issue(line)
    if on_group is not None:
        on_group(group)


def unusable_row(label: str, message: str) -> dict:
    """The output row of an unusable input."""
    row = dict.fromkeys(ROW_FIELDS)
    row.update(instance=label, problem="-", solver="-", status=Status.ERROR.value, message=message)
    return row


def compare_paths(paths: Iterable[str | Path], solvers: Iterable[str] | None = None,
                  problems: Iterable[str] | None = None, time_limit: float | None = DEFAULT_TIME_LIMIT_S,
                  on_group: Callable[[Group], None] | None = None,
                  on_unusable: Callable[[dict], None] | None = None,
                  on_issue: Callable[[str], None] | None = None,
                  jobs: int | None = None, dask=None, grace_s: float | None = None) -> Report:
    """Run and cross-check the selected methods on every instance file under ``paths``.

    Unusable files (any :class:`~instances.InstanceError`) are recorded in
    ``report.unusable`` with a row of their own, and the other files still run.
    ``on_unusable`` receives each such row as it is found.  Ctrl-C stops the run
    and sets ``report.interrupted`` (see :func:`compare_instance`).

    By default every method runs in this process, one after the other, trusted
    to honour ``time_limit``.  With ``jobs=N`` the methods run in N guarded
    worker processes (:class:`validation.parallel.LocalPool`), with ``dask``
    (a scheduler address or a ``distributed.Client``) as tasks on a Dask
    cluster (:func:`validation.parallel.run_dask`); either way a method that
    has not answered ``grace_s`` seconds after its time limit (default
    :func:`validation.parallel.default_grace_s`) is killed and reported as
    ``time_limit``, a worker that dies gives an ``error`` row, and the rows,
    groups and callbacks come in the same order as in the sequential run.

    Raises
    ------
    ValueError
        Bad selection of problems or solvers (see :func:`select_solvers`), or
        ``jobs`` < 1, or both ``jobs`` and ``dask``.
    """
    solvers = None if solvers is None else list(solvers)
    problems = None if problems is None else list(problems)
    select_solvers(problems, solvers)   # refuse a bad selection before any work
    if jobs is not None or dask is not None:
        return _compare_parallel(paths, solvers, problems, time_limit, on_group, on_unusable, on_issue,
                                 jobs, dask, grace_s)
    report = Report()
    files, empty = find_instance_files(paths)
    try:
        for label, message in empty:
            _record_unusable(report, label, message, on_unusable)
        for path in files:
            instance = _load_or_reason(path)
            if isinstance(instance, str):
                _record_unusable(report, str(path), instance, on_unusable)
                continue
            compare_instance(instance, str(path), solvers, problems, time_limit, report, on_group, on_issue)
            if report.interrupted:
                break
    except KeyboardInterrupt:
        report.interrupted = True
    return report


def _load_or_reason(path: Path) -> Instance | str:
    """The instance in ``path``, or the one-line reason it is unusable."""
    try:
        return load_instance(path)
    except InstanceError as exc:
        return str(exc)
    except Exception as exc:   # a loader bug must not hide the other files
        return f"{path}: unexpected {type(exc).__name__} while loading: {exc}"


def _record_unusable(report: Report, label: str, message: str,
                     on_unusable: Callable[[dict], None] | None) -> None:
    """Add an unusable input to ``report`` (file list, message, row) and pass its row on."""
    report.files.append(label)
    report.unusable.append(message)
    row = unusable_row(label, message)
    report.rows.append(row)
    if on_unusable is not None:
        on_unusable(row)


@dataclass
class _Slot:
    """One entry of the sequential order: an unusable input, or one (instance, problem) group."""

    label: str
    group: Group | None = None          # None: an unusable input
    message: str = ""
    instance: Instance | None = None
    names: list[str] = field(default_factory=list)
    results: dict = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.group is None or len(self.results) == len(self.names)


def _compare_parallel(paths, solvers, problems, time_limit, on_group, on_unusable, on_issue,
                      jobs, dask, grace_s) -> Report:
    """:func:`compare_paths` with the methods run in guarded workers (see there).

    Files are loaded lazily, as workers need work; results are checked here,
    in the caller, as they come; finished (instance, problem) groups are
    written in the sequential order as soon as every earlier one is written.
    On Ctrl-C the workers are killed and every group with at least one
    finished method is written (``complete=False`` if some did not finish).
    """
    from . import parallel

    if jobs is not None and dask is not None:
        raise ValueError("choose either jobs (local processes) or dask (a cluster), not both")
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise ValueError(f"jobs must be a positive number of worker processes, got {jobs!r}")
    selection = select_solvers(problems, solvers)
    report = Report()
    files, empty = find_instance_files(paths)
    slots: list[_Slot] = []
    written = 0

    def write(slot: _Slot) -> None:
        if slot.group is None:
            _record_unusable(report, slot.label, slot.message, on_unusable)
            return
        if not report.files or report.files[-1] != slot.label:   # one entry per file, not per problem
            report.files.append(slot.label)
        group = slot.group
        group.outcomes = [checked_outcome(group.problem, name, slot.instance, slot.results[name], slot.label)
                          for name in slot.names if name in slot.results]
        group.complete = slot.done
        slot.instance = None   # the group is final: let the instance go
        _finish_group(group, report, on_group, on_issue)

    def flush(final: bool = False) -> None:
        nonlocal written
        while written < len(slots):
            slot = slots[written]
            if not (slot.done or final):
                return
            written += 1   # first: a callback interrupted by Ctrl-C must not write the slot twice
            if slot.group is None or slot.results:
                write(slot)

    def job_source():
        for label, message in empty:
            slots.append(_Slot(label, message=message))
        for path in files:
            instance = _load_or_reason(path)
            if isinstance(instance, str):
                slots.append(_Slot(str(path), message=instance))
                continue
            for problem, names in selection.items():
                slot = _Slot(str(path), Group(str(path), problem), instance=instance, names=list(names))
                slots.append(slot)
                index = len(slots) - 1
                for name in names:
                    yield parallel.Job((index, name), str(path), problem, name, instance, time_limit)

    try:
        if jobs is not None:
            with parallel.LocalPool(jobs, grace_s) as pool:
                for job, result in pool.run(job_source()):
                    slots[job.index[0]].results[job.solver] = result
                    flush()
        else:
            stream = parallel.run_dask(job_source(), dask, grace_s)
            try:
                for job, result in stream:
                    slots[job.index[0]].results[job.solver] = result
                    flush()
            finally:
                stream.close()   # cancels what is still queued on the cluster
        flush()
    except KeyboardInterrupt:
        report.interrupted = True
    if report.interrupted:
        try:
            flush(final=True)
        except KeyboardInterrupt:   # a second Ctrl-C while writing: keep what is written
            pass
    return report


# --------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------
def _sanitize(value):
    """Non-finite floats -> None, recursively (JSON has no NaN or Infinity)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _sanitize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_sanitize(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):   # numpy scalars
        return _sanitize(value.item())
    return value


def _fmt_num(value, spec=".6g") -> str:
    return "-" if value is None else format(value, spec)


def _fmt_gap(value) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:+.4%}"


def _indent(text: str, pad: str = "  ") -> str:
    return "\n".join((pad + line).rstrip() for line in text.splitlines())


def _to_text(frame) -> str:
    """DataFrame as text with every column left-aligned (easier to scan than pandas' default)."""
    formatters = {}
    for col in frame.columns:
        width = max([len(str(col))] + [len(str(v)) for v in frame[col]])
        formatters[col] = lambda v, w=width: f"{v!s:<{w}}"
    return frame.to_string(index=False, formatters=formatters, justify="left")


def _short(text: str, width: int = 70) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 3] + "..."


def group_table(group: Group):
    """pandas DataFrame of one group, formatted for reading."""
    import pandas as pd

    records = []
    for o in group.outcomes:
        r = o.result
        records.append({
            "solver": o.solver,
            "status": r.status.value,
            "objective_s": _fmt_num(r.objective_s),
            "bound_s": _fmt_num(r.bound_s),
            "gap": _fmt_gap(o.gap),
            "seconds": _fmt_num(r.seconds, ".3f"),
            "check": "FAIL" if not o.check.ok else ("ok" if o.check.objective_s is not None else "-"),
            "certified": _certified_text(o),
            "message": _short(r.message),
        })
    return pd.DataFrame.from_records(records, columns=["solver", "status", "objective_s", "bound_s", "gap",
                                                        "seconds", "check", "certified", "message"])


def _certified_text(o: Outcome) -> str:
    """``yes`` (a verified certificate), ``FAIL`` (one that does not verify), ``withdrawn``
    (a claim that could not be certified), or ``-`` (no claim)."""
    r = o.result
    if r.certificate is not None:
        return "yes" if o.check.ok else "FAIL"
    return "withdrawn" if "uncertified" in r.info else "-"


def _verdict_text(group: Group) -> str:
    exact = _solvers.EXACT.get(group.problem, set())
    ran = [o.solver for o in group.outcomes if o.solver in exact]
    if group.verdict == "optimal":
        text = f"optimum T* = {group.optimum_s:.10g} s"
    elif group.verdict == "infeasible":
        text = "infeasible (proven)"
    else:
        text = "no proven optimum" + ("" if ran else " (no exact method ran)")
    if group.issues:
        text += f"; {len(group.issues)} PROBLEM(S)"
    if not group.complete:
        text += "; INTERRUPTED"
    return text


class TableWriter:
    """Readable text: a table per (instance, problem) as it finishes, then the summary."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.last_instance = None

    def _header(self, label: str) -> None:
        if label != self.last_instance:
            self.stream.write(f"\n== {label} ==\n")
            self.last_instance = label

    def group(self, group: Group) -> None:
        self._header(group.instance)
        self.stream.write(f"{group.problem}: {_verdict_text(group)}\n")
        self.stream.write(_indent(_to_text(group_table(group))) + "\n")
        for line in group.issues:
            self.stream.write(f"  PROBLEM: {line}\n")
        self.stream.flush()

    def unusable(self, row: dict) -> None:
        self._header(row["instance"])
        self.stream.write(f"UNUSABLE: {row['message']}\n")
        self.stream.flush()

    def finish(self, report: Report) -> None:
        self.stream.write("\n" + report.summary_text() + "\n")
        self.stream.flush()


class CsvWriter:
    """CSV rows (header :data:`ROW_FIELDS`), flushed as each group finishes; lists as JSON text."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.writer = csv.DictWriter(stream, fieldnames=ROW_FIELDS, lineterminator="\n")
        self.writer.writeheader()
        self.stream.flush()

    def _write(self, rows: list[dict]) -> None:
        for row in rows:
            row = _sanitize(row)
            for key in JSON_FIELDS:
                if row[key] is not None:
                    row[key] = json.dumps(row[key])
            self.writer.writerow(row)
        self.stream.flush()

    def group(self, group: Group) -> None:
        self._write(group.rows)

    def unusable(self, row: dict) -> None:
        self._write([row])

    def finish(self, report: Report) -> None:
        pass


class JsonWriter:
    """One JSON document ``{"rows": [...], "summary": {...}}``, written at the end."""

    def __init__(self, stream: TextIO):
        self.stream = stream

    def group(self, group: Group) -> None:
        pass

    def unusable(self, row: dict) -> None:
        pass

    def finish(self, report: Report) -> None:
        # one row per line: readable, and still a single valid JSON document
        rows = ",\n  ".join(json.dumps(_sanitize(row), allow_nan=False) for row in report.rows)
        summary = json.dumps(report.summary(), indent=2, allow_nan=False).replace("\n", "\n  ")
        self.stream.write(f'{{\n  "rows": [\n  {rows}\n  ],\n  "summary": {summary}\n}}\n')
        self.stream.flush()


WRITERS = {"table": TableWriter, "csv": CsvWriter, "json": JsonWriter}


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------
def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def _name_list(text: str) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise argparse.ArgumentTypeError("empty list")
    return names


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m validation.compare",
        description="Run every registered method on DEFT instances, check each answer independently "
                    "and cross-check the methods.",
        epilog="exit status: 0 consistent; 1 inconsistency found (takes precedence); "
               "2 unusable input or bad arguments; 130 interrupted")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="instance files or folders (searched recursively for *.json)")
    parser.add_argument("--format", choices=sorted(WRITERS), default="table", help="output format (default: table)")
    parser.add_argument("--output", metavar="FILE", help="write to FILE instead of stdout (rows as they finish)")
    parser.add_argument("--solvers", type=_name_list, metavar="A,B", help="only these methods")
    parser.add_argument("--problems", type=_name_list, metavar="P1,P2", help="only these problems (default: P1,P2)")
    parser.add_argument("--time-limit", type=_positive_seconds, default=DEFAULT_TIME_LIMIT_S, metavar="SECONDS",
                        help=f"time limit passed to every method (default: {DEFAULT_TIME_LIMIT_S:g})")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--jobs", type=_positive_int, metavar="N",
                       help="run the methods in N guarded worker processes (default: in this process, "
                            "one after the other, no outer guard)")
    where.add_argument("--dask", metavar="ADDRESS",
                       help="run the methods as tasks on the Dask cluster whose scheduler is at ADDRESS "
                            "(e.g. tcp://host:8786), each in a guarded worker process")
    parser.add_argument("--grace", type=_positive_seconds, metavar="SECONDS",
                        help="with --jobs/--dask: a method still running this long after its time limit is "
                             "killed and reported as time_limit (default: max(5, time limit / 2))")
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return value


#: Seconds to wait for a Dask scheduler to answer before giving up (exit 2).
DASK_CONNECT_TIMEOUT_S = 20.0


def _connect_dask(address: str):
    """A ``distributed.Client`` for ``address``, or raise ValueError with a one-line reason."""
    try:
        from distributed import Client
    except ImportError:
        raise ValueError("--dask needs the 'distributed' package: pip install -e \".[dask]\"") from None
    try:
        return Client(address, timeout=DASK_CONNECT_TIMEOUT_S)
    except Exception as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ValueError(f"cannot connect to the Dask scheduler at {address}: {reason}") from None


def main(argv: list[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Command-line entry point; returns the exit status (see the module doc)."""
    stdout = sys.stdout if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        select_solvers(args.problems, args.solvers)
    except ValueError as exc:
        parser.error(str(exc))
    client = None
    if args.dask:
        try:
            client = _connect_dask(args.dask)
        except ValueError as exc:
            print(str(exc), file=stderr)
            return EXIT_UNUSABLE
    if args.output:
        try:
            stream = open(args.output, "w", encoding="utf-8", newline="" if args.format == "csv" else None)
        except OSError as exc:
            print(f"{args.output}: cannot write: {exc.strerror}", file=stderr)
            if client is not None:
                client.close()
            return EXIT_UNUSABLE
    else:
        stream = stdout
    try:
        writer = WRITERS[args.format](stream)

        def on_unusable(row: dict) -> None:
            print(row["message"], file=stderr, flush=True)
            writer.unusable(row)

        def on_issue(line: str) -> None:
            print(line, file=stderr, flush=True)

        report = compare_paths(args.paths, args.solvers, args.problems, args.time_limit,
                               on_group=writer.group, on_unusable=on_unusable, on_issue=on_issue,
                               jobs=args.jobs, dask=client, grace_s=args.grace)
        writer.finish(report)
        if args.format == "csv":
            print(report.summary_text(include_lines=False), file=stderr)
    finally:
        if stream is not stdout:
            stream.close()
        if client is not None:
            client.close()
    if report.interrupted:
        print(f"interrupted: {len(report.rows)} finished row(s) written", file=stderr)
        return EXIT_INTERRUPTED
    return report.exit_code


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:   # e.g. piped into `head`: stop quietly
        sys.stderr.close()
        sys.exit(EXIT_OK)
