"""P2 (JBBA): exact oracles and a lower bound.

P2 chooses a block-to-device assignment x (C1-C3) and bandwidths
``B_k >= 0`` (Hz), ``sum_k B_k <= B``, minimising the round latency

.. math:: T(x, B) = \\max_k \\Big[a_k + z_k \\frac{c_k}{B_k}\\Big], \\qquad
          a_k = \\sum_m x_{km} t_{km},\\; z_k = \\sum_m x_{km},\\; c_k = \\frac{D}{R_k},

with ``t = tcp`` (s).  Methods (all ``f(instance, time_limit=None) -> Result``):

``exact_jbba``
    parametric assignment (below), each step a rectangular min-cost
    assignment on pruned candidates, by exchanges from the current
    assignment or else shortest augmenting paths, in one compiled call (:func:`solvers.kernels.threshold_step`; the method of
    SciPy's ``linear_sum_assignment``, against which the tests check it).
``milp_jbba``
    the same outer loop, each step the Pyomo MILP
    :func:`models.p2.build_p2_assignment` solved by HiGHS.
``minlp_jbba``
    the convex MINLP :func:`models.p2.build_p2_minlp` (rotated cones) solved
    by SCIP through Pyomo.
``relaxation_bound``
    a convex relaxation (x in [0, 1], strengthened by valid block rows) in
    CVXPY, made rigorous by a dual certificate; a lower bound only.

and :func:`bandwidth_cvxpy`, the fixed-assignment bandwidth problem in CVXPY
(an independent check of :func:`solvers.bandwidth.optimal_bandwidth`).

The parametric-assignment method
--------------------------------
*Threshold test is an assignment.*  Fix a threshold T.  An assignment x
reaches T iff every involved device has ``B_k >= c_k / (T - a_k)`` (and
``a_k < T``); the least total bandwidth that reaches T is therefore

.. math:: N_x(T) = \\sum_m w_{x(m), m}(T), \\qquad
          w_{km}(T) = \\frac{c_k}{T - t_{km}} \\;(t_{km} < T,\\ \\mu_m \\le \\mathrm{cap}_k),
          \\;+\\infty \\text{ otherwise},

a sum over the chosen pairs, because C2 gives each device at most one block.
So T is achievable iff :math:`W(T) = \\min_x N_x(T) \\le B`, a rectangular
min-cost assignment (M blocks to distinct devices).

*Monotone.*  Each finite weight strictly decreases in T and the set of finite
weights only grows, so every :math:`N_x` and hence W is non-increasing, and
strictly decreasing where finite.  The optimum is
:math:`T^* = \\min_x T(x)` where ``T(x)`` is the root of :math:`N_x(T) = B`
(the fixed-assignment optimum, :func:`solvers.bandwidth.optimal_bandwidth`).

*Descent.*  Start from ``x_0`` = CRUNCH's P1 assignment (equal split is a
feasible bandwidth, so ``T(x_0) <=`` the P1 optimum).  At ``T_i = T(x_i)``
solve the assignment; its argmin ``x'`` has :math:`N_{x'}(T_i) = W(T_i) \\le
N_{x_i}(T_i) = B`.  If :math:`W(T_i) < B` then ``T(x') < T_i``: move to
``x_{i+1} = x'``.  If :math:`W(T_i) = B`, ``x_i`` is optimal: an ``x*`` with
``T* < T_i`` would use only pairs with ``t < T* < T_i``, so
:math:`W(T_i) \\le N_{x^*}(T_i) < N_{x^*}(T^*) = B`.  T strictly decreases over
a finite set of matchings, so the loop ends (a Dinkelbach-type iteration; on
the instances we tried it takes 2-5 assignments).

*Exchanges before the LSAP.*  The test at :math:`T_i` asks for an argmin
near ``x_i``: the last step asks whether ``x_i`` itself is one (then
:math:`W(T_i) = N_{x_i}(T_i) = B`), and earlier ones usually end a few
exchanges away.  So :func:`lsap_oracle` starts from ``x_i``, on the same
pruned weights: it proves it a minimum by LP duality (potentials for the
blocks by Bellman-Ford, :func:`solvers.kernels.exchange_to_minimum`), or
finds an exchange that lowers its cost (a block moving to a free device, a
chain of moves ending at one, or a cycle of blocks trading devices), applies
it and tries again.  An assignment that passes the proof is an argmin, so the
descent is unchanged (on ties it may pick another argmin than the LSAP would).
The LSAP runs only when the exchanges have not reached a proof within a work
budget.  At K = 50, M = 12 that is about 1% of the steps, and a step costs
about 4 us instead of 9.

*In floating point* the stop test is :math:`W(T_i) \\ge B (1 - \\varepsilon)`,
``eps = tolerances.BISECTION_RTOL``, and a move requires ``T(x') < T_i``
exactly (strict decrease, so no rounding loop).  The stop test costs at most a
relative ``eps / (1 - eps)`` in T: with :math:`N = N_{x^*}` convex decreasing,
:math:`B(1-\\varepsilon) \\le N(T_i) \\le B - |N'(T_i)| (T_i - T^*)` and
:math:`|N'(T_i)| \\ge N(T_i) / T_i`, so :math:`T_i - T^* \\le \\varepsilon T_i / (1 - \\varepsilon)`.

*Pruning.*  In a min-cost assignment every block m can be given one of its M
cheapest devices: if m sits on a device outside that set, at most M-1 of the
set's devices hold other blocks, so one is free and at most as cheap; moving m
there does not raise the cost.  The LSAP therefore runs on the union of the M
cheapest devices of each block (at most ``min(K, M^2)`` columns), which matters
because the LSAP is slow on these weights (SciPy's: 10-190x slower than on
random matrices of the same shape; measured 16 s against 0.09 s at 2000 x 4000).

The same argument, with rows sorted (``w_km`` grows with m because
``t_km`` does), shows that an entry above the M-th smallest weight of the
deepest block is in no block's M cheapest set, so each row is scanned only
while its weights stay below that bound (:func:`candidate_devices`), and
weights are built only for the n devices kept.

*Complexity.*  Per step O(K + n' log M) for the scan (n' entries under the
bound, O(KM log M) at worst), O(nM) weights, the exchanges (at most
``EXCHANGE_WORK`` nM = 30 nM reads after their first search) and, when they
give up, O(M^2 n) for the LSAP (shortest augmenting paths), n <= min(K, M^2)
the devices kept, plus
O(M log(1/eps)) for the bandwidth root (Newton); the warm start costs one
CRUNCH (O(K + nM), see :mod:`solvers.p1`).  The number of steps is finite
(bounded by the number of matchings; 2-5 in practice).

The problem family
------------------
:mod:`instances.core` generalises the model two ways; each method declares
what it solves (:mod:`solvers.scope`) and refuses the rest (``unsupported``).
On paper-model instances every function here runs exactly the operations it
ran before (the family paths sit beside those paths).

*G1, per-block gradient sizes D_m* (one block per device).  The weights become
:math:`w_{km}(T) = D_m / (R_k B (T - t_{km}))`; the threshold test is still a
sum over the chosen pairs (one block per device), hence an LSAP, and the
descent is unchanged (each weight strictly decreases in T).  The pruning:
the M-cheapest exchange argument compares weights within one column only, so
it holds as is; the O(K) candidate test needs sorted rows, which
``D_m v_km`` need not have (D_m may fall with m), but
:math:`v_{km} = 1 / (R_k B (T - t_{km}))` has them and scaling column m by
``D_m > 0`` keeps its order, so the test runs on v (:func:`candidate_devices`).
``exact``, ``milp`` (same model, G1 weights), ``relaxation`` (per-pair cone
coefficients) and ``minlp`` solve G1.

*G2, up to c_k blocks per device.*  Device k holding S_k computes
``a_k = t_{k, d_k}`` (deepest block ``d_k``) and uploads ``U_k = sum D_m``; the
least share that finishes by T is :math:`N_x(T) = \\sum_k U_k / (R_k B (T - a_k))`,
still a sum of terms strictly decreasing in T, so the descent and its proof
hold verbatim with an exact oracle for :math:`W(T) = \\min_x N_x(T)` over the
capacity-feasible assignments.  That oracle is no assignment problem any more
(a device's cost depends on its deepest block): it is the MILP
:func:`models.p2.build_p2_family_assignment`, by HiGHS (:func:`family_milp_oracle`;
no polynomial method is known).  ``milp`` and ``minlp``
(:func:`models.p2.build_p2_family_minlp`) solve G2; ``exact`` and
``relaxation`` refuse it.

In the family the warm start is :func:`solvers.family_heuristics.greedy_deepest_assignment`
(CRUNCH needs one size and one block per device), and infeasibility is
Hall's condition with capacities (:func:`solvers.family_heuristics.capacity_hall_violation`).

References
----------
.. [1] "Resource Management for Low-latency Cooperative Fine-tuning of Foundation
   Models at the Network Edge", Sec. V.
.. [2] W. Dinkelbach, "On nonlinear fractional programming", Management Science 13, 1967.
.. [3] D. F. Crouse, "On implementing 2D rectangular assignment algorithms",
   IEEE Trans. Aerospace and Electronic Systems 52, 2016 (SciPy's LSAP).
"""
from __future__ import annotations

import math
import signal
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linear_sum_assignment

from instances import Instance
from instances.tolerances import (BISECTION_RTOL, CONIC_TOL, MINLP_EPSILON, MINLP_GAP_RTOL, MINLP_FEASTOL, MINLP_FEASTOL_RETRY, MINLP_HEADROOM_RTOL, ROUNDING_RTOL, SCIP_OBJECTIVE_RTOL,
                         SHARE_PRUNE_RTOL)

