"""P1 (BA): block allocation with the bandwidth split equally, solved six ways.

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
compute_aware, comm_aware
    The paper's benchmarks (Sec. VI-A4); they ignore memory, so they may hit the
    memory wall and then report ``no_solution`` (a fact about the benchmark,
    not the instance); with ``M > K`` they report ``infeasible`` (a proof).

References
----------
.. [1] "Resource Management for Low-latency Cooperative Fine-tuning of
   Foundation Models at the Network Edge", Sec. IV (Proposition 1, Algorithm 2).
.. [2] P. Hall, "On representatives of subsets", J. London Math. Soc., 1935.
"""
from __future__ import annotations

import heapq
from typing import Callable, NamedTuple

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching

from instances import Instance

from .result import Result, Status, Stopwatch, equal_bandwidth

Trace = Callable[[str], None]


# --------------------------------------------------------------------------------------
# Proposition 1 and the assignment it constructs
# --------------------------------------------------------------------------------------
def hall_check(counts: np.ndarray, M: int) -> bool:
    """Proposition 1: is there a matching of all M blocks given prefix lengths ``counts``?

    Parameters
    ----------
    counts : (K,) int array
        ``counts[k]`` = number of blocks (a prefix 1..n_k) device k may take.
    M : int
        Number of blocks.

    Examples
    --------
    >>> hall_check(np.array([2, 1, 0]), 2)   # block 2 -> device 0, block 1 -> device 1
    True
    >>> hall_check(np.array([1, 1, 5]), 3)   # only one device reaches block 2
    False
    """
    K = counts.shape[0]
    if M > K:
        return False
    # n_(K-M+i) >= i for all i  <=>  #{k : n_k <= j} <= K - M + j for j = 0..M-1
    # (a histogram instead of a sort: O(K + M))
    at_most = np.cumsum(np.bincount(np.minimum(counts, M), minlength=M + 1))[:M]
    return bool(np.all(at_most <= K - M + np.arange(M)))


def hall_slack(counts: np.ndarray, M: int) -> np.ndarray:
    """``n_(K-M+i) - i`` for i = 1..M: Proposition 1 holds iff all are >= 0."""
    ranked = np.sort(counts)[counts.shape[0] - M:]
    return ranked - np.arange(1, M + 1)


def assignment_from_counts(counts: np.ndarray, M: int) -> np.ndarray:
    """The matching of Proposition 1's proof: block i to the device of rank K-M+i.

    Returns ``assignment`` with ``assignment[m]`` the device of block m (0-based).
    Ties in the counts are broken by device index, so the result is deterministic.
    """
    K = counts.shape[0]
    order = np.argsort(counts, kind="stable")
    return order[K - M:].copy()   # rank K-M+i (1-based i) takes block i


def _check_sorted_rows(cost: np.ndarray) -> None:
    finite = np.isfinite(cost)
    # infinite entries (memory wall) must form a suffix of each row
    if cost.shape[1] > 1:
        if np.any(~finite[:, :-1] & finite[:, 1:]):
            k = int(np.argwhere(~finite[:, :-1] & finite[:, 1:])[0][0])
            raise ValueError(f"crunch needs sorted rows: row {k} has a forbidden pair before an allowed one")
        with np.errstate(invalid="ignore"):
            bad = np.diff(cost, axis=1) < 0
        if bad.any():
            k, m = (int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"crunch needs rows non-decreasing in the block depth (Proposition 1 relies on it): "
                f"row {k} has cost[{k},{m + 1}] = {cost[k, m + 1]!r} < cost[{k},{m}] = {cost[k, m]!r}")


#: Up to this many rows :func:`bottleneck_rows` sorts the whole matrix's columns at once:
#: a handful of NumPy calls, where the row filter would cost more than it saves.
DENSE_ROWS = 128

