"""P1 (BA): block allocation with the bandwidth split equally, solved five ways exactly.

In the paper's model P1 is a *bottleneck* assignment: give each of the M blocks a distinct device
so that the largest latency ``c[k,m] = tcp[k,m] + D M / (B R_k)`` (seconds)
among the chosen pairs is as small as possible, subject to memory (C3).

Every row of ``c`` is non-decreasing in the block depth m, and so is the block
memory.  Hence, for a latency threshold T, the blocks device k may take form a
prefix ``0..n_k(T)-1`` of the blocks, and the bipartite graph "device k may take
block m" is a family of *nested* neighbourhoods.  Hall's marriage condition on
nested neighbourhoods collapses to a sorted count test (Proposition 1 of the
paper): with the counts sorted ascending, ``n_(0) <= ... <= n_(K-1)`` (0-based
ranks), a matching that covers all M blocks exists iff

.. math:: n_{(K-M+j)} \\ge j + 1 \\qquad j = 0, \\dots, M-1.

*Why*: the blocks ``j..M-1`` (the ``M-j`` deepest) can only go to devices with
``n_k > j``; Hall requires at least ``M-j`` of those, i.e. the count of rank
``K-M+j`` is ``>= j + 1``.  Conversely, giving block j to the device of rank
``K-M+j`` is a valid matching, because ranks are distinct and that device's
prefix reaches block j.  (The paper counts from 1: ``n_(K-M+i) >= i``.)

*Closed form of the first infeasible cut.*  Because row k is sorted,
``n_k(T) > j`` iff ``c[k, j] <= T``; so ``#{k : n_k(T) > j}`` is the number of
entries of column (block) j that are ``<= T``, and Proposition 1 holds at T
iff every block j has at least ``M - j`` entries ``<= T``:

.. math:: T^* = \\max_{j=0..M-1} \\; s_j, \\qquad
          s_j = (M-j)\\text{-th smallest entry of column } j.

CRUNCH cuts entries from the largest down and stops exactly when some block j
keeps fewer than ``M - j`` entries, i.e. at this value (a matrix entry).

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
crunch_capacity
    Not in the paper: Proposition 1 and Algorithm 2 with capacities, in
    closed form (one weighted order statistic per block), for G2 with one D.

The problem family
------------------
Beyond the paper's model an instance may have per-block gradient sizes D_m
(G1) and devices that take up to c_k blocks (G2; see :mod:`instances.core`).
A device holding S_k (deepest block d_k) gets ``|S_k| B / M`` Hz
(:func:`p1_bandwidth`) and finishes at
``tcp[k, d_k] + M sum_{m in S_k} D_m / (|S_k| B R_k)`` (:func:`p1_objective`).
Each method declares what it solves (:func:`solvers.scope.solves`) and
refuses the rest with status ``unsupported``:

==================  ==========================================  ==========================================
method              solves                                      why (proof in its docstring)
==================  ==========================================  ==========================================
crunch,             paper; G1 when D_m is non-decreasing        rows of c = tcp + D_m M / (B R_k) stay
crunch-literal                                                  sorted, which is all Proposition 1 needs
linear-search,      paper; G1; G2 (one D); not G1 with G2       G1: a bottleneck assignment on c (no
hungarian-search                                                order used); G2: a bottleneck b-matching,
                                                                a matching into c_k copies of device k
crunch-capacity     paper; G2 (one D)                           Hall with capacities on nested prefixes:
                                                                weighted order statistics
milp                everything                                  an exact MILP (:func:`models.p1.build_p1_milp`)
==================  ==========================================  ==========================================

Under G1 with G2 a device's upload term is the *mean* of its blocks'
``D_m M / (B R_k)``, not a per-pair cost, so only the MILP is exact.
Infeasibility under G2 is Hall's condition with capacities
(:func:`capacity_wall`): for every j,
``sum_{k : n_k > j} min(c_k, M - j) >= M - j`` with n_k the memory prefix.

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

from .bottleneck import (
    Trace,
    assignment_from_counts,
    bottleneck_capacity,
    bottleneck_crunch,
    bottleneck_rows,
    capacity_assignment,
    capacity_holders,
    crunch_walk,
    hall_check,
)
from .result import Result, Status, Stopwatch
from .scope import refusal_text, solves


# --------------------------------------------------------------------------------------
# Solvers on instances
# --------------------------------------------------------------------------------------
def p1_objective(instance: Instance, assignment) -> float:
    """Round latency (s) of ``assignment`` with the band split equally per block (P1), for the whole family.

    ``assignment[m]`` is the device of block m.  A device k that holds the
    blocks S_k (deepest d_k, n_k = |S_k| of them, U_k = sum of their D_m bits)
    gets ``n_k B / M`` Hz and finishes at

    .. math:: L_k = t_{k, d_k} + \\frac{U_k M}{n_k B R_k};

    the round latency is the largest L_k over the devices that hold a block.

    * *One gradient size D* (the paper's model, and G2 with one D):
      ``U_k M / (n_k B R_k) = D M / (B R_k) = u_k`` whatever S_k, and
      ``t[k, d_k] = max_{m in S_k} t[k, m]`` (rows are non-decreasing), so
      ``L_k = max_{m in S_k} c[k, m]`` and the round latency is
      ``max_m c[a_m, m]``: computed exactly as in the paper's model, the
      matrix entry ``fl(t[k, m] + u_k)`` of the bottleneck pair (bit for bit
      the value of every earlier version of this function).
    * *Per-block sizes* (G1), and G1 with G2: the formula above, per device;
      a device with one block gets exactly its :meth:`Instance.p1_cost`
      entry ``fl(t[k, m] + fl(D_m M / (B R_k)))``.

    O(M), plus O(K) with per-block sizes.

    >>> from instances import Instance
    >>> fam = Instance.from_arrays([[1.0, 2.0], [1.5, 1.5]], [1.0, 1.0], [1.0, 1.0], [1.0, 2.0],
    ...                            gradient_bits=[2.0, 6.0], bandwidth_hz=2.0, device_max_blocks=[2, 1])
    >>> p1_objective(fam, [0, 0]), p1_objective(fam, [0, 1]), p1_objective(fam, [1, 0])   # 2 + 8/(1 * 2)
    (6.0, 4.5, 8.0)
    """
    assignment = np.asarray(assignment, dtype=int)
    if instance.uniform_bits:
        chosen = instance.compute_latency[assignment, np.arange(instance.M)] + instance.upload_equal_s[assignment]
        return float(chosen.max())
    K, M = instance.K, instance.M
    deepest = np.full(K, -1)
    np.maximum.at(deepest, assignment, np.arange(M))
    count = np.bincount(assignment, minlength=K)
    bits = np.bincount(assignment, weights=instance.block_bits, minlength=K)
    used = np.flatnonzero(count)
    latency = (instance.compute_latency[used, deepest[used]]
               + bits[used] * M / (count[used] * instance.bandwidth_hz * instance.spectral_efficiency[used]))
    return float(latency.max())


def p1_bandwidth(instance: Instance, assignment) -> np.ndarray:
    """(K,) Hz: P1's equal split per block, ``B_k = n_k B / M`` for the n_k blocks of device k (0 if idle).

    In the paper's model (one block per device) this is ``B / M`` for each of
    the M involved devices.  O(K + M).

    >>> from instances import Instance
    >>> fam = Instance.from_arrays([[1.0, 2.0], [1.5, 1.5]], [1.0, 1.0], [1.0, 1.0], [1.0, 2.0],
    ...                            gradient_bits=1.0, bandwidth_hz=2.0, device_max_blocks=[2, 1])
    >>> p1_bandwidth(fam, [0, 0]).tolist(), p1_bandwidth(fam, [1, 0]).tolist()
    ([2.0, 0.0], [1.0, 1.0])
    """
    counts = np.bincount(np.asarray(assignment, dtype=int), minlength=instance.K)
    return counts * (instance.bandwidth_hz / instance.M)


def p1_wall(instance: Instance) -> str | None:
    """Why no assignment satisfies C1-C3 (with capacities under G2), or None if one does.

    One block per device: :func:`memory_wall` (Proposition 1 on the memory
    prefix).  G2: :func:`capacity_wall` (the same with capacities).  The
    gradient sizes (G1) play no part in feasibility.  O(K + M).
    """
    if instance.single_block:
        return memory_wall(instance.memory_prefix, instance.M)
    return capacity_wall(instance.memory_prefix, instance.device_max_blocks, instance.M)


def p1_infeasible(solver: str, sw: Stopwatch, instance: Instance, why: str | None = None, problem: str = "P1") -> Result:
    """The ``infeasible`` Result of ``solver``: ``why``, or the count or memory-wall reason (capacities under G2)."""
    if why is None:
        if not instance.single_block:
            why = capacity_wall(instance.memory_prefix, instance.device_max_blocks, instance.M) or \
                "no assignment of the blocks fits the memory budgets and the devices' capacities"
        else:
            why = (f"M = {instance.M} blocks > K = {instance.K} devices" if instance.M > instance.K
                   else "memory wall: no assignment of all blocks to distinct devices fits the memory budgets")
    return Result(solver=solver, problem=problem, status=Status.INFEASIBLE, seconds=sw.elapsed, message=why)


def p1_solution(solver: str, instance: Instance, assignment, sw: Stopwatch, status=Status.OPTIMAL,
              bound=None, message="", info=None, problem="P1", objective=None) -> Result:
    """The Result of ``assignment`` with the equal split per block (:func:`p1_bandwidth`); ``objective`` (s) if known."""
    assignment = np.asarray(assignment, dtype=int)
    if objective is None:
        objective = p1_objective(instance, assignment)
    if status == Status.OPTIMAL and bound is None:
        bound = objective
    # a list of ints and the (K,) array: Result converts them without a per-element NumPy scalar
    return Result(solver=solver, problem=problem, status=status, objective_s=objective, bound_s=bound,
                  seconds=sw.elapsed, assignment=assignment.tolist(),
                  bandwidth_hz=p1_bandwidth(instance, assignment),
                  message=message, info=info or {})


def unsorted_bits(instance: Instance) -> str | None:
    """Why the rows of ``p1_cost`` may be unsorted (some D_m > D_{m+1}, G1), or None if D_m is non-decreasing.

    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0, 2.0]], [1.0, 1.0], [1.0], [1.0], [2.0, 1.0], 1.0)
    >>> print(unsorted_bits(inst))
    D_0 = 2.0 bits > D_1 = 1.0 bits
    """
    bits = instance.block_bits
    down = np.flatnonzero(np.diff(bits) < 0)
    if down.size == 0:
        return None
    m = int(down[0])
    return f"D_{m} = {float(bits[m])!r} bits > D_{m + 1} = {float(bits[m + 1])!r} bits"


def _crunch_unless(name: str) -> Callable[[Instance], str | None]:
    """CRUNCH's refusal condition (:func:`solvers.scope.solves`): G1 sizes that decrease with the depth."""

    def unless(instance: Instance) -> str | None:
        why = None if instance.uniform_bits else unsorted_bits(instance)
        if why is None:
            return None
        return (f"{name} does not solve instances with per-block gradient sizes (G1) that decrease "
                f"with the block depth ({why}): the rows of c = tcp + D_m M / (B R_k) are then not "
                f"sorted, and Proposition 1 needs them sorted")

    return unless