from models.costs import threshold_weights

from .bandwidth import NEWTON_MAX_STEPS, optimal_bandwidth
from .bottleneck import bottleneck_crunch, hall_check
from .family_heuristics import (capacity_hall_violation, family_infeasibility_reason, family_latency_s,
                                family_needed_share, greedy_deepest_assignment)
from .p1 import crunch, p1_answer, p1_objective
from .result import Result, Status, Stopwatch
from .scope import solves


# --------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------
def _infeasible(solver: str, sw: Stopwatch, message: str) -> Result:
    return Result(solver=solver, problem="P2", status=Status.INFEASIBLE, seconds=sw.elapsed, message=message)


def _with_bandwidth(solver: str, instance: Instance, assignment, sw: Stopwatch, status: Status,
                    bound: float | None, message: str = "", info: dict | None = None) -> Result:
    """A P2 result whose objective is the exact fixed-assignment optimum of ``assignment``."""
    assignment = np.asarray(assignment, dtype=int)
    T, band = optimal_bandwidth(instance, assignment)
    if status == Status.OPTIMAL:
        bound = T if bound is None else min(bound, T)
    return Result(solver=solver, problem="P2", status=status, objective_s=T, bound_s=bound, seconds=sw.elapsed, assignment=tuple(assignment), bandwidth_hz=tuple(band), message=message, info=info or {})


def full_band_bound_s(instance: Instance) -> float | None:
    """A quick lower bound (s) on P2: the bottleneck assignment with every device given all of B.

    .. math:: \\underline{T} = \\min_x \\max_m \\Big(t_{x(m),m} + \\frac{c_{x(m)}}{B}\\Big) \\le T^*,

    since ``B_k <= B`` in any solution.  Rows stay sorted, so CRUNCH solves it in
    O(KM log KM).  ``None`` if the instance is infeasible.

    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.0, 4.0]], [1.0, 1.0], [1.0, 1.0],
    ...                             [1.0, 1.0], gradient_bits=1.0, bandwidth_hz=2.0)
    >>> full_band_bound_s(inst)      # block 1 on device 0 (2 + 0.5), block 0 on device 1
    2.5

    On a family instance: :func:`family_full_band_bound_s`.
    """
    if not instance.paper_model:
        return family_full_band_bound_s(instance)
    cost = instance.compute_latency + (instance.comm_coef / instance.bandwidth_hz)[:, None]
    found = bottleneck_crunch(np.where(instance.memory_ok, cost, np.inf))
    return None if found is None else float(found[0])


def family_full_band_bound_s(instance: Instance) -> float | None:
    """:func:`full_band_bound_s` of a family instance (G1, G2): a bottleneck b-matching.

    .. math:: \\underline{T} = \\min_x \\max_m \\Big(t_{x(m),m} + \\frac{D_m}{R_{x(m)} B}\\Big) \\le T^*

    over the assignments that give device k at most c_k blocks (memory
    permitting): in any solution block m's device computes at least
    ``t_{x(m),m}`` (its deepest block is no shallower) and uploads at least
    D_m bits with at most B.  Each block keeps its M cheapest devices (a block
    elsewhere can move to one of them: they offer at least M places and the
    other blocks fill at most M - 1), each kept device is copied
    ``min(c_k, M)`` times, and the least threshold with a perfect matching
    (Hopcroft-Karp, SciPy) is found by bisection on the sorted entries.
    O(K M) to keep the devices, then O(log(K M)) matchings on at most M^3 copies.
    ``None`` if the instance is infeasible.

    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.0, 4.0]], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0],
    ...                             gradient_bits=[1.0, 2.0], bandwidth_hz=2.0, device_max_blocks=[2, 1])
    >>> family_full_band_bound_s(inst)     # both blocks on device 0: max(1 + 0.5, 2 + 1)
    3.0
    """
    from scipy.sparse.csgraph import maximum_bipartite_matching

    if capacity_hall_violation(instance) is not None:
        return None
    K, M = instance.K, instance.M
    cost = np.where(instance.memory_ok, instance.compute_latency + instance.block_upload_full_s, np.inf)
    keep = np.arange(K) if K <= M else np.unique(np.argpartition(cost, M - 1, axis=0)[:M])
    copies = np.repeat(keep, np.minimum(np.asarray(instance.device_max_blocks)[keep], M))
    expanded = cost[copies].T                                       # (M blocks, copies)
    values = np.unique(expanded[np.isfinite(expanded)])

    def matched(v: float) -> bool:
        graph = sp.csr_matrix((expanded <= v).astype(np.int8))
        return bool(np.all(maximum_bipartite_matching(graph, perm_type="column") >= 0))

    lo, hi = 0, values.size - 1                                     # values[hi] matches (Hall holds)
    while lo < hi:
        mid = (lo + hi) // 2
        if matched(values[mid]):
            hi = mid
        else:
            lo = mid + 1
    return float(values[hi])


def _infeasibility_reason(instance: Instance) -> str:
    if not instance.paper_model:
        return family_infeasibility_reason(instance) or "no assignment exists"
    if instance.M > instance.K:
        return f"M = {instance.M} blocks > K = {instance.K} devices"
    return "memory wall: no assignment of all blocks to distinct devices fits the memory budgets"


def _assignment_from_x(x: np.ndarray, instance: Instance) -> np.ndarray | None:
    """Device per block from a (K, M) 0/1 matrix; None unless it is a valid C1-C3 assignment.

    In the family C2 is ``at most c_k blocks on device k`` and C3 holds when
    every block fits (then the deepest one does).
    """
    chosen = x > 0.5
    if not instance.paper_model:
        if not np.all(chosen.sum(axis=0) == 1):
            return None
        assignment = chosen.argmax(axis=0)
        if np.any(np.bincount(assignment, minlength=instance.K) > instance.device_max_blocks):
            return None
        if not np.all(instance.memory_ok[assignment, np.arange(instance.M)]):
            return None
        return assignment
    if not np.all(chosen.sum(axis=0) == 1) or np.any(chosen.sum(axis=1) > 1):
        return None
    assignment = chosen.argmax(axis=0)
    if not np.all(instance.memory_ok[assignment, np.arange(instance.M)]):
        return None
    return assignment


def _rounded_assignment(x: np.ndarray, instance: Instance) -> np.ndarray | None:
    """The C1-C3 assignment of largest total ``x`` (one block per device), or None: a fractional x rounded.

    SCIP can return a block split between interchangeable devices (0.5 and
    0.5 seen on identical devices).  The assignment maximising the summed x
    over the allowed pairs (an LSAP on ``-x``) is integral and valid; its
    latency is then computed exactly by the caller, and SCIP's objective
    and bound are trusted only if they agree with it.
    """
    cost = np.where(instance.memory_ok, -np.asarray(x, dtype=float), np.inf).T     # (M blocks, K devices)
    try:
        blocks, devices = linear_sum_assignment(cost)
    except ValueError:
        return None
    assignment = np.empty(instance.M, dtype=int)
    assignment[blocks] = devices
    return assignment


# --------------------------------------------------------------------------------------
# The parametric-assignment loop and its two oracles
# --------------------------------------------------------------------------------------
@dataclass
class OracleAnswer:
    """One threshold test: a min-cost assignment at T, or why there is none."""

    status: Status                    # OPTIMAL, INFEASIBLE (no finite assignment), TIME_LIMIT, ERROR
    assignment: np.ndarray | None     # device per block (an incumbent only, under TIME_LIMIT)
    message: str = ""
    share: float | None = None        # N_x(T) / B of the assignment, if the oracle has it (else recomputed)


#: ``oracle(threshold_s, stopwatch, incumbent) -> OracleAnswer``: a min-cost assignment at T.  ``incumbent``
#: (the descent's current x, which reaches T; or None) may be returned as that assignment when the oracle
#: proves it one (:func:`lsap_oracle` does; the MILP oracles ignore it).
Oracle = Callable[[float, Stopwatch, "np.ndarray | None"], OracleAnswer]

#: "No incumbent" for :func:`solvers.kernels.threshold_step`.
_NO_INCUMBENT = np.empty(0, dtype=np.int64)


def weight_rows(instance: Instance, threshold_s: float, rows) -> np.ndarray:
    """Rows ``rows`` of :func:`models.p2.assignment_weights` (same values), without the other rows.

    .. math:: w_{km}(T) = \\frac{D}{R_k B\\,(T - t_{km})} \\quad (t_{km} < T,\\ m < p_k),
              \\qquad +\\infty \\text{ otherwise},

    with ``p_k`` the memory prefix (``m < p_k`` iff ``mu_m <= cap_k``, mu sorted).
    O(|rows| M).

    >>> from instances import Instance
    >>> from models.p2 import assignment_weights
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.0, 4.0]], [1.0, 2.0], [1.0, 2.0],
    ...                             [1.0, 2.0], gradient_bits=1.0, bandwidth_hz=2.0)
    >>> weight_rows(inst, 3.0, [1]).tolist()
    [[0.125, inf]]
    >>> bool(np.array_equal(weight_rows(inst, 3.0, [0, 1]), assignment_weights(inst, 3.0)))
    True

    With per-block sizes (G1) the numerator is ``D_m`` (the same values as
    :func:`models.p2.assignment_weights` again).
    """
    rows = np.asarray(rows, dtype=np.intp)
    prefix = np.searchsorted(instance.block_memory, instance.device_memory[rows], side="right")  # = memory_prefix[rows]
    if not instance.uniform_bits:
        return _weights(instance.compute_latency, _block_share(instance, rows), prefix, threshold_s,
                        np.arange(rows.size), local_prefix=prefix, rows_of=rows)
    return _weights(instance.compute_latency, instance.upload_full_s, prefix, threshold_s, rows, local_prefix=prefix)


