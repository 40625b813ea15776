"""P2 (JBBA) heuristics: the paper's dual ascent (Algorithm 3), an improved variant, CRUNCH + bandwidth.

Problem (P2 with the involvement variables of Sec. V-A, the paper's (13)):

.. math::

    \\min_{x, z, B_k \\ge 0, T}\\; T \\quad\\text{s.t.}\\quad
    \\sum_m x_{km} t_{km} + z_k \\frac{c_k}{B_k} \\le T \\;(\\lambda_k \\ge 0), \\quad
    \\sum_k B_k \\le B \\;(\\eta \\ge 0), \\quad
    z_k = \\sum_m x_{km} \\;(\\nu_k \\in \\mathbb{R}),

with x in C1-C3 (every block on one device, at most one block per device,
memory), z binary with :math:`\\sum_k z_k = M`, :math:`t = tcp` (s) and
:math:`c_k = D / R_k` (Hz s).  Its Lagrangian splits (the paper's (15)):

.. math::

    L = T\\Big(1 - \\sum_k \\lambda_k\\Big)
      + \\sum_{k,m} x_{km} (\\lambda_k t_{km} - \\nu_k)
      + \\sum_k \\Big[ z_k \\Big(\\frac{\\lambda_k c_k}{B_k} + \\nu_k\\Big) + \\eta B_k \\Big] - \\eta B.

Algorithm 3 (:func:`dual_ascent`, registered as ``dual-ascent``) minimises
the three parts for fixed duals and moves the duals along the constraint
violations:

* T: the linear term is least at :math:`T_i = T_{ub}` if
  :math:`\\sum_k \\lambda_k > 1` and at 0 if it is below 1, with :math:`T_{ub}`
  an upper bound on the latency;
* blocks (Sec. V-C): CRUNCH prunes the row-sorted matrix
  :math:`w_{km} = \\lambda_k t_{km} - \\nu_k` to the pairs under its bottleneck
  optimum, then the Hungarian method finds the minimum-weight perfect matching
  :math:`x_i` on the surviving pairs;
* involvement and bandwidth (Lemma 1, eq. (17)):
  :math:`B_k = \\sqrt{\\lambda_k c_k / \\eta}` and :math:`z_k = 1` for the M
  devices with least :math:`2\\sqrt{\\lambda_k \\eta c_k} + \\nu_k`;
* dual update (eq. (16)), projected subgradient steps of length :math:`\\alpha_i`:

  .. math::

      \\lambda_k \\leftarrow \\Big[\\lambda_k + \\alpha_i\\Big(\\sum_m x_{km} t_{km}
          + z_k \\frac{c_k}{B_k} - T_i\\Big)\\Big]^+, \\quad
      \\eta \\leftarrow \\Big[\\eta + \\alpha_i\\Big(\\sum_k z_k B_k - B\\Big)\\Big]^+, \\quad
      \\nu_k \\leftarrow \\nu_k + \\alpha_i\\Big(z_k - \\sum_m x_{km}\\Big).

The answer is the best iterate's assignment :math:`x_i` given its optimal
bandwidth (:func:`solvers.bandwidth.optimal_bandwidth`).  Weak duality makes
the dual function

.. math::

    g(\\lambda, \\eta, \\nu) = T_{ub} \\min\\Big(0, 1 - \\sum_k \\lambda_k\\Big)
      + \\min_{x \\in C1\\text{-}C3} \\sum_{k,m} x_{km} w_{km}
      + \\min_{|S| = M} \\sum_{k \\in S} \\big(2\\sqrt{\\lambda_k \\eta c_k} + \\nu_k\\big) - \\eta B

a lower bound on the optimum whenever :math:`T_{ub} \\ge` the optimum, but
only with the block term minimised over *every* assignment: the pruned
matching is the minimum over bottleneck-optimal assignments only, which may
be larger, so its Lagrangian value is no bound.  ``bound_s`` is therefore
computed with an exact min-sum assignment (SciPy's ``linear_sum_assignment``
on all memory-feasible pairs), which the iteration itself never uses.

Choices the paper leaves open (:func:`dual_ascent`; the step constants were
picked by the sweep of :func:`step_sweep`, see ``docs/dual-ascent.md``):

==================  ===================================================================
choice              made here
==================  ===================================================================
units               time in units of the P1 optimum :math:`\\tau` (CRUNCH's latency),
                    bandwidth in fractions of B, so one step rule fits every instance
initial primal      CRUNCH's P1 assignment (iteration 0): the first incumbent and
                    :math:`T_{ub}`
:math:`T_{ub}`      the incumbent's latency (an upper bound on the optimum, as the
                    paper asks), so the dual value is a valid bound
T at a tie          :math:`T_i = T_{ub}` when :math:`\\sum_k \\lambda_k = 1` exactly
initial duals       :math:`\\lambda_k = s_\\lambda / K`; :math:`\\nu_k = 0`;
                    :math:`\\eta = s_\\eta (\\sum_{k \\in x_0} \\sqrt{\\lambda_k c_k})^2`
                    (Lemma 1's bands of CRUNCH's devices exactly exhaust B when
                    :math:`s_\\eta = 1`); :math:`s_\\lambda` = 2
                    (:data:`PAPER_LAMBDA_SCALE`), :math:`s_\\eta` = 1 (:data:`PAPER_ETA_SCALE`)
step rule           diminishing, the same for every dual:
                    :math:`\\alpha_i = a / (b + i)^p` with a = 0.003
                    (:data:`PAPER_STEP_SCALE`), b = 10 (:data:`PAPER_STEP_OFFSET`),
                    p = 1/2 (:data:`PAPER_STEP_POWER`), the least mean gap of the sweep
projection          :math:`\\lambda \\ge 0` (the orthant), :math:`\\eta \\ge 10^{-12}`
                    (so Lemma 1's bands stay finite), :math:`\\nu` free
idle-band guard     :math:`z_k = 1` with :math:`\\lambda_k = 0` gets no band in Lemma 1;
                    its upload term in the subgradient is capped at
                    :math:`2 T_{ub}`
ties                Lemma 1: lower device index; matching: SciPy's, on the devices
                    that keep a pair (beyond 4M of them, each block's M cheapest,
                    ties to the lower device: :func:`cheapest_devices`)
primal answer       the best iterate's :math:`x_i` (iteration 0 included) with its
                    optimal bandwidth; the earliest among equals
dual bound          the best :math:`g` over the iterates, block term exact, lowered by
                    ``ROUNDING_RTOL`` times its terms' magnitude, floored at 0
stopping            200 iterations (:data:`DEFAULT_MAX_ITER`), the time limit (checked
                    before every iteration; every 16 in the compiled loop), the bound
                    meeting the incumbent (``EXACT_RTOL``), or a zero subgradient
==================  ===================================================================

The improved variant (:func:`dual_ascent_rich`, ``dual-ascent-rich``) keeps the
duals, sub-problems and projected steps, and adds (details and measurements in
``docs/dual-ascent.md``): best involvement prices :math:`\\nu^*_k = -2\\sqrt{\\lambda_k\\eta c_k}`
for the bound and two more block allocations (:func:`best_nu`); a CRUNCH block
allocation under Lemma 1's bands (:func:`bandwidth_block_step`); Polyak steps
with halving; :math:`\\lambda` on the simplex; four primal candidates per
iteration; stopping on stagnation.  Both are heuristics (status ``feasible``).

Complexity: per iteration of :func:`dual_ascent`, one bottleneck value
(O(KM)), one matching on the pruned pairs and, when the bound may improve, one
on all pairs (O(K M^2) each), Lemma 1 (O(K log K)) and at most one bandwidth
equation (O(M) per root step); :func:`dual_ascent_rich` does about three
times that.  The loops compute these pieces on transposed (M, K) weight
matrices (:class:`_BlockTerms`) and, at K > 4M, sort and match only the n
devices that hold some block's M least weights (O(KM) comparisons, then
O(M n log n + M^2 n)): the very numbers the public functions return, bit for
bit, so the runs are those of the plain composition of the pieces (tested).
Without a trace, :func:`dual_ascent`'s iterations run in compiled code
(:func:`solvers.kernels.paper_iterations`: the same operations in the same
order, NumPy's pairwise sums and SciPy's LSAP method, so again the plain
loop's run bit for bit, tested); the Python loop serves ``trace`` and an
assignment whose bandwidth equation Newton does not settle.
:func:`dual_ascent_rich`'s iterations run compiled as well
(:func:`solvers.kernels.rich_iterations`: the devices :class:`_BlockTerms`
keeps, the same matchings, sums and BLAS dot product, so its Python loop's
run bit for bit, tested for every option combination); its Python loop
serves what the compiled one leaves to it: Newton not settling, a dual or a
sum that is not finite, an infeasible matching (where SciPy raises), and
Polyak steps where the compiled dot product is not NumPy's.

References
----------
.. [1] "Resource Management for Low-latency Cooperative Fine-tuning of
   Foundation Models at the Network Edge", Sec. V (Lemma 1, eqs. (15)-(17), Algorithm 3).
.. [2] S. Boyd, L. Xiao, A. Mutapcic, "Subgradient methods", lecture notes, 2003.
.. [3] W. Wang, M. A. Carreira-Perpinan, "Projection onto the probability simplex", 2013.
.. [4] M. Held, P. Wolfe, H. P. Crowder, "Validation of subgradient optimization",
   Mathematical Programming 6, 1974 (Polyak steps with a halving factor).

Examples
--------
>>> from instances import Instance
>>> from solvers.p2_exact import exact_jbba
>>> inst = Instance.from_arrays([[1.0, 2.0], [1.5, 1.5], [0.5, 3.0]], [1e9, 2e9],
...     [4e9, 1e9, 4e9], [1.0, 2.0, 4.0], gradient_bits=1e6, bandwidth_hz=1e6)
>>> optimum = exact_jbba(inst).objective_s            # certified in the tests against brute force
>>> for method in (dual_ascent, dual_ascent_rich):
...     res = method(inst)
...     assert res.status.value == "feasible"
...     assert res.bound_s <= optimum * (1 + 1e-9) <= res.objective_s * (1 + 2e-9)
>>> dual_ascent_rich(inst).objective_s <= crunch_bandwidth(inst).objective_s
True
"""
from __future__ import annotations

import functools
import math
import sys
from numbers import Real
from typing import NamedTuple

import numpy as np
from scipy.optimize import linear_sum_assignment

from instances import Instance

from . import p1
from .bottleneck import assignment_from_counts, hall_check
from .bandwidth import NEWTON_MAX_STEPS, optimal_bandwidth
from .result import Result, Status, Stopwatch
from .scope import solves
from instances.tolerances import ABS_FLOOR_S, EXACT_RTOL, ROUNDING_RTOL, STALL_RTOL, close, rel_gap

