"""Certificates: for every ``optimal`` or ``infeasible`` claim, a proof that needs no solver to check.

A general solver's "optimal" is a claim, not a truth: it carries the solver's
tolerances and bugs.  This module turns a claim into a small object that
:mod:`validation.check` verifies with plain comparisons and sums, sharing no
code with any method.  It does not matter which method made the claim
(CRUNCH, linear search, HiGHS, SCIP, a user's plug-in): the certificate is
built from the claimed answer and the instance alone.

Kinds (JSON-ready dicts; blocks and devices are 0-based indices)
-----------------------------------------------------------------
``{"kind": "hall", "blocks": S, "devices": N}``
    A *Hall violator*: a set S of blocks whose neighbourhood N (every device
    that may take some block of S) has fewer than |S| devices, so no
    assignment gives every block of S its own device (Hall's theorem [1]_).
    Under G2 the devices of N take fewer than |S| blocks in all,
    ``sum_{k in N} c_k < |S|`` (Hall for b-matchings, below).

    * **infeasible** (P1 and P2): the neighbourhood in the memory-allowed
      graph (``mu_m <= cap_k``).  ``M > K`` is the case S = all blocks.
    * **P1 optimal** ``T``: the neighbourhood in the graph of pairs whose
      equal-bandwidth latency is *strictly below* ``T``; then no assignment is
      faster than ``T``, and the returned one reaches it.  Verification is
      comparisons only, exact in floating point.

``{"kind": "assignment-dual", "threshold_s": T_low, "u_hz": u, "v_hz": v}``
    **P2 optimal** ``T``: a lower bound ``T_low`` on every solution.  For a
    threshold ``T_low`` and every memory-allowed pair with ``tcp[k,m] < T_low``
    let

    .. math:: w_{km} = \\frac{D}{R_k (T_\\text{low} - t_{km})} \\quad \\text{(Hz)},

    the least bandwidth with which device k finishes block m by ``T_low``.  If

    .. math:: u_m - v_k \\le w_{km} \\;\\forall (k, m), \\qquad v \\ge 0, \\qquad
              \\textstyle\\sum_m u_m - \\sum_k v_k \\ge B,

    then no solution has latency ``T < T_low``: it would use only pairs with
    ``t_km < T < T_low`` and need :math:`B_k > w_{km}` on each, so
    :math:`\\sum_k B_k > \\sum_m w_{x(m),m} \\ge \\sum_m u_m - \\sum_{k} v_k \\ge B`
    (each device holds at most one block, and ``v >= 0``), more than the
    band.  ``(u, v)`` are dual variables of the min-bandwidth assignment LP at
    ``T_low`` (LP duality, the assignment polytope is integral), so such a
    certificate exists for every ``T_low < T*``: we take
    ``T_low = T (1 - delta)`` with ``delta`` a few 1e-10, within
    ``tolerances.CERTIFIED_GAP_RTOL`` of the claim.  (When no assignment
    computes every block by ``T_low`` at all, the LP is infeasible and its
    dual unbounded: ``u = 2B`` on a Hall violator S and ``v = 2B`` on its
    neighbourhood satisfy every row with ``sum u - sum v >= 2B``.)

How the duals are found
-----------------------
At ``T_low`` the min-cost assignment (SciPy's LSAP) is solved on each block's
M + 1 cheapest devices (a block's dual ``u_m`` is at most its cheapest weight
on a free device; among its M + 1 cheapest at least one is free, so no pruned
device can violate ``u_m - 0 <= w_km``).  Complementary slackness then leaves
a system of difference constraints on ``u``, solved by Bellman-Ford over the
blocks (the arcs are the exchanges of an alternating path, and no negative
cycle exists at an optimal assignment).  Finally ``u`` is lowered by a
relative ``CERTIFICATE_SLACK_RTOL`` and ``v`` is set from it over *all*
devices, ``v_k = max(0, max_m u_m - w_km)`` padded by a quarter of that slack,
so the dual inequalities hold whatever the rounding (a device that ties with a
matched one keeps ``v_k = 0``), and the bound is checked before it is
returned.

The problem family (G1: per-block gradient sizes D_m, G2: device k takes up to c_k blocks)
-----------------------------------------------------------------------------------------
A device holding S_k computes down to its deepest block d_k (latency
``tcp[k, d_k]``, memory ``mu[d_k] <= cap_k``) and uploads ``U_k = sum D_m``
bits.  Where a certificate is defined, it is the one above on the right graph:

* **infeasible** (every part of the family): a ``hall`` certificate *with
  capacities*, a set S of blocks whose memory neighbourhood N(S) takes fewer
  than |S| blocks in all, ``sum_{k in N(S)} c_k < |S|`` (``|N(S)| < |S|``
  when every c_k = 1, with or without G1).
* **P1 optimal, G1 only** (one block per device): ``hall`` on the pair cost
  ``tcp[k,m] + D_m M / (B R_k)``, unchanged.
* **P1 optimal, G2 with one size D**: device k with n_k blocks gets n_k B / M
  and uploads n_k D bits, in ``D M / (B R_k)``; its latency is the largest
  pair cost ``tcp[k,m] + D M / (B R_k)`` of its blocks (tcp rows
  non-decreasing, rounding monotone).  So T is reachable iff the pairs of
  cost below T hold a b-matching (capacities c_k), and a ``hall`` violator
  with capacities below T certifies the optimum.
* **P2 optimal, G1 only**: ``assignment-dual`` with the weights
  ``D_m / (R_k (T_low - tcp[k,m]))``, block by block; the argument above is
  unchanged (each device holds one block).
* **P1 under G1 + G2, P2 under G2: none defined.**  A device's P1 latency
  depends on the mean size of its blocks, and its P2 bandwidth need
  ``U_k / (R_k (T - tcp[k, d_k]))`` is no sum of pair weights, so neither a
  graph of pairs nor an assignment LP describes the problem.  :func:`attach`
  keeps such an ``optimal`` claim unproven (``info["certificate"]`` says
  ``"none defined for ..."``); see its docstring and ``docs/certificates.md``.

**Hall with capacities** (the b-matching form of Hall's theorem).  In a
bipartite graph of blocks and devices, the blocks can all be given devices,
device k at most c_k of them, iff ``sum_{k in N(S)} c_k >= |S|`` for every set
S of blocks.  *Necessity*: the blocks of S go to devices of N(S), at most c_k
each.  *Sufficiency*, by max-flow min-cut: a source feeds every block with
capacity 1, each allowed pair (block m, device k) has capacity M (more than
any cut through it could afford), each device k feeds the sink with capacity
c_k.  An integral maximum flow (it exists: all capacities are integers) of
value M is an assignment.  If the maximum flow is below M, so is a minimum
cut; let A be its source side and S the blocks in A.  No pair from S to a
device outside A is cut (it would cost M alone), so N(S) lies in A and every
``k -> sink`` arc of N(S) is cut; the blocks outside A are cut from the
source.  Hence ``M > cut >= (M - |S|) + sum_{k in N(S)} c_k``, that is
``sum_{k in N(S)} c_k < |S|``: a violator exists.  Under G2 the memory graph
(``mu_m <= cap_k``) is the right one: a device that fits its deepest block
fits all of its blocks (mu non-decreasing), and conversely.  **So an
infeasible G2 instance always has a capacity-Hall certificate**, and
:func:`hall_violator` finds it: on prefix rows (memory is always a prefix)
the nested neighbourhoods make suffixes ``i..M-1`` the only sets to test;
otherwise device k is split into ``min(c_k, M)`` unit copies, where the
alternating-path violator of a maximum matching is the minimum cut above.

References
----------
.. [1] P. Hall, "On representatives of subsets", J. London Math. Soc. 10, 1935.
.. [2] H. W. Kuhn, "The Hungarian method for the assignment problem", 1955 (duality).

Examples
--------
>>> from instances import Instance
>>> from solvers import p1
>>> inst = Instance.from_arrays([[1.0, 2.0], [1.5, 1.5], [0.5, 3.0]], [1e9, 2e9],
...     [4e9, 1e9, 4e9], [1.0, 2.0, 4.0], gradient_bits=1e6, bandwidth_hz=1e6)
>>> res = attach(inst, p1.crunch(inst))
>>> res.status.value, res.objective_s, res.certificate
('optimal', 3.5, {'kind': 'hall', 'blocks': [1], 'devices': []})
"""
from __future__ import annotations