def candidate_devices(instance: Instance, threshold_s: float) -> np.ndarray:
    """The union over the blocks of a set of each block's M cheapest devices at ``threshold_s`` (sorted).

    *Why each block's M cheapest suffice.*  In a min-cost assignment every
    block m can be given one of its M cheapest devices: if m sits elsewhere,
    at most M-1 of those devices hold other blocks, so one is free and at most
    as cheap; moving m there does not raise the cost.

    *Why a device whose block-0 weight is large is nobody's M cheapest.*  Rows
    of the weight matrix are non-decreasing in m (``t_km`` grows, so
    ``T - t_km`` shrinks; forbidden pairs form a suffix), hence each block's
    M-th smallest weight is at most W, the M-th smallest weight of the
    deepest block over the devices that hold it, and an entry above W is in
    no block's M cheapest.  A row is therefore scanned only while its weights
    stay under W, or under the smaller running bound of the kernel (the
    largest of the blocks' current M-th smallest, once each block has M;
    see :mod:`solvers.kernels`).  If fewer than M devices can take block 0
    at T, those devices are returned (no assignment reaches T).  The tests
    check the kept set against each block's M cheapest on random instances.  O(K + n'
    log M) for the n' scanned entries (one pass, :func:`solvers.kernels.cheapest_union`),
    O(KM log M) at worst.

    With at most 8 M devices (:data:`solvers.kernels.FEW_DEVICES_PER_BLOCK`)
    no scan is made: every device that reaches block 0 by T is kept.

    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0]] * 10, [1.0], [1.0] * 10, [float(r) for r in range(1, 11)],
    ...                             gradient_bits=1.0, bandwidth_hz=1.0)
    >>> candidate_devices(inst, 2.0).tolist()     # w = 1 / (R_k (2 - 1)): device 9 (R = 10) is the cheapest
    [9]
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.0, 4.0], [4.5, 4.6]], [1.0, 1.0], [1.0, 1.0, 1.0],
    ...                             [1.0, 1.0, 1.0], gradient_bits=1.0, bandwidth_hz=1.0)
    >>> candidate_devices(inst, 5.0).tolist(), candidate_devices(inst, 4.0).tolist()   # 3 <= 8 M devices
    ([0, 1, 2], [0, 1])

    *Per-block sizes (G1).*  Rows of :math:`w_{km} = D_m v_{km}`, with
    :math:`v_{km} = 1 / (R_k B (T - t_{km}))`, need not be sorted (D_m may
    fall with m), but the rows of v are, and a column scaled by D_m > 0 keeps
    its order: block m's M cheapest devices are the same under w and v.  The
    scan therefore runs on v (``1 / (R_k B)``), and what it keeps holds,
    for every block, a set of its M cheapest devices under w.
    """
    from . import kernels

    K, M = instance.K, instance.M
    values, iwork = kernels.crunch_work(K, M)
    n = kernels.cheapest_union(np.ascontiguousarray(instance.compute_latency), _scan_share(instance),
                               instance.memory_prefix, float(threshold_s), values, iwork)
    return iwork[M * M + M:M * M + M + n].copy()


def _scan_share(instance: Instance) -> np.ndarray:
    """(K,) s: the row scale of the pruning scan, ``D / (R_k B)``, or ``1 / (R_k B)`` (per bit) under G1."""
    if instance.uniform_bits:
        return instance.comm_coef / instance.bandwidth_hz
    return 1.0 / instance.spectral_efficiency / instance.bandwidth_hz


def _block_share(instance: Instance, rows: np.ndarray) -> np.ndarray:
    """Rows ``rows`` of :attr:`Instance.block_upload_full_s` (same operations): D_m / R_k / B, s."""
    return instance.block_bits[None, :] / instance.spectral_efficiency[rows, None] / instance.bandwidth_hz


def _weights(tcp: np.ndarray, share: np.ndarray, prefix: np.ndarray, threshold_s: float,
             rows: np.ndarray, local_prefix: np.ndarray | None = None, rows_of: np.ndarray | None = None) -> np.ndarray:
    """:func:`weight_rows` on the instance's arrays (:func:`models.costs.threshold_weights`, allowed: m < prefix_k).

    ``local_prefix``, if given, is ``prefix[rows]`` already.  ``share`` is (K,)
    (one gradient size) or (K, M) (G1: D_m / (R_k B), rows ``rows`` of it used);
    ``rows_of``, if given, are the devices of the rows when ``share`` holds only
    those rows (then ``rows`` indexes ``share`` and ``rows_of`` the instance).
    """
    row_prefix = prefix[rows] if local_prefix is None else local_prefix
    allowed = np.arange(tcp.shape[1])[None, :] < row_prefix[:, None]
    if share.ndim == 2:
        devices = rows if rows_of is None else rows_of
        return threshold_weights(share[rows], tcp[devices], threshold_s, allowed)
    return threshold_weights(share[rows, None], tcp[rows], threshold_s, allowed)


def lsap_oracle(instance: Instance) -> Oracle:
    """The threshold test by a rectangular LSAP on each block's M cheapest devices.

    One compiled call per step (:func:`solvers.kernels.threshold_step`): the
    devices of :func:`candidate_devices` (one pass over the rows, under the
    running bound; at most ``min(K, M^2)``), their weights, and on them
    improving exchanges from ``incumbent`` up to a duality proof
    (:func:`solvers.kernels.exchange_to_minimum`), or, when those do not
    reach one within their budget (or no incumbent is given), the
    shortest-augmenting-path LSAP (:func:`solvers.kernels.lsap_rows`, the
    method of SciPy's ``linear_sum_assignment``, which the tests compare it
    with).

    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.0, 4.0], [3.0, 3.0]], [1.0, 1.0], [1.0, 1.0, 1.0],
    ...                             [1.0, 1.0, 1.0], gradient_bits=1.0, bandwidth_hz=1.0)
    >>> lsap_oracle(inst)(5.0, Stopwatch()).assignment.tolist()   # w = 1/(5 - t)
    [1, 0]

    Per-block sizes (G1) change the weights (``D_m`` in the numerator) and the
    candidate test (on ``1 / (R_k B)``, see :func:`candidate_devices`); the
    pruning stays valid because it only compares weights within a column.
    Devices that take several blocks (G2) make the test no assignment problem:
    ``ValueError``.
    """
    if not instance.single_block:
        raise ValueError(f"the LSAP threshold test needs one block per device, but instance {instance.name!r} "
                         "lets devices take several (G2): use milp_oracle")
    from . import kernels

    tcp = np.ascontiguousarray(instance.compute_latency)
    prefix = np.ascontiguousarray(instance.memory_prefix, dtype=np.int64)
    unit = _scan_share(instance)
    M = instance.M
    work = kernels.step_work(instance.K, M)           # reused by every step of one solve
    share_rows = np.ascontiguousarray(unit[:, None] if instance.uniform_bits else instance.block_upload_full_s)  # s

    def oracle(threshold_s: float, sw: Stopwatch, incumbent: np.ndarray | None = None) -> OracleAnswer:
        assignment = np.empty(M, dtype=np.int64)
        known = _NO_INCUMBENT if incumbent is None else np.ascontiguousarray(incumbent, dtype=np.int64)
        total = kernels.threshold_step(tcp, unit, share_rows, prefix, float(threshold_s), *work, assignment, known)
        if not total < np.inf:              # fewer than M devices reach T, or no finite assignment
            return OracleAnswer(Status.INFEASIBLE, None, f"no assignment reaches {threshold_s!r} s")
        return OracleAnswer(Status.OPTIMAL, assignment, share=float(total))

    return oracle


#: Wall time (s) per modelled pair to build a Pyomo model and hand it to the solver: about
#: 60 us (build) + 110 us (Pyomo -> SCIP) for the MINLP, 40 us + 40 us (Pyomo -> HiGHS) for
#: the threshold MILP (measured at K = 5000, M = 48).  Used to say "time limit" at once
#: when building alone would overrun the limit.
MINLP_SECONDS_PER_PAIR = 170e-6
MILP_SECONDS_PER_PAIR = 80e-6
#: The same for the CVXPY relaxation (CVXPY's compilation; Clarabel has its own time limit).
RELAXATION_SECONDS_PER_PAIR = 40e-6


def _highs_answer(out, x: np.ndarray | None, instance: Instance) -> OracleAnswer:
    """The oracle's answer from HiGHS's outcome ``out`` and its (K, M) matrix ``x`` (None without a solution)."""
    assignment = None
    if x is not None:
        assignment = _assignment_from_x(x, instance)
        if assignment is None:
            return OracleAnswer(Status.ERROR, None, "HiGHS returned a matrix that is not a C1-C3 assignment")
    if out.status == Status.OPTIMAL and assignment is None:
        return OracleAnswer(Status.ERROR, None, "HiGHS reported optimal without a solution")
    return OracleAnswer(out.status, assignment, out.message)


def _build_overrun(sw: Stopwatch, count: int, model: str, unit: str) -> OracleAnswer | None:
    """``time_limit`` at once if building ``model`` (``count`` variables) would take longer than the time left.

    At :data:`MILP_SECONDS_PER_PAIR` per variable; None if it fits (or there is no limit).
    """
    remaining = sw.remaining
    if remaining is None or count * MILP_SECONDS_PER_PAIR <= remaining:
        return None
    return OracleAnswer(Status.TIME_LIMIT, None, f"building {model} ({count} {unit}) would take about "
                                                 f"{count * MILP_SECONDS_PER_PAIR:.2g} s, more than the "
                                                 f"{remaining:.2g} s left")