#: Default iteration cap of both variants.
DEFAULT_MAX_ITER = 200
#: :func:`dual_ascent`: step alpha_i = PAPER_STEP_SCALE / (PAPER_STEP_OFFSET + i) ** PAPER_STEP_POWER
#: (normalised units; chosen by :func:`step_sweep`, see docs/dual-ascent.md).
PAPER_STEP_SCALE = 0.003
PAPER_STEP_OFFSET = 10.0
PAPER_STEP_POWER = 0.5
#: :func:`dual_ascent`: initial lambda_k = PAPER_LAMBDA_SCALE / K.
PAPER_LAMBDA_SCALE = 2.0
#: :func:`dual_ascent`: initial eta = PAPER_ETA_SCALE x the square-root rule's eta.
PAPER_ETA_SCALE = 1.0
#: :func:`dual_ascent_rich`: default initial Polyak fraction theta_0.
DEFAULT_STEP = 0.05
#: Polyak rule: theta is halved after this many iterations without a better bound.
HALVE_AFTER = 20
#: :func:`dual_ascent_rich`: iterations without improvement before stopping.
DEFAULT_PATIENCE = 100
#: Upload time (in units of the incumbent) charged in the subgradient to an
#: involved device that Lemma 1 gives no bandwidth (lambda_k = 0).
_UPLOAD_CAP = 2.0
#: Floor of eta (normalised) so that Lemma 1's bandwidths stay finite.
_ETA_FLOOR = 1e-12
#: An assignment's bandwidth equation is not solved when its latency provably exceeds the
#: incumbent by this much, relative (far above the root's rounding, so no decision changes).
_SKIP_RTOL = 1e-9
#: Up to this many (device, block) pairs, an assignment's latency test reads Python lists (the
#: instance's latencies converted once) instead of NumPy arrays.
_PYTHON_ENTRIES = 200_000
#: Seeds of :func:`step_sweep` (disjoint from the shipped corpus's and the reproduction's).
SWEEP_SEEDS = range(1000, 1020)


# --------------------------------------------------------------------------------------
# The simple baseline
# --------------------------------------------------------------------------------------
@solves(name="crunch+bandwidth", problem="P2")
def crunch_bandwidth(instance: Instance, time_limit: float | None = None) -> Result:
    """CRUNCH's optimal P1 assignment, then the optimal bandwidth for it.

    .. math:: x = \\arg\\min_x \\max_k (t_{k m(k)} + D M / (B R_k)), \\qquad
              B_k = \\frac{c_k}{T - a_k},\\ \\sum_k B_k = B.

    Complexity: CRUNCH's O(KM log KM) plus one monotone root search.

    Parameters
    ----------
    instance : Instance
    time_limit : float, optional
        Accepted for a uniform interface; the method always finishes quickly.

    Returns
    -------
    Result
        ``feasible`` (no optimality claim for P2), or ``infeasible`` when P1 is.

    Examples
    --------
    >>> from instances import Instance
    >>> from solvers.bandwidth import p2_objective
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.5, 1.5], [0.5, 3.0]], [1e9, 2e9],
    ...     [4e9, 1e9, 4e9], [1.0, 2.0, 4.0], gradient_bits=1e6, bandwidth_hz=1e6)
    >>> res = crunch_bandwidth(inst)
    >>> res.status.value, res.assignment
    ('feasible', (1, 2))
    >>> bool(abs(p2_objective(inst, res.assignment, res.bandwidth_hz) - res.objective_s) < 1e-9)
    True
    """
    sw = Stopwatch(time_limit)
    base = p1.crunch(instance)
    if not base.has_solution:
        return Result(solver="crunch+bandwidth", problem="P2", status=Status.INFEASIBLE, seconds=sw.elapsed, message=base.message)
    latency_s, band_hz = optimal_bandwidth(instance, base.assignment)
    return Result(solver="crunch+bandwidth", problem="P2", status=Status.FEASIBLE, objective_s=latency_s, bound_s=None, seconds=sw.elapsed, assignment=base.assignment,
                  bandwidth_hz=band_hz, message="CRUNCH's P1 assignment with its optimal bandwidth",
                  info={"p1_objective_s": base.objective_s})



# --------------------------------------------------------------------------------------
# Pieces of Algorithm 3 (all in normalised units)
# --------------------------------------------------------------------------------------
def project_simplex(v: np.ndarray) -> np.ndarray:
    """Euclidean projection of ``v`` onto ``{w >= 0, sum w = 1}`` (sort-based, O(K log K)).

    >>> project_simplex(np.array([0.5, 0.5, -1.0])).tolist()
    [0.5, 0.5, 0.0]
    >>> float(project_simplex(np.array([3.0, 1.0])).sum())
    1.0
    """
    u = np.sort(v)[::-1]
    css = np.cumsum(u) - 1.0
    ks = np.arange(1, v.size + 1)
    rho = int(np.nonzero(u - css / ks > 0)[0][-1])
    return np.maximum(v - css[rho] / (rho + 1), 0.0)


def lemma1(lam: np.ndarray, eta: float, nu: np.ndarray, coef: np.ndarray, M: int):
    """Lemma 1: involvement z (bool K-vector), bandwidths b (K), and the term's minimum.

    ``b_k = sqrt(lam_k coef_k / eta)`` (for every device; only involved ones use
    it) and z picks the M least ``2 sqrt(lam_k eta coef_k) + nu_k`` (ties to the
    lower index).  Returns ``(z, b, value)`` with ``value`` the infimum of
    ``sum_k z_k (lam_k coef_k / b_k + nu_k) + eta b_k`` over z, b.

    >>> lam, coef = np.array([0.5, 0.5, 0.0]), np.ones(3)
    >>> z, b, v = lemma1(lam, 1.0, np.zeros(3), coef, 2)   # device 2 is free, then a tie
    >>> z.tolist(), float(v)
    ([True, False, True], 1.4142135623730951)
    >>> # re-check: at b_0 the involved device 0 pays lam c / b + eta b = 2 sqrt(lam eta c)
    >>> bool(np.isclose(lam[0] * coef[0] / b[0] + 1.0 * b[0], v))
    True
    """
    per_device = 2.0 * np.sqrt(lam * eta * coef) + nu
    K = lam.size
    if K > 4 * M:
        # the M least without sorting all K: those below the M-th least value, then its ties by
        # index (what a stable sort keeps); summed in ascending order, as a full sort would
        cut = np.partition(per_device, M - 1)[M - 1]
        z = per_device < cut
        ties = np.flatnonzero(per_device == cut)[: M - int(np.count_nonzero(z))]
        z[ties] = True
        chosen = np.sort(per_device[z])
    else:
        order = np.argsort(per_device, kind="stable")
        z = np.zeros(K, dtype=bool)
        z[order[:M]] = True
        chosen = per_device[order[:M]]
    if eta >= _ETA_FLOOR:   # both variants keep eta here (no overflow); lam = 0 gives b = 0
        b = np.sqrt(lam * coef / eta)
    else:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):   # eta -> 0: infimum not attained
            b = np.where(lam > 0, np.sqrt(lam * coef / eta), 0.0)
    return z, b, float(chosen.sum())


def min_sum_assignment(weights: np.ndarray) -> tuple[np.ndarray, float]:
    """Exact min-sum assignment of every block (column) to a distinct device (row).

    ``inf`` marks forbidden pairs; the caller guarantees a feasible assignment
    exists.  Returns ``(assignment, value)``; O(K M^2) (Jonker-Volgenant).

    >>> a, v = min_sum_assignment(np.array([[1.0, np.inf], [0.0, 2.0], [5.0, 1.0]]))
    >>> a.tolist(), float(v)
    ([1, 2], 1.0)
    """
    blocks, devices = linear_sum_assignment(weights.T)
    assignment = np.empty(weights.shape[1], dtype=int)
    assignment[blocks] = devices
    return assignment, float(weights[assignment, np.arange(weights.shape[1])].sum())


def _min_sum_value(weights: np.ndarray) -> float:
    """The value of :func:`min_sum_assignment` (the assignment itself is not returned).

    Some min-sum assignment uses, for every block, one of its M cheapest devices
    (if block m's device is not among them, one of them is free: the other M - 1
    blocks hold at most M - 1 devices, and moving m there costs nothing more), so
    at large K the matching runs on the union of those, at most M^2 devices.
    """
    K, M = weights.shape
    if K > 4 * M:
        weights = weights[cheapest_devices(weights)]
    return min_sum_assignment(weights)[1]


def cheapest_devices(weights: np.ndarray) -> np.ndarray:
    """The devices (rows, ascending) holding some block's M least weights, ties to the lower device.

    Per block (column), the first M of a stable sort.  O(K M log K).

    >>> cheapest_devices(np.array([[1.0, 2.0], [0.0, 2.0], [1.0, 1.0], [0.0, 3.0]])).tolist()
    [0, 1, 2, 3]
    >>> cheapest_devices(np.array([[1.0, 2.0], [0.0, 2.0], [1.0, 1.0], [0.0, 2.0], [5.0, 5.0]])).tolist()
    [0, 1, 2, 3]
    """
    M = weights.shape[1]
    return np.unique(np.argsort(weights, axis=0, kind="stable")[:M])


def bottleneck_value(cost: np.ndarray) -> float:
    """The least bottleneck of a row-sorted cost matrix that has an assignment (Proposition 1).

    .. math:: T^* = \\max_m \\big(M - m\\big)\\text{-th smallest of } c_{\\cdot m} \\quad (m = 0..M-1)

    the value :func:`solvers.bottleneck.bottleneck_crunch` finds (the same matrix entry),
    without re-validating the rows: the caller guarantees sorted rows (``inf``
    only as a suffix) and that some assignment exists (Hall's condition), as
    every caller in this module does.  ``inf`` if none exists.  O(KM).

    >>> cost = np.array([[1., 5.], [2., 3.], [4., np.inf]])
    >>> from solvers.bottleneck import bottleneck_crunch
    >>> bottleneck_value(cost) == bottleneck_crunch(cost)[0]
    True
    """
    K, M = cost.shape
    if K > 4 * M:
        # U = the M-th least cost of the deepest block bounds T*; a row starting above U has no
        # entry <= T*, so dropping it changes no order statistic that matters
        upper = np.partition(cost[:, M - 1], M - 1)[M - 1]
        if math.isfinite(upper):
            cost = cost[cost[:, 0] <= upper]
            K = cost.shape[0]
    low = np.partition(cost, M - 1, axis=0)[:M] if K > M else cost   # each column's M smallest
    low = np.sort(low, axis=0)
    columns = np.arange(M)
    return float(low[M - 1 - columns, columns].max())


