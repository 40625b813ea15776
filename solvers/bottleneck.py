"""Bottleneck assignment on row-sorted cost matrices: Proposition 1 and CRUNCH as array functions.

The array library behind :mod:`solvers.p1` (P1's methods), :mod:`solvers.p2_exact`
and :mod:`solvers.dual_ascent`: no :class:`~instances.Instance`, no
:class:`~solvers.result.Result`, only cost matrices (or the implicit matrix
``base[k, m] + offset[k]`` cut at a prefix) and the assignments they admit.

A *row-sorted* cost matrix has every row non-decreasing in the block depth m
(``+inf`` entries, forbidden pairs, forming a suffix of each row).  For a
threshold T the blocks device k may take then form a prefix ``0..n_k(T)-1``,
and Hall's condition on such nested neighbourhoods collapses to Proposition 1
(:func:`hall_check`); the first threshold at which it fails is one order
statistic per column, read off without any matching (:func:`bottleneck_rows`,
:func:`bottleneck_crunch`).  The proofs are in the docstring of :mod:`solvers.p1`.

With capacities (G2 of the problem family: row k may take up to c_k columns)
the same holds with each device counted c_k times: Hall's condition on nested
prefixes becomes :func:`capacity_hall_check`, its constructive proof
:func:`capacity_assignment`, and the least bottleneck one *weighted* order
statistic per column, :func:`bottleneck_capacity` (proofs in their docstrings).

References
----------
.. [1] "Resource Management for Low-latency Cooperative Fine-tuning of
   Foundation Models at the Network Edge", Sec. IV (Proposition 1, Algorithm 2).
.. [2] P. Hall, "On representatives of subsets", J. London Math. Soc., 1935.
"""
from __future__ import annotations

import heapq
from typing import Callable

import numpy as np

Trace = Callable[[str], None]

# --------------------------------------------------------------------------------------
# Proposition 1 and the assignment it constructs
# --------------------------------------------------------------------------------------
def hall_check(counts: np.ndarray, M: int) -> bool:
    """Proposition 1: is there a matching of all M blocks given prefix lengths ``counts``?

    Parameters
    ----------
    counts : (K,) int array
        ``counts[k]`` = number of blocks (a prefix 0..n_k-1) device k may take.
    M : int
        Number of blocks.

    Examples
    --------
    >>> hall_check(np.array([2, 1, 0]), 2)   # block 1 -> device 0, block 0 -> device 1
    True
    >>> hall_check(np.array([1, 1, 5]), 3)   # only one device reaches blocks 1 and 2
    False
    """
    K = counts.shape[0]
    if M > K:
        return False
    # n_(K-M+j) >= j + 1 for all j  <=>  #{k : n_k <= j} <= K - M + j for j = 0..M-1
    # (a histogram instead of a sort: O(K + M))
    at_most = np.cumsum(np.bincount(np.minimum(counts, M), minlength=M + 1))[:M]
    return bool(np.all(at_most <= K - M + np.arange(M)))


def hall_slack(counts: np.ndarray, M: int) -> np.ndarray:
    """``n_(K-M+j) - (j + 1)`` for j = 0..M-1 (0-based ranks): Proposition 1 holds iff all are >= 0."""
    ranked = np.sort(counts)[counts.shape[0] - M:]
    return ranked - np.arange(1, M + 1)


def assignment_from_counts(counts: np.ndarray, M: int) -> np.ndarray:
    """The matching of Proposition 1's proof: block j to the device of rank K-M+j (0-based).

    Returns ``assignment`` with ``assignment[m]`` the device of block m (0-based).
    Ties in the counts are broken by device index, so the result is deterministic.
    """
    K = counts.shape[0]
    order = np.argsort(counts, kind="stable")
    return order[K - M:].copy()   # rank K-M+j takes block j