def p1_answer(instance: Instance) -> tuple[float, np.ndarray] | None:
    """CRUNCH's optimum on an instance: ``(latency_s, assignment)`` or None if infeasible.

    The lean core of :func:`crunch` (no Result, no clock): :func:`bottleneck_rows` on
    ``tcp``, the equal-split upload time and the memory prefix.  The latency is the
    matrix entry ``fl(tcp[k, m] + u_k)`` of the bottleneck pair, i.e. exactly
    :func:`p1_objective` of the assignment.  Complexity as :func:`bottleneck_rows`.

    With per-block sizes D_m non-decreasing in m (G1, one block per device)
    the base is the cost matrix ``fl(tcp[k, m] + D_m M / (B R_k))`` itself
    (offset 0, which adds exactly nothing): its rows are sorted, see
    :func:`crunch`.  Raises ``ValueError`` on any other instance of the family.

    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.5, 1.5], [0.5, 3.0]], [1e9, 2e9],
    ...     [4e9, 1e9, 4e9], [1.0, 2.0, 4.0], gradient_bits=1e6, bandwidth_hz=1e6)
    >>> value, assignment = p1_answer(inst)
    >>> value, assignment.tolist(), value == p1_objective(inst, assignment)
    (3.5, [1, 2], True)
    """
    if instance.paper_model:
        return bottleneck_rows(instance.compute_latency, instance.upload_equal_s, instance.memory_prefix)
    why = ("devices take several blocks (G2): use bottleneck_capacity" if not instance.single_block
           else unsorted_bits(instance))
    if why is not None:
        raise ValueError(f"p1_answer needs one block per device and sorted cost rows: {why}")
    base = instance.compute_latency + instance.block_upload_equal_s
    return bottleneck_rows(base, np.zeros(instance.K), instance.memory_prefix)


