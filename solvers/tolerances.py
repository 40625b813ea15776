"""Every numerical tolerance of the toolkit, in one place.

Objectives are compared relatively: ``|a - b| <= RTOL * max(|a|, |b|, ABS_FLOOR_S)``.
"""

#: Two *exact* methods agree when their objectives differ by at most this much,
#: relative.  P1 optima are matrix entries, recomputed from the assignment, so
#: they agree to rounding; P2 optima come from a 1-D equation solved to machine
#: precision, but a MINLP solver (SCIP) may stop at an assignment whose value is
#: within its own feasibility tolerance, hence 1e-6.
EXACT_RTOL = 1e-6

#: A reported objective must equal the value recomputed from its assignment and
#: bandwidths by the independent checker to this relative tolerance.
OBJECTIVE_RTOL = 1e-6

#: Absolute floor (seconds) in relative comparisons, so that objectives of 0 s compare.
ABS_FLOOR_S = 1e-12

#: Bandwidth budget check: sum_k B_k <= B * (1 + BANDWIDTH_RTOL).
BANDWIDTH_RTOL = 1e-9

#: Bisection / root finding on a latency threshold stops when the bracket is
#: this small relative to T (then the fixed-assignment equation is solved exactly).
BISECTION_RTOL = 1e-12

#: A lower bound (``relaxation``) may exceed the optimum by at most this much,
#: relative (the conic solver's own accuracy), before it is flagged.
BOUND_RTOL = 1e-5


def close(a: float, b: float, rtol: float = EXACT_RTOL) -> bool:
    """True when ``a`` and ``b`` agree to ``rtol`` relative (with the absolute floor)."""
    return abs(a - b) <= rtol * max(abs(a), abs(b), ABS_FLOOR_S)


def rel_gap(value: float, optimum: float) -> float:
    """Relative gap ``(value - optimum) / optimum`` (0 when both are 0)."""
    return (value - optimum) / max(abs(optimum), ABS_FLOOR_S)

#: Iterative heuristics (dual ascent) count an improvement of their incumbent or
#: bound only when it exceeds this much, relative; smaller changes count as
#: stagnation (otherwise rounding-level drift would keep them running forever).
STALL_RTOL = 1e-9

#: Allowance for floating-point rounding when a computed number is used as a
#: *rigorous* bound: an upper bound on T handed to a solver is widened by it,
#: and a dual certificate (``relaxation``) is lowered by it times its magnitude.
ROUNDING_RTOL = 1e-12

#: SCIP's ``numerics/feastol`` for the P2 MINLP (its default 1e-6 lets it accept
#: an assignment up to ~1e-7 relative worse than optimal, and a dual bound that
#: high above the optimum; 1e-9 makes it agree with the exact method).
MINLP_FEASTOL = 1e-9

#: Clarabel's gap and feasibility tolerances for the CVXPY models (fixed-assignment
#: bandwidth, relaxation).  1e-10 makes large relaxations end "optimal_inaccurate";
#: the relaxation's reported bound is a dual certificate, valid at any accuracy.
CONIC_TOL = 1e-9

#: HiGHS's MIP and primal feasibility tolerances for the Pyomo MILPs (defaults 1e-6 /
#: 1e-7 let a solution break a latency row by that much and so miss the optimum).  Absolute,
#: in the model's units: P1's latency rows are written in units of a feasible start's latency
#: (solvers.p1.milp), so there it is relative to the answer.
MILP_FEASTOL = 1e-9
