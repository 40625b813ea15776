"""Solving Pyomo models with HiGHS, in one place (termination handling, time limits).

Uses Pyomo's newer ``pyomo.contrib.solver`` HiGHS interface, which reports an
infeasible model as a termination condition instead of raising (the older
``appsi_highs`` raises even with ``load_solution=False``: Pyomo issues 2920, 3130).

Every solver call runs under :func:`quiet_solver_call`: the solver's output
goes to a temporary *file* (:func:`solvers.capture.capture_fds`), never to a
pipe.  ``pyomo.contrib.solver``'s HiGHS and SCIP interfaces always wrap the
solve in ``pyomo.common.tee.capture_output(TeeStream(...), capture_fd=True)``
(there is no per-call option; ``tee`` only adds streams): fds 1 and 2 become
pipes drained by a Python reader thread.  PySCIPOpt keeps the GIL while SCIP
runs, so that thread cannot drain, and once SCIP (or SoPlex) has written a
pipe buffer (64 KiB) it blocks for ever, past any time limit.  The module
switch ``pyomo.common.tee.OVERRIDE_CAPTURE_OUTPUT = CaptureOutputMode.DISABLE``
turns ``capture_output`` into a no-op (no pipe, no thread; the ``TeeStream``
opens its pipes only when its ``STDOUT`` / ``STDERR`` are used, which
``capture_output`` then skips), so it is set for the call and restored after.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import pyomo.environ as pyo
from pyomo.contrib.solver.common.factory import SolverFactory
from pyomo.contrib.solver.common.results import TerminationCondition

from .capture import Captured, capture_fds
from .result import Status
from instances.tolerances import MILP_FEASTOL


@contextmanager
def quiet_solver_call() -> Iterator[Captured]:
    """Run a Pyomo solver call with its output in a temporary file, Pyomo's pipe capture off.

    Yields the :class:`solvers.capture.Captured` that holds the output after the
    block.  Sets ``pyomo.common.tee.OVERRIDE_CAPTURE_OUTPUT`` to ``DISABLE`` for
    the block (process-wide, restored afterwards; solver calls are made from
    one thread).
    """
    import pyomo.common.tee as tee
    from pyomo.common.enums import CaptureOutputMode

    previous = tee.OVERRIDE_CAPTURE_OUTPUT
    tee.OVERRIDE_CAPTURE_OUTPUT = CaptureOutputMode.DISABLE
    try:
        with capture_fds() as captured:
            yield captured
    finally:
        tee.OVERRIDE_CAPTURE_OUTPUT = previous


@dataclass
class SolveOutcome:
    status: Status          # OPTIMAL, INFEASIBLE, TIME_LIMIT or ERROR
    has_solution: bool      # a primal solution was loaded into the model
    incumbent: float | None
    bound: float | None
    message: str
    log: str = ""           # the solver's output (truncated), see :func:`quiet_solver_call`


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
        with quiet_solver_call() as output:
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
        return SolveOutcome(Status.OPTIMAL, has, incumbent, bound, "", output.text)
    if tc in (TerminationCondition.provenInfeasible, TerminationCondition.infeasibleOrUnbounded):
        return SolveOutcome(Status.INFEASIBLE, False, None, None, "HiGHS: model is infeasible", output.text)
    if tc in (TerminationCondition.maxTimeLimit, TerminationCondition.interrupted, TerminationCondition.iterationLimit):
        return SolveOutcome(Status.TIME_LIMIT, has, incumbent, bound, f"HiGHS stopped: {tc.name}", output.text)
    return SolveOutcome(Status.ERROR, has, incumbent, bound, f"HiGHS ended with {tc.name}", output.text)