# --------------------------------------------------------------------------------------
# Proposition 1 with capacities (G2: device k takes up to c_k blocks)
# --------------------------------------------------------------------------------------
def capacity_holders(counts: np.ndarray, capacity: np.ndarray, M: int) -> np.ndarray:
    """H_j = sum of ``min(c_k, M)`` over the devices with ``counts[k] > j``, for j = 0..M-1.

    The block *slots* that can take block j or a deeper one, when device k may
    take up to ``capacity[k]`` blocks of its prefix ``0..counts[k]-1``.  With
    every capacity 1 it is the number of devices ``#{k : n_k > j}`` of
    Proposition 1.  O(K + M), exact integers.

    >>> capacity_holders(np.array([3, 1, 0]), np.array([2, 5, 1]), 3).tolist()
    [5, 2, 2]
    """
    counts = np.minimum(np.asarray(counts), M)
    slots = np.minimum(np.asarray(capacity, dtype=np.int64), M)
    by_count = np.zeros(M + 1, dtype=np.int64)
    np.add.at(by_count, counts, slots)                      # slots of the devices with n_k = n
    return np.cumsum(by_count[::-1])[::-1][1:]              # H_j = sum over n >= j + 1


def capacity_hall_check(counts: np.ndarray, capacity: np.ndarray, M: int) -> bool:
    """Proposition 1 with capacities: can every block get a device of its prefix, device k taking <= c_k blocks?

    .. math:: \\sum_{k : n_k > j} \\min(c_k, M - j) \\;\\ge\\; M - j \\qquad j = 0, \\dots, M-1.

    *Why (Hall's theorem with capacities).*  Replace device k by ``c_k``
    copies; a block assignment that respects the capacities is a matching of
    the blocks into the copies, which exists iff every set S of blocks has at
    least |S| copies among its neighbours (Hall), i.e.
    ``sum_{k in N(S)} c_k >= |S|``.  The neighbourhoods are nested prefixes:
    the devices that may take a block of S are those that reach its
    shallowest block j, ``N(j) = {k : n_k > j}``, and for a given j the
    largest such S is ``{j, ..., M-1}``, of size M - j.  So the condition is
    ``sum_{k in N(j)} c_k >= M - j`` for every j.  Writing ``min(c_k, M - j)``
    (or ``min(c_k, M)``, as computed) instead of ``c_k`` changes nothing:
    if some device of N(j) has ``c_k >= M - j`` both sides hold, otherwise
    the terms are equal.  With every ``c_k = 1`` this is Proposition 1
    (:func:`hall_check`).  O(K + M).

    >>> capacity_hall_check(np.array([2, 2]), np.array([2, 1]), 3)   # device 0: blocks 0-1, device 1: block 0
    False
    >>> capacity_hall_check(np.array([3, 2]), np.array([2, 1]), 3)   # device 0 reaches block 2
    True
    """
    return bool(np.all(capacity_holders(counts, capacity, M) >= M - np.arange(M)))


def capacity_assignment(counts: np.ndarray, capacity: np.ndarray, M: int) -> np.ndarray:
    """The assignment of the proof of :func:`capacity_hall_check`: ``assignment[m]`` = device of block m.

    List the devices by ascending count (ties by index, as
    :func:`assignment_from_counts`), device k repeated ``min(c_k, M)`` times
    (its *slots*), and give block m the slot ``M - m`` from the end.  Valid
    whenever :func:`capacity_hall_check` holds: the devices with ``n_k > m``
    come last in the list and own at least ``M - m`` slots (Hall), so the last
    ``M - m`` slots, block m's among them, are theirs, and block m is in its
    device's prefix; no device gets more slots than its capacity.  With every
    capacity 1 it is :func:`assignment_from_counts`.  O(K log K + M).

    >>> capacity_assignment(np.array([3, 1, 2]), np.array([2, 1, 1]), 3).tolist()
    [2, 0, 0]
    """
    order = np.argsort(counts, kind="stable")
    slots = np.repeat(order, np.minimum(np.asarray(capacity, dtype=np.int64), M)[order])
    return slots[slots.size - M:].copy()