def crunch_pruned_assignment(weights: np.ndarray, compact: bool = False) -> np.ndarray:
    """The paper's block step (Sec. V-C): CRUNCH-prune ``weights``, then Hungarian.

    CRUNCH finds the bottleneck optimum v of the row-sorted weight matrix; the
    pairs above v are removed and a minimum-weight perfect matching runs on the
    rest.  This minimises the sum among bottleneck-optimal assignments, which
    need not be the unrestricted minimum (hence the exact step for the bound).
    The caller guarantees that an assignment exists.  O(KM + K M^2).  With
    ``compact`` the matching runs only on the devices with a pair left and, when
    more than 4M are, only on each block's M cheapest of them (some optimal
    matching uses only those, see :func:`_min_sum_value`): the same optimal sum,
    faster at large K, but among tied matchings SciPy may then pick another one.
    """
    v = bottleneck_value(weights)
    if not math.isfinite(v):
        raise ValueError("no assignment of every block to a distinct allowed device exists")
    if not compact:
        return min_sum_assignment(np.where(weights <= v, weights, np.inf))[0]
    rows = np.flatnonzero(weights[:, 0] <= v)    # the other rows have no pair left (rows sorted)
    kept = weights[rows]
    kept = np.where(kept <= v, kept, np.inf)
    M = weights.shape[1]
    if rows.size > 4 * M:                         # each block's M cheapest pairs hold an optimum
        cheapest = cheapest_devices(kept)
        rows, kept = rows[cheapest], kept[cheapest]
    return rows[min_sum_assignment(kept)[0]]


class DualValue(NamedTuple):
    """The dual function at one point, with the minimisers that attain it."""

    value: float              #: g(lambda, eta, nu), same time unit as the inputs
    assignment: np.ndarray    #: exact minimiser of the block term (device per block)
    involved: np.ndarray      #: Lemma 1's z (bool, K)
    share: np.ndarray         #: Lemma 1's bandwidths, as fractions of B (K)


def dual_function(tcp: np.ndarray, coef: np.ndarray, allowed: np.ndarray, lam: np.ndarray, eta: float,
                  nu: np.ndarray, t_ub: float) -> DualValue:
    """The Lagrangian dual function of JBBA: a lower bound on the optimum for any duals.

    .. math::

        g(\\lambda, \\eta, \\nu) = T_{ub} \\min\\Big(0, 1 - \\sum_k \\lambda_k\\Big)
          + \\min_{x \\in C1\\text{-}C3} \\sum_{k,m} x_{km} (\\lambda_k t_{km} - \\nu_k)
          + \\min_{|S| = M} \\sum_{k \\in S} \\big(2\\sqrt{\\lambda_k \\eta c_k} + \\nu_k\\big) - \\eta

    with bandwidth measured as a fraction of B (so the budget is 1 and
    ``coef = D / (R_k B)`` in time units).  Every term is minimised exactly over
    a set containing every feasible point of P2 with T in ``[0, t_ub]``, so by
    weak duality ``g <= optimum`` whenever ``lam >= 0``, ``eta >= 0`` and
    ``t_ub >= optimum``.  O(K M^2 + K log K).

    Parameters
    ----------
    tcp : (K, M) computation latency; coef : (K,) D / (R_k B); both in one time unit
    allowed : (K, M) bool, memory-feasible pairs (C3)
    lam : (K,) >= 0; eta : float >= 0; nu : (K,) free
    t_ub : an upper bound on the optimum, same time unit

    Examples
    --------
    >>> from instances import Instance
    >>> from itertools import permutations
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.5, 1.5], [0.5, 3.0]], [1.0, 2.0],
    ...     [4.0, 1.0, 4.0], [1.0, 2.0, 4.0], gradient_bits=1.0, bandwidth_hz=1.0)
    >>> optimum = min(optimal_bandwidth(inst, a)[0] for a in permutations(range(3), 2)
    ...               if inst.memory_ok[list(a), [0, 1]].all())      # enumeration
    >>> g = dual_function(inst.compute_latency, inst.comm_coef, inst.memory_ok,
    ...                   np.array([0.2, 0.3, 0.5]), 0.7, np.array([0.1, -0.2, 0.0]), t_ub=10.0)
    >>> bool(g.value <= optimum)
    True
    """
    t_term = t_ub * min(0.0, 1.0 - float(lam.sum()))
    weights = np.where(allowed, lam[:, None] * tcp - nu[:, None], np.inf)
    assignment, block_term = min_sum_assignment(weights)
    involved, share, z_term = lemma1(lam, eta, nu, coef, tcp.shape[1])
    return DualValue(t_term + block_term + z_term - eta, assignment, involved, share)


def best_nu(lam: np.ndarray, eta: float, coef: np.ndarray) -> np.ndarray:
    """The involvement duals that maximise the dual function for given lambda and eta.

    .. math:: \\nu^*_k = -2\\sqrt{\\lambda_k \\eta c_k}, \\qquad
              g(\\lambda, \\eta, \\nu^*) = \\max_\\nu g(\\lambda, \\eta, \\nu)
              = T_{ub}\\min\\Big(0, 1 - \\sum_k\\lambda_k\\Big)
              + \\min_{x \\in C1\\text{-}C3} \\sum_{k,m} x_{km}\\big(\\lambda_k t_{km} + 2\\sqrt{\\lambda_k\\eta c_k}\\big) - \\eta.

    Why: with :math:`\\nu^*` every device's Lemma 1 term is 0, so g is the
    right-hand side.  For any other :math:`\\nu`, bound g's block minimum by its
    value at the right-hand side's minimiser x and Lemma 1's minimum by its value
    at z = the devices of x: each of them holds one block, so :math:`\\nu` cancels
    and :math:`g(\\nu) \\le` the right-hand side.  So the block step at
    :math:`\\nu^*` weighs each pair by its computation *and* its cheapest upload
    price, :math:`\\lambda_k t_{km} + 2\\sqrt{\\lambda_k\\eta c_k}`, and its exact
    minimiser is the Lagrangian's primal answer at the best involvement prices.  O(K).

    >>> lam, coef = np.array([0.25, 0.75]), np.array([1.0, 3.0])
    >>> best_nu(lam, 4.0, coef).tolist()
    [-2.0, -6.0]
    >>> z, b, v = lemma1(lam, 4.0, best_nu(lam, 4.0, coef), coef, 1)   # every device's term is 0
    >>> abs(float(v)) < 1e-12
    True
    """
    return -2.0 * np.sqrt(lam * eta * coef)


def bandwidth_block_step(tcp: np.ndarray, coef: np.ndarray, allowed: np.ndarray,
                         share: np.ndarray) -> np.ndarray | None:
    """CRUNCH's bottleneck block allocation under given bandwidth shares (P1 with unequal bands).

    .. math:: \\min_x \\max_m \\Big(t_{k(m) m} + \\frac{c_{k(m)}}{b_{k(m)}}\\Big)

    with :math:`b_k` the fraction of B of device k (Lemma 1's :math:`\\sqrt{\\lambda_k c_k / \\eta}`
    in :func:`dual_ascent`); a device with :math:`b_k = 0` is excluded.  Rows stay
    sorted (a constant is added to each), so :func:`solvers.bottleneck.bottleneck_crunch`
    applies.  Returns the assignment, or None when the devices with bandwidth
    cannot hold every block.  O(KM + K log K).

    >>> tcp, share = np.array([[1.0, 2.0], [1.0, 1.5], [0.5, 3.0]]), np.array([0.5, 0.25, 0.25])
    >>> x = bandwidth_block_step(tcp, np.ones(3), np.ones((3, 2), bool), share)
    >>> x.tolist()
    [2, 0]
    >>> from itertools import permutations   # re-check: the least bottleneck over all maps
    >>> cost = tcp + (1.0 / share)[:, None]
    >>> bool(max(cost[x, [0, 1]]) == min(max(cost[p, [0, 1]]) for p in permutations(range(3), 2)))
    True
    >>> bandwidth_block_step(tcp, np.ones(3), np.ones((3, 2), bool), np.array([0.5, 0.0, 0.0])) is None
    True
    """
    with np.errstate(divide="ignore"):
        upload = np.where(share > 0, coef / np.where(share > 0, share, 1.0), np.inf)
    cost = np.where(allowed & np.isfinite(upload)[:, None], tcp + upload[:, None], np.inf)
    if not hall_check(np.isfinite(cost).sum(axis=1), cost.shape[1]):
        return None
    # the prefix counts under the bottleneck optimum, and Proposition 1's matching of them (the
    # same assignment as solvers.bottleneck.bottleneck_crunch: ties to the higher device index)
    counts = (cost <= bottleneck_value(cost)).sum(axis=1)
    return assignment_from_counts(counts, cost.shape[1])


# --------------------------------------------------------------------------------------
# The pieces in the form the loops use: the same numbers, fewer and smaller array operations
# --------------------------------------------------------------------------------------
#: Relative size (to the weights' magnitude) of the band above each block's M-th least weight
#: within which a device is kept for the matchings of :func:`dual_ascent_rich` (see
#: :class:`_BlockTerms`): far above the rounding of SciPy's shortest-path sums (~1e-15).
_TIE_RTOL = 1e-9
#: Lemma-1 uploads at least this large (normalised) send :func:`dual_ascent_rich`'s bandwidth block
#: step to :func:`bandwidth_block_step` itself (where ``tcp + upload`` could overflow).
_HUGE_UPLOAD = 1e300


def _lsap_columns(weights: np.ndarray) -> np.ndarray:
    """SciPy's min-sum matching of the (M, n) matrix ``weights``: the column of each row (block).

    With M <= n SciPy returns the rows in order, so its second array is the
    assignment itself (what :func:`min_sum_assignment` rebuilds from both).
    """
    return linear_sum_assignment(weights)[1]