def milp_oracle(instance: Instance) -> Oracle:
    """The threshold test as the Pyomo MILP :func:`models.p2.build_p2_assignment`, by HiGHS.

    At ``T = T(x)`` the current assignment costs 1 (a share of B), so pairs of
    weight above ``1 + SHARE_PRUNE_RTOL`` are in no min-cost assignment and are
    left out (``max_share``): the model holds only the pairs that can matter,
    and its costs lie in (0, 1].  If building it would take longer than the
    time left (``MILP_SECONDS_PER_PAIR``), the step stops at once.

    Per-block sizes (G1) with one block per device: the same model with the
    weights ``D_m / (R_k B (T - t))``.  Devices that take several blocks (G2):
    :func:`models.p2.build_p2_family_assignment` (:func:`family_milp_oracle`).
    """
    if not instance.single_block:
        return family_milp_oracle(instance)
    from models.p2 import assignment_weights, build_p2_assignment

    from .pyomo_solve import solve_with_highs

    max_share = 1.0 + SHARE_PRUNE_RTOL

    def oracle(threshold_s: float, sw: Stopwatch, incumbent: np.ndarray | None = None) -> OracleAnswer:
        w = assignment_weights(instance, threshold_s)
        keep = w <= max_share
        if not np.all(keep.any(axis=0)):
            return OracleAnswer(Status.INFEASIBLE, None, f"some block has no pair of share <= {max_share!r}")
        overrun = _build_overrun(sw, int(keep.sum()), "the assignment MILP", "pairs")
        if overrun is not None:
            return overrun
        model = build_p2_assignment(instance, threshold_s, max_share=max_share)
        if sw.expired():
            return OracleAnswer(Status.TIME_LIMIT, None, "time limit while building the assignment MILP")
        out = solve_with_highs(model, sw.remaining)
        x = None
        if out.has_solution:
            x = np.zeros((instance.K, instance.M))
            for (k, m) in model.P:
                x[k, m] = model.x[k, m].value or 0.0
        return _highs_answer(out, x, instance)

    return oracle


def family_milp_oracle(instance: Instance) -> Oracle:
    """The threshold test of the family (G2) as :func:`models.p2.build_p2_family_assignment`, by HiGHS.

    Exact: the model's optimum is :math:`W(T) = \\min_x N_x(T)` over the
    assignments with at most c_k blocks per device (proof in the builder).
    As in :func:`milp_oracle`, triples whose weight (with that of their deepest
    block) exceeds ``1 + SHARE_PRUNE_RTOL`` are left out, and a build that would
    overrun the time left (``MILP_SECONDS_PER_PAIR`` per triple) is not started.
    The share returned is recomputed from the assignment (:func:`family_needed_share`).
    """
    from models.p2 import build_p2_family_assignment, family_assignment_triples

    from .pyomo_solve import solve_with_highs

    max_share = 1.0 + SHARE_PRUNE_RTOL

    def oracle(threshold_s: float, sw: Stopwatch, incumbent: np.ndarray | None = None) -> OracleAnswer:
        triples = family_assignment_triples(instance, threshold_s, max_share)
        covered = np.zeros(instance.M, dtype=bool)
        covered[triples[1]] = True
        if not covered.all():
            return OracleAnswer(Status.INFEASIBLE, None, f"some block has no triple of share <= {max_share!r}")
        overrun = _build_overrun(sw, int(triples[0].size), "the family assignment MILP", "triples")
        if overrun is not None:
            return overrun
        model = build_p2_family_assignment(instance, threshold_s, max_share=max_share, triples=triples)
        if sw.expired():
            return OracleAnswer(Status.TIME_LIMIT, None, "time limit while building the family assignment MILP")
        out = solve_with_highs(model, sw.remaining)
        x = None
        if out.has_solution:
            x = np.zeros((instance.K, instance.M))
            for (k, m, d) in model.W:
                x[k, m] += model.w[k, m, d].value or 0.0
        return _highs_answer(out, x, instance)

    return oracle


def _needed_share(instance: Instance, assignment: np.ndarray, threshold_s: float) -> float:
    """N_x(T) / B: the least share of the band with which ``assignment`` finishes by T.  O(M^2).

    On a family instance: :func:`solvers.family_heuristics.family_needed_share`.
    """
    if not instance.paper_model:
        return family_needed_share(instance, assignment, threshold_s)
    diagonal = np.arange(instance.M)
    w = weight_rows(instance, threshold_s, assignment)[diagonal, diagonal]
    return math.fsum(w.tolist())


def _latency_s(tcp: np.ndarray, share: np.ndarray | None, blocks: np.ndarray, assignment: np.ndarray,
               instance: Instance) -> float:
    """T(x) of ``assignment`` (s): :func:`solvers.bandwidth.latency_root_s` (its kernel), or :func:`optimal_bandwidth` if Newton does not settle.

    ``share`` None: a family instance, :func:`solvers.family_heuristics.family_latency_s`.
    """
    if share is None:
        return family_latency_s(instance, assignment)
    from . import kernels

    T = kernels.latency_root(np.ascontiguousarray(tcp), np.ascontiguousarray(share),
                             np.ascontiguousarray(assignment, dtype=np.int64), NEWTON_MAX_STEPS)
    return optimal_bandwidth(instance, assignment)[0] if T != T else float(T)


def parametric_assignment(instance: Instance, oracle: Oracle, solver: str,
                          time_limit: float | None = None,
                          start: np.ndarray | None = None) -> Result:
    """Exact P2 by descent on the threshold, one min-cost assignment (``oracle``) per step.

    See the module docstring for the proof; ``oracle(T, stopwatch)`` must return
    a minimum-cost assignment for the weights of
    :func:`models.p2.assignment_weights` at T.  ``start`` is the warm start
    ``x_0`` (CRUNCH's P1 assignment when not given; the batch API passes its
    own, the same).  The thresholds ``T_i = T(x_i)`` of the descent are
    :func:`latency_root_s`; the reported objective and bandwidths are
    :func:`solvers.bandwidth.optimal_bandwidth` of the final assignment.

    Returns
    -------
    Result
        ``optimal`` (``bound_s == objective_s``), ``infeasible``, ``time_limit``
        (the incumbent and the full-band lower bound :func:`full_band_bound_s`)
        or ``error``.  ``info["iterations"]`` counts the assignments solved,
        ``info["trace_s"]`` the thresholds visited.

    *The family* (G1, G2).  The proof above uses only that :math:`N_x(T)` is a
    sum of terms :math:`U_k / (R_k B (T - a_k))`, each strictly decreasing in
    T, and that the oracle returns a minimiser of it over the feasible
    assignments; both hold with ``a_k = tcp[k, d_k]`` and ``U_k`` the device's
    bits.  The warm start is then :func:`solvers.family_heuristics.greedy_deepest_assignment`
    (``info["start"]``; ``info["p1_objective_s"]`` is None) and infeasibility
    is Hall's condition with capacities
    (:func:`solvers.family_heuristics.capacity_hall_violation`).
    """
    sw = Stopwatch(time_limit)
    begun = _start(instance, start, sw)
    if isinstance(begun, str):
        return _infeasible(solver, sw, begun)
    x, T, p1_value = begun
    trace = [T]
    info = {"iterations": 0, "trace_s": trace, "p1_objective_s": p1_value}
    if not instance.paper_model:
        info["start"] = "greedy-deepest" if start is None else "given"
    x, T, status, message = _descend(instance, oracle, x, T, sw, info)
    if status == Status.TIME_LIMIT:
        info["share_at_stop"] = None
        return _with_bandwidth(solver, instance, x, sw, Status.TIME_LIMIT, full_band_bound_s(instance),
                               message, info)
    if status == Status.ERROR:
        return Result(solver=solver, problem="P2", status=Status.ERROR, seconds=sw.elapsed, info=info,
                      message=message)
    return _with_bandwidth(solver, instance, x, sw, Status.OPTIMAL, None, info=info)


def _start(instance: Instance, start: np.ndarray | None, sw: Stopwatch) -> tuple[np.ndarray, float, float | None] | str:
    """The descent's warm start ``(x_0, T(x_0), P1 objective or None)``, or why the instance is infeasible.

    Paper model: CRUNCH's P1 assignment (its objective, and the feasibility
    test); the family: :func:`solvers.family_heuristics.greedy_deepest_assignment`
    after Hall's condition with capacities.  A given ``start`` is used as is.
    """
    if not instance.paper_model:
        reason = family_infeasibility_reason(instance)
        if reason is not None:
            return reason
        x = (greedy_deepest_assignment(instance, stopwatch=sw, max_passes=instance.M) if start is None
             else np.asarray(start, dtype=int))
        return x, family_latency_s(instance, x), None
    if start is None:
        found = p1_answer(instance)         # P1's assignment: the warm start (and the feasibility test)
        if found is None:
            return _infeasibility_reason(instance)
        p1_value, x = found
    else:
        x = np.asarray(start, dtype=int)
        p1_value = p1_objective(instance, x)
    return x, _latency_s(instance.compute_latency, instance.comm_coef / instance.bandwidth_hz,
                         np.arange(instance.M), x, instance), p1_value