def bottleneck_capacity(cost: np.ndarray, capacity: np.ndarray) -> tuple[float, np.ndarray] | None:
    """Optimal bottleneck *b-matching* of a row-sorted cost matrix: CRUNCH with capacities.

    .. math:: \\min_{a} \\max_m c_{a(m), m} \\quad\\text{s.t.}\\quad
              |\\{m : a(m) = k\\}| \\le c_k,

    over maps a from the M columns (blocks) to the K rows (devices), ``inf``
    marking forbidden pairs.  With sorted rows the closed form is

    .. math:: T^* = \\max_j s_j, \\qquad
              s_j = \\min\\{t : \\textstyle\\sum_{k : c_{kj} \\le t} \\min(c_k, M) \\ge M - j\\},

    a *weighted* order statistic of each column (the capacities are the
    weights): sort column j, accumulate the capacities, read the entry where
    the sum first reaches M - j.  With every capacity 1, ``s_j`` is the
    (M-j)-th smallest entry of column j: :func:`bottleneck_rows`.

    *Proof.*  At a threshold t, rows sorted, device k may take a prefix of
    ``n_k(t)`` blocks and ``n_k(t) > j`` iff ``c[k, j] <= t``; by
    :func:`capacity_hall_check` a b-matching within the pairs ``<= t``
    exists iff ``H_j(t) = sum_{k : c[k,j] <= t} min(c_k, M) >= M - j`` for
    every j.  ``H_j`` is non-decreasing in t and reaches M - j first at
    ``s_j`` (an entry of column j), so t is feasible iff ``t >= max_j s_j``;
    the latency of an assignment is one of its entries, so the optimum is the
    least feasible entry, ``max_j s_j``.  It is infinite iff no assignment
    exists.  :func:`capacity_assignment` of the counts ``n_k(T*)`` reaches it.

    *Only a few rows matter.*  Let U be the least t at which the devices that
    hold the deepest block with ``c[k, M-1] <= t`` own M slots: they can take
    all M blocks (rows are sorted), so ``T* <= U``.  A row with
    ``c[k, 0] > U`` has no entry ``<= T*``, and in every column it sorts
    after the entry ``s_j <= T*``, so dropping it changes no ``s_j``.

    Parameters
    ----------
    cost : (K, M) array
        Rows non-decreasing; ``inf`` only as a suffix of a row (checked).
    capacity : (K,) int array, each >= 1

    Returns
    -------
    (value, assignment) or None
        ``value`` an entry of ``cost`` (the least bottleneck), ``assignment[m]``
        the device of block m (a device may appear up to ``capacity[k]`` times);
        ``None`` if no assignment exists.

    Raises
    ------
    ValueError
        If a row is not non-decreasing (the closed form would be wrong).

    Notes
    -----
    Complexity: O(KM) to check the rows, O(K log K) for U and the row filter,
    then O(nM log n) to sort the n kept columns' entries; O(KM log K) at worst.

    Examples
    --------
    >>> cost = np.array([[1., 2., 9.], [5., 6., 7.], [1., 1., np.inf]])
    >>> value, assignment = bottleneck_capacity(cost, np.array([3, 1, 2]))
    >>> float(value), assignment.tolist()
    (7.0, [2, 2, 1])
    >>> float(bottleneck_capacity(cost[:, :2], np.array([1, 1, 1]))[0])   # one block each: crunch's answer
    1.0
    >>> bottleneck_capacity(np.array([[1., np.inf], [1., np.inf]]), np.array([5, 5])) is None
    True
    """
    cost = _sorted_cost(cost)
    K, M = cost.shape
    slots = np.minimum(np.asarray(capacity, dtype=np.int64), M)
    if slots.shape != (K,) or np.any(slots < 1):
        raise ValueError("capacity must hold one integer >= 1 per row")
    counts_all = np.isfinite(cost).sum(axis=1)
    if not capacity_hall_check(counts_all, slots, M):
        return None
    # U: the deepest block's weighted order statistic (M slots among its holders); T* <= U
    last = cost[:, M - 1]
    holders = np.flatnonzero(np.isfinite(last))
    order = holders[np.argsort(last[holders], kind="stable")]
    reach = np.cumsum(slots[order])
    rows = np.arange(K)
    if reach.size and reach[-1] >= M:
        upper = last[order[int(np.argmax(reach >= M))]]
        rows = np.flatnonzero(cost[:, 0] <= upper)
    sub, weight = cost[rows], slots[rows]
    order = np.argsort(sub, axis=0, kind="stable")                      # each column ascending
    total = np.cumsum(weight[order], axis=0)                            # slots at or below each entry
    need = M - np.arange(M)
    first = np.argmax(total >= need[None, :], axis=0)                   # where column j first has M - j slots
    columns = np.arange(M)
    value = float(np.take_along_axis(sub, order, axis=0)[first, columns].max())
    if not np.isfinite(value):       # unreachable after the Hall check, kept as a guard
        return None
    counts = np.count_nonzero(sub <= value, axis=1)                     # n_k(T*): a prefix of each row
    return value, rows[capacity_assignment(counts, weight, M)]