import math
import time

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching

from instances import Instance

from .result import CLAIMS, Result, Status
from instances.tolerances import CERTIFICATE_ROUNDING_RTOL, CERTIFICATE_SLACK_RTOL, CERTIFIED_GAP_RTOL

#: Relative distances ``delta`` below a P2 claim at which a dual certificate is
#: tried, in order (the first that verifies is kept; all within CERTIFIED_GAP_RTOL).
DUAL_DELTAS = (2e-10, 5e-10, 0.95 * CERTIFIED_GAP_RTOL)

#: How ``info["certificate"]`` begins when no certificate kind is defined for a claim (:func:`undefined_certificate`).
NONE_DEFINED = "none defined for "


# --------------------------------------------------------------------------------------
# Hall violators
# --------------------------------------------------------------------------------------
def hall_violator(allowed: np.ndarray, capacity: np.ndarray | None = None) -> np.ndarray | None:
    """Blocks S whose neighbourhood in ``allowed`` takes fewer than |S| blocks, or None if all match.

    Parameters
    ----------
    allowed : (K, M) bool array
        ``allowed[k, m]``: device k may take block m.
    capacity : (K,) int array, optional
        c_k, the most blocks device k may take (G2); default one each.

    Returns
    -------
    (|S|,) int array of blocks, sorted, or None when every block can be given
    a device, each device k at most c_k blocks (a b-matching).  The
    neighbourhood N of S then has ``|N| < |S|`` (``sum_{k in N} c_k < |S|``
    with capacities).

    Notes
    -----
    When every row is a prefix (the case of the paper's model, rows sorted),
    the suffix of blocks ``i..M-1`` has neighbourhood ``{k : allowed[k, i]}``
    and Proposition 1 says some suffix violates Hall iff no matching exists:
    O(KM).  Otherwise a maximum matching (Hopcroft-Karp, SciPy) leaves a block
    b unmatched, and the blocks reachable from b by alternating paths form a
    violator (their neighbourhood is matched into them, minus b) [1]_:
    O(KM sqrt(K + M)).

    With capacities the same holds for b-matchings (Hall's theorem for
    b-matchings; proof by max-flow min-cut in the module docstring): the
    prefix case tests ``sum_{k : allowed[k, i]} c_k >= M - i`` for every i, and
    otherwise device k is replaced by ``min(c_k, M)`` copies of itself, where
    a violator of the copies is one of the devices (the copies of a device
    are neighbours of the same blocks, and ``min(c_k, M) < c_k`` only when
    ``c_k > M >= |S|``, which a violator's neighbour cannot have).

    >>> hall_violator(np.array([[True, True], [True, False]])) is None
    True
    >>> hall_violator(np.array([[True, True], [True, True], [True, False]])) is None
    True
    >>> hall_violator(np.array([[True, False], [True, False]])).tolist()   # nobody takes block 1
    [1]
    >>> hall_violator(np.array([[False, True, False], [False, True, False], [True, False, True]])).tolist()
    [0, 2]
    >>> hall_violator(np.array([[True, True, True], [True, False, False]]), capacity=np.array([1, 5])).tolist()
    [1, 2]
    >>> hall_violator(np.array([[True, True, True], [True, False, False]]), capacity=np.array([2, 1])) is None
    True
    >>> hall_violator(np.array([[False, True, True], [True, True, False]]), capacity=np.array([1, 1])).tolist()
    [0, 1, 2]
    """
    allowed = np.asarray(allowed, dtype=bool)
    K, M = allowed.shape
    if capacity is not None:
        return _capacity_violator(allowed, np.asarray(capacity, dtype=np.int64))
    if M > K:
        return np.arange(M)
    if M == 1 or not np.any(allowed[:, 1:] & ~allowed[:, :-1]):      # every row a prefix
        short = np.flatnonzero(allowed.sum(axis=0) < M - np.arange(M))
        return None if short.size == 0 else np.arange(int(short[-1]), M)
    match = maximum_bipartite_matching(csr_matrix(allowed.T.astype(np.int8)), perm_type="column")
    free = np.flatnonzero(match < 0)                                  # match[m] = device of block m
    if free.size == 0:
        return None
    block_of = np.full(K, -1)
    block_of[match[match >= 0]] = np.flatnonzero(match >= 0)
    seen = np.zeros(M, dtype=bool)
    seen[free[0]] = True
    frontier = [int(free[0])]
    while frontier:                      # alternating paths: block -> allowed device -> its block
        devices = np.flatnonzero(allowed[:, frontier].any(axis=1))
        nxt = block_of[devices]
        nxt = nxt[(nxt >= 0)]
        nxt = nxt[~seen[nxt]]
        seen[nxt] = True
        frontier = nxt.tolist()
    return np.flatnonzero(seen)