def _descend(instance: Instance, oracle: Oracle, x: np.ndarray, T: float, sw: Stopwatch,
             info: dict) -> tuple[np.ndarray, float, Status, str]:
    """The descent of :func:`parametric_assignment` from ``x`` (with ``T = T(x)``): ``(x, T, status, message)``.

    ``status`` is ``optimal`` (x is optimal, T = T(x)), ``time_limit`` (x the
    incumbent) or ``error``; ``info`` counts the steps (``iterations``),
    appends to ``info["trace_s"]`` and records ``share_at_stop`` and notes.
    """
    family = not instance.paper_model
    tcp, blocks = instance.compute_latency, np.arange(instance.M)
    share_s = None if family else instance.comm_coef / instance.bandwidth_hz
    while True:
        if sw.expired():
            return x, T, Status.TIME_LIMIT, f"time limit after {info['iterations']} assignment(s)"
        answer = oracle(T, sw, x)
        info["iterations"] += 1
        if answer.status == Status.ERROR:
            return x, T, Status.ERROR, f"assignment step {info['iterations']} failed: {answer.message}"
        if answer.status == Status.TIME_LIMIT:
            if answer.assignment is not None:       # the oracle's incumbent may already be better
                T_new = _latency_s(tcp, share_s, blocks, answer.assignment, instance)
                if T_new < T:
                    x, T = answer.assignment, T_new
            return x, T, Status.TIME_LIMIT, f"time limit in assignment step {info['iterations']}: {answer.message}"
        if answer.status == Status.INFEASIBLE or answer.assignment is None:
            # cannot happen in exact arithmetic (x itself reaches T); treat as "no better x"
            info["share_at_stop"] = None
            info["note"] = f"step {info['iterations']}: oracle found no assignment at T = {T!r} s ({answer.message})"
            return x, T, Status.OPTIMAL, ""
        share = answer.share if answer.share is not None else _needed_share(instance, answer.assignment, T)
        info["share_at_stop"] = share
        if share >= 1.0 - BISECTION_RTOL:
            return x, T, Status.OPTIMAL, ""          # W(T) = B: no assignment beats x
        T_new = _latency_s(tcp, share_s, blocks, answer.assignment, instance)
        if not T_new < T:                            # rounding only: never loop without progress
            info["note"] = f"step {info['iterations']}: share {share!r} < 1 but no strict decrease of T"
            return x, T, Status.OPTIMAL, ""
        x, T = answer.assignment, T_new
        info["trace_s"].append(T)


def p2_answer(instance: Instance) -> tuple[float, np.ndarray] | None:
    """P2's optimum on an instance: ``(latency_s, assignment)`` or None if infeasible.

    The lean core of :func:`exact_jbba` (no Result, no clock, no certificate):
    the same warm start, the same descent with the same LSAP threshold test,
    so the same assignment, and the latency is ``exact_jbba``'s objective to
    the last bit (the root of the final step,
    :func:`solvers.bandwidth.latency_root_s`, is the one
    :func:`solvers.bandwidth.optimal_bandwidth` finds).  The bandwidths follow
    from the assignment (:func:`solvers.bandwidth.optimal_bandwidth`).
    Solves what ``exact`` solves (the paper's model and G1); ``ValueError``
    on devices that take several blocks (G2).

    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.0, 4.0], [3.0, 3.0]], [1.0, 1.0], [1.0, 1.0, 1.0],
    ...                             [1.0, 2.0, 4.0], gradient_bits=1.0, bandwidth_hz=1.0)
    >>> value, assignment = p2_answer(inst)
    >>> assignment.tolist(), value == optimal_bandwidth(inst, assignment)[0] == exact_jbba(inst).objective_s
    ([1, 0], True)
    """
    sw = Stopwatch()
    begun = _start(instance, None, sw)
    if isinstance(begun, str):
        return None
    x, T, _ = begun
    x, T, _, _ = _descend(instance, lsap_oracle(instance), x, T, sw, {"iterations": 0, "trace_s": []})
    if not instance.paper_model:
        T = optimal_bandwidth(instance, x)[0]
    return T, np.asarray(x)


@solves("G1", name="exact", problem="P2")
def exact_jbba(instance: Instance, time_limit: float | None = None) -> Result:
    """Solve P2 exactly by parametric assignment, an LSAP per step (see the module docstring).

    Complexity: one CRUNCH, then per step O(K + nM + M^2 min(n, M^2)) with
    n <= K the candidate devices (:func:`candidate_devices`); 2-5 steps in practice.

    Solves per-block sizes (G1: the weights ``D_m / (R_k B (T - t))``, the
    same pruning on ``1 / (R_k B)``, warm start ``greedy-deepest``); refuses
    devices that take several blocks (G2: the threshold test is no assignment
    problem, see :func:`milp_jbba`).

    Examples
    --------
    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.0, 4.0], [3.0, 3.0]], [1.0, 1.0], [1.0, 1.0, 1.0],
    ...                             [1.0, 2.0, 4.0], gradient_bits=1.0, bandwidth_hz=1.0)
    >>> res = exact_jbba(inst)
    >>> res.status.value, res.assignment
    ('optimal', (1, 0))
    >>> from itertools import permutations
    >>> from solvers.bandwidth import optimal_bandwidth
    >>> best_s = min(optimal_bandwidth(inst, a)[0] for a in permutations(range(inst.K), inst.M))   # enumeration
    >>> abs(res.objective_s - best_s) < 1e-9      # re-check by enumeration
    True
    """
    return parametric_assignment(instance, lsap_oracle(instance), "exact", time_limit)


@solves("G1", "G2", name="milp", problem="P2")
def milp_jbba(instance: Instance, time_limit: float | None = None) -> Result:
    """Solve P2 exactly by parametric assignment, each step a Pyomo MILP solved by HiGHS.

    Same loop as :func:`exact_jbba`; only the threshold test differs
    (:func:`models.p2.build_p2_assignment`).  Each step costs a Pyomo build and
    a HiGHS solve (about 0.1 s of model handling): per step O(KM) model
    components, then HiGHS's branch and bound (exponential in the worst case).  A HiGHS optimum carries
    HiGHS's own tolerances (about 1e-7 on the share), far below ``EXACT_RTOL``.

    Solves the whole family: G1 with one block per device by the same model
    (weights with ``D_m``), G2 by :func:`models.p2.build_p2_family_assignment`
    (:func:`family_milp_oracle`, triples (device, block, deepest block), K M^2 / 2
    binaries at most), the loop started from ``greedy-deepest``.  The time limit
    covers the start, every model build and every HiGHS run.

    Examples
    --------
    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.0, 4.0], [3.0, 3.0]], [1.0, 1.0], [1.0, 1.0, 1.0],
    ...                             [1.0, 2.0, 4.0], gradient_bits=1.0, bandwidth_hz=1.0)
    >>> milp_jbba(inst).objective_s == exact_jbba(inst).objective_s
    True
    """
    return parametric_assignment(instance, milp_oracle(instance), "milp", time_limit)


