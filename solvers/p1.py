"""P1 (BA): block allocation with the bandwidth split equally, solved five ways exactly.

P1 is a *bottleneck* assignment: give each of the M blocks a distinct device
so that the largest latency ``c[k,m] = tcp[k,m] + D M / (B R_k)`` (seconds)
among the chosen pairs is as small as possible, subject to memory (C3).

Every row of ``c`` is non-decreasing in the block depth m, and so is the block
memory.  Hence, for a latency threshold T, the blocks device k may take form a
prefix ``1..n_k(T)`` of the blocks, and the bipartite graph "device k may take
block m" is a family of *nested* neighbourhoods.  Hall's marriage condition on
nested neighbourhoods collapses to a sorted count test (Proposition 1 of the
paper): with ``n_(1) <= ... <= n_(K)`` sorted ascending, a matching that covers
all M blocks exists iff

.. math:: n_{(K-M+i)} \\ge i \\qquad i = 1, \\dots, M.

*Why*: the blocks ``i..M`` (the ``M-i+1`` deepest) can only go to devices with
``n_k >= i``; Hall requires at least ``M-i+1`` of those, i.e. the
``(K-M+i)``-th smallest count is ``>= i``.  Conversely, giving block i to the
device of rank ``K-M+i`` is a valid matching, because ranks are distinct and
that device's prefix reaches block i.

*Closed form of the first infeasible cut.*  Because row k is sorted,
``n_k(T) >= i`` iff ``c[k, i-1] <= T``; so ``#{k : n_k(T) >= i}`` is the
number of entries of column (block) i that are ``<= T``, and Proposition 1
holds at T iff every block i has at least ``M - i + 1`` entries ``<= T``:

.. math:: T^* = \\max_{i=1..M} \\; s_i, \\qquad
          s_i = (M-i+1)\\text{-th smallest entry of column } i.

CRUNCH cuts entries from the largest down and stops exactly when some block
keeps fewer than ``M - i + 1`` entries, i.e. at this value (a matrix entry).

*Only a few rows matter.*  Let U be the M-th smallest cost of the deepest
block among the devices whose memory holds it: those M devices can take the
M blocks in any order and finish by U (rows are sorted), so ``T* <= U``.  A
device with ``c[k, 0] > U`` has ``n_k(T*) = 0`` and none of its entries is
among the order statistics above, so it can be dropped.  CRUNCH therefore
reads O(K) entries to find the n devices with ``c[k, 0] <= U`` and O(nM)
after that; n = K only when the devices are nearly alike or fewer than M can
hold the deepest block.

Methods
-------
crunch
    Algorithm 2 (Cutting-RecoUNting-CHecking): remove the largest remaining
    entry, recount its row, check Proposition 1; the last removed value is the
    optimum.  Run here in closed form (the same first infeasible cut, read off
    Proposition 1 as one order statistic per block, see above), with the
    literal cut-by-cut walk available as ``trace`` for teaching and as
    :func:`crunch_literal`.
crunch_literal
    Algorithm 2 as stated: the cut-recount-check loop, one entry per cut,
    Proposition 1 checked after every cut (O(KM (K + M))).
linear_search
    Sec. IV-A: thresholds from the largest value down, a maximum bipartite
    matching (SciPy, Hopcroft-Karp) at each step; stops at the first threshold
    without a perfect matching.
hungarian_search
    The same thresholds with the Hungarian method (SciPy's
    ``linear_sum_assignment`` on 0/1 costs) as the test at each: the method
    the paper says linear search + CRUNCH is much cheaper than.
milp
    The Pyomo MILP of :mod:`models.p1`, solved by HiGHS: infeasibility proved
    first by Proposition 1 on the memory prefix, a start found by bisection
    with matchings, then the model scaled to the start's latency and reduced
    to the pairs that can beat it, built only if the time limit allows.

The paper's benchmarks (computation- and communication-aware) are in
:mod:`solvers.benchmarks`; the array functions (Proposition 1, CRUNCH on a
cost matrix) in :mod:`solvers.bottleneck`.

References
----------
.. [1] "Resource Management for Low-latency Cooperative Fine-tuning of
   Foundation Models at the Network Edge", Sec. IV (Proposition 1, Algorithm 2).
.. [2] P. Hall, "On representatives of subsets", J. London Math. Soc., 1935.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching

from instances import Instance

from .bottleneck import Trace, assignment_from_counts, bottleneck_crunch, bottleneck_rows, crunch_walk, hall_check
from .result import Result, Status, Stopwatch, equal_bandwidth
from .scope import solves


# --------------------------------------------------------------------------------------
# Solvers on instances
# --------------------------------------------------------------------------------------
def p1_objective(instance: Instance, assignment) -> float:
    """Round latency (s) of ``assignment`` with equal bandwidth: max_m c[a_m, m].  O(M)."""
    assignment = np.asarray(assignment, dtype=int)
    chosen = instance.compute_latency[assignment, np.arange(instance.M)] + instance.upload_equal_s[assignment]
    return float(chosen.max())


def p1_infeasible(solver: str, sw: Stopwatch, instance: Instance, why: str | None = None, problem: str = "P1") -> Result:
    """The ``infeasible`` Result of ``solver``: ``why``, or the count or memory-wall reason."""
    if why is None:
        why = (f"M = {instance.M} blocks > K = {instance.K} devices" if instance.M > instance.K
               else "memory wall: no assignment of all blocks to distinct devices fits the memory budgets")
    return Result(solver=solver, problem=problem, status=Status.INFEASIBLE, seconds=sw.elapsed, message=why)


def p1_solution(solver: str, instance: Instance, assignment, sw: Stopwatch, status=Status.OPTIMAL,
              bound=None, message="", info=None, problem="P1", objective=None) -> Result:
    """The Result of ``assignment`` with equal bandwidth; ``objective`` (s) if the caller already has it."""
    assignment = np.asarray(assignment, dtype=int)
    if objective is None:
        objective = p1_objective(instance, assignment)
    if status == Status.OPTIMAL and bound is None:
        bound = objective
    # a list of ints and the (K,) array: Result converts them without a per-element NumPy scalar
    return Result(solver=solver, problem=problem, status=status, objective_s=objective, bound_s=bound,
                  seconds=sw.elapsed, assignment=assignment.tolist(),
                  bandwidth_hz=equal_bandwidth(instance.K, assignment, instance.bandwidth_hz),
                  message=message, info=info or {})


def p1_answer(instance: Instance) -> tuple[float, np.ndarray] | None:
    """CRUNCH's optimum on an instance: ``(latency_s, assignment)`` or None if infeasible.

    The lean core of :func:`crunch` (no Result, no clock): :func:`bottleneck_rows` on
    ``tcp``, the equal-split upload time and the memory prefix.  The latency is the
    matrix entry ``fl(tcp[k, m] + u_k)`` of the bottleneck pair, i.e. exactly
    :func:`p1_objective` of the assignment.  Complexity as :func:`bottleneck_rows`.

    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.5, 1.5], [0.5, 3.0]], [1e9, 2e9],
    ...     [4e9, 1e9, 4e9], [1.0, 2.0, 4.0], gradient_bits=1e6, bandwidth_hz=1e6)
    >>> value, assignment = p1_answer(inst)
    >>> value, assignment.tolist(), value == p1_objective(inst, assignment)
    (3.5, [1, 2], True)
    """
    return bottleneck_rows(instance.compute_latency, instance.upload_equal_s, instance.memory_prefix)


@solves(name="crunch", problem="P1")
def crunch(instance: Instance, trace: Trace | None = None, time_limit: float | None = None) -> Result:
    """Solve P1 exactly with CRUNCH (Proposition 1 + Algorithm 2), in closed form.

    Parameters
    ----------
    instance : Instance
    trace : callable, optional
        Receives one line per cut / recount / check (teaching mode: the literal walk).
    time_limit : float, optional
        Accepted for a uniform interface; CRUNCH always finishes well within it.

    Returns
    -------
    Result
        ``optimal`` with the latency (s) and an optimal assignment, or ``infeasible``.

    Examples
    --------
    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.5, 1.5], [0.5, 3.0]], [1e9, 2e9],
    ...     [4e9, 1e9, 4e9], [1.0, 2.0, 4.0], gradient_bits=1e6, bandwidth_hz=1e6)
    >>> res = crunch(inst)
    >>> res.status.value, res.objective_s, res.assignment
    ('optimal', 3.5, (1, 2))
    >>> p1_objective(inst, res.assignment) == res.objective_s   # re-check the answer
    True

    Notes
    -----
    Complexity: O(K log M) for the memory prefix (a binary search of each
    budget in the sorted block memory), then :func:`bottleneck_rows`:
    O(K + nM + M^2 log M + n log n), n <= K the devices whose first block
    finishes under the bound U; O(KM + K log K) at worst.  Extra memory O(K + CHUNK_ROWS * M): the (K, M) cost matrix is never
    built.  The traced walk builds it and costs O(KM K log K).  The instance
    was validated when it was built; nothing is re-checked here.
    """
    sw = Stopwatch(time_limit)
    if trace is not None:
        found = bottleneck_crunch(instance.p1_cost(), trace=trace)
    else:   # rows of tcp + upload are sorted by validation; no (K, M) matrix is built
        found = p1_answer(instance)
    if found is None:
        return p1_infeasible("crunch", sw, instance)
    value, assignment = found
    return p1_solution("crunch", instance, assignment, sw, objective=value)


@solves(name="crunch-literal", problem="P1")
def crunch_literal(instance: Instance, time_limit: float | None = None) -> Result:
    """Solve P1 exactly by Algorithm 2 as the paper states it: cut, recount, check, one entry at a time.

    Starting from the memory-feasible cost matrix (:meth:`Instance.p1_cost`),
    repeat: *cut* the largest remaining entry ``c[k, m]`` (it is the last one of
    its row, rows being sorted), *recount* ``n_k <- n_k - 1``, *check*
    Proposition 1 on the counts (:func:`hall_check`).  The first cut that
    breaks Proposition 1 is undone; its value is the optimum and
    :func:`assignment_from_counts` of the counts is an optimal assignment.
    The same value as :func:`crunch` (the closed form reads it off directly);
    with ties the assignment may differ.

    Parameters
    ----------
    instance : Instance
    time_limit : float, optional
        Seconds; the clock is read every :data:`LITERAL_CLOCK_CUTS` cuts.
        Stopped, the method returns ``time_limit`` with the assignment of the
        current (still feasible) counts and the elementary bound
        :func:`elementary_bound`: the cuts so far prove nothing from below.

    Notes
    -----
    Complexity: O(KM) to build the matrix, then up to KM cuts, each a heap
    step (O(log K)) and a check of Proposition 1 by histogram (O(K + M)):
    O(KM (K + M)) in all, against O(K + nM + M^2 log M) for the closed form.

    Examples
    --------
    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.5, 1.5], [0.5, 3.0]], [1e9, 2e9],
    ...     [4e9, 1e9, 4e9], [1.0, 2.0, 4.0], gradient_bits=1e6, bandwidth_hz=1e6)
    >>> res = crunch_literal(inst)
    >>> res.status.value, res.objective_s == crunch(inst).objective_s, res.info["cuts"]
    ('optimal', True, 2)
    """
    sw = Stopwatch(time_limit)
    why = memory_wall(instance.memory_prefix, instance.M)
    if why is not None:
        return p1_infeasible("crunch-literal", sw, instance, why)
    cost = instance.p1_cost()
    counts = np.isfinite(cost).sum(axis=1)
    value, assignment, cuts, done = crunch_walk(cost, counts, None, sw)
    if not done:
        return p1_solution("crunch-literal", instance, assignment, sw, Status.TIME_LIMIT, bound=elementary_bound(cost),
                         message=f"time limit after {cuts} cuts: the assignment of the current counts "
                                 f"and the elementary bound max_m min_k c[k, m]", info={"cuts": cuts})
    return p1_solution("crunch-literal", instance, assignment, sw, info={"cuts": cuts}, objective=value)


def _perfect_matching(allowed: np.ndarray) -> np.ndarray | None:
    """Maximum bipartite matching blocks -> devices; None unless it covers every block."""
    match = maximum_bipartite_matching(csr_matrix(allowed.T.astype(np.int8)), perm_type="column")
    return None if np.any(match < 0) else match


def _lsap_perfect_matching(allowed: np.ndarray) -> np.ndarray | None:
    """A matching of every block inside ``allowed`` by the Hungarian method, or None.

    SciPy's rectangular LSAP (``linear_sum_assignment``, shortest augmenting
    paths) on the 0/1 costs ``[pair not allowed]``: a perfect matching within
    ``allowed`` exists iff the minimum cost is 0.  O(M^2 K).
    """
    above = (~allowed.T).astype(float)                 # (M blocks, K devices)
    blocks, devices = linear_sum_assignment(above)
    if blocks.size < above.shape[0] or above[blocks, devices].any():   # M > K, or a pair above T needed
        return None
    match = np.empty(allowed.shape[1], dtype=int)
    match[blocks] = devices
    return match


def _descending_search(solver: str, instance: Instance, time_limit: float | None,
                       matching: Callable[[np.ndarray], np.ndarray | None]) -> Result:
    """Thresholds from the largest latency down, ``matching(cost <= T)`` at each (Sec. IV-A)."""
    sw = Stopwatch(time_limit)
    cost = instance.p1_cost()
    values = np.unique(cost[np.isfinite(cost)])[::-1]
    best = None
    for step, threshold in enumerate(values):
        match = matching(cost <= threshold)
        if match is None:
            break
        best = match
        if sw.expired():
            return p1_solution(solver, instance, best, sw, Status.TIME_LIMIT, bound=elementary_bound(cost),
                             message=f"time limit after {step + 1} of at most {values.size} thresholds; "
                                     f"the last matching found and the elementary bound max_m min_k c[k, m]")
    if best is None:
        return p1_infeasible(solver, sw, instance)
    return p1_solution(solver, instance, best, sw, info={"thresholds_tried": int(step + 1)})


@solves(name="linear-search", problem="P1")
def linear_search(instance: Instance, time_limit: float | None = None) -> Result:
    """Solve P1 exactly by the paper's linear search (Sec. IV-A).

    Sort the distinct latencies in descending order; starting from the largest,
    lower the threshold one value at a time while the pairs under it still hold
    a perfect matching of blocks to devices (Hopcroft-Karp, SciPy).  The last
    threshold with a matching is the optimum.

    The clock is read after every matching.  Stopped by the time limit, the
    method returns the last matching found (a valid assignment, status
    ``time_limit``) and the elementary lower bound :func:`elementary_bound`:
    the thresholds not yet tried prove nothing.

    Complexity: O(KM) thresholds, each a matching in O(KM sqrt(K+M)).

    Examples
    --------
    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.5, 1.5], [0.5, 3.0]], [1e9, 2e9],
    ...     [4e9, 1e9, 4e9], [1.0, 2.0, 4.0], gradient_bits=1e6, bandwidth_hz=1e6)
    >>> linear_search(inst).objective_s
    3.5
    """
    return _descending_search("linear-search", instance, time_limit, _perfect_matching)


@solves(name="hungarian-search", problem="P1")
def hungarian_search(instance: Instance, time_limit: float | None = None) -> Result:
    """Solve P1 exactly by linear search with the Hungarian method as the matching test.

    The method the paper compares CRUNCH against: the thresholds T of
    :func:`linear_search` (the distinct latencies, from the largest down), and
    at each an assignment solve, SciPy's ``linear_sum_assignment`` on the 0/1
    costs ``[c[k, m] > T]``; a perfect matching under T exists iff the minimum
    is 0.  The last threshold with cost 0 is the optimum.  Time limit as in
    :func:`linear_search`.

    Complexity: O(KM) thresholds, each an LSAP in O(M^2 K): O(K^2 M^3).

    Examples
    --------
    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.5, 1.5], [0.5, 3.0]], [1e9, 2e9],
    ...     [4e9, 1e9, 4e9], [1.0, 2.0, 4.0], gradient_bits=1e6, bandwidth_hz=1e6)
    >>> hungarian_search(inst).objective_s
    3.5
    """
    return _descending_search("hungarian-search", instance, time_limit, _lsap_perfect_matching)


# --------------------------------------------------------------------------------------
# The MILP oracle: a start, a bound, a size check, then HiGHS
# --------------------------------------------------------------------------------------
#: Seconds per usable pair to build the scaled P1 MILP (:func:`models.p1.build_p1_milp`
#: with ``upper_bound_s``) and hand it to HiGHS, a conservative rate for :func:`milp`'s
#: decision whether the model can be built in the time left.  Measured on the
#: project's 2-core machine (Pyomo 6.10, 2026-12): 22-36 us per pair to build and
#: 24-27 us to hand over (K = 2000-5000, M = 48, 5,000-225,000 pairs), about 55 us
#: in all; taken twice that, for a loaded machine.
MILP_BUILD_S_PER_PAIR = 1.1e-4


def elementary_bound(cost: np.ndarray) -> float:
    """A lower bound (s) on P1: every block needs some device that holds it.

    .. math:: T^* \\ge \\max_m \\min_k c_{km}

    ``cost`` is :meth:`Instance.p1_cost` (inf where memory fails).  O(KM).

    >>> elementary_bound(np.array([[1.0, 5.0], [2.0, 3.0]]))
    3.0
    """
    return float(np.max(np.min(cost, axis=0)))


def memory_wall(prefix: np.ndarray, M: int) -> str | None:
    """Why no assignment fits the memory budgets, or None if one does (Proposition 1 on the memory prefix).

    With ``prefix[k]`` the number of blocks device k can hold, the devices
    that can take block j or a deeper one number ``H_j = #{k : prefix[k] > j}``,
    and Hall's condition reads ``H_j >= M - j`` for every j (0-based; see
    :func:`hall_check`).  The reason names the deepest block at which it
    fails: a proof of infeasibility.  O(K + M).

    >>> memory_wall(np.array([2, 1, 1]), 2) is None
    True
    >>> print(memory_wall(np.array([3, 1, 1]), 3))   # doctest: +NORMALIZE_WHITESPACE
    memory wall: blocks 1..2 need 2 distinct devices, but only 1 can hold block 1
    or a deeper one (Hall's condition, Proposition 1)
    """
    K = prefix.shape[0]
    if M > K:
        return f"M = {M} blocks > K = {K} devices"
    if hall_check(prefix, M):
        return None
    at_most = np.cumsum(np.bincount(np.minimum(prefix, M), minlength=M + 1))[:M]   # #{k : prefix[k] <= j}
    holders = K - at_most                                                          # H_j
    j = int(np.flatnonzero(holders < M - np.arange(M))[-1])
    proof = "(Hall's condition, Proposition 1)"
    if j == M - 1:
        return f"memory wall: no device can hold block {j} {proof}"
    return (f"memory wall: blocks {j}..{M - 1} need {M - j} distinct devices, "
            f"but only {int(holders[j])} can hold block {j} or a deeper one {proof}")


class MilpStart(NamedTuple):
    """What :func:`milp` knows before HiGHS runs."""

    assignment: np.ndarray   #: a valid C1-C3 assignment, ``assignment[m]`` = device of block m
    upper_s: float           #: its latency (s): an upper bound on the optimum
    lower_s: float           #: a proven lower bound on the optimum (s)
    matchings: int           #: bisection steps done
    complete: bool           #: the bisection ended (then ``lower_s == upper_s``)


def _milp_start(instance: Instance, sw: Stopwatch) -> MilpStart:
    """A start assignment, its latency and a lower bound for :func:`milp`, within the clock.

    Call only when the memory graph has a matching (:func:`memory_wall` is None).

    1. *A first assignment*: Proposition 1's matching on the memory prefix
       (:func:`assignment_from_counts`), valid because Hall's condition holds; O(K log K).
    2. *Bisection* over the distinct latencies between the elementary bound
       (:func:`elementary_bound`) and that assignment's latency, each step a
       maximum bipartite matching (SciPy) on the pairs under the threshold:
       a perfect one is a better start, a failed one proves the optimum is
       above the threshold (the matching is maximum).  O(log(KM)) matchings of
       O(KM sqrt(K + M)).

    The clock is read before every matching: when the time is up the best
    start so far and the bound proven so far are returned.  The MILP needs
    the start only as an upper bound; the optimum and its proof come from HiGHS.
    """
    M = instance.M
    cost = instance.p1_cost()
    blocks = np.arange(M)
    start = assignment_from_counts(instance.memory_prefix, M)
    upper = float(cost[start, blocks].max())
    # candidates: the distinct latencies in [elementary bound, upper]; the optimum is one of them
    values = np.unique(cost[cost <= upper])
    lo, hi = int(np.searchsorted(values, elementary_bound(cost))), values.size - 1
    matchings = 0
    while lo < hi and not sw.expired():   # invariant: optimum in values[lo..hi], a start under values[hi]
        mid = (lo + hi) // 2
        match = _perfect_matching(cost <= values[mid])
        matchings += 1
        if match is None:
            lo = mid + 1
        else:
            hi, start = mid, np.asarray(match, dtype=int)
    upper = float(cost[start, blocks].max())
    return MilpStart(start, upper, float(values[lo]), matchings, lo >= hi)


def milp_build_estimate_s(n_pairs: int) -> float:
    """Seconds to build the scaled P1 MILP with ``n_pairs`` usable pairs and hand it to HiGHS (conservative).

    .. math:: t_\\text{build} \\approx r\\,|P|, \\qquad r = \\text{MILP\\_BUILD\\_S\\_PER\\_PAIR}

    >>> milp_build_estimate_s(10_000)
    1.1
    """
    return MILP_BUILD_S_PER_PAIR * n_pairs


@solves(name="milp", problem="P1")
def milp(instance: Instance, time_limit: float | None = None) -> Result:
    """Solve P1 exactly as the Pyomo MILP of :func:`models.p1.build_p1_milp` with HiGHS.

    The method, in order, each step on the clock:

    1. *Infeasibility proofs* before building anything: M > K, or Hall's
       condition fails on the pairs that fit memory (:func:`memory_wall`).
    2. *A start* (:func:`_milp_start`): a valid assignment of latency U and a
       lower bound L, by bisection with bipartite matchings.
    3. *The size check*: the model keeps only the pairs
       :math:`P(U) = \\{(k,m) : \\mu_m \\le \\mathrm{cap}_k, c_{km} \\le U\\}`
       (:func:`models.p1.usable_pairs`; a slower pair is in no assignment
       better than the start).  If building it would take longer than the time
       left (:func:`milp_build_estimate_s`), the method stops at once.
    4. *The scaled model*, ``build_p1_milp(instance, upper_bound_s=U)``:
       T and the latency rows in units of U, memory in units of each budget,
       so that every coefficient and bound HiGHS sees is in [0, 1] at any
       magnitude of the latencies, and HiGHS's absolute tolerance
       ``MILP_FEASTOL`` is relative to the answer.
    5. *HiGHS* with the time left after the build, less the build's own
       duration again (handing the model over takes about as long as
       building it, and HiGHS's clock starts only after that).

    The objective is recomputed from the returned assignment (a matrix
    entry), so it carries no solver tolerance; HiGHS's dual bound, times U,
    is reported as ``bound_s`` (never below L).  Stopped before HiGHS has an
    incumbent, or before HiGHS runs, the method returns status ``time_limit``
    with the start as incumbent, L as bound and a message saying where it stopped.

    Complexity: O(KM) for the proofs and the pair filter, O(log(KM))
    matchings of O(KM sqrt(K + M)) for the start, O(|P(U)|) to build the
    model, then HiGHS's branch and bound, exponential in the worst case.
    Measured in ``docs/performance.md``.
    """
    sw = Stopwatch(time_limit)
    why = memory_wall(instance.memory_prefix, instance.M)
    if why is not None:   # a proof: HiGHS would say the same after a full model
        return p1_infeasible("milp", sw, instance, why)
    start = _milp_start(instance, sw)

    def stopped(where: str) -> Result:
        found = ("the bisection ended, so the start is optimal by its matchings" if start.complete
                 else "the bound proven by the bisection so far")
        return p1_solution("milp", instance, start.assignment, sw, Status.TIME_LIMIT, bound=start.lower_s,
                         message=f"time limit {where}; HiGHS not run: the start assignment and {found}",
                         info={"start_matchings": start.matchings})

    if sw.expired():
        return stopped(f"in the start heuristic after {start.matchings} matching(s)")
    if start.upper_s <= 0.0:   # a round of 0 s: nothing is faster (T >= 0)
        return p1_solution("milp", instance, start.assignment, sw, message="the start takes 0 s: optimal as T >= 0")
    # Pyomo and HiGHS are imported only now (about 1 s, once per process), before the clock is read again
    from models.p1 import build_p1_milp, usable_pairs

    from .pyomo_solve import solve_with_highs

    n_pairs = usable_pairs(instance, start.upper_s)[0].size
    build_s = milp_build_estimate_s(n_pairs)
    if sw.remaining is not None and build_s > sw.remaining:
        return stopped(f"before building the MILP: it would take about {build_s:.3g} s to build "
                       f"({n_pairs} usable pairs), more than the {sw.remaining:.3g} s left")
    began_s = sw.elapsed
    model = build_p1_milp(instance, upper_bound_s=start.upper_s)
    built_s = sw.elapsed - began_s
    highs_s = None if sw.remaining is None else sw.remaining - built_s   # hand-over takes about built_s
    if highs_s is not None and highs_s <= 0.0:
        return stopped(f"after building the MILP ({built_s:.3g} s, {n_pairs} usable pairs): no time left for HiGHS")
    out = solve_with_highs(model, highs_s)
    if out.status == Status.INFEASIBLE:   # unreachable: the start is a feasible point of the model
        return Result(solver="milp", problem="P1", status=Status.ERROR, seconds=sw.elapsed,
                      message="HiGHS called the P1 MILP infeasible although the start assignment is feasible")
    bound = max(start.lower_s, out.bound * start.upper_s) if out.bound is not None else start.lower_s
    if not out.has_solution:
        if out.status == Status.TIME_LIMIT:
            return p1_solution("milp", instance, start.assignment, sw, Status.TIME_LIMIT, bound=bound,
                             message=f"{out.message}; no HiGHS incumbent: the start assignment")
        return Result(solver="milp", problem="P1", status=out.status, seconds=sw.elapsed, message=out.message)
    # each block's device: its variable nearest 1 (x exists only on the usable pairs)
    assignment, chosen = np.zeros(instance.M, dtype=int), np.full(instance.M, -np.inf)
    for (k, m), var in model.x.items():
        if var.value is not None and var.value > chosen[m]:
            assignment[m], chosen[m] = k, var.value
    status = out.status
    if status != Status.OPTIMAL and start.upper_s < p1_objective(instance, assignment):
        assignment = start.assignment   # the start is better than HiGHS's incumbent
    return p1_solution("milp", instance, assignment, sw, status,
                     bound=bound if status != Status.OPTIMAL else None, message=out.message,
                     info={"usable_pairs": n_pairs, "start_matchings": start.matchings})