def _sorted_cost(cost) -> np.ndarray:
    """``cost`` as a float (K, M) array, refused (``ValueError``) unless it is row-sorted and NaN-free."""
    cost = np.asarray(cost, dtype=float)
    if cost.ndim != 2:
        raise ValueError("cost must be a 2-D array (devices x blocks)")
    if np.isnan(cost).any():
        raise ValueError("cost contains NaN")
    _check_sorted_rows(cost)
    return cost


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
    :func:`solvers.kernels.crunch_rows`.  Up to
    :data:`solvers.kernels.ROUNDS_MAX_BLOCKS` blocks, by rounds of Hall's
    test: Hall's condition holds at L iff every column m has M - m allowed
    entries ``<= L`` (rows are sorted, so the prefix counts under L say how
    many), iff ``T* <= L``; starting from ``L = max(s_{M-2}, s_{M-1})``, the
    (M-m)-th smallest entries of the two deepest columns, each round raises L to
    ``s_m`` of a column m still short of holders, at most M - 1 rounds of
    O(K M), and the last round's counts give the matching.  Beyond, in one
    pass over the rows: column m keeps a max-heap of its M - m smallest
    entries so far, and T* is the largest of the final tops.  U, the M-th
    smallest cost of the deepest block over its holders, bounds T* (any M
    devices holding the deepest block by U hold every block by U: Hall's
    condition holds at U), and so does the largest top once every heap is
    full; a row is scanned only while its entries stay under that bound
    (rows are sorted), and a row whose block 0 is above it has count 0 at T*
    and is skipped.  Then the prefix counts under T* of the scanned rows and
    a counting sort give the matching.  Either way Hall's condition needs no
    separate test: it fails exactly when some column has fewer than M - m
    allowed entries.  Complexity: O(K M^2) at worst for the rounds (2-3
    rounds typically); for the scan O(K) for the bound and the filter,
    O(n' log M) for the heaps, n' <= nM the entries under the running bound
    of the n rows with ``c[k, 0] <=`` it, O(n M) for the counts, O(KM log M)
    at worst (identical devices), O(K + nM) typically.  Extra memory O(K + M^2).

    Examples
    --------
    >>> base = np.array([[1., 5.], [2., 3.], [4., 9.]])
    >>> value, assignment = bottleneck_rows(base, np.zeros(3), np.array([2, 2, 1]))
    >>> float(value), assignment.tolist()
    (3.0, [0, 1])
    >>> bottleneck_rows(base, np.zeros(3), np.array([1, 1, 1])) is None   # nobody holds block 1
    True
    """
    from . import kernels

    K, M = base.shape
    if M > K or M == 0:
        return None
    base = np.ascontiguousarray(base, dtype=np.float64)
    offset = np.ascontiguousarray(offset, dtype=np.float64)
    prefix = np.ascontiguousarray(prefix, dtype=np.int64)
    values, iwork = kernels.crunch_work(K, M)
    value = kernels.crunch_rows(base, offset, prefix, values, iwork)
    if not value < np.inf:      # some block j has fewer than M - j holders: Hall fails
        return None
    return float(value), iwork[-M:]


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
    cost = _sorted_cost(cost)
    K, M = cost.shape
    counts_all = np.isfinite(cost).sum(axis=1)
    if not hall_check(counts_all, M):
        if trace:
            trace(f"initial check fails: counts n = {counts_all.tolist()} (M={M}, K={K}); no feasible assignment")
        return None
    if trace is not None:
        value, assignment, _, _ = crunch_walk(cost, counts_all, trace)
        return value, assignment
    return bottleneck_rows(cost, np.zeros(K), counts_all)


#: :func:`crunch_literal` reads the clock once per this many cuts.
LITERAL_CLOCK_CUTS = 64


def crunch_walk(cost: np.ndarray, counts: np.ndarray, trace: Trace | None,
                 sw=None) -> tuple[float, np.ndarray, int, bool]:
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
              f"Hall slack n_(K-M+j) - (j + 1) = {hall_slack(counts, M).tolist()} -> feasible")
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
