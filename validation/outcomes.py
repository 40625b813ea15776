"""What the harness found on one instance: each method's outcome, their comparison, the whole report.

:func:`checked_outcome` certifies a method's claim (:func:`solvers.certify.attach`)
and checks its answer with the independent checker (:mod:`validation.check`);
:func:`assess` compares the outcomes of one (instance, problem) group:

* the *exact* methods (:data:`solvers.EXACT`) that claim ``optimal`` must agree
  to :data:`~instances.tolerances.EXACT_RTOL`; their (lowest valid) objective is
  the *proven optimum* ``T*``; an exact method whose claim was withdrawn
  (not certified) must not differ from it;
* an infeasibility claim is a proof (its certificate is checked), so it
  contradicts any exact ``optimal`` claim and any valid solution;
* no valid solution may be below ``T*`` (beyond ``EXACT_RTOL``);
* no reported lower bound ``bound_s`` may be above the best valid solution
  (beyond :data:`~instances.tolerances.BOUND_RTOL`);
* every returned solution and certificate must pass the checker, and no method
  may error.

The gap of each method is :math:`(T - T^*) / T^*` (:func:`instances.tolerances.rel_gap`).
:class:`Report` collects the groups of a sweep, with per-method statistics.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import solvers as _solvers
from instances import Instance
from instances.cli import EXIT_FINDING as EXIT_INCONSISTENT
from instances.cli import EXIT_INTERRUPTED, EXIT_OK, EXIT_UNUSABLE
from solvers.certify import attach
from solvers.result import Result, Status
from instances.tolerances import BOUND_RTOL, EXACT_RTOL, close, rel_gap

from .check import Check, check_result
from .rows import STATUSES, result_row, sanitize


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
        return result_row(self.instance, self.problem, self.solver, self.result, self.gap)


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
            "methods": sanitize(methods.astype(object).where(methods.notna(), None).to_dict("records")),
            "problems": self.issues,
            "unusable_inputs": list(self.unusable),
            "exit_code": EXIT_INTERRUPTED if self.interrupted else self.exit_code,
        }


def checked_outcome(problem: str, name: str, instance: Instance, result, label: str) -> Outcome:
    """Certify one method's claim and check its answer (however it was run) with the independent checker.

    An ``optimal`` / ``infeasible`` claim without a certificate gets one here
    (:func:`solvers.certify.attach`), or is withdrawn with the reason.
    """
    if not isinstance(result, Result):
        result = Result(solver=name, problem=problem, status=Status.ERROR,
                        message=f"returned {type(result).__name__}, not a Result")
    result = attach(instance, result, problem)
    try:
        verdict = check_result(instance, result, problem)
    except Exception as exc:  # a malformed result must not stop the harness
        verdict = Check([f"could not be checked: {type(exc).__name__}: {exc}"])
    return Outcome(label, problem, name, result, verdict)


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
