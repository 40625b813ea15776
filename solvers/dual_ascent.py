"""P2 (JBBA) heuristics: the paper's dual ascent (Algorithm 3) and CRUNCH + bandwidth.

Problem (P2 with the involvement variables of Sec. V-A, the paper's (13)):

.. math::

    \\min_{x, z, B_k \\ge 0, T}\\; T \\quad\\text{s.t.}\\quad
    \\sum_m x_{km} t_{km} + z_k \\frac{c_k}{B_k} \\le T \\;(\\lambda_k \\ge 0), \\quad
    \\sum_k B_k \\le B \\;(\\eta \\ge 0), \\quad
    z_k = \\sum_m x_{km} \\;(\\nu_k \\in \\mathbb{R}),

with x in C1-C3, z binary, :math:`\\sum_k z_k = M` (implied), ``t = tcp`` (s)
and :math:`c_k = D / R_k` (Hz s).  Its Lagrangian splits (the paper's (15)):

.. math::

    L = T\\Big(1 - \\sum_k \\lambda_k\\Big)
      + \\sum_{k,m} x_{km} (\\lambda_k t_{km} - \\nu_k)
      + \\sum_k \\Big[ z_k \\Big(\\frac{\\lambda_k c_k}{B_k} + \\nu_k\\Big) + \\eta B_k \\Big] - \\eta B.

* (i) T: a linear term; its minimum over T in ``[0, T_ub]`` is
  :math:`T_{ub} \\min(0, 1 - \\sum_k \\lambda_k)`.
* (ii) blocks: a min-sum assignment with weights :math:`\\lambda_k t_{km} - \\nu_k`.
  As the paper does (Sec. V-C), CRUNCH first prunes the weighted matrix (its rows
  stay sorted because :math:`\\lambda_k \\ge 0`) to the pairs under its bottleneck
  optimum, then a minimum-weight perfect matching (Hungarian method, SciPy's
  ``linear_sum_assignment``) runs on the surviving pairs.
* (iii) Lemma 1: :math:`B_k = \\sqrt{\\lambda_k c_k / \\eta}` and
  :math:`z_k = 1` for the M devices with least :math:`2\\sqrt{\\lambda_k \\eta c_k} + \\nu_k`.

The duals then take projected subgradient steps on the constraint violations
(the paper's (16)).

Why the literal iteration stalls, and what is done about it
-----------------------------------------------------------
Measured on the project's generator (``instances.generate.generate_instance(K,
12, seed)``, default ``ScenarioParams``: tcp[k, m] = t(m) / f_k, Rayleigh R_k),
where the first implementation (``recovery="iterate"``, diminishing steps) was
above the exact optimum on every draw (K = 20: median 4.7 %, max 19.9 %) and
kept CRUNCH's starting point on 23 of 40 seeds:

1. *The block step sees no channel.*  (ii) weighs a pair by
   :math:`\\lambda_k t_{km} - \\nu_k`; uploads enter only through
   :math:`\\nu`, which starts at 0 and moves by one step length per iteration.
   So the iterate's x is a weighted sum of computation latencies and its
   device set ignores :math:`R_k`.
2. *The dual optimum is a poor place for primal answers.*  The Lagrangian
   dual is no stronger than the convex relaxation with x in [0, 1] (without
   block rows: 16-29 % below the optimum at K = 20, 52-63 % at K = 50, seeds
   0-5); our bounds reach 28 % and 64 % below (medians).  As the duals approach it,
   :math:`\\lambda` spreads over all K devices and the Lagrangian's minimisers
   are degenerate and poor (on seed 0: latencies of 1.0-1.9 tau against an
   optimum of 0.73 tau).  The good primal answers appear in the first tens of
   iterations (median iteration 6, 90th percentile 26, at K = 20), so each
   iterate's duals must be turned into primal candidates, not only its x.
3. *The step did not scale with K.*  alpha_0 / sqrt(t) with alpha_0 = 0.02 on
   :math:`\\lambda_k \\approx 1/K` changed lambda by 40 % per step at K = 20
   and 100 % at K = 50.

Fixes, all inside Algorithm 3's structure (same duals, same sub-problems, same
projected steps; the exact P2 solver is never called):

* **Best involvement prices** (:func:`best_nu`).  For given
  :math:`\\lambda, \\eta` the dual function is maximised over :math:`\\nu` in
  closed form by :math:`\\nu^*_k = -2\\sqrt{\\lambda_k \\eta c_k}`; there the
  block step weighs each pair by computation *plus* its Lemma 1 upload price,
  :math:`\\lambda_k t_{km} + 2\\sqrt{\\lambda_k \\eta c_k}`.  Its exact minimiser
  gives the bound (never below the bound at the iterate's :math:`\\nu`) and a
  primal candidate; the paper's own CRUNCH-pruned step on the same weights
  gives another.  The iterate's :math:`\\nu` still follows eq. (16).
* **Block step for the iterate's bandwidth** (:func:`bandwidth_block_step`):
  Lemma 1 gives every device a bandwidth share :math:`\\sqrt{\\lambda_k c_k/\\eta}`;
  CRUNCH solves the bottleneck block allocation under those shares (P1 with
  unequal bands), a third candidate.
* **Polyak steps** (``step_rule="polyak"``, default), scale-free in K.

Choices made here (the paper leaves them open)
----------------------------------------------
Units
    Time is measured in units of the P1 optimum :math:`\\tau` (CRUNCH's latency,
    > 0) and bandwidth in units of B, so latencies are O(1), bandwidth shares
    sum to 1, and one step rule serves instances of any magnitude.
Step rule
    ``"polyak"`` (default): :math:`\\alpha_t = \\theta_t (\\bar T - g_t) / \\|s_t\\|^2`
    with :math:`\\bar T` the incumbent, :math:`g_t` the dual value at the best
    :math:`\\nu` (an estimate: the subgradient :math:`s_t` is the paper's, at the
    iterate's :math:`\\nu`), :math:`\\|s_t\\|^2` over all three duals (lambda's
    part with its mean removed on the simplex, the direction the projection
    sees), :math:`\\theta_0` = ``step`` = 0.05, halved after
    :data:`HALVE_AFTER` = 20 iterations without a better bound (Held, Wolfe and
    Crowder's rule [4]).  ``"diminishing"``: :math:`\\alpha_t = \\alpha_0 / \\sqrt t`
    (the first implementation's rule, with ``step`` = alpha_0).  The same
    :math:`\\alpha_t` moves every dual.
Domain of lambda
    ``"simplex"`` (default): :math:`\\lambda \\ge 0,\\ \\sum_k \\lambda_k = 1`, the
    set on which the coefficient of T vanishes, as the paper says it must
    ("tend to 0"); the Euclidean projection onto the simplex is invariant to a
    common shift, so T's value drops out of the update.  ``"orthant"``: plain
    :math:`\\lambda \\ge 0` with T the incumbent (the paper's "upper bound").
Initial duals
    :math:`\\lambda_k = 1/K`; :math:`\\eta` such that Lemma 1's bandwidths of the
    M devices of CRUNCH's assignment exactly exhaust B; :math:`\\nu_k = 0`.
    So the first Lemma 1 shares follow the square-root rule
    :math:`b_k \\propto \\sqrt{c_k}` on *every* device.  Tried and rejected:
    lambda from the KKT conditions of CRUNCH's assignment with its optimal
    bandwidth (:math:`\\lambda_k \\propto B_k^2 / c_k`, :math:`\\eta` matching):
    it is 0 on the K - M idle devices, which then look free in (ii) and get no
    bandwidth in Lemma 1; K = 20 gaps rose to median 1.1 % (mean 1.7 %, max 7.8 %),
    and mixing it with the uniform start did no better than the uniform start alone.
Subgradient guard
    A device with :math:`z_k = 1` but :math:`\\lambda_k = 0` gets no bandwidth in
    Lemma 1 (infinite upload time); its upload term in the subgradient is capped
    at twice the incumbent latency.
Primal recovery
    ``recovery="rich"`` (default): per iterate up to four block allocations,
    each a valid C1-C3 assignment given its optimal bandwidth
    (:func:`solvers.bandwidth.optimal_bandwidth`): the paper's step at the
    iterate's :math:`\\nu` (``"paper step"``), the exact and the CRUNCH-pruned
    minimisers at :math:`\\nu^*` (``"lagrangian"``, ``"pruned lagrangian"``) and
    CRUNCH under Lemma 1's shares (``"lemma-1 bandwidth"``).  ``"iterate"``:
    the paper's step only.  The best is kept, starting from CRUNCH's P1
    assignment, so **dual ascent is never worse than crunch+bandwidth**.  It
    is a heuristic and may stop above the optimum.
Dual bound
    :math:`g(\\lambda, \\eta, \\nu^*)` (:func:`dual_function` at :func:`best_nu`),
    with (ii) solved exactly (min-sum assignment over all memory-feasible
    pairs, not the pruned ones) and T's term over ``[0, T_ub]`` with ``T_ub``
    the incumbent (>= optimum), is a valid lower bound (weak duality); the best
    one, floored at 0, is ``bound_s``.
Defaults and measurements
    ``step = 0.05``, ``max_iter = 200``, ``patience = 100``.  Gap to the exact
    optimum (``solvers.REGISTRY[("P2", "exact")]``), before (first
    implementation: diminishing steps 0.02, iterate recovery, 500 iterations)
    -> now:

    ============================  ===========================  ===========================
    family                        before: median / mean / max  now: median / mean / max
    ============================  ===========================  ===========================
    generator K = 20, seeds 0-39  4.68 / 5.91 / 19.9 %         0.24 / 0.48 / 2.28 %
    generator K = 50, seeds 0-19  2.51 / 2.76 / 7.23 %         0.59 / 0.76 / 2.40 %
    generator K = 200, seeds 0-9  1.35 / 1.70 / 4.13 %         0.45 / 0.58 / 1.20 %
    tcp U(1..5 s), K = 20, 0-39   0.004 / 0.021 / 0.32 %       0.002 / 0.006 / 0.04 %
    ============================  ===========================  ===========================

    (the last family: ``tests.test_dual_ascent.realistic``; tcp = depth x
    U(1, 2.5), R_k ~ U(0.05, 3)).  Exactly optimal on 1 of 40 draws at K = 20,
    0 of 20 at K = 50; CRUNCH's starting point is kept on 0 of 40 (before: 23).
    Each part counts: with the rich recovery but diminishing steps (0.005)
    K = 20 is 0.25 / 0.49 / 2.28 %, K = 50 0.81 / 0.97 / 2.40 %; with Polyak
    steps but the paper's recovery only, K = 20 is 1.92 / 2.23 / 6.68 % and
    K = 50 unchanged from before.  Where the best came from (K = 20):
    lemma-1 bandwidth 22, pruned lagrangian 13, lagrangian 3, paper step 2.
    Time: 0.09-0.11 s per run at K = 20 and K = 50 (200 iterations; the old
    default took 0.1-0.2 s for 500), about 0.3 s at K = 1000 (2 cores, shared).
    theta_0 in 0.01..0.5 changes the K = 20 mean gap by under 0.1 percentage
    point; 500 or 1000 iterations found nothing that 200 did not (the best
    answer's iteration: median 6, max 143 at K = 20).  ``patience`` rarely acts:
    the bound keeps creeping up by more than STALL_RTOL.
Strength of the bound
    The Lagrangian dual cannot beat the convex relaxation with x in [0, 1]
    (``relaxation``), which spreads blocks fractionally over devices; the best
    dual bound lies 28 % (K = 20), 64 % (K = 50) and 90 % (K = 200) below the
    optimum on the generator's instances (medians), 47 % on the U(1..5 s)
    family.  The bound is valid, not tight.
Stopping
    ``max_iter`` iterations, the time limit (status ``time_limit``, still with
    the incumbent), ``patience`` iterations without the incumbent or the bound
    improving by more than :data:`solvers.tolerances.STALL_RTOL`, or the bound
    meeting the incumbent (:data:`solvers.tolerances.EXACT_RTOL`).
    No randomness: the result is deterministic.

Complexity: per iteration three CRUNCH bottleneck searches (O(KM + K log K)
each, see :func:`solvers.p1.bottleneck_rows`), three assignments on a K x M
matrix (O(K M^2)) and up to four bandwidth equations (O(M) per root step),
O(max_iter (K M^2 + K log K)) in all.

References
----------
.. [1] "Resource Management for Low-latency Cooperative Fine-tuning of
   Foundation Models at the Network Edge", Sec. V (Lemma 1, eq. (16), Algorithm 3).
.. [2] S. Boyd, L. Xiao, A. Mutapcic, "Subgradient methods", lecture notes, 2003.
.. [3] W. Wang, M. A. Carreira-Perpinan, "Projection onto the probability simplex", 2013.
.. [4] M. Held, P. Wolfe, H. P. Crowder, "Validation of subgradient optimization",
   Mathematical Programming 6, 1974 (Polyak steps with a halving factor).

Examples
--------
>>> from instances import Instance
>>> from tests.bruteforce import brute_force_p2
>>> inst = Instance.from_arrays([[1.0, 2.0], [1.5, 1.5], [0.5, 3.0]], [1e9, 2e9],
...     [4e9, 1e9, 4e9], [1.0, 2.0, 4.0], gradient_bits=1e6, bandwidth_hz=1e6)
>>> res = dual_ascent(inst)
>>> res.status.value
'feasible'
>>> optimum = brute_force_p2(inst)
>>> bool(res.bound_s <= optimum * (1 + 1e-9) and res.objective_s >= optimum * (1 - 1e-9))
True
>>> res.objective_s <= crunch_bandwidth(inst).objective_s
True
"""
from __future__ import annotations