# --------------------------------------------------------------------------------------
# The convex MINLP, by SCIP
# --------------------------------------------------------------------------------------
@solves("G1", "G2", name="minlp", problem="P2")
def minlp_jbba(instance: Instance, time_limit: float | None = None) -> Result:
    """Solve P2 as the convex MINLP :func:`models.p2.build_p2_minlp` with SCIP (via Pyomo).

    The model is scaled by ``S = T(x_P1)`` (the optimal bandwidth on CRUNCH's P1
    assignment, an upper bound on the optimum, widened by ``MINLP_HEADROOM_RTOL``
    so that the warm start lies strictly inside every bound):
    time in units of S, slack and bandwidth share in per-device units whose
    product is the device's scaled upload coefficient, so every cone reads
    ``s_k b_k >= z_k^2`` (see the builder for why: with ``s b >= q z^2`` and
    small ``q`` SCIP's absolute tolerance let devices upload almost for free).
    Only pairs with ``t + c/B <= S`` are modelled.  SCIP gets P1's assignment as
    a MIP start, gap limits 0 (it must prove optimality), ``numerics/feastol`` =
    ``MINLP_FEASTOL`` and ``limits/time`` = the time left; its output goes to a
    temporary file (:func:`solvers.pyomo_solve.quiet_solver_call`), never to a
    pipe that could block it.

    What is reported is re-derived, not taken from SCIP:

    * the objective is ``T(x)`` of SCIP's assignment x, from
      :func:`solvers.bandwidth.optimal_bandwidth` (exact for that x);
    * "optimal" needs SCIP's own objective to be no lower than ``T(x)`` by
      more than ``SCIP_OBJECTIVE_RTOL``; then ``bound_s = min(SCIP's dual bound * S, T(x))``.
      Otherwise SCIP's solution leaned on its tolerances, so neither its
      optimality nor its bound is trusted: status ``feasible``, ``bound_s`` =
      :func:`full_band_bound_s`, and a message saying so;
    * a stopped run returns the better of SCIP's incumbent and P1's start, with
      SCIP's dual bound (capped at the objective) only under the same agreement
      test, else the full-band bound.

    ``info`` holds SCIP's raw numbers (``scip_objective_s``, ``scip_bound_s``)
    and ``bound_source`` (``scip`` or ``full-band``).  If building the model
    alone would take longer than the time limit (``MINLP_SECONDS_PER_PAIR``),
    it is not built: status ``time_limit`` at once, with P1's start and the
    full-band bound.

    Complexity: exponential in the worst case (branch and bound over the
    usable pairs); K = 20, M = 12 takes 0.5-2 s, K = 50 does not finish in 5 s.

    Returns ``error`` (with the reason) if SCIP is not available.

    *The family* (G1, G2): the model is :func:`models.p2.build_p2_family_minlp`
    (per-block sizes, up to c_k blocks per device, the computation latency of
    the deepest block, one cone per device on its upload sum, the same time
    scale and per-device units), the warm start and time scale come from
    ``greedy-deepest`` instead of CRUNCH, infeasibility from Hall's condition
    with capacities; everything reported is re-derived as above.

    Examples
    --------
    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.0, 4.0], [3.0, 3.0]], [1.0, 1.0], [1.0, 1.0, 1.0],
    ...                             [1.0, 2.0, 4.0], gradient_bits=1.0, bandwidth_hz=1.0)
    >>> res = minlp_jbba(inst)
    >>> res.status.value, res.assignment == exact_jbba(inst).assignment
    ('optimal', True)
    >>> fam = Instance.from_arrays([[1.0, 2.0], [1.0, 4.0], [3.0, 3.0]], [1.0, 1.0], [1.0, 1.0, 1.0],
    ...                            [1.0, 2.0, 4.0], gradient_bits=[1.0, 2.0], bandwidth_hz=1.0,
    ...                            device_max_blocks=[2, 1, 2])
    >>> res = minlp_jbba(fam)
    >>> res.status.value, abs(res.objective_s - milp_jbba(fam).objective_s) < 1e-9 * res.objective_s
    ('optimal', True)
    """
    solver = "minlp"
    sw = Stopwatch(time_limit)
    try:
        # pyomo.environ first: it registers the contrib solvers, without it the
        # factory returns None for "scip_direct" in a fresh process
        import pyomo.environ as pyo
        from pyomo.contrib.solver.common.factory import SolverFactory
        from pyomo.contrib.solver.common.results import TerminationCondition

        scip = SolverFactory("scip_direct")
        if scip is None or not scip.available():
            raise RuntimeError(f"SCIP is not available ({scip and scip.available()})")
    except Exception as exc:
        return Result(solver=solver, problem="P2", status=Status.ERROR, seconds=sw.elapsed,
                      message=f"SCIP (pyomo scip_direct / PySCIPOpt) unavailable: {exc}")

    from models.p2 import build_p2_family_minlp, build_p2_minlp, minlp_usable_pairs

    from .pyomo_solve import quiet_solver_call

    if instance.paper_model:
        start = crunch(instance)
        if start.status == Status.INFEASIBLE:
            return _infeasible(solver, sw, start.message)
        x0 = np.asarray(start.assignment, dtype=int)
        build, start_name = build_p2_minlp, "P1's start"
    else:
        reason = family_infeasibility_reason(instance)
        if reason is not None:
            return _infeasible(solver, sw, reason)
        x0 = greedy_deepest_assignment(instance, stopwatch=sw, max_passes=instance.M)
        build, start_name = build_p2_family_minlp, "greedy-deepest's start"
    T0, _ = optimal_bandwidth(instance, x0)
    info = {"scip_termination": None, "scip_objective_s": None, "scip_bound_s": None, "scip_nodes": None,
            "time_scale_s": None, "bound_source": "full-band"}

    def stopped(message: str, assignment=x0) -> Result:
        return _with_bandwidth(solver, instance, assignment, sw, Status.TIME_LIMIT, full_band_bound_s(instance),
                               message, info)

    # the time scale: T0 with head room, so that no bound of the model passes through the warm
    # start (an optimal warm start on tau <= 1 made SCIP's presolve declare models infeasible).
    # Only pairs that can finish by it with the whole band can be in an optimum.
    upper_s = T0 * (1.0 + MINLP_HEADROOM_RTOL)
    usable = minlp_usable_pairs(instance, upper_s * (1.0 + ROUNDING_RTOL))     # as the builder widens it
    n_pairs = int(usable.sum())
    info["pairs"] = n_pairs
    if time_limit is not None and n_pairs * MINLP_SECONDS_PER_PAIR > sw.remaining:
        return stopped(f"time limit: building the MINLP ({n_pairs} pairs) would take about "
                       f"{n_pairs * MINLP_SECONDS_PER_PAIR:.2g} s, more than the {sw.remaining:.2g} s left; "
                       f"not built ({start_name} and the full-band bound)")
    model = build(instance, upper_bound_s=upper_s, usable=usable)
    scale = float(pyo.value(model.time_scale_s))
    info["time_scale_s"] = scale
    if time_limit is not None and n_pairs * (MINLP_SECONDS_PER_PAIR / 3.0) > sw.remaining:
        return stopped("time limit after building the MINLP: no time left to hand it to SCIP")
    _load_start(model, instance, x0)
    # misc/catchctrlc: SCIP catches Ctrl-C while it runs and stops with "userinterrupt", which
    # is turned back into KeyboardInterrupt below, so that Ctrl-C ends a sweep, not one run.  A
    # process that ignores SIGINT (a guarded worker: the harness handles Ctrl-C) keeps it so.
    catch_ctrl_c = signal.getsignal(signal.SIGINT) not in (signal.SIG_IGN, None)
    # feastol tight (SCIP's objective then matches T(x)), epsilon below it (SCIP assumes
    # epsilon <= feastol: with the default 1e-9 probing cut off optimal assignments)
    # limits/gap: SCIP stops when its relative gap is below MINLP_GAP_RTOL; with a gap of 0 it can
    # branch for minutes on an optimum it already holds, its bound stuck just below (duplicated
    # devices).  Optimality is then re-derived (SCIP_OBJECTIVE_RTOL) and certified by the caller.
    options = {"limits/gap": MINLP_GAP_RTOL, "limits/absgap": 0.0, "numerics/feastol": MINLP_FEASTOL,
               "numerics/epsilon": MINLP_EPSILON, "display/verblevel": 0, "misc/catchctrlc": catch_ctrl_c}
    kwargs = dict(load_solutions=False, raise_exception_on_nonoptimal_result=False,
                  warmstart_discrete_vars=True, solver_options=options)
    if time_limit is not None:
        # SCIP's clock starts after Pyomo's translation (about 2/3 of the build cost per pair)
        kwargs["time_limit"] = float(max(sw.remaining - n_pairs * (2.0 * MINLP_SECONDS_PER_PAIR / 3.0), 0.01))
    try:
        with quiet_solver_call() as output:
            res = scip.solve(model, **kwargs)
    except Exception as exc:  # noqa: BLE001
        # at MINLP_FEASTOL SoPlex (no GMP) can fail ("error in LP solver") on instances whose
        # uploads are a tiny fraction of the computation: try once more at MINLP_FEASTOL_RETRY
        if options["numerics/feastol"] == MINLP_FEASTOL_RETRY or sw.expired():
            return Result(solver=solver, problem="P2", status=Status.ERROR, seconds=sw.elapsed,
                          message=f"SCIP failed: {type(exc).__name__}: {exc}")
        info["scip_retry"] = f"{type(exc).__name__}: {exc}; again with feastol {MINLP_FEASTOL_RETRY:g}"
        options["numerics/feastol"] = MINLP_FEASTOL_RETRY
        if time_limit is not None:
            kwargs["time_limit"] = float(max(sw.remaining, 0.01))
        _load_start(model, instance, x0)
        try:
            with quiet_solver_call() as output:
                res = scip.solve(model, **kwargs)
        except Exception as exc2:  # a solver crash becomes an error row
            return Result(solver=solver, problem="P2", status=Status.ERROR, seconds=sw.elapsed,
                          message=f"SCIP failed: {type(exc2).__name__}: {exc2} (first: {exc})")
    if output.text:
        info["scip_output"] = output.text                # head and tail, see solvers.capture
        info["scip_output_bytes"] = output.total_bytes
    tc = res.termination_condition
    info["scip_termination"] = tc.name
    info["scip_nodes"] = _scip_nodes(res)
    if tc == TerminationCondition.interrupted and catch_ctrl_c:   # SCIP's "userinterrupt": Ctrl-C
        raise KeyboardInterrupt("SCIP was interrupted by the user (Ctrl-C)")
    bound = res.objective_bound
    scip_bound_s = float(bound) * scale if bound is not None and math.isfinite(bound) else None
    info["scip_bound_s"] = scip_bound_s
    assignment = None
    if res.incumbent_objective is not None:
        info["scip_objective_s"] = float(res.incumbent_objective) * scale
        res.solution_loader.load_vars()
        x = np.zeros((instance.K, instance.M))
        for (k, m) in model.P:
            x[k, m] = model.x[k, m].value or 0.0
        assignment = _assignment_from_x(x, instance)
        if assignment is None and instance.single_block:
            assignment = _rounded_assignment(x, instance)
            info["scip_x_rounded"] = assignment is not None
    if tc in (TerminationCondition.provenInfeasible, TerminationCondition.infeasibleOrUnbounded):
        # P1's (greedy-deepest's) assignment is feasible for the model, so this is a numerical failure of SCIP
        return Result(solver=solver, problem="P2", status=Status.ERROR, seconds=sw.elapsed, info=info,
                      message="SCIP claims infeasible although the warm start is feasible")
    stopped_by_limit = tc in (TerminationCondition.maxTimeLimit, TerminationCondition.interrupted,
                              TerminationCondition.iterationLimit)
    if tc != TerminationCondition.convergenceCriteriaSatisfied and not stopped_by_limit:
        return Result(solver=solver, problem="P2", status=Status.ERROR, seconds=sw.elapsed, bound_s=full_band_bound_s(instance),
                      info=info, message=f"SCIP ended with {tc.name}")
    if assignment is None:
        if not stopped_by_limit:
            return Result(solver=solver, problem="P2", status=Status.ERROR, seconds=sw.elapsed, info=info,
                          message="SCIP reported optimal but its x is not a C1-C3 assignment")
        return stopped(f"SCIP stopped: {tc.name} (no incumbent of its own; {start_name})")
    T, _ = optimal_bandwidth(instance, assignment)
    # SCIP's numbers are trusted only if its objective is not below the latency of its own
    # assignment: a solution that leans on the feasibility tolerance (an upload shortened, the
    # band overfilled) has a lower SCIP objective than T(x), and then neither its claim of
    # optimality nor its dual bound (proved for the relaxed rows) is evidence.  An objective
    # above T(x) only means SCIP's tau is not tight (it stops within MINLP_GAP_RTOL).
    agrees = info["scip_objective_s"] >= T * (1.0 - SCIP_OBJECTIVE_RTOL)
    info["scip_agrees"] = agrees
    fallback = full_band_bound_s(instance)
    if agrees and scip_bound_s is not None:
        bound_s = min(max(scip_bound_s, fallback), T)     # never above the recomputed objective
        info["bound_source"] = "scip" if scip_bound_s >= fallback else "full-band"
    else:
        bound_s = min(fallback, T)
    if stopped_by_limit:
        if T > T0:
            assignment, T = x0, T0                        # P1's start is an incumbent too
        return Result(solver=solver, problem="P2", status=Status.TIME_LIMIT, **_band_result(instance, assignment, min(bound_s, T), sw),
                      message=f"SCIP stopped: {tc.name}", info=info)
    if not agrees:
        return _with_bandwidth(solver, instance, assignment, sw, Status.FEASIBLE, bound_s,
                               f"SCIP claimed optimal at {info['scip_objective_s']!r} s, but its assignment's "
                               f"latency is {T!r} s (lower by more than {SCIP_OBJECTIVE_RTOL:g}, relative): "
                               "optimality and SCIP's bound not trusted", info)
    return _with_bandwidth(solver, instance, assignment, sw, Status.OPTIMAL, bound_s, info=info)