#: Rows per slice when a cost matrix is scanned in pieces: keeps CRUNCH's working
#: memory at a few MB (a slice of 4096 x M costs) however many devices there are.
CHUNK_ROWS = 4096


def bottleneck_rows(base: np.ndarray, offset: np.ndarray, prefix: np.ndarray) -> tuple[float, np.ndarray] | None:
    """CRUNCH on the implicit row-sorted matrix ``c[k,m] = base[k,m] + offset[k]`` (m < prefix[k]).

    .. math:: c_{km} = b_{km} + o_k \\;(m < p_k), \\qquad c_{km} = +\\infty \\;(m \\ge p_k),
              \\qquad T^* = \\max_{m} \\; \\big(M - m\\big)\\text{-th smallest of } c_{\\cdot m}

    (0-based m; see the module docstring for why this is Algorithm 2's answer).
    The (K, M) cost matrix is never built: P1 passes ``base = tcp`` (s),
    ``offset`` = the equal-split upload time (s) and ``prefix`` = the memory
    prefix, so C3 costs nothing.

    Parameters
    ----------
    base : (K, M) array, rows non-decreasing (not re-checked here)
    offset : (K,) array, added to every entry of the row
    prefix : (K,) int array, entries ``m >= prefix[k]`` are forbidden

    Returns
    -------
    (value, assignment) or None
        ``value`` = ``fl(base[k,m] + offset[k])`` for some allowed pair, the
        least bottleneck; ``assignment`` = :func:`assignment_from_counts` of the
        prefix lengths under ``value`` (ties to the higher device index, exactly
        as the cut-by-cut walk leaves them).  ``None`` if no assignment exists.

    Notes
    -----
    Up to :data:`DENSE_ROWS` rows the columns are sorted whole (O(KM log K), a
    few NumPy calls).  Complexity: O(K) for the bound U and the row filter, O(nM) for the order
    statistics (``np.partition`` on slices of :data:`CHUNK_ROWS` rows, keeping
    each column's M smallest), O(M^2 log M) to sort those, O(n log M) for the
    prefix counts under ``T*`` (binary search per row; one comparison pass,
    O(nM), when the n rows fit one slice) and O(n log n) for the assignment,
    where n <= K is the number of rows with ``c[k, 0] <= U``: O(KM + K log K)
    at worst, O(K + nM) typically.  Extra memory O(K + CHUNK_ROWS * M),
    independent of the size of the matrix.  Hall's condition needs no
    separate test: with M holders of the deepest block it holds, and
    otherwise it fails exactly when some order statistic is ``inf``.

    Examples
    --------
    >>> base = np.array([[1., 5.], [2., 3.], [4., 9.]])
    >>> value, assignment = bottleneck_rows(base, np.zeros(3), np.array([2, 2, 1]))
    >>> float(value), assignment.tolist()
    (3.0, [0, 1])
    >>> bottleneck_rows(base, np.zeros(3), np.array([1, 1, 1])) is None   # nobody holds block 1
    True
    """
    K, M = base.shape
    if M > K:
        return None
    prefix = np.minimum(np.asarray(prefix), M)
    columns = np.arange(M)
    if K <= DENSE_ROWS:
        # few rows: the whole matrix at once, each column sorted (no filter: it would cost more)
        cost = base + offset[:, None]
        cost[columns[None, :] >= prefix[:, None]] = np.inf
        value = float(np.sort(cost, axis=0)[M - 1 - columns, columns].max())
        if not np.isfinite(value):   # some block i has fewer than M - i + 1 holders: Hall fails
            return None
        return value, assignment_from_counts(np.count_nonzero(cost <= value, axis=1), M)
    # U = M-th smallest cost of the deepest block: any M devices that hold it finish by U,
    # so Hall's condition holds and T* <= U
    holders = np.flatnonzero(prefix >= M)
    if holders.size >= M:
        upper = np.partition(base[holders, M - 1] + offset[holders], M - 1)[M - 1]
        rows = np.flatnonzero((prefix >= 1) & (base[:, 0] + offset <= upper))
    else:                      # too few devices hold the deepest block: no cheap bound, scan all
        rows = np.flatnonzero(prefix >= 1)
        if rows.size < M:      # Hall fails for the set of all blocks
            return None
    if rows.size <= CHUNK_ROWS:
        # one slice: the (n, M) costs of the kept rows, each column's M smallest, sorted
        cost = base[rows]                               # a copy (fancy index): add in place
        cost += offset[rows, None]
        cost[columns[None, :] >= prefix[rows, None]] = np.inf
        smallest = np.partition(cost, M - 1, axis=0)[:M] if rows.size > M else cost.copy()
        smallest.sort(axis=0)
        value = float(smallest[M - 1 - columns, columns].max())
        if not np.isfinite(value):   # some block i has fewer than M - i + 1 holders: Hall fails
            return None
        counts = np.count_nonzero(cost <= value, axis=1)   # n_k(T*): the row's entries <= T*
        return value, rows[assignment_from_counts(counts, M)]
    # each column's M smallest entries among the kept rows, slice by slice
    smallest = np.full((M, M), np.inf)                  # row m: the M smallest of column m so far
    for first in range(0, rows.size, CHUNK_ROWS):
        chunk = rows[first:first + CHUNK_ROWS]
        cost = base[chunk]                              # a copy (fancy index): add in place
        cost += offset[chunk, None]
        cost[columns[None, :] >= prefix[chunk, None]] = np.inf
        pool = np.concatenate([smallest, cost.T], axis=1)
        del cost
        pool.partition(M - 1, axis=1)                   # in place: no third slice-sized array
        smallest = pool[:, :M].copy()                   # a copy, so the pool is freed
        del pool
    smallest.sort(axis=1)
    value = float(smallest[columns, M - 1 - columns].max())
    if not np.isfinite(value):      # some block i has fewer than M - i + 1 holders: Hall fails
        return None
    counts = prefix_counts(base, offset, prefix, rows, value)
    # the M devices with the largest counts all have counts >= 1, so all are in ``rows``
    return value, rows[assignment_from_counts(counts, M)]