class _Near:
    """The devices kept for the weight matrices of one loop: every block's M least weights, near ties included.

    The threshold of block m is the M-th least of its weights over the devices
    kept at the previous iteration: an upper bound on the M-th least over all
    devices, and close to it, because those devices include each block's 2M
    least of the time before (the duals move little).  Kept now: the devices
    with some weight at or below the threshold widened by the margin, those
    among each block's 2M least of the previous ones (for the next threshold)
    and devices 0..M-1 (see :class:`_BlockTerms` for why).  O(KM) comparisons;
    the (M, K) matrices are sorted at the first iteration only.
    """

    __slots__ = ("previous",)

    def __init__(self):
        self.previous = None

    def select(self, weights: np.ndarray, M: int, spreads) -> tuple[np.ndarray, np.ndarray]:
        """The kept devices (ascending) and their columns of ``weights``, M rows per matrix stacked.

        ``spreads[p]`` bounds ``-min(0, weights)`` of matrix p, or is negative when
        no matching uses its kept devices (no margin needed).
        """
        previous = self.previous
        sub = weights if previous is None else weights.take(previous, axis=1)
        ranked = np.sort(sub, axis=1)    # vectorised: faster than np.partition on fresh data
        top = ranked[:, M - 1]
        if max(spreads) >= 0:
            # every weight of interest lies in [-spread, top]: the margin is relative to that magnitude
            scale = np.abs(top).reshape(len(spreads), M).max(axis=1).tolist()
            margins = [_TIE_RTOL * (s + spread) if spread >= 0 else 0.0 for s, spread in zip(scale, spreads)]
            top = (top.reshape(len(spreads), M) + np.array(margins)[:, None]).ravel()
        keep = (weights <= top[:, None]).any(axis=0)
        near = (sub <= ranked[:, 2 * M - 1][:, None]).any(axis=0)
        if previous is None:
            keep |= near
        else:
            keep[previous[near]] = True
        keep[:M] = True
        self.previous = keep.nonzero()[0]
        return self.previous, weights.take(self.previous, axis=1)


class _BlockTerms:
    """The block sub-problems of both variants, on transposed (M, K) weight matrices stacked in one array.

    ``stack[p]`` holds the p-th weight matrix of an iteration (block m's weights
    in row m); the caller writes them, :meth:`prepare` marks the forbidden pairs
    and finds what every piece needs.  Every method returns exactly (bit for
    bit) what the public piece it stands for returns on the (K, M) matrix --
    :func:`bottleneck_value`, :func:`crunch_pruned_assignment`,
    :func:`min_sum_assignment`, :func:`_min_sum_value` -- with fewer and
    smaller array operations: one product ``t_km lambda_k`` per iteration for
    all matrices, no per-call validation and, at K > 4M, nothing sorted or
    matched beyond the devices that can matter:

    * order statistics (the bottleneck value, each block's M-th least weight)
      are read off the devices :class:`_Near` keeps, which hold every block's
      M least weights;
    * a matching restricted to some devices equals SciPy's matching of all K
      (not only its sum: the same assignment among ties) when the devices left
      out can never be reached by SciPy's shortest augmenting paths (Crouse's
      method): for every block, each weight they have is ``inf`` (a pruned
      pair) or above the block's M-th least weight by more than ``_TIE_RTOL``
      of the weights' magnitude, so one of the block's M cheapest devices is
      always free and strictly cheaper in SciPy's reduced costs, whatever
      their rounding; and devices 0..M-1 are kept, because SciPy scans the
      columns from the last and refills a removed column's slot with the
      last one (never beyond column M-1 in one search), which then keeps the
      scan order, hence the choice among tied columns, of the full matrix.
      ``tests/test_dual_ascent.py`` checks this on matrices full of ties;
    * where the public pieces restrict a matching to every block's M cheapest
      devices (:func:`cheapest_devices`, ties to the lower device), that set
      is read off the order statistics when no block has ties at its M-th
      least weight, and computed by :func:`cheapest_devices` otherwise.
    """

    def __init__(self, tcp: np.ndarray, allowed: np.ndarray, matrices: int):
        K, M = tcp.shape
        self.K, self.M = K, M
        self.tcp = np.ascontiguousarray(tcp.T)                 # (M, K)
        self.stack = np.empty((matrices, M, K))
        forbidden = np.flatnonzero(~allowed.T)                # flat indices into one (M, K) matrix
        self.forbidden = (forbidden + M * K * np.arange(matrices)[:, None]).ravel()
        self.cols = np.arange(M)
        self.diag = M - 1 - self.cols
        self.large = K > 4 * M
        self.near = _Near()

    def prepare(self, spreads):
        """Forbidden pairs set to ``inf``; the devices to look at (None: all), every matrix's weights
        there and its sorted rows, every matrix's bottleneck value (:func:`bottleneck_value`), and
        which of those devices its matchings run on (None: all; see :meth:`_matched`).

        ``spreads`` as in :meth:`_Near.select`, one per matrix.
        """
        if self.forbidden.size:
            self.stack.put(self.forbidden, np.inf)
        if not self.large:
            rows = np.sort(self.stack, axis=2)
            return None, self.stack, rows, rows[:, self.cols, self.diag].max(axis=1).tolist(), None
        M, matrices = self.M, len(spreads)
        devices, sub = self.near.select(self.stack.reshape(-1, self.K), M, spreads)
        sub = sub.reshape(matrices, M, -1)
        rows = np.sort(sub, axis=2)
        if max(spreads) < 0:                         # no matching runs on these devices
            return devices, sub, rows, rows[:, self.cols, self.diag].max(axis=1).tolist(), None
        # the matchings' devices: some weight within the margin of its block's M-th least, and 0..M-1
        top = rows[:, :, M - 1]
        scale = np.abs(top).max(axis=1).tolist()
        margins = [_TIE_RTOL * (s + spread) if spread >= 0 else 0.0 for s, spread in zip(scale, spreads)]
        matched = (sub <= (top + np.array(margins)[:, None])[:, :, None]).any(axis=1)
        matched[:, :M] = True                        # devices 0..M-1 come first
        return devices, sub, rows, rows[:, self.cols, self.diag].max(axis=1).tolist(), matched

    def _matched(self, prepared, matrix: int) -> tuple[np.ndarray | None, np.ndarray]:
        """The devices a matching of ``matrix`` runs on (None: all) and their weights."""
        devices, sub = prepared[0], prepared[1][matrix]
        if devices is None:
            return None, sub
        keep = prepared[4][matrix]
        return devices[keep], sub[:, keep]

    def pruned(self, prepared, matrix: int) -> np.ndarray:
        """:func:`crunch_pruned_assignment` (``compact=False``): the matching of the pairs at or under v."""
        devices, sub = self._matched(prepared, matrix)
        v = prepared[3][matrix]
        found = _lsap_columns(np.where(sub <= v, sub, np.inf))
        return found if devices is None else devices[found]

    def exact(self, prepared, matrix: int) -> tuple[np.ndarray, float]:
        """:func:`min_sum_assignment`: the unrestricted min-sum matching and its value."""
        devices, sub = self._matched(prepared, matrix)
        found = _lsap_columns(sub)
        value = float(sub[self.cols, found].sum())
        return (found if devices is None else devices[found]), value

    def pruned_compact(self, prepared) -> np.ndarray:
        """:func:`crunch_pruned_assignment` with ``compact=True`` (the paper's variant) on matrix 0."""
        M, v, weights = self.M, prepared[3][0], self.stack[0]
        rows = (weights[0] <= v).nonzero()[0]    # the other devices have no pair left (rows sorted)
        if rows.size <= 4 * M:
            kept = weights.take(rows, axis=1)
            return rows[_lsap_columns(np.where(kept <= v, kept, np.inf))]
        # each block's M cheapest pairs hold an optimum: cheapest_devices' set
        chosen = self._partition_set(prepared, v, rows)
        kept = weights.take(chosen, axis=1)
        return chosen[_lsap_columns(np.where(kept <= v, kept, np.inf))]

    def min_sum_value(self, prepared) -> float:
        """:func:`_min_sum_value` of matrix 0 (the value of the exact matching, for the bound)."""
        weights = self.stack[0]
        if not self.large:
            return float(weights[self.cols, _lsap_columns(weights)].sum())
        sub = weights.take(self._partition_set(prepared, math.inf, None), axis=1)
        return float(sub[self.cols, _lsap_columns(sub)].sum())

    def _partition_set(self, prepared, v: float, rows: np.ndarray | None) -> np.ndarray:
        """The devices (ascending) :func:`cheapest_devices` gives for the (n, M) matrix
        ``kept`` of matrix 0's devices ``rows`` (None: all) with the pairs above ``v`` set to ``inf``.

        A block whose M-th least weight is at most v and has no tie is given its M least
        weights' devices (the set cheapest_devices returns); the others get the first M of
        a stable sort of their weights, as in cheapest_devices.
        """
        M, weights = self.M, self.stack[0]
        devices, sub, sorted_rows = prepared[0], prepared[1][0], prepared[2][0]
        kth = sorted_rows[:, M - 1]                  # every block's M-th least weight over all devices
        within = sub <= kth[:, None]
        tied = ((kth > v) | (np.add.reduce(within, axis=1) != M)).nonzero()[0].tolist()
        if not tied:
            return devices[within.any(axis=0)]
        chosen = np.zeros(self.K, dtype=bool)
        within[tied] = False
        chosen[devices[within.any(axis=0)]] = True
        if rows is None:
            kept = weights[tied]
        else:
            kept = weights[tied].take(rows, axis=1)
            kept = np.where(kept <= v, kept, np.inf)
        picked = np.argsort(kept, axis=1, kind="stable")[:, :M]
        chosen[picked if rows is None else rows[picked]] = True
        return chosen.nonzero()[0]


def _least(per_device: np.ndarray, M: int, large: bool) -> tuple[np.ndarray, np.ndarray]:
    """Lemma 1's choice (:func:`lemma1`): the devices of the M least ``per_device`` (ties to the lower
    index), ascending, and those M values in ascending order (what :func:`lemma1` sums)."""
    if large:
        cut = np.partition(per_device, M - 1)[M - 1]
        on = (per_device <= cut).nonzero()[0]
        if on.size > M:      # ties at the cut: the lower indices among them
            below = np.flatnonzero(per_device < cut)
            on = np.sort(np.concatenate((below, np.flatnonzero(per_device == cut)[: M - below.size])))
        return on, np.sort(per_device[on])
    order = np.argsort(per_device, kind="stable")[:M]
    return np.sort(order), per_device[order]