@solves("G1", name="crunch", problem="P1", unless=_crunch_unless("crunch"))
def crunch(instance: Instance, trace: Trace | None = None, time_limit: float | None = None) -> Result:
    """Solve P1 exactly with CRUNCH (Proposition 1 + Algorithm 2), in closed form.

    Solves the paper's model and, when the gradient sizes D_m are
    non-decreasing in the block depth, per-block sizes (G1); it refuses
    (status ``unsupported``) a G1 instance whose D_m decrease somewhere, and
    devices that take several blocks (G2: :func:`crunch_capacity`).

    *Why G1 with non-decreasing D_m.*  With one block per device the latency
    of block m on device k is ``c[k, m] = tcp[k, m] + D_m M / (B R_k)``
    (:meth:`Instance.p1_cost`) and P1 is the bottleneck assignment on c, as in
    the paper.  CRUNCH and Proposition 1 use nothing but that every row of c
    is non-decreasing and the memory-forbidden pairs are a suffix of it.
    tcp rows and mu are non-decreasing (validated), and so is
    ``D_m M / (B R_k)`` when D_m is; the floating-point entries are too,
    since rounding is monotone (``fl(a / b)`` and ``fl(a + b)`` never
    decrease when a does).  So every step of the proof in the module
    docstring holds word for word, with ``u_k`` replaced by
    ``D_m M / (B R_k)``.  A decreasing D_m can unsort a row (and then
    Proposition 1 is wrong), hence the refusal.

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
    budget in the sorted block memory), then :func:`bottleneck_rows` (one
    compiled pass): O(K + n' log M + nM), n <= K the devices whose first
    block finishes under the running bound and n' <= nM their entries under
    it; O(KM log M) at worst.  Extra memory O(K + M^2): the (K, M) cost matrix
    is never built.  The traced walk builds it and costs O(KM K log K).  The instance
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


@solves("G1", name="crunch-literal", problem="P1", unless=_crunch_unless("crunch-literal"))
def crunch_literal(instance: Instance, time_limit: float | None = None) -> Result:
    """Solve P1 exactly by Algorithm 2 as the paper states it: cut, recount, check, one entry at a time.

    Solves what :func:`crunch` solves, for the same reason (sorted rows of
    :meth:`Instance.p1_cost`, which G1 keeps when D_m is non-decreasing), and
    refuses the rest in the same words.

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