def _capacity_violator(allowed: np.ndarray, capacity: np.ndarray) -> np.ndarray | None:
    """:func:`hall_violator` with capacities c_k (a b-matching), see there."""
    K, M = allowed.shape
    if capacity.shape != (K,) or np.any(capacity < 1):
        raise ValueError(f"capacity must be {K} integers >= 1")
    most = np.minimum(capacity, M)
    if int(most.sum()) < M:                   # all blocks: their neighbours take fewer than M in all
        return np.arange(M)
    if M == 1 or not np.any(allowed[:, 1:] & ~allowed[:, :-1]):      # every row a prefix: suffixes decide
        reach = (allowed * most[:, None]).sum(axis=0)                 # sum of c_k over N(block i), exact int64
        short = np.flatnonzero(reach < M - np.arange(M))
        return None if short.size == 0 else np.arange(int(short[-1]), M)
    copies = np.repeat(allowed, most, axis=0)                         # device k -> min(c_k, M) unit devices
    return hall_violator(copies)


def hall_certificate(allowed: np.ndarray, rows: np.ndarray | None = None,
                     capacity: np.ndarray | None = None) -> dict | None:
    """The ``hall`` certificate of :func:`hall_violator`, with its neighbourhood, or None.

    ``rows`` maps the rows of ``allowed`` to device indices (default: row k is
    device k); devices not in ``rows`` must have no allowed pair.
    ``capacity`` (one per row of ``allowed``) gives the devices' c_k (G2).

    >>> hall_certificate(np.array([[True, False], [True, False], [True, True]]))
    >>> hall_certificate(np.array([[True, False], [True, False]]))
    {'kind': 'hall', 'blocks': [1], 'devices': []}
    >>> hall_certificate(np.array([[True, True, True], [True, False, False]]), capacity=np.array([1, 5]))
    {'kind': 'hall', 'blocks': [1, 2], 'devices': [0]}
    """
    blocks = hall_violator(allowed, capacity)
    if blocks is None:
        return None
    near = np.flatnonzero(np.asarray(allowed)[:, blocks].any(axis=1))
    devices = near if rows is None else np.asarray(rows)[near]
    return {"kind": "hall", "blocks": blocks.tolist(), "devices": sorted(int(k) for k in devices)}