import math
from numbers import Real
from typing import NamedTuple

import numpy as np
from scipy.optimize import linear_sum_assignment

from instances import Instance

from . import p1
from .bandwidth import optimal_bandwidth
from .result import Result, Status, Stopwatch
from .tolerances import EXACT_RTOL, STALL_RTOL, close

#: Default iteration cap of :func:`dual_ascent`.
DEFAULT_MAX_ITER = 200
#: Default initial Polyak fraction theta_0 (see the module docstring).
DEFAULT_STEP = 0.05
#: Polyak rule: theta is halved after this many iterations without a better bound.
HALVE_AFTER = 20
#: Default number of iterations without improvement before stopping.
DEFAULT_PATIENCE = 100
#: Upload time (in units of the incumbent) charged in the subgradient to an
#: involved device that Lemma 1 gives no bandwidth (lambda_k = 0).
_UPLOAD_CAP = 2.0
#: Floor of eta (normalised) so that Lemma 1's bandwidths stay finite.
_ETA_FLOOR = 1e-12


# --------------------------------------------------------------------------------------
# The simple baseline
# --------------------------------------------------------------------------------------
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
        return Result("crunch+bandwidth", "P2", Status.INFEASIBLE, seconds=sw.elapsed, message=base.message)
    latency_s, band_hz = optimal_bandwidth(instance, base.assignment)
    return Result("crunch+bandwidth", "P2", Status.FEASIBLE, latency_s, None, sw.elapsed, base.assignment,
                  band_hz, "CRUNCH's P1 assignment with its optimal bandwidth",
                  {"p1_objective_s": base.objective_s})


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
    order = np.argsort(per_device, kind="stable")
    z = np.zeros(lam.size, dtype=bool)
    z[order[:M]] = True
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):   # eta -> 0: infimum not attained
        b = np.where(lam > 0, np.sqrt(lam * coef / eta), 0.0)
    return z, b, float(per_device[order[:M]].sum())


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