def device_slots(instance: Instance) -> np.ndarray | None:
    """``owner[r]``: the device of slot r when device k is repeated ``min(c_k, n_k)`` times (G2), else None.

    n_k is k's memory prefix (it can hold no more blocks than that).  An
    assignment that gives device k at most c_k blocks is exactly a matching of
    the blocks into the slots (a device never needs more slots than blocks it
    can hold), so every threshold test of a bottleneck *b-matching* is a
    bipartite matching on the cost rows ``cost[owner]``.  None when every
    c_k = 1 (the slots are the devices).  O(K + number of slots).

    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0, 2.0]] * 2, [1.0, 2.0], [2.0, 1.0], [1.0, 1.0], 1.0, 1.0,
    ...                             device_max_blocks=[3, 2])
    >>> device_slots(inst).tolist()      # device 0 holds both blocks, device 1 only block 0
    [0, 0, 1]
    """
    if instance.single_block:
        return None
    copies = np.minimum(instance.device_max_blocks, instance.memory_prefix)
    return np.repeat(np.arange(instance.K), copies)


def _search_unless(name: str) -> Callable[[Instance], str | None]:
    """A threshold search's refusal condition (:func:`solvers.scope.solves`): G1 and G2 together."""

    def unless(instance: Instance) -> str | None:
        if instance.uniform_bits or instance.single_block:
            return None
        return (f"{refusal_text(name, {'G1', 'G2'})} together: a device's upload term is then the mean of its "
                f"blocks' D_m M / (B R_k), not a per-pair cost, so no threshold on pair costs decides the "
                f"round latency")

    return unless


def _descending_search(solver: str, instance: Instance, time_limit: float | None,
                       matching: Callable[[np.ndarray], np.ndarray | None]) -> Result:
    """Thresholds from the largest latency down, ``matching(cost <= T)`` at each (Sec. IV-A).

    Under G2 (one D) the matching is into the slots of :func:`device_slots`.
    Refuses G1 together with G2.
    """
    assert instance.uniform_bits or instance.single_block, "refused by the decorator (_search_unless)"
    sw = Stopwatch(time_limit)
    cost = instance.p1_cost()
    owner = device_slots(instance)
    rows = cost if owner is None else cost[owner]
    values = np.unique(cost[np.isfinite(cost)])[::-1]
    best = None
    for step, threshold in enumerate(values):
        match = matching(rows <= threshold)
        if match is None:
            break
        best = match if owner is None else owner[match]
        if sw.expired():
            return p1_solution(solver, instance, best, sw, Status.TIME_LIMIT, bound=elementary_bound(cost),
                             message=f"time limit after {step + 1} of at most {values.size} thresholds; "
                                     f"the last matching found and the elementary bound max_m min_k c[k, m]")
    if best is None:
        return p1_infeasible(solver, sw, instance)
    return p1_solution(solver, instance, best, sw, info={"thresholds_tried": int(step + 1)})