def prefix_counts(base: np.ndarray, offset: np.ndarray, prefix: np.ndarray, rows: np.ndarray,
                  threshold: float) -> np.ndarray:
    """n_k(T) for k in ``rows``: the number of allowed entries ``base[k,m] + offset[k] <= T``.

    Rows are sorted, so each count is a binary search over 0..prefix[k],
    vectorised over the rows: ``ceil(log2(M + 1))`` gathers of one entry per row,
    O(|rows| log M) in all.

    >>> base = np.array([[1., 2., 3.], [1., 1., 5.]])
    >>> prefix_counts(base, np.array([0., 1.]), np.array([3, 2]), np.arange(2), 2.0).tolist()
    [2, 2]
    """
    off = offset[rows]
    lo = np.zeros(rows.size, dtype=np.intp)                           # n_k >= lo
    hi = np.minimum(prefix[rows], base.shape[1]).astype(np.intp)       # n_k <= hi
    while True:
        active = lo < hi
        if not active.any():
            return lo
        mid = (lo + hi + 1) // 2                                       # is entry mid-1 <= T ?
        ok = base[rows, np.maximum(mid - 1, 0)] + off <= threshold
        lo = np.where(active & ok, mid, lo)
        hi = np.where(active & ~ok, mid - 1, hi)