def crunch_pruned_assignment(weights: np.ndarray) -> np.ndarray:
    """The paper's block step (Sec. V-C): CRUNCH-prune ``weights``, then Hungarian.

    CRUNCH finds the bottleneck optimum v of the row-sorted weight matrix; the
    pairs above v are removed and a minimum-weight perfect matching runs on the
    rest.  This minimises the sum among bottleneck-optimal assignments, which
    need not be the unrestricted minimum (hence the exact step for the bound).
    """
    v, _ = p1.bottleneck_crunch(weights)
    return min_sum_assignment(np.where(weights <= v, weights, np.inf))[0]


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
    >>> from tests.bruteforce import brute_force_p2
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.5, 1.5], [0.5, 3.0]], [1.0, 2.0],
    ...     [4.0, 1.0, 4.0], [1.0, 2.0, 4.0], gradient_bits=1.0, bandwidth_hz=1.0)
    >>> optimum = brute_force_p2(inst)
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


# --------------------------------------------------------------------------------------
# Algorithm 3
# --------------------------------------------------------------------------------------
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
    sorted (a constant is added to each), so :func:`solvers.p1.bottleneck_crunch`
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
    found = p1.bottleneck_crunch(cost)
    return None if found is None else found[1]


def _bad_parameter(sw: Stopwatch, why: str) -> Result:
    return Result("dual-ascent", "P2", Status.ERROR, seconds=sw.elapsed, message=why)