def _band_result(instance: Instance, assignment, bound_s: float, sw: Stopwatch) -> dict:
    """The fields ``objective_s, bound_s, seconds, assignment, bandwidth_hz`` of ``assignment`` with its optimal bandwidth."""
    assignment = np.asarray(assignment, dtype=int)
    T, band = optimal_bandwidth(instance, assignment)
    return dict(objective_s=T, bound_s=bound_s, seconds=sw.elapsed, assignment=tuple(assignment), bandwidth_hz=tuple(band))


def _scip_nodes(res) -> int | None:
    try:
        return int(res.extra_info["NNodes"])
    except Exception:  # informational only
        return None


def _load_start(model, instance: Instance, assignment: np.ndarray) -> None:
    """Put P1's assignment into the model's x (on its pairs P) as SCIP's MIP start (SCIP completes the rest)."""
    chosen = np.zeros((instance.K, instance.M), dtype=bool)
    chosen[assignment, np.arange(instance.M)] = True
    for (k, m) in model.P:
        model.x[k, m].set_value(1 if chosen[k, m] else 0, skip_validation=True)


# --------------------------------------------------------------------------------------
# Fixed-assignment bandwidth in CVXPY
# --------------------------------------------------------------------------------------
def bandwidth_cvxpy(instance: Instance, assignment, solver: str = "CLARABEL") -> tuple[float, np.ndarray]:
    """Optimal latency (s) and bandwidths (K-vector, Hz) of a fixed assignment, by CVXPY.

    Solves :func:`models.p2.build_bandwidth_cvxpy` (Clarabel, tolerances ``CONIC_TOL``) and
    converts back to seconds and Hz.  An independent check of
    :func:`solvers.bandwidth.optimal_bandwidth` (closed form / 1-D root);
    O(M) variables.

    Raises
    ------
    RuntimeError
        If the conic solver does not reach an optimal status.

    Examples
    --------
    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0], [2.0]], [1.0], [1.0, 1.0], [1.0, 1.0],
    ...                             gradient_bits=1.0, bandwidth_hz=1.0)
    >>> T, band = bandwidth_cvxpy(inst, [1])
    >>> bool(abs(T - 3.0) < 1e-6), bool(abs(band[1] - 1.0) < 1e-6)   # closed form: 2 + 1/1
    (True, True)
    """
    from models.p2 import bandwidth_scaling, build_bandwidth_cvxpy

    assignment = np.asarray(assignment, dtype=int)
    problem = build_bandwidth_cvxpy(instance, assignment)
    _solve_conic(problem, solver)
    if problem.status != "optimal":
        raise RuntimeError(f"CVXPY/{solver} ended with status {problem.status}")
    scale, ref = bandwidth_scaling(instance, assignment)
    variables = {v.name(): v for v in problem.variables()}
    full = np.zeros(instance.K)
    full[assignment] = np.maximum(variables["y"].value, 0.0) * ref * instance.bandwidth_hz
    return scale * float(variables["tau"].value), full


def _solve_conic(problem, solver: str = "CLARABEL", time_limit: float | None = None, accuracy: float = CONIC_TOL) -> None:
    """Solve a CVXPY problem with Clarabel's gap and feasibility tolerances set to ``accuracy``."""
    opts = {}
    if solver == "CLARABEL":
        opts = dict(tol_gap_abs=accuracy, tol_gap_rel=accuracy, tol_feas=accuracy, max_iter=500)
        if time_limit is not None:
            opts["time_limit"] = float(max(time_limit, 0.01))
    with warnings.catch_warnings():       # "may be inaccurate": callers read problem.status themselves
        warnings.simplefilter("ignore", UserWarning)
        problem.solve(solver=solver, **opts)
        if solver == "CLARABEL" and problem.status == "optimal_inaccurate":
            # Clarabel sometimes stalls just short of the strict tolerances on badly scaled
            # instances (upload >> compute) although its answer is already accurate to ~1e-9;
            # its default tolerances (1e-8) then end "optimal".  Callers still check the status.
            # (warm_start=False: CVXPY would otherwise hand Clarabel the stalled iterate again)
            opts = {key: value for key, value in opts.items() if key == "time_limit"}
            problem.solve(solver=solver, warm_start=False, **opts)