@solves("G1", "G2", name="linear-search", problem="P1", unless=_search_unless("linear-search"))
def linear_search(instance: Instance, time_limit: float | None = None) -> Result:
    """Solve P1 exactly by the paper's linear search (Sec. IV-A).

    Sort the distinct latencies in descending order; starting from the largest,
    lower the threshold one value at a time while the pairs under it still hold
    a perfect matching of blocks to devices (Hopcroft-Karp, SciPy).  The last
    threshold with a matching is the optimum.

    Solves the paper's model and each generalisation alone; refuses both at
    once (status ``unsupported``):

    * *G1* (per-block sizes, one block per device): the latency of block m on
      device k is ``c[k, m] = tcp[k, m] + D_m M / (B R_k)``
      (:meth:`Instance.p1_cost`), so P1 is the bottleneck assignment on c;
      a threshold T is reachable iff the pairs ``c <= T`` hold a matching of
      every block, whatever the order of the entries in a row: the search
      uses neither sorted rows nor memory prefixes.
    * *G2* (device k takes up to c_k blocks, one D): a device's latency is
      ``max_{m in S_k} c[k, m]`` (:func:`p1_objective`), so P1 is a
      bottleneck *b-matching*; one under T is a matching into the slots of
      :func:`device_slots` (device k repeated ``min(c_k, n_k)`` times) within
      ``c <= T``, so the same thresholds, each a matching on the slots, are exact.
    * *G1 and G2*: a device's upload term is the mean of its blocks'
      ``D_m M / (B R_k)``, not a per-pair cost: refused (``milp`` solves it).

    The clock is read after every matching.  Stopped by the time limit, the
    method returns the last matching found (a valid assignment, status
    ``time_limit``) and the elementary lower bound :func:`elementary_bound`:
    the thresholds not yet tried prove nothing.

    Complexity: O(KM) thresholds, each a matching in O(KM sqrt(K+M)) (under
    G2, K replaced by the number of slots, at most ``min(sum_k c_k, KM)``).

    Examples
    --------
    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.5, 1.5], [0.5, 3.0]], [1e9, 2e9],
    ...     [4e9, 1e9, 4e9], [1.0, 2.0, 4.0], gradient_bits=1e6, bandwidth_hz=1e6)
    >>> linear_search(inst).objective_s
    3.5
    """
    return _descending_search("linear-search", instance, time_limit, _perfect_matching)