def dual_ascent(instance: Instance, time_limit: float | None = None, max_iter: int = DEFAULT_MAX_ITER,
                step: float = DEFAULT_STEP, patience: int = DEFAULT_PATIENCE,
                lambda_domain: str = "simplex", step_rule: str = "polyak", recovery: str = "rich") -> Result:
    """The paper's dual ascent for JBBA (Algorithm 3), with primal recovery and a dual bound.

    See the module docstring for the Lagrangian, the three sub-problems, and
    every choice the paper leaves open (units, step rule, initial duals, recovery).

    Parameters
    ----------
    instance : Instance
    time_limit : float, optional
        Seconds; on expiry the incumbent is returned with status ``time_limit``.
    max_iter : int
        Iteration cap (default :data:`DEFAULT_MAX_ITER`).
    step : float
        ``"polyak"``: theta_0, the initial fraction of the Polyak step (halved
        after every :data:`HALVE_AFTER` iterations without a better bound);
        ``"diminishing"``: alpha_0 of alpha_t = alpha_0 / sqrt(t).  Normalised units.
    patience : int
        Stop after this many iterations without improvement of incumbent or bound.
    lambda_domain : {"simplex", "orthant"}
        Where lambda is projected (see the module docstring).
    step_rule : {"polyak", "diminishing"}
        How long a step is (see the module docstring).
    recovery : {"rich", "iterate"}
        ``"rich"`` (default): every iterate's four block allocations are given
        their optimal bandwidth; ``"iterate"``: only the paper's block step
        (the primal answer the paper describes: the best iterate's x).

    Returns
    -------
    Result
        ``feasible`` (a heuristic: never worse than :func:`crunch_bandwidth`,
        maybe above the optimum), ``time_limit``, ``infeasible`` (no assignment
        satisfies C1-C3) or ``error`` (bad parameters).  ``bound_s`` is the best
        dual bound (a valid lower bound); ``info`` holds ``iterations``,
        ``best_iteration`` (0 = CRUNCH's assignment), ``best_from`` (which
        block step found it: ``"crunch"``, ``"paper step"``, ``"lagrangian"``,
        ``"pruned lagrangian"`` or ``"lemma-1 bandwidth"``), ``stop`` (why it
        stopped), ``bound_iteration``, ``assignments_evaluated`` and the settings.

    Notes
    -----
    Complexity: O(max_iter (K M^2 + K log K)).
    """
    sw = Stopwatch(time_limit if isinstance(time_limit, Real) and not isinstance(time_limit, bool) else None)
    if time_limit is not None and (isinstance(time_limit, bool) or not isinstance(time_limit, Real)
                                   or not math.isfinite(time_limit) or time_limit < 0):
        return _bad_parameter(sw, f"time_limit must be None or a non-negative number of seconds, got {time_limit!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 0:
        return _bad_parameter(sw, f"max_iter must be a non-negative integer, got {max_iter!r}")
    if isinstance(patience, bool) or not isinstance(patience, (int, np.integer)) or patience < 1:
        return _bad_parameter(sw, f"patience must be a positive integer, got {patience!r}")
    if isinstance(step, bool) or not isinstance(step, Real) or not math.isfinite(step) or step <= 0:
        return _bad_parameter(sw, f"step must be a positive finite number, got {step!r}")
    if lambda_domain not in ("simplex", "orthant"):
        return _bad_parameter(sw, f"lambda_domain must be 'simplex' or 'orthant', got {lambda_domain!r}")
    if step_rule not in ("polyak", "diminishing"):
        return _bad_parameter(sw, f"step_rule must be 'polyak' or 'diminishing', got {step_rule!r}")
    if recovery not in ("rich", "iterate"):
        return _bad_parameter(sw, f"recovery must be 'rich' or 'iterate', got {recovery!r}")

    base = p1.crunch(instance)
    if not base.has_solution:
        return Result("dual-ascent", "P2", Status.INFEASIBLE, seconds=sw.elapsed, message=base.message)

    K, M = instance.K, instance.M
    tau_s = float(base.objective_s)                       # time unit: the P1 optimum (> 0)
    tcp = instance.compute_latency / tau_s                # normalised computation latency
    coef = instance.comm_coef / (instance.bandwidth_hz * tau_s)   # upload = coef / share of B
    allowed = instance.memory_ok
    cols = np.arange(M)

    seen: dict[tuple[int, ...], float] = {}

    def evaluate(assignment) -> float:
        key = tuple(int(k) for k in assignment)
        if key not in seen:
            seen[key] = optimal_bandwidth(instance, key)[0] / tau_s
        return seen[key]

    best_assignment = tuple(int(k) for k in base.assignment)
    best = evaluate(best_assignment)                       # incumbent, normalised
    best_iteration = 0
    best_from = "crunch"
    best_bound = -math.inf
    bound_iteration = None

    # initial duals: every row equally weighted; Lemma 1's bands of CRUNCH's devices exhaust B
    lam = np.full(K, 1.0 / K)
    x0 = np.asarray(best_assignment)
    eta = max(float(np.sum(np.sqrt(lam[x0] * coef[x0]))) ** 2, _ETA_FLOOR)
    nu = np.zeros(K)
    theta = float(step)

    stop = "max_iter"
    stall = 0
    since_bound = 0
    it = 0
    for it in range(1, max_iter + 1):
        if sw.expired():
            stop, it = "time_limit", it - 1
            break
        # (ii) block allocation as the paper does it (CRUNCH-pruned Hungarian) at the current nu
        weights = np.where(allowed, lam[:, None] * tcp - nu[:, None], np.inf)
        x_paper = crunch_pruned_assignment(weights)
        # (iii) Lemma 1 at the current nu: involvement z and bandwidth shares of every device
        z, share, _ = lemma1(lam, eta, nu, coef, M)
        # the dual function at the best nu (>= its value at the current nu): the bound, and the
        # exact Lagrangian minimiser (T_ub = incumbent >= optimum keeps the bound valid)
        nu_star = best_nu(lam, eta, coef)
        dual = dual_function(tcp, coef, allowed, lam, eta, nu_star, best)
        dual_value = dual.value
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
            candidates.append(("lagrangian", dual.assignment))
            star_weights = np.where(allowed, lam[:, None] * tcp - nu_star[:, None], np.inf)
            candidates.append(("pruned lagrangian", crunch_pruned_assignment(star_weights)))
            x_band = bandwidth_block_step(tcp, coef, allowed, share)
            if x_band is not None:
                candidates.append(("lemma-1 bandwidth", x_band))
        for source, candidate in candidates:
            value = evaluate(candidate)
            if value < best * (1.0 - STALL_RTOL):
                improved = True
            if value < best:
                best, best_assignment, best_iteration = value, tuple(int(k) for k in candidate), it
                best_from = source
        if best_bound >= best or close(best_bound, best, EXACT_RTOL):
            stop = "bound meets incumbent"
            break
        stall = 0 if improved else stall + 1
        if stall >= patience:
            stop = "stagnation"
            break
        # subgradients (eq. 16) on the constraint violations of the paper's iterate
        load = np.zeros(K)
        load[x_paper] = tcp[x_paper, cols]
        involved = np.zeros(K)
        involved[x_paper] = 1.0
        with np.errstate(divide="ignore"):
            upload = np.where(z, np.minimum(coef / share, _UPLOAD_CAP * best), 0.0)
        latency = load + upload
        g_lam = latency - latency.mean() if lambda_domain == "simplex" else latency - best
        g_eta = float(np.sum(np.where(z, share, 0.0))) - 1.0
        g_nu = z.astype(float) - involved
        if step_rule == "polyak":
            if since_bound >= HALVE_AFTER:
                theta, since_bound = 0.5 * theta, 0
            norm2 = float(g_lam @ g_lam) + g_eta * g_eta + float(g_nu @ g_nu)
            alpha = theta * (best - dual_value) / norm2 if norm2 > 0 else 0.0
        else:
            alpha = step / math.sqrt(it)
        if lambda_domain == "simplex":
            lam = project_simplex(lam + alpha * g_lam)
        else:
            lam = np.maximum(lam + alpha * g_lam, 0.0)
        eta = max(eta + alpha * g_eta, _ETA_FLOOR)
        nu = nu + alpha * g_nu

    status = Status.TIME_LIMIT if stop == "time_limit" else Status.FEASIBLE
    latency_s, band_hz = optimal_bandwidth(instance, best_assignment)
    bound_s = None if bound_iteration is None else max(best_bound * tau_s, 0.0)
    message = (f"dual ascent stopped ({stop}) after {it} iteration(s); best assignment from "
               + ("CRUNCH (iteration 0)" if best_iteration == 0 else f"iteration {best_iteration} ({best_from})"))
    info = {"iterations": it, "best_iteration": best_iteration, "best_from": best_from, "stop": stop,
            "bound_iteration": bound_iteration, "assignments_evaluated": len(seen),
            "crunch_bandwidth_s": seen[tuple(int(k) for k in base.assignment)] * tau_s,
            "lambda_domain": lambda_domain, "step": step, "step_rule": step_rule, "recovery": recovery}
    return Result("dual-ascent", "P2", status, latency_s, bound_s, sw.elapsed, best_assignment, band_hz,
                  message, info)