def bottleneck_crunch(cost: np.ndarray, trace: Trace | None = None) -> tuple[float, np.ndarray] | None:
    """Optimal bottleneck assignment of a row-sorted cost matrix (CRUNCH).

    Solves

    .. math:: \\min_{\\sigma} \\max_m \\; c_{\\sigma(m), m}

    over injective maps :math:`\\sigma` from the M columns (blocks) to the K rows
    (devices), where ``inf`` marks forbidden pairs.

    Parameters
    ----------
    cost : (K, M) array
        Rows non-decreasing; ``inf`` entries allowed only as a suffix of a row.
    trace : callable, optional
        Called with one line of text per cut / recount / check step (the literal
        Algorithm 2).  Without it the same answer is read off Proposition 1 in
        closed form by :func:`bottleneck_rows`.

    Returns
    -------
    (value, assignment) or None
        ``None`` when no assignment exists (M > K or a memory wall).

    Raises
    ------
    ValueError
        If a row is not non-decreasing: Proposition 1 would then be wrong.

    Notes
    -----
    Complexity: O(KM) to validate the rows, then :func:`bottleneck_rows`
    (O(KM + K log K) at worst).  The traced walk makes up to KM cuts, each a
    heap step and an O(K log K) check: O(KM K log K) in all.

    Examples
    --------
    >>> cost = np.array([[1., 5.], [2., 3.], [4., np.inf]])
    >>> value, assignment = bottleneck_crunch(cost)
    >>> float(value), assignment.tolist()
    (3.0, [0, 1])
    >>> bool(max(cost[k, m] for m, k in enumerate(assignment)) == value)
    True
    """
    cost = np.asarray(cost, dtype=float)
    if cost.ndim != 2:
        raise ValueError("cost must be a 2-D array (devices x blocks)")
    if np.isnan(cost).any():
        raise ValueError("cost contains NaN")
    _check_sorted_rows(cost)
    K, M = cost.shape
    counts_all = np.isfinite(cost).sum(axis=1)
    if not hall_check(counts_all, M):
        if trace:
            trace(f"initial check fails: counts n = {counts_all.tolist()} (M={M}, K={K}); no feasible assignment")
        return None
    if trace is not None:
        value, assignment, _, _ = _crunch_walk(cost, counts_all, trace)
        return value, assignment
    return bottleneck_rows(cost, np.zeros(K), counts_all)


#: :func:`crunch_literal` reads the clock once per this many cuts.
LITERAL_CLOCK_CUTS = 64


def _crunch_walk(cost: np.ndarray, counts: np.ndarray, trace: Trace | None,
                 sw: Stopwatch | None = None) -> tuple[float, np.ndarray, int, bool]:
    """Algorithm 2 literally: cut the largest entry, recount its row, check.

    Returns ``(value, assignment, cuts, finished)``.  ``finished`` is False only
    when ``sw`` expired first; then ``value`` is the largest remaining entry and
    ``assignment`` the matching of the current counts (Proposition 1 still holds).
    The check is Proposition 1 on the counts: :func:`hall_slack` when tracing
    (its slack is printed), :func:`hall_check` otherwise (the same test, by histogram).
    """
    K, M = cost.shape
    counts = counts.copy()
    if trace:
        trace(f"init: memory-feasible matrix, counts n = {counts.tolist()}; "
              f"Hall slack n_(K-M+i) - i = {hall_slack(counts, M).tolist()} -> feasible")
    # the largest remaining entry is the last non-zero of some row: keep a heap of row ends
    heap = [(-cost[k, counts[k] - 1], k) for k in range(K) if counts[k] > 0]
    heapq.heapify(heap)
    step = 0
    while heap:
        if sw is not None and step % LITERAL_CLOCK_CUTS == 0 and sw.expired():
            return float(-heap[0][0]), assignment_from_counts(counts, M), step, False
        neg, k = heapq.heappop(heap)
        value, m = -neg, counts[k] - 1
        step += 1
        counts[k] -= 1                                     # cut
        if trace:
            slack = hall_slack(counts, M)                  # recount + check
            ok = bool(np.all(slack >= 0))
            trace(f"step {step}: cut c[{k},{m}] = {value:.6g}; recount n[{k}] = {counts[k]}; "
                  f"check Hall slack {slack.tolist()} -> {'feasible' if ok else 'INFEASIBLE'}")
        else:
            ok = hall_check(counts, M)                     # recount + check
        if not ok:
            counts[k] += 1                                  # undo: the last feasible matrix
            assignment = assignment_from_counts(counts, M)
            if trace:
                trace(f"stop: optimal latency = last removed value {value:.6g}; "
                      f"assignment (block -> device) = {assignment.tolist()}")
            return float(value), assignment, step, True
        if counts[k] > 0:
            heapq.heappush(heap, (-cost[k, counts[k] - 1], k))
    raise AssertionError("unreachable: cutting every entry must break feasibility")