def _capacity(instance: Instance) -> np.ndarray | None:
    """(K,) c_k under G2, None with one block per device (the paper's Hall)."""
    return None if instance.single_block else np.asarray(instance.device_max_blocks, dtype=np.int64)


def infeasibility_certificate(instance: Instance) -> dict | None:
    """A Hall violator of the memory-allowed graph (``mu_m <= cap_k``), or None if an assignment exists.

    Under G2 the violator is one with capacities, ``sum_{k in N(S)} c_k < |S|``;
    it exists whenever the instance is infeasible (module docstring, "Hall with
    capacities").

    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.0, 2.0]], [1.0, 3.0], [2.0, 2.0], [1.0, 1.0], 1.0, 1.0)
    >>> infeasibility_certificate(inst)      # block 1 needs 3 bytes, both devices have 2
    {'kind': 'hall', 'blocks': [1], 'devices': []}
    >>> g2 = Instance.from_arrays([[1.0, 2.0, 2.0]] * 3, [2.0, 2.0, 2.0], [2.0, 2.0, 1.0], [1.0] * 3, 1.0, 1.0,
    ...                           device_max_blocks=[1, 1, 5])
    >>> infeasibility_certificate(g2)        # every block needs 2 bytes: devices 0 and 1, one block each
    {'kind': 'hall', 'blocks': [0, 1, 2], 'devices': [0, 1]}
    """
    return hall_certificate(instance.memory_ok, capacity=_capacity(instance))


def _p1_upload_s(instance: Instance) -> np.ndarray:
    """(K,) s with one gradient size: ``D * M / (B * R_k)``; (K, M) with per-block sizes: ``D_m * M / (B * R_k)``.

    Written as :mod:`validation.check` evaluates it, operation by operation, so
    that pair costs and the latency of a solution are the same floats.
    """
    rate = instance.spectral_efficiency
    if instance.uniform_bits:
        return instance.gradient_bits * instance.M / (instance.bandwidth_hz * rate)
    return instance.block_bits[None, :] * instance.M / (instance.bandwidth_hz * rate[:, None])


