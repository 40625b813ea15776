"""Solving Pyomo models with HiGHS, in one place (termination handling, time limits).

Uses Pyomo's newer ``pyomo.contrib.solver`` HiGHS interface, which reports an
infeasible model as a termination condition instead of raising (the older
``appsi_highs`` raises even with ``load_solution=False``; see SOLVER-NOTES).
"""
from __future__ import annotations

from dataclasses import dataclass

import pyomo.environ as pyo
from pyomo.contrib.solver.common.factory import SolverFactory
from pyomo.contrib.solver.common.results import TerminationCondition

from .result import Status
from .tolerances import MILP_FEASTOL


@dataclass
class SolveOutcome:
    status: Status          # OPTIMAL, INFEASIBLE, TIME_LIMIT or ERROR
    has_solution: bool      # a primal solution was loaded into the model
    incumbent: float | None
    bound: float | None
    message: str


def solve_with_highs(model: pyo.ConcreteModel, time_limit: float | None = None,
                     mip_rel_gap: float = 0.0) -> SolveOutcome:
    """Solve ``model`` with HiGHS; load the solution into it when there is one.

    ``time_limit`` (seconds) is passed as a float, as HiGHS requires.
    ``mip_rel_gap=0`` asks HiGHS to prove optimality exactly.
    """
    solver = SolverFactory("highs")
    # HiGHS's default mip_feasibility_tolerance (1e-6) lets a latency row exceed T by 1e-6 s,
    # enough to return a pair one entry above the optimum when entries differ by 1e-6.
    options = {"mip_rel_gap": mip_rel_gap, "mip_abs_gap": 0.0,
               "mip_feasibility_tolerance": MILP_FEASTOL, "primal_feasibility_tolerance": MILP_FEASTOL}
    kwargs = dict(load_solutions=False, raise_exception_on_nonoptimal_result=False, solver_options=options)
    if time_limit is not None:
        kwargs["time_limit"] = float(max(time_limit, 0.01))
    try:
        res = solver.solve(model, **kwargs)
    except Exception as exc:  # a solver crash becomes an error row, never a traceback
        return SolveOutcome(Status.ERROR, False, None, None, f"HiGHS failed: {exc}")
    tc = res.termination_condition
    bound = res.objective_bound
    bound = float(bound) if bound is not None and abs(bound) != float("inf") else None
    incumbent = res.incumbent_objective
    has = incumbent is not None
    if has:
        res.solution_loader.load_vars()
    if tc == TerminationCondition.convergenceCriteriaSatisfied:
        return SolveOutcome(Status.OPTIMAL, has, incumbent, bound, "")
    if tc in (TerminationCondition.provenInfeasible, TerminationCondition.infeasibleOrUnbounded):
        return SolveOutcome(Status.INFEASIBLE, False, None, None, "HiGHS: model is infeasible")
    if tc in (TerminationCondition.maxTimeLimit, TerminationCondition.interrupted, TerminationCondition.iterationLimit):
        return SolveOutcome(Status.TIME_LIMIT, has, incumbent, bound, f"HiGHS stopped: {tc.name}")
    return SolveOutcome(Status.ERROR, has, incumbent, bound, f"HiGHS ended with {tc.name}")
