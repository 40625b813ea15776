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
#: high above the optimum).  SCIP uses the slack of every row at once (each cone,
#: slack row and the band row of the per-device-scaled model come out violated by
#: nearly feastol), which lowers its objective by 2-3 feastol relative: at 1e-9 it
#: picked an assignment 1.4e-9 worse than the optimum as optimal (a near tie), at 1e-10
#: it does not.  1e-10 is also as low as SoPlex goes without GMP.
MINLP_FEASTOL = 1e-10

#: ... and the feastol of a second try when SCIP fails at ``MINLP_FEASTOL`` ("error in LP
#: solver": K = M = 4 identical devices whose uploads are 4e-6 of the computation).
MINLP_FEASTOL_RETRY = 1e-9

#: SCIP's ``limits/gap`` for the P2 MINLP: it stops when (incumbent - bound) / incumbent is
#: below this.  With 0 (or 1e-10) SCIP branched for minutes on duplicated devices holding the
#: optimal assignment, its dual bound stuck about 7e-9 below: SoPlex cannot tighten its LP
#: tolerance below 1e-10 without GMP ("Cannot set feasibility tolerance to small value").
#: A stop within this gap is no proof: the objective is recomputed from SCIP's assignment and
#: the claim must then be certified to CERTIFIED_GAP_RTOL (solvers.certify), or it is withdrawn.
MINLP_GAP_RTOL = 1e-8

#: Clarabel's gap and feasibility tolerances for the CVXPY models (fixed-assignment
#: bandwidth, relaxation).  1e-10 makes large relaxations end "optimal_inaccurate";
#: the relaxation's reported bound is a dual certificate, valid at any accuracy.
CONIC_TOL = 1e-9

#: HiGHS's MIP and primal feasibility tolerances for the Pyomo MILPs (defaults 1e-6 /
#: 1e-7 let a solution break a latency row by that much and so miss the optimum).  Absolute,
#: in the model's units: P1's latency rows are written in units of a feasible start's latency
#: (solvers.p1.milp), so there it is relative to the answer.
MILP_FEASTOL = 1e-9

#: P1 ``milp`` agrees with the exact optimum to this much, relative: its rows are written in
#: units of a start whose latency is the optimum itself (bisection), so HiGHS's absolute
#: tolerance ``MILP_FEASTOL`` is relative to the answer.
P1_MILP_RTOL = MILP_FEASTOL

#: A P2 optimum is certified when a lower-bound certificate at ``T_low`` exists with
#: ``(T - T_low) / T <=`` this (:mod:`solvers.certify`, verified by :mod:`validation.check`).
CERTIFIED_GAP_RTOL = 1e-9

#: The checker's allowance for its own rounding when it verifies an inequality of a
#: certificate in floating point: each side is moved against the claim by this much,
#: relative to the magnitudes involved.  A handful of IEEE operations err by at most
#: 2^-53 each (1.1e-16), so 1e-12 makes every verified inequality hold exactly.
CERTIFICATE_ROUNDING_RTOL = 1e-12

#: The slack the certificate *producer* leaves in each dual inequality (the duals u are
#: lowered by this much, relative, ten times the checker's allowance, so that a certificate
#: passes whatever the rounding of its own computation).  It lowers the certified bound by
#: about half this much, relative.
CERTIFICATE_SLACK_RTOL = 1e-11

#: SCIP's objective (its tau times the time scale) may be at most this much, relative, below
#: the latency recomputed exactly from its assignment (``optimal_bandwidth``) for ``minlp`` to
#: report "optimal" with SCIP's dual bound; lower means its solution leaned on the tolerances
#: beyond what ``MINLP_FEASTOL`` explains, and SCIP's numbers are not trusted (status
#: "feasible", the full-band bound).  An "optimal" row is then still certified
#: (``CERTIFIED_GAP_RTOL``) from the recomputed latency, or withdrawn.
SCIP_OBJECTIVE_RTOL = 1e-8

#: The threshold MILP (``milp`` for P2) leaves out pairs whose bandwidth share at the
#: threshold T(x) exceeds 1 + this: the current assignment x costs 1 up to the rounding of
#: its 1-D root (~1e-15), so no min-cost assignment uses such a pair (weights are positive).
SHARE_PRUNE_RTOL = 1e-9

#: Head room of the P2 MINLP's time scale: ``minlp`` scales time by the warm start's
#: latency widened by this much, relative, so that every bound (``tau <= 1``, the slack
#: and share bounds) leaves the warm start and the optimum strictly inside.  With a
#: scale equal to the warm start's latency up to rounding, an optimal warm start sits on
#: those bounds and SCIP's presolve (propagating the cones at feastol 1e-10) declared
#: such models infeasible.
MINLP_HEADROOM_RTOL = 1e-6

#: SCIP's ``numerics/epsilon`` (zero tolerance) for the P2 MINLP.  SCIP assumes
#: epsilon <= feastol: with both at 1e-9 (at the time feastol was 1e-10, above epsilon)
#: probing (presolve) fixed binaries by reasoning at the coarser tolerance and declared the
#: better assignments infeasible: "optimal" warm starts 4.5 % above the optimum (K = M = 4).
#: Not below 1e-10 either: SCIP then asks SoPlex for LP tolerances it cannot reach without
#: GMP ("Cannot set feasibility tolerance to small value 1e-12") and stalls, e.g. on
#: uploads 1e-16 of the computation time.  It is also the size below which SCIP drops a
#: linear coefficient.
MINLP_EPSILON = 1e-10