def p1_claim_latency(instance: Instance, assignment) -> float:
    """P1 round latency (s) of a valid assignment, where a certificate is defined (not G1 + G2).

    ``max_m tcp[a_m, m] + D_m M / (B R_{a_m})``: with one block per device the
    cost of its pair; under G2 with one size D a device's n_k D bits at
    n_k B / M Hz take D M / (B R_k), and its latency tcp[k, d_k] + that is the
    largest cost of its pairs (rows non-decreasing, rounding monotone).  In the
    paper's model this is :func:`solvers.p1.p1_objective`.  O(M).
    """
    from .p1 import p1_objective

    if instance.paper_model:
        return p1_objective(instance, assignment)
    if not (instance.uniform_bits or instance.single_block):
        raise ValueError("P1 with per-block gradient sizes (G1) and several blocks per device (G2) has no "
                         "per-pair cost")
    assignment = np.asarray(assignment, dtype=int)
    upload = _p1_upload_s(instance)
    blocks = np.arange(instance.M)
    chosen = upload[assignment] if upload.ndim == 1 else upload[assignment, blocks]
    return float(np.max(instance.compute_latency[assignment, blocks] + chosen))


def p1_optimality_certificate(instance: Instance, objective_s: float) -> dict | None:
    """A Hall violator among the pairs faster than ``objective_s`` (P1), or None if there is none.

    The pairs are those with ``mu_m <= cap_k`` and ``tcp[k,m] + D_m M / (B R_k) < T``;
    under G2 (one size D) the violator has capacities (``sum_{k in N} c_k < |S|``):
    a device's latency is the largest cost of its pairs, so an assignment
    faster than T is a b-matching of these pairs.  Not defined under G1 + G2
    (ValueError).  With one size, only the devices whose block 0 is faster
    than T can have such a pair (rows are sorted), so the (K, M) matrix is built
    for those alone: O(K + nM) for n such devices (plus the violator search);
    with per-block sizes (G1) the rows need not be sorted, O(KM).
    """
    if not (instance.uniform_bits or instance.single_block):
        raise ValueError("no P1 certificate is defined with per-block gradient sizes (G1) and several blocks "
                         "per device (G2)")
    upload_s = _p1_upload_s(instance)
    if upload_s.ndim == 1:
        rows = np.flatnonzero((instance.memory_prefix >= 1)
                              & (instance.compute_latency[:, 0] + upload_s < objective_s))
        cost = instance.compute_latency[rows] + upload_s[rows, None]
        allowed = instance.memory_ok[rows] & (cost < objective_s)
    else:
        allowed_all = instance.memory_ok & (instance.compute_latency + upload_s < objective_s)
        rows = np.flatnonzero(allowed_all.any(axis=1))
        allowed = allowed_all[rows]
    capacity = _capacity(instance)
    return hall_certificate(allowed, rows, None if capacity is None else capacity[rows])


# --------------------------------------------------------------------------------------
# P2: duals of the min-bandwidth assignment
# --------------------------------------------------------------------------------------
def bandwidth_weights_hz(instance: Instance, threshold_s: float) -> np.ndarray:
    """(K, M) Hz: ``D_m / (R_k (T - tcp[k,m]))`` where ``tcp < T`` and memory fits, else inf.

    The least bandwidth with which device k computes and uploads block m by T
    (one block per device); :func:`solvers.p2_exact.weight_rows` times B with
    one gradient size, the same weight per block with per-block sizes (G1).
    """
    if instance.uniform_bits:
        from .p2_exact import weight_rows

        return weight_rows(instance, threshold_s, np.arange(instance.K)) * instance.bandwidth_hz
    from models.costs import threshold_weights

    return threshold_weights(instance.block_upload_full_s, instance.compute_latency, threshold_s,
                             instance.memory_ok) * instance.bandwidth_hz


