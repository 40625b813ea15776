"""P2 (JBBA): joint bandwidth-and-block allocation, the registry of its methods.

=====================  ==================================================  ===========
name                   method                                              claims
=====================  ==================================================  ===========
``exact``              parametric assignment + bandwidth equation          optimal
``milp``               same, each assignment a Pyomo model solved by HiGHS optimal
``minlp``              Pyomo convex MINLP (rotated cones) solved by SCIP   optimal
``relaxation``         CVXPY convex relaxation, x in [0, 1]                lower bound
``dual-ascent``        the paper's Algorithm 3                             feasible
``crunch+bandwidth``   CRUNCH's P1 assignment, then optimal bandwidth      feasible
``compute-aware``      benchmark, equal bandwidth (as the paper compares)  feasible
``comm-aware``         benchmark, equal bandwidth                          feasible
=====================  ==================================================  ===========
"""
from __future__ import annotations


def register(registry, exact, bounds) -> None:
    """Add the P2 methods to the solver registry (see :mod:`solvers`)."""
    from . import dual_ascent as da
    from . import p1, p2_exact

    registry[("P2", "exact")] = p2_exact.exact_jbba
    registry[("P2", "milp")] = p2_exact.milp_jbba
    registry[("P2", "minlp")] = p2_exact.minlp_jbba
    registry[("P2", "relaxation")] = p2_exact.relaxation_bound
    registry[("P2", "dual-ascent")] = da.dual_ascent
    registry[("P2", "crunch+bandwidth")] = da.crunch_bandwidth
    registry[("P2", "compute-aware")] = lambda inst, time_limit=None: p1.compute_aware(inst, time_limit, problem="P2")
    registry[("P2", "comm-aware")] = lambda inst, time_limit=None: p1.comm_aware(inst, time_limit, problem="P2")
    exact.update({"exact", "milp", "minlp"})
    bounds.add("relaxation")
