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

Choices made here (the paper leaves them open)
----------------------------------------------
Units
    Time is measured in units of the P1 optimum :math:`\\tau` (CRUNCH's latency,
    > 0) and bandwidth in units of B, so latencies are O(1), bandwidth shares
    sum to 1, and one step rule serves instances of any magnitude.
Step rule
    Diminishing, :math:`\\alpha_t = \\alpha_0 / \\sqrt{t + 1}` (t = 0, 1, ...),
    the same for every dual, on the normalised violations.
Domain of lambda
    ``"simplex"`` (default): :math:`\\lambda \\ge 0,\\ \\sum_k \\lambda_k = 1`, the
    set on which the coefficient of T vanishes, as the paper says it must
    ("tend to 0"); the Euclidean projection onto the simplex is invariant to a
    common shift, so T's value drops out of the update.  ``"orthant"``: plain
    :math:`\\lambda \\ge 0` with T the incumbent (the paper's "upper bound").
Initial duals
    :math:`\\lambda_k = 1/K`; :math:`\\eta` such that Lemma 1's bandwidths of the
    M devices of CRUNCH's assignment exactly exhaust B (the equal-split budget);
    :math:`\\nu_k = 0`.
Subgradient guard
    A device with :math:`z_k = 1` but :math:`\\lambda_k = 0` gets no bandwidth in
    Lemma 1 (infinite upload time); its upload term in the subgradient is capped
    at twice the incumbent latency.
Primal recovery
    Every iterate's block allocation (a valid C1-C3 assignment) is given its
    optimal bandwidth (:func:`solvers.bandwidth.optimal_bandwidth`); so is the
    exact min-sum assignment computed for the bound.  The best is kept,
    starting from CRUNCH's P1 assignment, so **dual ascent is never worse than
    crunch+bandwidth**.  It is a heuristic and may stop above the optimum.
Dual bound
    The dual function :math:`g(\\lambda, \\eta, \\nu)`, with (ii) solved exactly
    (min-sum assignment over all memory-feasible pairs, not the pruned ones)
    and T's term over ``[0, T_ub]`` with ``T_ub`` the incumbent (>= optimum),
    is a valid lower bound (weak duality); the best one, floored at 0, is
    ``bound_s``.
Defaults
    ``step = 0.02``, ``max_iter = 500``, ``patience = 200``: on the paper's
    set-up (K = 20, M = 12, tcp 1..5 s, D = 786432 bit, B = 100 MHz, R_k in
    0.05..3) this gives about 0.1-0.2 s per run and a mean gap to the exact
    optimum of a few 1e-5 relative; alpha_0 in 0.01..0.02 gave the best
    bounds among 0.005..0.5 (larger steps never improve on the first bound),
    the primal answer is insensitive to it, and 1000 or 3000 iterations
    barely help.
Strength of the bound
    The Lagrangian dual cannot beat the convex relaxation with x in [0, 1]
    (``relaxation``), which spreads blocks fractionally over devices; on the
    set-up above it lay 7-56 % (mean 41 %) below the optimum.  The bound is valid, not tight.
Stopping
    ``max_iter`` iterations, the time limit (status ``time_limit``, still with
    the incumbent), ``patience`` iterations without the incumbent or the bound
    improving by more than :data:`solvers.tolerances.STALL_RTOL`, or the bound
    meeting the incumbent (:data:`solvers.tolerances.EXACT_RTOL`).
    No randomness: the result is deterministic.

Complexity: per iteration one CRUNCH (O(KM log KM)), two assignments on a
K x M matrix (O(K M^2)) and up to two bandwidth equations (O(M) per root step).

References
----------
.. [1] "Resource Management for Low-latency Cooperative Fine-tuning of
   Foundation Models at the Network Edge", Sec. V (Lemma 1, eq. (16), Algorithm 3).
.. [2] S. Boyd, L. Xiao, A. Mutapcic, "Subgradient methods", lecture notes, 2003.
.. [3] W. Wang, M. A. Carreira-Perpinan, "Projection onto the probability simplex", 2013.

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
DEFAULT_MAX_ITER = 500
#: Default initial step alpha_0 (normalised units, see the module docstring).
DEFAULT_STEP = 0.02
#: Default number of iterations without improvement before stopping.
DEFAULT_PATIENCE = 200
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
def _bad_parameter(sw: Stopwatch, why: str) -> Result:
    return Result("dual-ascent", "P2", Status.ERROR, seconds=sw.elapsed, message=why)


def dual_ascent(instance: Instance, time_limit: float | None = None, max_iter: int = DEFAULT_MAX_ITER,
                step: float = DEFAULT_STEP, patience: int = DEFAULT_PATIENCE,
                lambda_domain: str = "simplex") -> Result:
    """The paper's dual ascent for JBBA (Algorithm 3), with primal recovery and a dual bound.

    See the module docstring for the Lagrangian, the three sub-problems, and
    every choice the paper leaves open (units, step rule, initial duals).

    Parameters
    ----------
    instance : Instance
    time_limit : float, optional
        Seconds; on expiry the incumbent is returned with status ``time_limit``.
    max_iter : int
        Iteration cap (default :data:`DEFAULT_MAX_ITER`).
    step : float
        alpha_0 of the step rule alpha_t = alpha_0 / sqrt(t + 1), normalised units.
    patience : int
        Stop after this many iterations without improvement of incumbent or bound.
    lambda_domain : {"simplex", "orthant"}
        Where lambda is projected (see the module docstring).

    Returns
    -------
    Result
        ``feasible`` (a heuristic: never worse than :func:`crunch_bandwidth`,
        maybe above the optimum), ``time_limit``, ``infeasible`` (no assignment
        satisfies C1-C3) or ``error`` (bad parameters).  ``bound_s`` is the best
        dual bound (a valid lower bound); ``info`` holds ``iterations``,
        ``best_iteration`` (0 = CRUNCH's assignment), ``best_from`` (``"crunch"``,
        ``"paper step"`` or ``"exact step"``: which block step found it), ``stop`` (why it stopped),
        ``bound_iteration`` and ``assignments_evaluated``.

    Notes
    -----
    Complexity: O(max_iter (KM log KM + K M^2)).
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

    lam = np.full(K, 1.0 / K)
    x0 = np.asarray(best_assignment)
    eta = max(float(np.sum(np.sqrt(lam[x0] * coef[x0]))) ** 2, _ETA_FLOOR)
    nu = np.zeros(K)

    stop = "max_iter"
    stall = 0
    it = 0
    for it in range(1, max_iter + 1):
        if sw.expired():
            stop, it = "time_limit", it - 1
            break
        # (ii) block allocation as the paper does it (CRUNCH-pruned Hungarian) ...
        weights = np.where(allowed, lam[:, None] * tcp - nu[:, None], np.inf)
        x_paper = crunch_pruned_assignment(weights)
        # ... and (i)-(iii) solved exactly for the bound, with T_ub = incumbent >= optimum
        dual = dual_function(tcp, coef, allowed, lam, eta, nu, best)
        dual_value, x_exact, z, share = dual.value, dual.assignment, dual.involved, dual.share
        improved = False
        if dual_value > best_bound + STALL_RTOL * abs(best):
            improved = True
        if dual_value > best_bound:
            best_bound, bound_iteration = dual_value, it
        # primal recovery
        for source, candidate in (("paper step", x_paper), ("exact step", x_exact)):
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
        alpha = step / math.sqrt(it)
        if lambda_domain == "simplex":
            lam = project_simplex(lam + alpha * latency)
        else:
            lam = np.maximum(lam + alpha * (latency - best), 0.0)
        eta = max(eta + alpha * (float(np.sum(np.where(z, share, 0.0))) - 1.0), _ETA_FLOOR)
        nu = nu + alpha * (z.astype(float) - involved)

    status = Status.TIME_LIMIT if stop == "time_limit" else Status.FEASIBLE
    latency_s, band_hz = optimal_bandwidth(instance, best_assignment)
    bound_s = None if bound_iteration is None else max(best_bound * tau_s, 0.0)
    message = (f"dual ascent stopped ({stop}) after {it} iteration(s); best assignment from "
               + ("CRUNCH (iteration 0)" if best_iteration == 0 else f"iteration {best_iteration}"))
    info = {"iterations": it, "best_iteration": best_iteration, "best_from": best_from, "stop": stop,
            "bound_iteration": bound_iteration, "assignments_evaluated": len(seen),
            "crunch_bandwidth_s": seen[tuple(int(k) for k in base.assignment)] * tau_s,
            "lambda_domain": lambda_domain, "step": step}
    return Result("dual-ascent", "P2", status, latency_s, bound_s, sw.elapsed, best_assignment, band_hz,
                  message, info)