def assignment_duals(weights: np.ndarray) -> tuple[float, np.ndarray, np.ndarray] | None:
    """Optimal value and dual variables of the min-cost assignment of M blocks to distinct devices.

    .. math:: \\min_x \\sum_{k,m} w_{km} x_{km} \\;\\text{s.t.}\\; \\sum_k x_{km} = 1 \\;(u_m),
              \\; \\sum_m x_{km} \\le 1 \\;(-v_k \\le 0)
              \\qquad = \\qquad \\max \\sum_m u_m - \\sum_k v_k \\;\\text{s.t.}\\;
              u_m - v_k \\le w_{km},\\; v \\ge 0.

    Parameters
    ----------
    weights : (K, M) array, inf = forbidden pair

    Returns
    -------
    (value, u, v) or None when no finite assignment exists.  ``u`` and ``v`` are
    not yet padded by any slack (see :func:`dual_certificate`).

    Notes
    -----
    The LSAP runs on each block's M + 1 cheapest devices (see the module
    docstring).  With ``k(m)`` the device of block m, complementary slackness
    gives ``v_{k(m)} = u_m - w_{k(m),m}`` and ``v = 0`` on free devices, so
    ``u`` must satisfy the difference constraints
    ``u_m <= u_{m'} + w_{k(m'),m} - w_{k(m'),m'}`` (block m takes the device of
    m'), ``u_m >= w_{k(m),m}`` (``v >= 0``) and ``u_m <= w_{km}`` on free
    devices.  The least solution of the first two is found by Bellman-Ford
    (longest paths from ``u = own``, O(M^3) at worst); at an optimal
    assignment it satisfies the third too (the greatest solution, shortest
    paths from the free devices, does, and the least is below it).  Any
    value of the dual objective is the same, ``sum_m w_{k(m),m}``; the least
    ``u`` keeps the magnitudes, and so the rounding, small.

    >>> w = np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 3.0]])
    >>> value, u, v = assignment_duals(w)
    >>> float(value), bool(np.all(u[None, :] - v[:, None] <= w + 1e-12)), float(u.sum() - v.sum())
    (4.0, True, 4.0)
    """
    weights = np.asarray(weights, dtype=float)
    K, M = weights.shape
    if M > K:
        return None
    if K > M + 1:        # each block's M + 1 cheapest devices (a sorted union)
        near = np.argpartition(weights, M, axis=0)[: M + 1]
        rows = np.unique(near)
    else:
        rows = np.arange(K)
    try:
        blocks, picked = linear_sum_assignment(weights[rows].T)
    except ValueError:   # no finite assignment
        return None
    device = np.empty(M, dtype=int)
    device[blocks] = rows[picked]
    own = weights[device, np.arange(M)]
    if not np.all(np.isfinite(own)):
        return None
    # exchange[m', m] = w[k(m'), m] - w[k(m'), m']: cost of giving block m the device of m'
    with np.errstate(invalid="ignore"):
        exchange = weights[device] - own[:, None]
    np.fill_diagonal(exchange, np.inf)
    # the least u >= own (v >= 0) with u_r <= u_m + exchange[m, r] for all m, r: longest paths
    # (Bellman-Ford), from below, so that u and v stay as small as the weights allow
    u = own.copy()
    for _ in range(M + 1):
        with np.errstate(invalid="ignore"):
            need = np.max(u[None, :] - exchange, axis=1)        # u_m >= u_r - exchange[m, r]
        raised = np.maximum(u, need)
        if np.array_equal(raised, u):
            break
        u = raised
    v = np.zeros(K)
    v[device] = np.maximum(u - own, 0.0)
    return math.fsum(own.tolist()), u, v


def dual_certificate(instance: Instance, objective_s: float) -> dict | None:
    """An ``assignment-dual`` certificate that no P2 solution is faster than ``objective_s (1 - delta)``.

    Tries ``delta`` in :data:`DUAL_DELTAS`; returns the first certificate whose
    inequalities hold with slack (checked here, in floating point with the
    producer's margin ``CERTIFICATE_SLACK_RTOL``), or None.
    O(KM) for the weights plus one LSAP on at most M (M + 1) devices per try.
    """
    B = instance.bandwidth_hz
    for delta in DUAL_DELTAS:
        threshold_s = objective_s * (1.0 - delta)
        weights = bandwidth_weights_hz(instance, threshold_s)
        found = assignment_duals(weights)
        if found is None:
            # no assignment computes every block by T_low: the dual is unbounded along a Hall
            # violator S with neighbourhood N (u = 2B on S, v = 2B on N: every dual row holds and
            # sum u - sum v = 2B (|S| - |N|) >= 2B)
            blocks = hall_violator(np.isfinite(weights))
            if blocks is None:          # unreachable: no finite assignment means a violator exists
                continue
            u = np.zeros(instance.M)
            u[blocks] = 2.0 * B
        else:
            _, u, _ = found
        # slack for the checker's rounding allowance, without making v positive on the devices that
        # tie with a matched one (identical devices: thousands of them): u is lowered by a
        # relative SLACK, v padded by a quarter of it, so a tie keeps u_m - w_km = -SLACK u_m < 0
        slack = CERTIFICATE_SLACK_RTOL
        u = u * (1.0 - slack)
        finite = np.isfinite(weights)
        with np.errstate(invalid="ignore"):
            excess = np.where(finite, u[None, :] - weights + 0.25 * slack * (np.abs(u)[None, :] + weights),
                              -np.inf)
        v = np.maximum(excess.max(axis=1), 0.0)
        total = math.fsum(u.tolist()) - math.fsum(v.tolist())
        room = 2.0 * CERTIFICATE_ROUNDING_RTOL * (math.fsum(np.abs(u).tolist()) + math.fsum(v.tolist()))
        if total - room >= B:
            return {"kind": "assignment-dual", "threshold_s": float(threshold_s),
                    "u_hz": u.tolist(), "v_hz": v.tolist()}
    return None