# --------------------------------------------------------------------------------------
# Solvers on instances
# --------------------------------------------------------------------------------------
def p1_objective(instance: Instance, assignment) -> float:
    """Round latency (s) of ``assignment`` with equal bandwidth: max_m c[a_m, m].  O(M)."""
    assignment = np.asarray(assignment, dtype=int)
    chosen = instance.compute_latency[assignment, np.arange(instance.M)] + instance.upload_equal_s[assignment]
    return float(chosen.max())


def _infeasible(solver: str, sw: Stopwatch, instance: Instance, why: str | None = None) -> Result:
    if why is None:
        why = (f"M = {instance.M} blocks > K = {instance.K} devices" if instance.M > instance.K
               else "memory wall: no assignment of all blocks to distinct devices fits the memory budgets")
    return Result(solver, "P1", Status.INFEASIBLE, seconds=sw.elapsed, message=why)


def _solution(solver: str, instance: Instance, assignment, sw: Stopwatch, status=Status.OPTIMAL,
              bound=None, message="", info=None, problem="P1", objective=None) -> Result:
    """The Result of ``assignment`` with equal bandwidth; ``objective`` (s) if the caller already has it."""
    assignment = np.asarray(assignment, dtype=int)
    if objective is None:
        objective = p1_objective(instance, assignment)
    if status == Status.OPTIMAL and bound is None:
        bound = objective
    # a list of ints and the (K,) array: Result converts them without a per-element NumPy scalar
    return Result(solver, problem, status, objective, bound, sw.elapsed, assignment.tolist(),
                  equal_bandwidth(instance.K, assignment, instance.bandwidth_hz), message, info or {})


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
        return _infeasible("crunch", sw, instance)
    value, assignment = found
    return _solution("crunch", instance, assignment, sw, objective=value)


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
        return _infeasible("crunch-literal", sw, instance, why)
    cost = instance.p1_cost()
    counts = np.isfinite(cost).sum(axis=1)
    value, assignment, cuts, done = _crunch_walk(cost, counts, None, sw)
    if not done:
        return _solution("crunch-literal", instance, assignment, sw, Status.TIME_LIMIT, bound=elementary_bound(cost),
                         message=f"time limit after {cuts} cuts: the assignment of the current counts "
                                 f"and the elementary bound max_m min_k c[k, m]", info={"cuts": cuts})
    return _solution("crunch-literal", instance, assignment, sw, info={"cuts": cuts}, objective=value)


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
            return _solution(solver, instance, best, sw, Status.TIME_LIMIT, bound=elementary_bound(cost),
                             message=f"time limit after {step + 1} of at most {values.size} thresholds; "
                                     f"the last matching found and the elementary bound max_m min_k c[k, m]")
    if best is None:
        return _infeasible(solver, sw, instance)
    return _solution(solver, instance, best, sw, info={"thresholds_tried": int(step + 1)})


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
        return _infeasible("milp", sw, instance, why)
    start = _milp_start(instance, sw)

    def stopped(where: str) -> Result:
        found = ("the bisection ended, so the start is optimal by its matchings" if start.complete
                 else "the bound proven by the bisection so far")
        return _solution("milp", instance, start.assignment, sw, Status.TIME_LIMIT, bound=start.lower_s,
                         message=f"time limit {where}; HiGHS not run: the start assignment and {found}",
                         info={"start_matchings": start.matchings})

    if sw.expired():
        return stopped(f"in the start heuristic after {start.matchings} matching(s)")
    if start.upper_s <= 0.0:   # a round of 0 s: nothing is faster (T >= 0)
        return _solution("milp", instance, start.assignment, sw, message="the start takes 0 s: optimal as T >= 0")
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
        return Result("milp", "P1", Status.ERROR, seconds=sw.elapsed,
                      message="HiGHS called the P1 MILP infeasible although the start assignment is feasible")
    bound = max(start.lower_s, out.bound * start.upper_s) if out.bound is not None else start.lower_s
    if not out.has_solution:
        if out.status == Status.TIME_LIMIT:
            return _solution("milp", instance, start.assignment, sw, Status.TIME_LIMIT, bound=bound,
                             message=f"{out.message}; no HiGHS incumbent: the start assignment")
        return Result("milp", "P1", out.status, None, None, sw.elapsed, message=out.message)
    # each block's device: its variable nearest 1 (x exists only on the usable pairs)
    assignment, chosen = np.zeros(instance.M, dtype=int), np.full(instance.M, -np.inf)
    for (k, m), var in model.x.items():
        if var.value is not None and var.value > chosen[m]:
            assignment[m], chosen[m] = k, var.value
    status = out.status
    if status != Status.OPTIMAL and start.upper_s < p1_objective(instance, assignment):
        assignment = start.assignment   # the start is better than HiGHS's incumbent
    return _solution("milp", instance, assignment, sw, status,
                     bound=bound if status != Status.OPTIMAL else None, message=out.message,
                     info={"usable_pairs": n_pairs, "start_matchings": start.matchings})