def _project_simplex(v: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """:func:`project_simplex` with ``ranks = np.arange(1, v.size + 1)`` given.

    Up to 40 entries the sort and the running sum are done on Python floats (the
    same sums, in the same order: ``np.cumsum`` adds left to right).
    """
    if v.size <= 40:
        total, found = 0.0, None
        for i, ui in enumerate(sorted(v.tolist(), reverse=True)):
            total += ui
            if ui - (total - 1.0) / (i + 1) > 0:
                found = i, total - 1.0
        if found is not None and math.isfinite(total):
            rho, css = found
            return np.maximum(v - css / (rho + 1), 0.0)
    u = np.sort(v)[::-1]
    css = np.cumsum(u) - 1.0
    rho = int(np.nonzero(u - css / ranks > 0)[0][-1])
    return np.maximum(v - css[rho] / (rho + 1), 0.0)


# --------------------------------------------------------------------------------------
# Shared by both variants
# --------------------------------------------------------------------------------------
class _Latencies:
    """Optimal-bandwidth latency of assignments, in units of ``tau_s``; each root solved at most once.

    With an incumbent given, an assignment whose latency provably exceeds it (the
    bandwidth equation's left side at the incumbent, widened by ``_SKIP_RTOL``,
    still asks for more than B) is answered ``inf`` without solving its root:
    no caller's decision changes, since ``inf`` and the root both lose to it.
    The callers' incumbents never rise, so such an assignment is answered ``inf``
    again at once later on.
    """

    def __init__(self, instance: Instance, tau_s: float):
        self.instance, self.tau_s = instance, tau_s
        self.tcp_s, self.coef = instance.compute_latency.T, instance.comm_coef     # [m][k] seconds; Hz s
        if instance.K * instance.M <= _PYTHON_ENTRIES:   # the test runs on M numbers: plain floats are faster
            self.tcp_s, self.coef = self.tcp_s.tolist(), self.coef.tolist()
        self.limit_hz = instance.bandwidth_hz * (1.0 + _SKIP_RTOL)
        self.known: dict[tuple[int, ...], float] = {}
        self.seen: set[tuple[int, ...]] = set()
        self.worse: set[tuple[int, ...]] = set()          # above an earlier (so any later) incumbent

    def __call__(self, assignment, incumbent: float = math.inf) -> float:
        key = tuple(assignment.tolist()) if isinstance(assignment, np.ndarray) else tuple(int(k) for k in assignment)
        self.seen.add(key)
        value = self.known.get(key)
        if value is None:
            if incumbent < math.inf and (key in self.worse or self._exceeds(key, incumbent)):
                self.worse.add(key)
                return math.inf
            value = self.known[key] = optimal_bandwidth(self.instance, key)[0] / self.tau_s
        return value

    def _exceeds(self, devices: tuple[int, ...], incumbent: float) -> bool:
        t_s = incumbent * self.tau_s * (1.0 + _SKIP_RTOL)
        rows, coef = self.tcp_s, self.coef
        need = 0.0
        for m, k in enumerate(devices):
            gap = t_s - rows[m][k]
            if gap <= 0.0:                  # a device's computation alone reaches t_s
                return True
            need += coef[k] / gap
        # sum_k c_k / (T - a_k) decreases in T: above B at t_s means the root lies beyond t_s
        return need > self.limit_hz


def _start(instance: Instance, sw: Stopwatch, solver: str) -> Result:
    """CRUNCH's P1 assignment, or ``infeasible`` (proven by Hall's condition) / ``no_solution``."""
    if not hall_check(instance.memory_prefix, instance.M):
        why = (f"M = {instance.M} blocks > K = {instance.K} devices" if instance.M > instance.K
               else "memory wall: no assignment of all blocks to distinct devices fits the memory budgets")
        return Result(solver=solver, problem="P2", status=Status.INFEASIBLE, seconds=sw.elapsed, message=why)
    base = p1.crunch(instance)
    if not base.has_solution:   # not reached: Hall's condition is CRUNCH's own test
        return Result(solver=solver, problem="P2", status=Status.NO_SOLUTION, seconds=sw.elapsed,
                      message=f"{solver}: CRUNCH found no starting assignment ({base.message})")
    return base


def _normalised(instance: Instance, base: Result) -> tuple[float, np.ndarray, np.ndarray]:
    """The time unit ``tau_s`` (s: the P1 optimum of ``base``, > 0), the computation latency
    ``tcp / tau_s`` and the upload coefficient ``D / (R_k B tau_s)`` (upload = coef / share of B)."""
    tau_s = float(base.objective_s)
    return tau_s, instance.compute_latency / tau_s, instance.comm_coef / (instance.bandwidth_hz * tau_s)


def _bad_parameter(sw: Stopwatch, solver: str, why: str) -> Result:
    return Result(solver=solver, problem="P2", status=Status.ERROR, seconds=sw.elapsed, message=why)


def _stopwatch(time_limit) -> Stopwatch:
    ok = isinstance(time_limit, Real) and not isinstance(time_limit, bool)
    return Stopwatch(time_limit if ok else None)


def _common_parameter_error(time_limit, max_iter) -> str | None:
    if time_limit is not None and (isinstance(time_limit, bool) or not isinstance(time_limit, Real)
                                   or not math.isfinite(time_limit) or time_limit < 0):
        return f"time_limit must be None or a non-negative number of seconds, got {time_limit!r}"
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 0:
        return f"max_iter must be a non-negative integer, got {max_iter!r}"
    return None


def _positive(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, Real) and math.isfinite(value) and value > 0


def _message(solver: str, what: str, stop: str, iterations: int, best_iteration: int, best_from: str) -> str:
    origin = ("CRUNCH (iteration 0)" if best_iteration == 0
              else f"iteration {best_iteration} ({best_from})")
    return f"{solver} ({what}) stopped: {stop}, after {iterations} iteration(s); best assignment from {origin}"


# --------------------------------------------------------------------------------------
# Algorithm 3 as published
# --------------------------------------------------------------------------------------
def step_length(i: int, scale: float = PAPER_STEP_SCALE, offset: float = PAPER_STEP_OFFSET,
                power: float = PAPER_STEP_POWER) -> float:
    """The diminishing step of :func:`dual_ascent` at iteration ``i >= 1``: ``scale / (offset + i) ** power``.

    >>> step_length(4, scale=0.2, offset=0.0, power=0.5)
    0.1
    """
    return scale / (offset + i) ** power


@solves(name="dual-ascent", problem="P2")
def dual_ascent(instance: Instance, time_limit: float | None = None, max_iter: int = DEFAULT_MAX_ITER,
                step_scale: float = PAPER_STEP_SCALE, step_offset: float = PAPER_STEP_OFFSET,
                step_power: float = PAPER_STEP_POWER, lambda_scale: float = PAPER_LAMBDA_SCALE,
                eta_scale: float = PAPER_ETA_SCALE, trace=None) -> Result:
    """The paper's dual ascent for JBBA (Algorithm 3), as published.

    Each iteration i: :math:`T_i` from the sign of :math:`1 - \\sum_k \\lambda_k`,
    the CRUNCH-pruned minimum-weight matching on :math:`\\lambda_k t_{km} - \\nu_k`,
    Lemma 1 for z and B, then the projected subgradient step of eq. (16) with
    :math:`\\alpha_i = a / (b + i)^p`.  The answer is the best iterate's
    assignment with its optimal bandwidth.  The module docstring states the
    method and every choice the paper leaves open.

    Parameters
    ----------
    instance : Instance
    time_limit : float, optional
        Seconds, for everything (checked before every iteration, or every
        16 iterations of the compiled loop); on expiry the
        incumbent is returned with status ``time_limit``.
    max_iter : int
        Iteration cap (default :data:`DEFAULT_MAX_ITER`).
    step_scale, step_offset, step_power : float
        a > 0, b >= 0, p in (0, 1] of the step :math:`a / (b + i)^p` (normalised units).
    lambda_scale, eta_scale : float
        :math:`s_\\lambda, s_\\eta > 0` of the initial duals (module docstring).
    trace : callable, optional
        Called once per iteration, before the dual step, with a dict of that
        iteration's ``iteration``, duals ``lam``, ``eta``, ``nu`` (before the
        step), ``t`` (:math:`T_i`), block step ``x``, Lemma 1's ``z`` and
        ``share`` (fractions of B), and step length ``alpha``; time in units of
        ``tau_s`` (also given), the P1 optimum.

    Returns
    -------
    Result
        ``feasible`` (a heuristic, maybe above the optimum), ``time_limit``,
        ``infeasible`` (Hall's condition fails: no assignment satisfies C1-C3),
        ``no_solution`` or ``error`` (bad parameters).  ``bound_s``: the best
        valid dual bound, None if no iteration ran.  ``info``: ``iterations``,
        ``best_iteration`` (0 = CRUNCH's assignment), ``best_from``, ``stop``,
        ``bound_iteration``, ``assignments_evaluated``, ``crunch_bandwidth_s``,
        ``variant`` and the settings.

    Notes
    -----
    Complexity: O(max_iter (K M^2 + K log K)).
    """
    solver = "dual-ascent"
    sw = _stopwatch(time_limit)
    why = _common_parameter_error(time_limit, max_iter)
    if why is None:
        for label, value in (("step_scale", step_scale), ("lambda_scale", lambda_scale), ("eta_scale", eta_scale)):
            if not _positive(value):
                why = f"{label} must be a positive finite number, got {value!r}"
                break
    if why is None and (isinstance(step_offset, bool) or not (_positive(step_offset) or step_offset == 0)):
        why = f"step_offset must be a non-negative finite number, got {step_offset!r}"
    if why is None and not (_positive(step_power) and step_power <= 1):
        why = f"step_power must be in (0, 1] (a diminishing, non-summable step), got {step_power!r}"
    if why is not None:
        return _bad_parameter(sw, solver, why)
    base = _start(instance, sw, solver)
    if base.status != Status.OPTIMAL:
        return base

    K, M = instance.K, instance.M
    tau_s, tcp, coef = _normalised(instance, base)
    latency_of = _Latencies(instance, tau_s)

    best_assignment = tuple(int(k) for k in base.assignment)
    best = latency_of(best_assignment)                    # incumbent (normalised): also T_ub

    lam = np.full(K, float(lambda_scale) / K)
    x0 = np.asarray(best_assignment)
    eta = max(float(eta_scale) * float(np.sum(np.sqrt(lam[x0] * coef[x0]))) ** 2, _ETA_FLOOR)
    nu = np.zeros(K)
    crunch_s = best * tau_s

    run = None if trace is not None else _compiled_paper_loop(
        instance, tau_s, tcp, coef, sw, max_iter, [step_length(i, step_scale, step_offset, step_power)
                                                   for i in range(1, max_iter + 1)], lam, nu, eta, best, best_assignment)
    if run is None:
        run = _python_paper_loop(instance, tau_s, tcp, coef, sw, max_iter, (step_scale, step_offset, step_power),
                                 lam, nu, eta, latency_of, best, best_assignment, trace)
    stop, it, best_assignment, best_iteration, best_bound, bound_iteration, evaluated = run

    status = Status.TIME_LIMIT if stop == "time_limit" else Status.FEASIBLE
    latency_s, band_hz = optimal_bandwidth(instance, best_assignment)
    bound_s = None if bound_iteration is None else max(best_bound * tau_s, 0.0)
    message = _message(solver, "the paper's Algorithm 3", stop, it, best_iteration, "paper step")
    info = {"variant": "paper", "iterations": it, "best_iteration": best_iteration,
            "best_from": "crunch" if best_iteration == 0 else "paper step", "stop": stop,
            "bound_iteration": bound_iteration, "assignments_evaluated": evaluated,
            "crunch_bandwidth_s": crunch_s,
            "step_scale": step_scale, "step_offset": step_offset, "step_power": step_power,
            "lambda_scale": lambda_scale, "eta_scale": eta_scale}
    return Result(solver=solver, problem="P2", status=status, objective_s=latency_s, bound_s=bound_s, seconds=sw.elapsed, assignment=best_assignment, bandwidth_hz=band_hz, message=message, info=info)


#: Iterations per call of the compiled loop when a time limit is set (the clock is read between calls).
_COMPILED_CHUNK = 16


def _loop_arrays(instance, tau_s, tcp, coef) -> tuple:
    """The arrays both compiled loops start with: normalised ``tcp`` and ``coef``, the memory prefix, the
    instance's latencies (s) and upload coefficients, B (Hz) and ``tau_s``, as the kernels take them."""
    return (np.ascontiguousarray(tcp), np.ascontiguousarray(coef),
            np.ascontiguousarray(instance.memory_prefix, dtype=np.int64),
            np.ascontiguousarray(instance.compute_latency), np.ascontiguousarray(instance.comm_coef),
            float(instance.bandwidth_hz), tau_s)


def _compiled_paper_loop(instance, tau_s, tcp, coef, sw, max_iter, alphas, lam, nu, eta, best, best_assignment):
    """Algorithm 3's iterations in compiled code (:func:`solvers.kernels.paper_iterations`): the Python loop's
    answer, bit for bit; the clock is read every :data:`_COMPILED_CHUNK` iterations.  None when Newton does
    not settle on some assignment (the caller runs the Python loop, whose fallback is Brent's method)."""
    from . import kernels

    K, M = instance.K, instance.M
    history = np.empty((max(max_iter, 1), M), dtype=np.int64)
    fstate = np.array([eta, best, -math.inf])
    istate = np.array([0, -1, 0], dtype=np.int64)
    best_x = np.array(best_assignment, dtype=np.int64)
    constants = np.array([_SKIP_RTOL, EXACT_RTOL, ABS_FLOOR_S, ROUNDING_RTOL, _ETA_FLOOR, _UPLOAD_CAP])
    arrays = _loop_arrays(instance, tau_s, tcp, coef) + (np.array(alphas, dtype=float),)
    lam, nu = lam.copy(), nu.copy()
    chunk = max_iter if sw.time_limit is None else _COMPILED_CHUNK
    stop, done = "max_iter", 0
    while done < max_iter:
        if sw.expired():
            stop = "time_limit"
            break
        last = min(done + chunk, max_iter)
        code = kernels.paper_iterations(*arrays, done + 1, last, lam, nu, fstate, istate, best_x, history,
                                        NEWTON_MAX_STEPS, constants)
        if code == 3:
            return None
        done = int(istate[2])
        if code:
            stop = "bound meets incumbent" if code == 1 else "zero subgradient"
            break
    evaluated = len({tuple(best_assignment)} | set(map(tuple, history[:done].tolist())))
    bound_iteration = None if istate[1] < 0 else int(istate[1])
    return (stop, done, tuple(best_x.tolist()), int(istate[0]), float(fstate[2]),
            bound_iteration, evaluated)


def _python_paper_loop(instance, tau_s, tcp, coef, sw, max_iter, steps, lam, nu, eta, latency_of, best,
                       best_assignment, trace):
    """Algorithm 3's iterations in Python (with a trace, or when Newton does not settle): see :func:`dual_ascent`."""
    K, M = instance.K, instance.M
    step_scale, step_offset, step_power = steps
    blocks = _BlockTerms(tcp, instance.memory_ok, 1)     # block m's weights are row m of an (M, K) matrix
    weights, cols = blocks.stack[0], blocks.cols
    best_iteration, best_bound, bound_iteration = 0, -math.inf, None
    stop, it = "max_iter", 0
    for it in range(1, max_iter + 1):
        if sw.expired():
            stop, it = "time_limit", it - 1
            break
        t_ub = best
        lam_sum = float(lam.sum())
        t_i = t_ub if lam_sum >= 1.0 else 0.0             # minimiser of T (1 - sum lambda) over [0, T_ub]
        # blocks: CRUNCH-pruned Hungarian on lambda_k t_km - nu_k (rows sorted: lambda >= 0)
        np.multiply(blocks.tcp, lam, out=weights)
        weights -= nu
        prepared = blocks.prepare((-1.0,))
        x = blocks.pruned_compact(prepared)
        # involvement and bandwidth: Lemma 1 (z: the devices ``on``; the bands of those only)
        on, chosen = _least(2.0 * np.sqrt(lam * eta * coef) + nu, M, blocks.large)
        z_term = float(chosen.sum())
        on_coef = coef[on]
        on_share = np.sqrt(lam[on] * on_coef / eta)      # eta >= _ETA_FLOOR
        # primal answer: this iterate's x with its optimal bandwidth
        value = latency_of(x, best)
        if value < best:
            best, best_assignment, best_iteration = value, tuple(x.tolist()), it
        # dual bound: g at these duals needs the block term's minimum over *all* assignments; the
        # pruned matching's sum is >= it, so the exact one is needed only when the bound may rise
        t_term = t_ub * min(0.0, 1.0 - lam_sum)
        if t_term + float(weights[cols, x].sum()) + z_term - eta > best_bound:
            block_term = blocks.min_sum_value(prepared)
            g = t_term + block_term + z_term - eta
            g -= ROUNDING_RTOL * (abs(t_term) + abs(block_term) + abs(z_term) + eta)
            if g > best_bound:
                best_bound, bound_iteration = g, it
        if best_bound >= best or close(best_bound, best, EXACT_RTOL):
            stop = "bound meets incumbent"
            break
        # eq. (16): projected subgradient step on the violations of (x, z, B, T_i)
        g_lam = np.full(K, -t_i)
        g_lam[x] += blocks.tcp[cols, x]                   # computation of x's devices
        upload = np.full(M, _UPLOAD_CAP * t_ub)           # the guard where Lemma 1 gives no band
        np.divide(on_coef, on_share, out=upload, where=on_share > 0)
        g_lam[on] += np.minimum(upload, _UPLOAD_CAP * t_ub)
        g_eta = float(on_share.sum()) - 1.0
        g_nu = np.zeros(K)
        g_nu[on] = 1.0
        g_nu[x] -= 1.0
        # (with T_i > 0 the devices outside x and z, if any, have a step of -T_i)
        if not ((t_i != 0.0 and K > 2 * M) or g_lam.any() or g_eta or g_nu.any()):
            stop = "zero subgradient"
            break
        alpha = step_length(it, step_scale, step_offset, step_power)
        if trace is not None:
            z = np.zeros(K, dtype=bool)
            z[on] = True
            trace({"iteration": it, "lam": lam.copy(), "eta": eta, "nu": nu.copy(), "t": t_i, "x": x.copy(),
                   "z": z, "share": np.sqrt(lam * coef / eta), "alpha": alpha, "tau_s": tau_s})
        lam = np.maximum(lam + alpha * g_lam, 0.0)
        eta = max(eta + alpha * g_eta, _ETA_FLOOR)
        nu = nu + alpha * g_nu
    return stop, it, best_assignment, best_iteration, best_bound, bound_iteration, len(latency_of.seen)


# --------------------------------------------------------------------------------------
# The improved variant
# --------------------------------------------------------------------------------------
@solves(name="dual-ascent-rich", problem="P2")
def dual_ascent_rich(instance: Instance, time_limit: float | None = None, max_iter: int = DEFAULT_MAX_ITER,
                step: float = DEFAULT_STEP, patience: int = DEFAULT_PATIENCE,
                lambda_domain: str = "simplex", step_rule: str = "polyak", recovery: str = "rich") -> Result:
    """Dual ascent for JBBA with the additions of ``docs/dual-ascent.md`` (``dual-ascent-rich``).

    The duals, sub-problems and projected steps of :func:`dual_ascent`, plus:
    the dual bound and two more block allocations at the best involvement
    prices :func:`best_nu`; CRUNCH under Lemma 1's bands
    (:func:`bandwidth_block_step`); Polyak steps whose fraction theta is halved
    after :data:`HALVE_AFTER` iterations without a better bound; lambda on the
    simplex (T drops out of its step); up to four primal candidates per
    iteration, each with its optimal bandwidth; stopping on stagnation.
    Initial duals: :math:`\\lambda_k = 1/K`, :math:`\\nu = 0`, :math:`\\eta` by the
    square-root rule on CRUNCH's devices.  The bound is
    :math:`g(\\lambda, \\eta, \\nu^*)` with the block term exact and
    :math:`T_{ub}` the incumbent.  Never worse than :func:`crunch_bandwidth`.

    Parameters
    ----------
    instance : Instance
    time_limit : float, optional
        Seconds, for everything (checked before every iteration, or every
        16 iterations of the compiled loop); on expiry the incumbent is
        returned with status ``time_limit``.
    max_iter : int
        Iteration cap (default :data:`DEFAULT_MAX_ITER`).
    step : float
        ``"polyak"``: theta_0, the initial fraction of the Polyak step (halved
        after every :data:`HALVE_AFTER` iterations without a better bound);
        ``"diminishing"``: alpha_0 of alpha_t = alpha_0 / sqrt(t).  Normalised units
        (time in units of the P1 optimum, bandwidth in fractions of B).
    patience : int
        Stop after this many iterations without improvement of incumbent or bound.
    lambda_domain : {"simplex", "orthant"}
        ``"simplex"``: :math:`\\lambda \\ge 0, \\sum_k \\lambda_k = 1`, lambda's step is the
        latencies minus their mean; ``"orthant"``: :math:`\\lambda \\ge 0` with T the incumbent.
    step_rule : {"polyak", "diminishing"}
        ``"polyak"``: :math:`\\alpha_t = \\theta_t (\\bar T - g_t) / \\|s_t\\|^2` (incumbent
        :math:`\\bar T`, dual value :math:`g_t` at the best nu, subgradient :math:`s_t`);
        ``"diminishing"``: alpha_0 / sqrt(t).
    recovery : {"rich", "iterate"}
        ``"rich"`` (default): every iterate's four block allocations are given
        their optimal bandwidth; ``"iterate"``: only the paper's block step
        (the primal answer the paper describes: the best iterate's x).

    Returns
    -------
    Result
        ``feasible`` (a heuristic: never worse than :func:`crunch_bandwidth`,
        maybe above the optimum), ``time_limit``, ``infeasible`` (Hall's
        condition fails: no assignment satisfies C1-C3), ``no_solution`` or
        ``error`` (bad parameters).  ``bound_s`` is the best
        dual bound (a valid lower bound); ``info`` holds ``iterations``,
        ``best_iteration`` (0 = CRUNCH's assignment), ``best_from`` (which
        block step found it: ``"crunch"``, ``"paper step"``, ``"lagrangian"``,
        ``"pruned lagrangian"`` or ``"lemma-1 bandwidth"``), ``stop`` (why it
        stopped), ``bound_iteration``, ``assignments_evaluated``, ``variant`` and the settings.

    Notes
    -----
    Complexity: O(max_iter (K M^2 + K log K)).  The iterations run in compiled
    code (:func:`solvers.kernels.rich_iterations`, the Python loop's run bit
    for bit), which leaves to the Python loop only Newton not settling, a
    dual or a sum that is not finite, an infeasible matching, and Polyak
    steps where the compiled dot product is not NumPy's.
    """
    solver = "dual-ascent-rich"
    sw = _stopwatch(time_limit)
    why = _common_parameter_error(time_limit, max_iter)
    if why is None and (isinstance(patience, bool) or not isinstance(patience, (int, np.integer)) or patience < 1):
        why = f"patience must be a positive integer, got {patience!r}"
    if why is None and not _positive(step):
        why = f"step must be a positive finite number, got {step!r}"
    if why is None and lambda_domain not in ("simplex", "orthant"):
        why = f"lambda_domain must be 'simplex' or 'orthant', got {lambda_domain!r}"
    if why is None and step_rule not in ("polyak", "diminishing"):
        why = f"step_rule must be 'polyak' or 'diminishing', got {step_rule!r}"
    if why is None and recovery not in ("rich", "iterate"):
        why = f"recovery must be 'rich' or 'iterate', got {recovery!r}"
    if why is not None:
        return _bad_parameter(sw, solver, why)
    base = _start(instance, sw, solver)
    if base.status != Status.OPTIMAL:
        return base

    K = instance.K
    tau_s, tcp, coef = _normalised(instance, base)
    evaluate = _Latencies(instance, tau_s)   # optimal-bandwidth latency, normalised

    best_assignment = tuple(int(k) for k in base.assignment)
    best = evaluate(best_assignment)                       # incumbent, normalised

    # initial duals: every row equally weighted; Lemma 1's bands of CRUNCH's devices exhaust B
    lam = np.full(K, 1.0 / K)
    x0 = np.asarray(best_assignment)
    eta = max(float(np.sum(np.sqrt(lam[x0] * coef[x0]))) ** 2, _ETA_FLOOR)
    nu = np.zeros(K)
    crunch_s = best * tau_s
    settings = (step, patience, lambda_domain, step_rule, recovery)

    # the Python loop keeps a step of another type than int or float (e.g. NumPy's float32: its own
    # arithmetic) and Polyak steps where the compiled dot product might not be NumPy's
    compiled = isinstance(step, (int, float)) and (step_rule != "polyak" or _compiled_dot_is_numpys())
    run = None if not compiled else _compiled_rich_loop(
        instance, tau_s, tcp, coef, sw, max_iter, settings, lam, nu, eta, best, best_assignment)
    if run is None:
        run = _python_rich_loop(instance, tau_s, tcp, coef, sw, max_iter, settings, lam, nu, eta, evaluate, best,
                                best_assignment)
    stop, it, best_assignment, best_iteration, best_from, best_bound, bound_iteration, evaluated = run

    status = Status.TIME_LIMIT if stop == "time_limit" else Status.FEASIBLE
    latency_s, band_hz = optimal_bandwidth(instance, best_assignment)
    bound_s = None if bound_iteration is None else max(best_bound * tau_s, 0.0)
    message = _message(solver, "Algorithm 3 with the additions of docs/dual-ascent.md", stop, it,
                       best_iteration, best_from)
    info = {"variant": "rich", "iterations": it, "best_iteration": best_iteration, "best_from": best_from, "stop": stop,
            "bound_iteration": bound_iteration, "assignments_evaluated": evaluated, "crunch_bandwidth_s": crunch_s,
            "lambda_domain": lambda_domain, "step": step, "step_rule": step_rule, "recovery": recovery}
    return Result(solver=solver, problem="P2", status=status, objective_s=latency_s, bound_s=bound_s, seconds=sw.elapsed, assignment=best_assignment, bandwidth_hz=band_hz,
                  message=message, info=info)


@functools.cache
def _compiled_dot_is_numpys() -> bool:
    """Whether the compiled loop's dot product (BLAS ``ddot`` through SciPy) gives NumPy's ``v @ v`` (its own
    BLAS): tried once per process on random vectors of every length to 300 and a few longer ones, where
    two libraries summing in different orders would differ."""
    from . import kernels
    rng = np.random.default_rng(0)
    vectors = (rng.standard_normal(n) for n in (*range(1, 301), 1000, 4099))
    return all(kernels.self_dot(v) == float(v @ v) for v in vectors)


#: The sources of the improved variant's candidates, by their code in :func:`solvers.kernels.rich_iterations`.
_RICH_SOURCES = ("crunch", "paper step", "lagrangian", "pruned lagrangian", "lemma-1 bandwidth")
#: Assignments the compiled loop of :func:`dual_ascent_rich` first has room for (twice as many when full).
_RICH_STORE = 1024


def _compiled_rich_loop(instance, tau_s, tcp, coef, sw, max_iter, settings, lam, nu, eta, best, best_assignment):
    """The improved variant's iterations in compiled code (:func:`solvers.kernels.rich_iterations`): the Python
    loop's answer, bit for bit; the clock is read every :data:`_COMPILED_CHUNK` iterations.  None when the
    Python loop must decide (Newton does not settle on some assignment, a dual or a sum is not finite, or a
    matching is infeasible)."""
    from . import kernels

    step, patience, lambda_domain, step_rule, recovery = settings
    K, M = instance.K, instance.M
    # the set of evaluated assignments: iteration 0's, then up to four candidates per iteration
    rows = min(_RICH_STORE, (4 if recovery == "rich" else 1) * max_iter + 1) + 4
    store = np.empty((rows, M), dtype=np.int64)
    table = np.full(1 << (2 * rows).bit_length(), -1, dtype=np.int64)       # at most half full
    fstate = np.array([eta, best, -math.inf, float(step)])
    # best_iteration, bound_iteration, last iteration run, best_from, stall, since_bound, kept devices (-1: none
    # yet), assignments evaluated, table to refill
    istate = np.array([0, -1, 0, 0, 0, 0, -1, 0, 0], dtype=np.int64)
    best_x = np.array(best_assignment, dtype=np.int64)
    kept = np.empty(K, dtype=np.int64)
    order = np.arange(K)                                # sorts lam (all equal at first)
    options = np.array([lambda_domain == "simplex", step_rule == "polyak", recovery == "rich",
                        min(patience, max_iter + 1), HALVE_AFTER], dtype=np.int64)   # (stall <= max_iter)
    constants = np.array([_SKIP_RTOL, EXACT_RTOL, ABS_FLOOR_S, STALL_RTOL, _ETA_FLOOR, _UPLOAD_CAP, _TIE_RTOL,
                          _HUGE_UPLOAD])
    arrays = _loop_arrays(instance, tau_s, tcp, coef)
    lam, nu = lam.copy(), nu.copy()
    chunk = max_iter if sw.time_limit is None else _COMPILED_CHUNK
    stop, done = "max_iter", 0
    while done < max_iter:
        if sw.expired():
            stop = "time_limit"
            break
        last = min(done + chunk, max_iter)
        code = kernels.rich_iterations(*arrays, done + 1, last, options, float(step), lam, nu, fstate, istate, best_x,
                                       kept, order, store, table, NEWTON_MAX_STEPS, constants)
        if code == 3:
            return None
        done = int(istate[2])
        if code == 4:                                   # the store is full: twice as large, the table refilled
            store = np.concatenate((store, np.empty_like(store)))
            table = np.full(1 << (2 * store.shape[0]).bit_length(), -1, dtype=np.int64)
            istate[8] = 1
        elif code:
            stop = "bound meets incumbent" if code == 1 else "stagnation"
            break
    bound_iteration = None if istate[1] < 0 else int(istate[1])
    evaluated = int(istate[7]) or 1                     # (no iteration ran: iteration 0's assignment alone)
    return (stop, done, tuple(best_x.tolist()), int(istate[0]), _RICH_SOURCES[istate[3]], float(fstate[2]),
            bound_iteration, evaluated)


def _python_rich_loop(instance, tau_s, tcp, coef, sw, max_iter, settings, lam, nu, eta, evaluate, best,
                      best_assignment):
    """The improved variant's iterations in Python (where the compiled loop cannot decide): see
    :func:`dual_ascent_rich`."""
    step, patience, lambda_domain, step_rule, recovery = settings
    K, M = instance.K, instance.M
    allowed = instance.memory_ok
    # block m's weights are row m of (M, K) matrices: at nu, at the best nu, the Lemma-1 bandwidth costs
    blocks = _BlockTerms(tcp, allowed, 3 if recovery == "rich" else 2)
    stack, cols = blocks.stack, blocks.cols
    ranks = np.arange(1, K + 1)

    best_iteration = 0
    best_from = "crunch"
    best_bound = -math.inf
    bound_iteration = None
    theta = float(step)

    stop = "max_iter"
    stall = 0
    since_bound = 0
    it = 0
    for it in range(1, max_iter + 1):
        if sw.expired():
            stop, it = "time_limit", it - 1
            break
        # Lemma 1's square roots, shared by its involvement prices, the best nu and its bands
        root = np.sqrt(lam * eta * coef)
        two_root = 2.0 * root
        nu_star = -two_root                               # best_nu(lam, eta, coef)
        share = np.sqrt(lam * coef / eta)                 # Lemma 1's bands (eta >= _ETA_FLOOR)
        np.multiply(blocks.tcp, lam, out=stack[1])
        np.subtract(stack[1], nu, out=stack[0])          # lambda_k t_km - nu_k >= -max(nu)
        stack[1] -= nu_star                               # lambda_k t_km - nu*_k >= 0
        band = recovery == "rich" and float(np.minimum.reduce(share)) > 0.0
        if band:
            upload = coef / share                         # Lemma 1's bands: P1 with unequal bands
            band = float(np.maximum.reduce(upload)) < _HUGE_UPLOAD   # (else bandwidth_block_step itself)
            np.add(blocks.tcp, upload, out=stack[2])
        elif recovery == "rich":
            stack[2] = stack[1]                           # (a placeholder: no decision reads it)
        prepared = blocks.prepare((max(0.0, float(np.maximum.reduce(nu))), 0.0, -1.0)[:len(stack)])
        # (ii) block allocation as the paper does it (CRUNCH-pruned Hungarian) at the current nu
        x_paper = blocks.pruned(prepared, 0)
        # (iii) Lemma 1 at the current nu: involvement z (the devices ``on``) and bandwidth shares
        on, _ = _least(two_root + nu, M, blocks.large)
        # the dual function at the best nu (>= its value at the current nu): the bound, and the
        # exact Lagrangian minimiser (T_ub = incumbent >= optimum keeps the bound valid); at nu*
        # Lemma 1's term is 0 (every device's price is 2 sqrt(lam eta c) + nu* = 0)
        x_star, block_term = blocks.exact(prepared, 1)
        t_term = best * min(0.0, 1.0 - float(lam.sum()))
        z_term = 0.0 if float(np.maximum.reduce(two_root)) < math.inf else lemma1(lam, eta, nu_star, coef, M)[2]
        dual_value = t_term + block_term + z_term - eta
        improved = False
        if dual_value > best_bound + STALL_RTOL * abs(best):
            improved = True
            since_bound = 0
        else:
            since_bound += 1
        if dual_value > best_bound:
            best_bound, bound_iteration = dual_value, it
        # primal recovery: each candidate block allocation gets its optimal bandwidth; best kept
        candidates = [("paper step", x_paper)]
        if recovery == "rich":
            candidates.append(("lagrangian", x_star))
            candidates.append(("pruned lagrangian", blocks.pruned(prepared, 1)))
            if band:   # Proposition 1's matching of the prefix counts under the bottleneck optimum
                counts = (stack[2] <= prepared[3][2]).sum(axis=0)
                x_band = np.argsort(counts, kind="stable")[K - M:]      # bottleneck.assignment_from_counts
            else:
                x_band = bandwidth_block_step(tcp, coef, allowed, share)
            if x_band is not None:
                candidates.append(("lemma-1 bandwidth", x_band))
        for source, candidate in candidates:
            value = evaluate(candidate, best)   # inf when it surely cannot beat the incumbent
            if value < best * (1.0 - STALL_RTOL):
                improved = True
            if value < best:
                best, best_assignment, best_iteration = value, tuple(candidate.tolist()), it
                best_from = source
        if best_bound >= best or close(best_bound, best, EXACT_RTOL):
            stop = "bound meets incumbent"
            break
        stall = 0 if improved else stall + 1
        if stall >= patience:
            stop = "stagnation"
            break
        # subgradients (eq. 16) on the constraint violations of the paper's iterate
        latency = np.zeros(K)
        latency[x_paper] = blocks.tcp[cols, x_paper]     # computation of its devices
        on_share = share[on]
        if band:                                          # every device has a band: c_k / b_k known
            on_upload = upload[on]
        else:
            on_upload = np.full(M, np.inf)               # no band: capped below
            np.divide(coef[on], on_share, out=on_upload, where=on_share > 0)
        latency[on] += np.minimum(on_upload, _UPLOAD_CAP * best)
        g_lam = latency - float(latency.sum()) / K if lambda_domain == "simplex" else latency - best
        banded = np.zeros(K)
        banded[on] = on_share
        g_eta = float(banded.sum()) - 1.0
        g_nu = np.zeros(K)
        g_nu[on] = 1.0
        g_nu[x_paper] -= 1.0
        if step_rule == "polyak":
            if since_bound >= HALVE_AFTER:
                theta, since_bound = 0.5 * theta, 0
            norm2 = float(g_lam @ g_lam) + g_eta * g_eta + float(g_nu @ g_nu)
            alpha = theta * (best - dual_value) / norm2 if norm2 > 0 else 0.0
        else:
            alpha = step / math.sqrt(it)
        if lambda_domain == "simplex":
            lam = _project_simplex(lam + alpha * g_lam, ranks)
        else:
            lam = np.maximum(lam + alpha * g_lam, 0.0)
        eta = max(eta + alpha * g_eta, _ETA_FLOOR)
        nu = nu + alpha * g_nu
    return stop, it, best_assignment, best_iteration, best_from, best_bound, bound_iteration, len(evaluate.seen)


# --------------------------------------------------------------------------------------
# The step-size sweep behind the constants of dual_ascent
# --------------------------------------------------------------------------------------
#: The grid of :func:`step_sweep`: every combination is run.
SWEEP_GRID = {"step_power": (0.5, 1.0), "step_scale": (1e-4, 3e-4, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0),
              "step_offset": (0.0, 10.0), "lambda_scale": (0.5, 1.0, 2.0), "eta_scale": (0.1, 1.0, 10.0)}


def step_sweep(devices=(20, 50), seeds=SWEEP_SEEDS, grid=None, max_iter: int = DEFAULT_MAX_ITER) -> list[dict]:
    """Mean gap of :func:`dual_ascent` to the exact optimum for every setting of ``grid``.

    Instances: ``instances.generate.generate_instance(K, 12, seed)`` for K in
    ``devices`` and every seed (default 1000-1019, disjoint from the shipped
    corpus and the reproduction).  The optimum is ``solvers.p2_exact.exact_jbba``.
    Returns one row per setting, best mean gap first, with ``mean_gap_K<K>``,
    ``max_gap``, ``improved`` (runs whose answer beats CRUNCH + bandwidth),
    ``runs`` and the median and largest ``best_iteration``; the first rows are :func:`crunch_bandwidth` and
    :func:`dual_ascent_rich` for reference.  Deterministic.
    """
    import itertools

    from instances.generate import generate_instance

    from .p2_exact import exact_jbba

    grid = SWEEP_GRID if grid is None else grid
    cases = []
    for K in devices:
        for seed in seeds:
            inst = generate_instance(K, 12, seed=seed)
            opt = exact_jbba(inst)
            if opt.status != Status.OPTIMAL:
                raise RuntimeError(f"exact JBBA did not prove an optimum on K={K} seed={seed}: {opt.message}")
            cases.append((K, inst, opt.objective_s, crunch_bandwidth(inst).objective_s))

    def row(label: dict, method) -> dict:
        gaps = {K: [] for K in devices}
        improved, found_at = 0, []
        for K, inst, optimum_s, baseline_s in cases:
            res = method(inst)
            gaps[K].append(rel_gap(res.objective_s, optimum_s))
            improved += res.objective_s < baseline_s * (1.0 - STALL_RTOL)
            found_at.append(res.info.get("best_iteration", 0))
        every = [g for K in devices for g in gaps[K]]
        out = dict(label)
        out.update({f"mean_gap_K{K}": float(np.mean(gaps[K])) for K in devices})
        out.update(mean_gap=float(np.mean(every)), max_gap=float(np.max(every)), improved=improved,
                   runs=len(every), best_iteration_median=float(np.median(found_at)),
                   best_iteration_max=int(np.max(found_at)))
        return out

    reference = [row({"method": "crunch+bandwidth"}, crunch_bandwidth),
                 row({"method": "dual-ascent-rich"}, dual_ascent_rich)]
    names = list(grid)
    rows = []
    for values in itertools.product(*(grid[n] for n in names)):
        settings = dict(zip(names, values))
        rows.append(row({"method": "dual-ascent", **settings},
                        lambda inst, s=settings: dual_ascent(inst, max_iter=max_iter, **s)))
    rows.sort(key=lambda r: (r["mean_gap"], r["max_gap"]))
    return reference + rows


def time_ratios(devices=(20, 1000), seeds=(1, 2, 3), repeats: int = 3) -> list[dict]:
    """Wall time of both variants and of ``exact`` (the exact P2 optimum) on generated instances.

    For each K: the median over ``seeds`` of each method's fastest of ``repeats``
    runs (after one untimed warm-up run), in seconds, and the ratios to ``exact``.
    A measurement, not a test: it depends on the machine and its load.
    """
    import time

    from instances.generate import generate_instance

    from .p2_exact import exact_jbba

    methods = {"exact": exact_jbba, "dual-ascent": dual_ascent, "dual-ascent-rich": dual_ascent_rich}
    rows = []
    for K in devices:
        times: dict[str, list[float]] = {name: [] for name in methods}
        for seed in seeds:
            inst = generate_instance(K, 12, seed=seed)
            for name, method in methods.items():
                method(inst)
                runs = []
                for _ in range(repeats):
                    start = time.perf_counter()
                    method(inst)
                    runs.append(time.perf_counter() - start)
                times[name].append(min(runs))
        row = {"K": K, **{f"{name}_s": float(np.median(v)) for name, v in times.items()}}
        for name in ("dual-ascent", "dual-ascent-rich"):
            row[f"{name}_ratio"] = row[f"{name}_s"] / row["exact_s"]
        rows.append(row)
    return rows


def _markdown(rows: list[dict], top: int) -> str:
    keys = ["method", "step_power", "step_scale", "step_offset", "lambda_scale", "eta_scale"]
    gaps = [k for k in rows[0] if k.startswith("mean_gap_K")] + ["mean_gap", "max_gap"]
    lines = ["| " + " | ".join(keys + gaps + ["improved", "best iteration (median, max)"]) + " |",
             "|" + "---|" * (len(keys) + len(gaps) + 2)]
    tuned = [r for r in rows if r["method"] == "dual-ascent"]
    shown = [r for r in rows if r["method"] != "dual-ascent"] + tuned[:top] + tuned[max(top, len(tuned) - 3):]
    for r in shown:
        cells = [str(r.get(k, "")) for k in keys] + [f"{100 * r[g]:.2f} %" for g in gaps]
        cells += [f"{r['improved']} of {r['runs']}", f"{r['best_iteration_median']:g}, {r['best_iteration_max']}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    """``python -m solvers.dual_ascent [--sweep [--seeds N] [--top N]] [--time]``: the step-size sweep, timings."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m solvers.dual_ascent", description=main.__doc__)
    parser.add_argument("--sweep", action="store_true", help="run the step-size sweep of dual-ascent")
    parser.add_argument("--seeds", type=int, default=len(SWEEP_SEEDS),
                        help="number of seeds from 1000 (default 20)")
    parser.add_argument("--top", type=int, default=10, help="best settings shown (default 10)")
    parser.add_argument("--time", action="store_true", help="time both variants against exact (K = 20, 1000)")
    args = parser.parse_args(argv)
    if args.time:
        print("| K | exact | dual-ascent | dual-ascent-rich |\n|---|---|---|---|")
        for r in time_ratios():
            print(f"| {r['K']} | {1e3 * r['exact_s']:.2f} ms | {1e3 * r['dual-ascent_s']:.1f} ms "
                  f"({r['dual-ascent_ratio']:.0f}x) | {1e3 * r['dual-ascent-rich_s']:.1f} ms "
                  f"({r['dual-ascent-rich_ratio']:.0f}x) |")
    if not args.sweep:
        if not args.time:
            parser.print_help()
        return 0
    rows = step_sweep(seeds=range(SWEEP_SEEDS.start, SWEEP_SEEDS.start + args.seeds))
    print(_markdown(rows, args.top))
    best = next(r for r in rows if r["method"] == "dual-ascent")
    print("\nbest setting:", {k: best[k] for k in SWEEP_GRID})
    return 0


if __name__ == "__main__":
    sys.exit(main())