# --------------------------------------------------------------------------------------
# Attaching certificates to results
# --------------------------------------------------------------------------------------
def undefined_certificate(instance: Instance, problem: str) -> str | None:
    """``"none defined for <problem> with <features>"`` where no certificate kind proves an optimum, else None.

    * P1 under G1 and G2 together: a device's latency
      ``tcp[k, d_k] + (U_k / |S_k|) M / (B R_k)`` depends on the mean size of
      its blocks, so it is no function of its pairs and no graph of "pairs
      below T" decides whether T is reachable.
    * P2 under G2: a device's least bandwidth ``U_k / (R_k (T - tcp[k, d_k]))``
      is not a sum of per-pair weights, so the assignment LP and its duals do
      not describe it (they give a lower bound, not one within
      ``CERTIFIED_GAP_RTOL`` of the optimum).

    Infeasibility is always certified (Hall with capacities), whatever the features.

    >>> from instances import Instance
    >>> g2 = Instance.from_arrays([[1.0, 2.0]], [1.0, 1.0], [1.0], [1.0], 1.0, 1.0, device_max_blocks=[2])
    >>> undefined_certificate(g2, "P1") is None, undefined_certificate(g2, "P2")
    (True, 'none defined for P2 with devices that take several blocks (G2)')
    """
    from .scope import FEATURES

    features = instance_features(instance)
    if (problem == "P1" and {"G1", "G2"} <= features) or (problem == "P2" and "G2" in features):
        return f"none defined for {problem} with " + " and ".join(FEATURES[f] for f in sorted(features))
    return None


def instance_features(instance: Instance) -> frozenset:
    """The family features of ``instance`` (:attr:`instances.Instance.family`)."""
    from .scope import instance_features as features

    return features(instance)


def _valid_assignment(instance: Instance, assignment: np.ndarray) -> bool:
    """C1-C3 of the family: M entries in 0..K-1, device k at most c_k blocks, its blocks in memory."""
    if (assignment.shape != (instance.M,) or assignment.min() < 0 or assignment.max() >= instance.K):
        return False
    counts = np.bincount(assignment, minlength=instance.K)
    # every block in memory: the same as the deepest, block_memory being non-decreasing
    return bool(np.all(counts <= instance.device_max_blocks)
                and np.all(instance.memory_ok[assignment, np.arange(instance.M)]))


def p2_claim_latency(instance: Instance, assignment, bandwidth_hz) -> float:
    """P2 round latency (s) with one block per device: ``max_m tcp[a_m, m] + D_m / (R_{a_m} B_{a_m})``.

    :func:`solvers.bandwidth.p2_objective` with one gradient size.  O(M).
    """
    from .bandwidth import p2_objective

    if instance.uniform_bits:
        return p2_objective(instance, assignment, bandwidth_hz)
    assignment = np.asarray(assignment, dtype=int)
    blocks = np.arange(instance.M)
    band = np.asarray(bandwidth_hz, dtype=float)[assignment]
    with np.errstate(divide="ignore"):
        upload = np.where(band > 0, instance.block_comm_coef[assignment, blocks] / band, np.inf)
    return float(np.max(instance.compute_latency[assignment, blocks] + upload))