# --------------------------------------------------------------------------------------
# The convex relaxation, with a dual certificate
# --------------------------------------------------------------------------------------
@solves("G1", name="relaxation", problem="P2")
def relaxation_bound(instance: Instance, time_limit: float | None = None, block_rows: bool = True) -> Result:
    """Lower bound on P2 from its convex relaxation (x in [0, 1]), made rigorous by duality.

    The relaxation (CVXPY, scaled as :func:`models.p2.build_p2_minlp`: time in
    units of ``S`` = P1's optimum, bandwidth as shares ``b_k = B_k / B``,
    ``q_k = c_k / (B S)``, ``t_hat = tcp / S``):

    .. math::

        \\min \\tau \\;\\text{s.t.}\\; & 0 \\le x_{km} \\le [\\mu_m \\le \\mathrm{cap}_k],\\;
        \\textstyle\\sum_k x_{km} = 1,\\; z_k = \\sum_m x_{km} \\le 1, \\\\
        & a_k + s_k \\le \\tau \\;(\\lambda_k),\\quad s_k b_k \\ge q_k z_k^2,
          \\quad \\textstyle\\sum_k b_k \\le 1 \\;(\\eta), \\\\
        & \\textstyle\\sum_k x_{km} (\\hat t_{km} + q_k) \\le \\tau \\;(\\rho_m)
          \\qquad \\text{(block rows, if ``block_rows``)}

    with ``a_k = sum_m t_hat_km x_km`` and the rotated cones written vectorised,
    ``||(2 sqrt(q) z, s - b)|| <= s + b`` (``cp.SOC``).  Binary x gives P2
    exactly (``z^2 = z``), so the optimum is a lower bound.

    *Block rows* (an addition to the plain relaxation, on by default) are valid
    for binary x: block m sits on one device k, which needs ``t_km`` to compute
    and at least ``c_k / B`` to upload (``B_k <= B``).  Without them the bound
    collapses as K grows (spreading every block thinly over all devices makes
    every ``a_k`` and ``z_k`` small: about 0.013 s against an optimum of 2.5048 s
    for K = 2000, M = 12; with them, 2.5047 s).

    *Usable pairs.*  x lives only on pairs with ``t_km + c_k / B <= T(x_P1)``
    (the optimal bandwidth on CRUNCH's P1 assignment, an upper bound on T*,
    widened by ``ROUNDING_RTOL``), one variable per pair (sparse incidence).
    No optimal solution uses another pair (it would need more than the whole
    band), so the restricted relaxation still bounds T*.

    *Certificate.*  The solver's optimal value is only accurate to its
    tolerances, so it is not reported as is.  For any ``lambda, rho >= 0`` with
    ``sum lambda + sum rho = 1`` and ``eta >= 0``, minimising the Lagrangian
    over T, then over ``b_k`` (:math:`\\lambda_k q_k z_k^2 / b_k + \\eta b_k \\ge
    2 z_k \\sqrt{\\lambda_k \\eta q_k}`), leaves a *linear* function of x over
    the assignment polytope, whose vertices are integral:

    .. math:: g = \\min_{x} \\sum_{k,m} x_{km}
              \\Big(\\lambda_k \\hat t_{km} + 2\\sqrt{\\lambda_k \\eta q_k} + \\rho_m (\\hat t_{km} + q_k)\\Big)
              - \\eta \\;\\le\\; \\text{relaxation} \\;\\le\\; T^* / S,

    computed exactly by an LSAP (:func:`dual_certificate`).  We evaluate g at
    the solver's duals (clipped to ``>= 0``, normalised) and report ``S * g``
    lowered by ``ROUNDING_RTOL`` (rounding of the sums).  By strong duality g
    equals the relaxation's optimum at exact duals; with the solver's it is lower
    by about the solver's accuracy (``info`` holds both values).  So the bound
    is valid even when the conic solver is inaccurate or stopped early.

    Complexity: one conic solve with KM + 3K variables, K cones and
    K + 2M + 1 linear rows (interior point, polynomial; CVXPY's compilation
    dominates for KM ~ 1e5), plus one M x K LSAP.

    Examples
    --------
    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.0, 4.0], [3.0, 3.0]], [1.0, 1.0], [1.0, 1.0, 1.0],
    ...                             [1.0, 2.0, 4.0], gradient_bits=1.0, bandwidth_hz=1.0)
    >>> res = relaxation_bound(inst)
    >>> res.status.value, res.bound_s <= exact_jbba(inst).objective_s
    ('bound', True)
    >>> res.bound_s >= relaxation_bound(inst, block_rows=False).bound_s
    True

    *Per-block sizes (G1)*, one block per device: ``q_km = D_m / (R_k B S)`` per
    pair, the cone ``s_k b_k >= y_k^2`` with ``y_k = sum_m sqrt(q_km) x_km``
    (for binary x, ``y_k^2 = q_{k m(k)} z_k``: P2 again), block rows with
    ``t_hat_km + q_km``, ``S`` the latency of the ``greedy-deepest`` assignment
    (an upper bound on T*, also the pair filter).  The Lagrangian above keeps
    its form with ``2 sqrt(lambda_k eta q_km)`` per pair (``y_k`` is linear in
    x), so the certificate is again an LSAP (:func:`dual_certificate` with a
    (K, M) ``q``).  Devices that take several blocks (G2) are refused: their
    cone ``s_k b_k >= sum_m q_km x_km^2`` makes the Lagrangian nonlinear in x.

    >>> g1 = Instance.from_arrays([[1.0, 2.0], [1.0, 4.0], [3.0, 3.0]], [1.0, 1.0], [1.0, 1.0, 1.0],
    ...                           [1.0, 2.0, 4.0], gradient_bits=[2.0, 1.0], bandwidth_hz=1.0)
    >>> res = relaxation_bound(g1)
    >>> res.status.value, res.bound_s <= exact_jbba(g1).objective_s
    ('bound', True)
    """
    import cvxpy as cp

    solver = "relaxation"
    sw = Stopwatch(time_limit)
    K, M = instance.K, instance.M
    if not hall_check(instance.memory_prefix, M):
        # the relaxed polytope is integral, so it is empty exactly when no assignment exists
        return _infeasible(solver, sw, _infeasibility_reason(instance) + " (so the relaxation is infeasible too)")
    if instance.paper_model:
        start = crunch(instance)
        scale = float(start.objective_s)
        t_hat = instance.compute_latency / scale
        q = instance.comm_coef / (instance.bandwidth_hz * scale)
        # pairs a P2 optimum may use: memory fits and t + c/B <= T(x_P1) (an upper bound on T*)
        upper = optimal_bandwidth(instance, start.assignment)[0] * (1.0 + ROUNDING_RTOL) / scale
        usable = instance.memory_ok & (t_hat + q[:, None] <= upper)
    else:       # G1, one block per device: q per pair, S = T(greedy-deepest's assignment)
        start_x = greedy_deepest_assignment(instance, stopwatch=sw, max_passes=M)
        scale = float(optimal_bandwidth(instance, start_x)[0])
        t_hat = instance.compute_latency / scale
        q = instance.block_upload_full_s / scale
        upper = optimal_bandwidth(instance, start_x)[0] * (1.0 + ROUNDING_RTOL) / scale
        usable = instance.memory_ok & (t_hat + q <= upper)
    dev, blk = np.nonzero(usable)
    n = dev.size
    if time_limit is not None and n * RELAXATION_SECONDS_PER_PAIR > sw.remaining:
        # compiling alone would overrun the limit: say so now, with a bound that is quick and valid
        return Result(solver=solver, problem="P2", status=Status.TIME_LIMIT, objective_s=None, bound_s=full_band_bound_s(instance), seconds=sw.elapsed,
                      message=f"time limit: compiling the relaxation ({n} pairs) would take about "
                              f"{n * RELAXATION_SECONDS_PER_PAIR:.2g} s, more than the {sw.remaining:.2g} s left; "
                              "not solved (full-band bound)",
                      info={"time_scale_s": scale, "pairs": n, "bound_source": "full-band"})
    ones = np.ones(n)
    # sparse incidence: device k <- pair j, block m <- pair j (x is one variable per usable pair)
    by_device = sp.csr_matrix((ones, (dev, np.arange(n))), shape=(K, n))
    by_block = sp.csr_matrix((ones, (blk, np.arange(n))), shape=(M, n))
    compute = sp.csr_matrix((t_hat[dev, blk], (dev, np.arange(n))), shape=(K, n))

    x = cp.Variable(n, nonneg=True)
    s = cp.Variable(K)
    b = cp.Variable(K, nonneg=True)
    tau = cp.Variable()
    z = by_device @ x
    latency = compute @ x + s <= tau
    bandwidth = cp.sum(b) <= 1
    constraints = [
        x <= 1,
        by_block @ x == 1,                              # C1
        z <= 1,                                         # C2
        latency,
        bandwidth,
        cp.SOC(s + b, cp.vstack([2 * cp.multiply(np.sqrt(q), z), s - b]), axis=0) if q.ndim == 1 else
        cp.SOC(s + b, cp.vstack([2 * (sp.csr_matrix((np.sqrt(q[dev, blk]), (dev, np.arange(n))), shape=(K, n)) @ x),
                                 s - b]), axis=0),
    ]
    block = None
    if block_rows:
        full_band_hat = t_hat + q[:, None] if q.ndim == 1 else t_hat + q
        full_band = sp.csr_matrix((full_band_hat[dev, blk], (blk, np.arange(n))), shape=(M, n))
        block = full_band @ x <= tau
        constraints.append(block)
    problem = cp.Problem(cp.Minimize(tau), constraints)
    try:
        _solve_conic(problem, "CLARABEL", sw.remaining)
    except cp.error.SolverError as exc:
        return Result(solver=solver, problem="P2", status=Status.ERROR, seconds=sw.elapsed, message=f"conic solver failed: {exc}")
    info = {"relaxation_value_s": None, "certificate_s": None, "cvxpy_status": problem.status,
            "time_scale_s": scale, "block_rows": block_rows}
    if problem.status in ("infeasible", "infeasible_inaccurate"):
        return Result(solver=solver, problem="P2", status=Status.ERROR, seconds=sw.elapsed, info=info,
                      message="conic solver claims the relaxation infeasible although an assignment exists")
    if problem.value is not None and math.isfinite(problem.value):
        info["relaxation_value_s"] = float(problem.value) * scale
    lam, eta = latency.dual_value, bandwidth.dual_value
    rho = np.zeros(M) if block is None else block.dual_value
    if lam is None or eta is None or rho is None:
        status = Status.TIME_LIMIT if sw.expired() else Status.ERROR
        return Result(solver=solver, problem="P2", status=status, seconds=sw.elapsed, info=info,
                      message=f"conic solver ended with {problem.status} and no duals")
    bound_s = scale * dual_certificate(instance, t_hat, q, np.asarray(lam, float), float(eta),
                                       np.asarray(rho, float), usable)
    info["certificate_s"] = bound_s
    # the certificate is valid whatever the duals' accuracy; only a stop by the clock is not "bound"
    stopped = problem.status not in ("optimal", "optimal_inaccurate") and sw.expired()
    status = Status.TIME_LIMIT if stopped else Status.BOUND
    message = "" if problem.status == "optimal" else f"conic solver ended with {problem.status}; certificate still valid"
    return Result(solver=solver, problem="P2", status=status, objective_s=None, bound_s=bound_s, seconds=sw.elapsed, message=message, info=info)


def dual_certificate(instance: Instance, t_hat: np.ndarray, q: np.ndarray, lam: np.ndarray, eta: float,
                     rho: np.ndarray | None = None, usable: np.ndarray | None = None) -> float:
    """Lagrangian lower bound ``g(lambda, eta, rho)`` (scaled time) of P2; see :func:`relaxation_bound`.

    Valid for any input: the multipliers are clipped to >= 0 and (lambda, rho)
    normalised to sum 1 (lambda uniform if all are zero).  ``usable`` (K, M)
    restricts x to pairs some optimal solution may use (default: memory fits).
    The result is lowered by ``ROUNDING_RTOL`` times the magnitude of its
    terms.  O(KM + M^2 K).  ``q`` is (K,) (one gradient size) or (K, M)
    (per-block sizes, G1: the weight has ``2 sqrt(lambda_k eta q_km)``).

    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0]], [1.0], [1.0], [1.0], gradient_bits=1.0, bandwidth_hz=1.0)
    >>> g = dual_certificate(inst, inst.compute_latency, inst.comm_coef, np.array([1.0]), 1.0)
    >>> abs(g - 2.0) < 1e-9    # 1 + 2 sqrt(1) - 1 = 2 = T* (one device: 1 s + 1 bit / 1 Hz)
    True
    """
    M = instance.M
    rho = np.zeros(M) if rho is None else rho
    lam = np.maximum(np.nan_to_num(lam, nan=0.0), 0.0)
    rho = np.maximum(np.nan_to_num(rho, nan=0.0), 0.0)
    total = lam.sum() + rho.sum()
    if total > 0:
        lam, rho = lam / total, rho / total
    else:
        lam = np.full(lam.shape, 1.0 / lam.size)
    eta = max(float(np.nan_to_num(eta, nan=0.0)), 0.0)
    if q.ndim == 2:
        weight = (lam[:, None] * t_hat + 2.0 * np.sqrt(lam[:, None] * eta * q)
                  + rho[None, :] * (t_hat + q))
    else:
        weight = (lam[:, None] * t_hat + 2.0 * np.sqrt(lam * eta * q)[:, None]
                  + rho[None, :] * (t_hat + q[:, None]))
    weight = np.where(instance.memory_ok if usable is None else usable, weight, np.inf)
    rows, cols = linear_sum_assignment(weight.T)
    terms = weight.T[rows, cols]
    value = math.fsum(terms.tolist()) - eta
    return value - ROUNDING_RTOL * (math.fsum(np.abs(terms).tolist()) + eta)