@solves("G1", "G2", name="hungarian-search", problem="P1", unless=_search_unless("hungarian-search"))
def hungarian_search(instance: Instance, time_limit: float | None = None) -> Result:
    """Solve P1 exactly by linear search with the Hungarian method as the matching test.

    The method the paper compares CRUNCH against: the thresholds T of
    :func:`linear_search` (the distinct latencies, from the largest down), and
    at each an assignment solve, SciPy's ``linear_sum_assignment`` on the 0/1
    costs ``[c[k, m] > T]``; a perfect matching under T exists iff the minimum
    is 0.  The last threshold with cost 0 is the optimum.  Time limit as in
    :func:`linear_search`.

    Solves what :func:`linear_search` solves (G1, or G2 on the slots of
    :func:`device_slots`), for the same reasons, and refuses G1 with G2.

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


@solves("G2", name="crunch-capacity", problem="P1")
def crunch_capacity(instance: Instance, time_limit: float | None = None) -> Result:
    """Solve P1 exactly under G2 (device k takes up to c_k blocks, one D) by CRUNCH with capacities, in closed form.

    *The problem.*  With one gradient size, a device holding S_k finishes at
    ``tcp[k, d_k] + D M / (B R_k) = max_{m in S_k} c[k, m]``
    (:func:`p1_objective`; c = :meth:`Instance.p1_cost`, rows non-decreasing),
    so P1 is the bottleneck b-matching ``min_a max_m c[a_m, m]`` with device
    k taking at most c_k blocks.

    *Proposition 1 with capacities.*  For a threshold T device k may take the
    prefix of blocks ``0..n_k(T)-1`` (rows sorted, memory a prefix), and a
    b-matching exists iff every j has
    ``sum_{k : n_k(T) > j} min(c_k, M - j) >= M - j``: Hall's condition on the
    copies of the devices, where the nested neighbourhoods leave only the
    sets ``{j..M-1}`` to check (proof in
    :func:`solvers.bottleneck.capacity_hall_check`).

    *Algorithm 2 with capacities, in closed form.*  Cutting the entries from
    the largest down and checking that condition after each cut, the first
    cut that breaks it removes

    .. math:: T^* = \\max_j s_j, \\qquad s_j = \\min\\{t :
              \\textstyle\\sum_{k : c_{kj} \\le t} \\min(c_k, M) \\ge M - j\\},

    one weighted order statistic per column (the capacities are the weights):
    because ``n_k(T) > j`` iff ``c[k, j] <= T``, the condition for block j
    holds exactly from ``s_j`` on, so T is feasible iff ``T >= max_j s_j``,
    and the optimum, an entry of c, is that maximum
    (:func:`solvers.bottleneck.bottleneck_capacity`).  An optimal assignment:
    the devices by ascending ``n_k(T*)``, each ``min(c_k, M)`` times, block m
    to the slot ``M - m`` from the end
    (:func:`solvers.bottleneck.capacity_assignment`).  With every c_k = 1 it
    is Proposition 1 and :func:`crunch`'s order statistics exactly.

    Solves the paper's model (then the same value as :func:`crunch`) and G2;
    refuses per-block sizes (G1): the decorator refuses G1 alone, and the upload
    term of G1 with G2 is a mean, not a per-pair cost.

    Infeasible iff Hall's condition with capacities fails on the memory
    prefix (:func:`capacity_wall` names the blocks).  Complexity: O(KM) for
    the cost matrix and the row check, O(K log K) for an upper bound that
    drops the rows that cannot matter, O(nM log n) for the n rows kept;
    O(KM log K) at worst.  ``time_limit`` is accepted for a uniform
    interface: the method always finishes.

    Examples
    --------
    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0, 2.0, 3.0], [2.0, 2.0, 2.5]], [1.0, 1.0, 1.0], [1.0, 1.0],
    ...                             [1.0, 1.0], gradient_bits=1.0, bandwidth_hz=3.0, device_max_blocks=[2, 2])
    >>> res = crunch_capacity(inst)          # uploads 1 s: device 1 takes blocks 1-2 (3.5 s), device 0 block 0
    >>> res.status.value, res.objective_s, res.assignment, res.bandwidth_hz
    ('optimal', 3.5, (0, 1, 1), (1.0, 2.0))
    """
    sw = Stopwatch(time_limit)
    why = p1_wall(instance)
    if why is not None:
        return p1_infeasible("crunch-capacity", sw, instance, why)
    found = bottleneck_capacity(instance.p1_cost(), instance.device_max_blocks)
    if found is None:   # unreachable: the wall test above is the same condition
        return p1_infeasible("crunch-capacity", sw, instance)
    value, assignment = found
    return p1_solution("crunch-capacity", instance, assignment, sw, objective=value)


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


def capacity_wall(prefix: np.ndarray, capacity: np.ndarray, M: int) -> str | None:
    """Why no assignment fits memory when device k takes up to ``capacity[k]`` blocks (G2), or None.

    Hall's condition with capacities (:func:`solvers.bottleneck.capacity_hall_check`):
    with ``prefix[k]`` the blocks device k can hold (a prefix, mu being
    non-decreasing), the blocks j..M-1 can only go to the devices with
    ``prefix[k] > j``, which take at most ``H_j = sum min(c_k, M)`` of them;
    an assignment exists iff ``H_j >= M - j`` for every j, i.e.
    ``sum_{k : prefix_k > j} min(c_k, M - j) >= M - j`` (the two sums meet
    the bound together: a device with ``c_k >= M - j`` meets it alone).
    *Proof.*  Device k's ``c_k`` copies turn the assignments into matchings
    of the blocks into copies; by Hall one exists iff every set S of blocks
    has ``sum_{k in N(S)} c_k >= |S|``, and with nested neighbourhoods
    ``N(S) = N(min S)`` the largest S of shallowest block j, ``{j..M-1}``, is
    the only one to check.  The reason names the deepest block at which it
    fails: a proof of infeasibility.  With every ``c_k = 1`` the condition
    is :func:`memory_wall`'s (whose words differ).  O(K + M).

    >>> capacity_wall(np.array([2, 2]), np.array([2, 1]), 3)     # only 3 slots, but none reaches block 2
    "memory wall: no device can hold block 2 (Hall's condition with capacities)"
    >>> print(capacity_wall(np.array([3, 1]), np.array([1, 4]), 3))   # doctest: +NORMALIZE_WHITESPACE
    memory wall: blocks 1..2 need 2 block slots, but the devices that can hold block 1 or a deeper one
    take only 1 of them (their capacities c_k; Hall's condition with capacities)
    >>> print(capacity_wall(np.array([3, 3]), np.array([1, 1]), 3))   # doctest: +NORMALIZE_WHITESPACE
    M = 3 blocks > 2 block slots: the devices take at most sum_k min(c_k, M) = 2 blocks
    (Hall's condition with capacities)
    >>> capacity_wall(np.array([3, 1]), np.array([2, 4]), 3) is None
    True
    """
    holders = capacity_holders(prefix, capacity, M)
    short = np.flatnonzero(holders < M - np.arange(M))
    if short.size == 0:
        return None
    j = int(short[-1])
    proof = "(Hall's condition with capacities)"
    if holders[j] == 0 and j == M - 1:
        return f"memory wall: no device can hold block {j} {proof}"
    if j == 0 and np.all(np.asarray(prefix) >= 1):
        return (f"M = {M} blocks > {int(holders[0])} block slots: the devices take at most "
                f"sum_k min(c_k, M) = {int(holders[0])} blocks {proof}")
    return (f"memory wall: blocks {j}..{M - 1} need {M - j} block slots, but the devices that can hold "
            f"block {j} or a deeper one take only {int(holders[j])} of them (their capacities c_k; {proof[1:]}")


class MilpStart(NamedTuple):
    """What :func:`milp` knows before HiGHS runs."""

    assignment: np.ndarray   #: a valid C1-C3 assignment, ``assignment[m]`` = device of block m
    upper_s: float           #: its latency (s): an upper bound on the optimum
    lower_s: float           #: a proven lower bound on the optimum (s)
    matchings: int           #: bisection steps done
    complete: bool           #: the bisection ended (then ``lower_s == upper_s``); never under G1 with G2


def _bisect(cost: np.ndarray, owner: np.ndarray | None, start: np.ndarray,
            sw: Stopwatch) -> tuple[np.ndarray, float, float, int, bool]:
    """Bisection over the entries of ``cost`` for the least bottleneck (b-)matching, from ``start``.

    ``owner`` as :func:`device_slots` (None: one block per device).  Returns
    ``(assignment, its bottleneck max_m cost[a_m, m], the least value not
    excluded, matchings, finished)``: every threshold excluded had no
    perfect matching of the blocks into the rows (slots), so the least
    bottleneck is at least the returned bound.  The clock is read before
    every matching.
    """
    blocks = np.arange(cost.shape[1])
    rows = cost if owner is None else cost[owner]
    upper = float(cost[start, blocks].max())
    # candidates: the distinct latencies in [elementary bound, upper]; the optimum is one of them
    values = np.unique(cost[cost <= upper])
    lo, hi = int(np.searchsorted(values, elementary_bound(cost))), values.size - 1
    matchings = 0
    while lo < hi and not sw.expired():   # invariant: optimum in values[lo..hi], a start under values[hi]
        mid = (lo + hi) // 2
        match = _perfect_matching(rows <= values[mid])
        matchings += 1
        if match is None:
            lo = mid + 1
        else:
            hi, start = mid, np.asarray(match if owner is None else owner[match], dtype=int)
    return start, float(cost[start, blocks].max()), float(values[lo]), matchings, lo >= hi


def _milp_start(instance: Instance, sw: Stopwatch) -> MilpStart:
    """A start assignment, its latency and a lower bound for :func:`milp`, within the clock.

    Call only when an assignment exists (:func:`p1_wall` is None).

    1. *A first assignment*: Proposition 1's matching on the memory prefix
       (:func:`assignment_from_counts`; with capacities, G2,
       :func:`solvers.bottleneck.capacity_assignment`), valid because Hall's
       condition holds; O(K log K).
    2. *Bisection* over the distinct latencies between the elementary bound
       (:func:`elementary_bound`) and that assignment's latency, each step a
       maximum bipartite matching (SciPy) on the pairs under the threshold
       (under G2 into the slots of :func:`device_slots`): a perfect one is a
       better start, a failed one proves the optimum is above the threshold
       (the matching is maximum).  O(log(KM)) matchings of O(KM sqrt(K + M)).
       This is exact for the paper's model, G1 (a bottleneck assignment on
       :meth:`Instance.p1_cost`) and G2 with one D (a bottleneck b-matching).
    3. *G1 with G2*: the latency is no bottleneck of pair costs, so the
       bisections are heuristics: the b-matching one and, when every block
       can have its own device, the one-block-per-device one (whose latency
       is its bottleneck); the start is the best of them and step 1's by
       :func:`p1_objective`, and the lower bound is
       ``max_m min_k`` of :func:`models.p1.pair_latency_bounds` (never above the
       latency of a device that holds block m), lowered by
       ``ROUNDING_RTOL`` against rounding.  ``complete`` is then False.

    The clock is read before every matching: when the time is up the best
    start so far and the bound proven so far are returned.  The MILP needs
    the start only as an upper bound; the optimum and its proof come from HiGHS.
    """
    M = instance.M
    cost = instance.p1_cost()
    if instance.single_block:
        first, owner = assignment_from_counts(instance.memory_prefix, M), None
    else:
        first = capacity_assignment(instance.memory_prefix, instance.device_max_blocks, M)
        owner = device_slots(instance)
    if instance.uniform_bits or instance.single_block:
        return MilpStart(*_bisect(cost, owner, first, sw))
    # G1 with G2: heuristics for the start, an elementary bound from below
    from instances.tolerances import ROUNDING_RTOL
    from models.p1 import pair_latency_bounds

    candidates = [first]
    found, _, _, matchings, _ = _bisect(cost, owner, first, sw)
    candidates.append(found)
    if hall_check(instance.memory_prefix, M) and not sw.expired():
        single, _, _, more, _ = _bisect(cost, None, assignment_from_counts(instance.memory_prefix, M), sw)
        candidates.append(single)
        matchings += more
    latencies = [p1_objective(instance, a) for a in candidates]
    best = int(np.argmin(latencies))
    lower = float(np.max(np.min(pair_latency_bounds(instance), axis=0))) * (1.0 - ROUNDING_RTOL)
    return MilpStart(np.asarray(candidates[best], dtype=int), float(latencies[best]),
                     min(lower, float(latencies[best])), matchings, False)


def milp_build_estimate_s(n_pairs: int, entries_per_pair: float = 4.0) -> float:
    """Seconds to build the scaled P1 MILP with ``n_pairs`` usable pairs and hand it to HiGHS (conservative).

    .. math:: t_\\text{build} \\approx r\\,|P|\\,e / 4, \\qquad r = \\text{MILP\\_BUILD\\_S\\_PER\\_PAIR}

    ``e`` is the number of matrix entries per pair: 4 in the paper's model
    (where r was measured), more in the family's models
    (:func:`milp_entries_per_pair`).

    >>> milp_build_estimate_s(10_000)
    1.1
    """
    return MILP_BUILD_S_PER_PAIR * n_pairs * entries_per_pair / 4.0


def milp_entries_per_pair(instance: Instance, n_pairs: int) -> float:
    """Matrix entries per usable pair of :func:`models.p1.build_p1_milp`'s scaled model (for the estimate).

    4 with one block per device (C1, C2, C3, latency), 5 under G2 with one D
    (C3 and latency rows per pair, each with T), and
    ``10 + n_pairs / K`` under G1 with G2 (the products y and their two rows,
    and the deepest-block rows, each over all of the device's pairs).
    """
    if instance.single_block:
        return 4.0
    if instance.uniform_bits:
        return 5.0
    return 10.0 + n_pairs / instance.K


@solves("G1", "G2", name="milp", problem="P1")
def milp(instance: Instance, time_limit: float | None = None) -> Result:
    """Solve P1 exactly as the Pyomo MILP of :func:`models.p1.build_p1_milp` with HiGHS.

    The method, in order, each step on the clock:

    1. *Infeasibility proofs* before building anything: M > K, or Hall's
       condition fails on the pairs that fit memory (:func:`memory_wall`;
       with capacities under G2, :func:`capacity_wall`).
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

    *The family.*  The exact oracle for every instance: the paper's model,
    G1, G2 and both (the formulations and their proofs are in
    :func:`models.p1.build_p1_milp`).  Step 1 is then Hall's condition with
    capacities (:func:`p1_wall`, :func:`capacity_wall`), step 2 bisects over
    b-matchings (exact with one D, a heuristic start under G1 with G2), and
    step 3 keeps the pairs of :func:`models.p1.usable_pairs` (a pair whose
    lower bound on its device's latency exceeds U).  The paper's model is
    built and solved exactly as before.

    The objective is recomputed from the returned assignment
    (:func:`p1_objective`: a matrix entry with one D), so it carries no
    solver tolerance; HiGHS's dual bound, times U,
    is reported as ``bound_s`` (never below L).  Under the family, HiGHS's
    assignment is replaced by the start when the start is faster (HiGHS may
    stop within its tolerance of the optimum).  Stopped before HiGHS has an
    incumbent, or before HiGHS runs, the method returns status ``time_limit``
    with the start as incumbent, L as bound and a message saying where it stopped.

    Complexity: O(KM) for the proofs and the pair filter, O(log(KM))
    matchings of O(KM sqrt(K + M)) for the start, O(|P(U)|) to build the
    model, then HiGHS's branch and bound, exponential in the worst case.
    Measured in ``docs/performance.md``.
    """
    sw = Stopwatch(time_limit)
    why = p1_wall(instance)
    if why is not None:   # a proof: HiGHS would say the same after a full model
        return p1_infeasible("milp", sw, instance, why)
    start = _milp_start(instance, sw)
    both = not (instance.uniform_bits or instance.single_block)

    def stopped(where: str) -> Result:
        found = ("the bisection ended, so the start is optimal by its matchings" if start.complete
                 else "the elementary bound max_m min_k of the pair bounds" if both
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
    build_s = milp_build_estimate_s(n_pairs, milp_entries_per_pair(instance, n_pairs))
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
    if (status != Status.OPTIMAL or not instance.paper_model) and start.upper_s < p1_objective(instance, assignment):
        assignment = start.assignment   # the start is better than HiGHS's incumbent (family: by its tolerance)
    return p1_solution("milp", instance, assignment, sw, status,
                     bound=bound if status != Status.OPTIMAL else None, message=out.message,
                     info={"usable_pairs": n_pairs, "start_matchings": start.matchings})