def _benchmark(name: str, instance: Instance, order: np.ndarray, what: str, problem: str) -> Result:
    """Give the deepest block to the best device of ``order``, the next deepest to the next, ..."""
    sw = Stopwatch()
    M = instance.M
    if M > instance.K:
        res = _infeasible(name, sw, instance)
        res.problem = problem
        return res
    chosen = order[:M]
    assignment = chosen[::-1].copy()   # block M-1 (deepest) -> chosen[0] (best)
    fits = instance.memory_ok[assignment, np.arange(M)]
    if not fits.all():
        m = int(np.argmin(fits))
        k = int(assignment[m])
        return Result(name, problem, Status.NO_SOLUTION, seconds=sw.elapsed,
                      message=f"the benchmark hit the memory wall: block {m} ({instance.block_memory[m]:.4g} "
                              f"bytes) on device {k} ({instance.device_memory[k]:.4g} bytes), chosen by {what}")
    return _solution(name, instance, assignment, sw, Status.FEASIBLE, problem=problem,
                     message="equal bandwidth (benchmark)")


def compute_aware(instance: Instance, time_limit: float | None = None, problem: str = "P1") -> Result:
    """Computation-aware benchmark (Sec. VI-A4): the M fastest devices, deepest blocks to the fastest.

    Speed is measured by the device's latency for the deepest block,
    ``tcp[k, M-1]`` (proportional to 1/f_k in the paper's model); ties go to
    the lower index.  Memory is ignored when choosing, then checked.
    Complexity: O(K log K) (one sort of the devices).
    """
    order = np.lexsort((np.arange(instance.K), instance.compute_latency[:, -1]))
    return _benchmark("compute-aware", instance, order, "computation speed", problem)


def comm_aware(instance: Instance, time_limit: float | None = None, problem: str = "P1") -> Result:
    """Communication-aware benchmark (Sec. VI-A4): the M best channels, deepest blocks to the best.

    Channel quality is the spectral efficiency R_k; ties go to the lower index.
    Complexity: O(K log K) (one sort of the devices).
    """
    order = np.lexsort((np.arange(instance.K), -instance.spectral_efficiency))
    return _benchmark("comm-aware", instance, order, "channel quality", problem)