def certificate_for(instance: Instance, problem: str, result: Result) -> tuple[dict | None, str]:
    """The certificate of ``result``'s claim, or None and the reason it cannot be certified.

    Works from the claim alone (status, assignment, bandwidths), whatever made it.
    Where no certificate is defined (:func:`undefined_certificate`) the reason is
    that sentence (``"none defined for ..."``), once the solution itself is valid.
    """
    if result.status == Status.INFEASIBLE:
        cert = infeasibility_certificate(instance)
        return cert, "" if cert else "an assignment of every block exists, so the instance is not infeasible"
    if result.status != Status.OPTIMAL:
        return None, "not a claim"
    if result.assignment is None:
        return None, "no assignment returned"
    assignment = np.asarray(result.assignment, dtype=int)
    if not _valid_assignment(instance, assignment):
        return None, "the assignment is not a valid C1-C3 assignment"
    if problem == "P2" and (result.bandwidth_hz is None or len(result.bandwidth_hz) != instance.K):
        return None, "no bandwidth vector of length K returned"
    none_defined = undefined_certificate(instance, problem) if problem in ("P1", "P2") else None
    if none_defined is not None:
        return None, none_defined
    if problem == "P1":
        objective_s = p1_claim_latency(instance, assignment)
        cert = p1_optimality_certificate(instance, objective_s)
        return cert, "" if cert else (f"an assignment faster than {objective_s!r} s exists "
                                      f"(no Hall violator below it)")
    if problem == "P2":
        objective_s = p2_claim_latency(instance, assignment, result.bandwidth_hz)
        if not math.isfinite(objective_s):
            return None, "the solution's latency is not finite"
        cert = dual_certificate(instance, objective_s)
        return cert, "" if cert else (f"no lower bound within {CERTIFIED_GAP_RTOL:g} of {objective_s!r} s "
                                      f"could be certified")
    return None, f"unknown problem {problem!r}"


def attach(instance: Instance, result: Result, problem: str | None = None) -> Result:
    """Give ``result`` the certificate of its claim; a claim that cannot be certified is withdrawn.

    * ``optimal`` without a certificate becomes ``feasible`` (the solution is
      kept), its message saying why; ``info["uncertified"]`` holds the reason.
    * ``infeasible`` on an instance that has an assignment becomes ``error``:
      the claim is false.
    * ``optimal`` where no certificate is *defined* (P1 under G1 + G2, P2
      under G2; :func:`undefined_certificate`) and the solution is valid:
      the claim is kept, unproven, ``certificate`` stays None,
      ``info["certificate"]`` is ``"none defined for <problem> with
      <features>"`` and the message says so.  Its optimality rests on the
      method (and, in the harness, on the agreement of the exact methods);
      ``docs/certificates.md``, "What is proven and what is not".

    Idempotent (a result that already has a certificate, or the note that none
    is defined, is returned as is); the time spent is ``info["certify_s"]``
    (not added to ``seconds``).

    >>> from instances import Instance
    >>> g2 = Instance.from_arrays([[1.0, 2.0]], [1.0, 1.0], [1.0], [1.0], 1.0, 1.0, device_max_blocks=[2])
    >>> res = attach(g2, Result(solver="x", problem="P2", status="optimal", objective_s=4.0,
    ...                         assignment=(0, 0), bandwidth_hz=(1.0,)))
    >>> res.status.value, res.certificate, res.info["certificate"]
    ('optimal', None, 'none defined for P2 with devices that take several blocks (G2)')
    """
    if result.status not in CLAIMS or result.certificate is not None:
        return result
    if str(result.info.get("certificate", "")).startswith(NONE_DEFINED):
        return result
    problem = problem or result.problem
    start = time.perf_counter()
    try:
        cert, reason = certificate_for(instance, problem, result)
    except Exception as exc:   # a certificate that cannot be built is a withdrawn claim, never a crash
        cert, reason = None, f"certificate construction failed: {type(exc).__name__}: {exc}"
    result.info["certify_s"] = time.perf_counter() - start
    if cert is not None:
        result.certificate = cert
        return result
    if result.status == Status.OPTIMAL and reason.startswith(NONE_DEFINED):
        result.info["certificate"] = reason
        note = (f"optimal, not certified: no certificate is defined for {reason[len(NONE_DEFINED):]} "
                f"(the claim rests on the method)")
        result.message = f"{note}; {result.message}" if result.message else note
        return result
    claimed = result.status.value
    result.info["uncertified"] = reason
    result.info["claimed_status"] = claimed
    note = f"claimed {claimed} but not certified: {reason}"
    result.message = f"{note}; {result.message}" if result.message else note
    if result.status == Status.OPTIMAL:
        result.status = Status.FEASIBLE
        result.bound_s = None
    else:
        result.status = Status.ERROR
    return result


__all__ = ["NONE_DEFINED", "attach", "assignment_duals", "certificate_for", "dual_certificate", "hall_certificate",
           "hall_violator", "infeasibility_certificate", "p1_claim_latency", "p1_optimality_certificate",
           "p2_claim_latency", "undefined_certificate"]
