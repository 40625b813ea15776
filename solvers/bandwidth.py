"""Optimal bandwidth for a fixed assignment (the continuous part of P2), fast path.

With the assignment fixed, device k (if involved) has computation latency
``a_k = tcp[k, m(k)]`` (s) and upload coefficient ``c_k = D / R_k`` (Hz s), and

.. math::

    \\min_{B_k \\ge 0,\\, T} T \\quad \\text{s.t.}\\quad a_k + \\frac{c_k}{B_k} \\le T,
    \\qquad \\sum_k B_k \\le B.

At the optimum every involved device finishes exactly at T (otherwise bandwidth
could move to the slowest one), so ``B_k = c_k / (T - a_k)`` and T is the unique
root, above ``max_k a_k``, of the decreasing function

.. math:: g(T) = \\sum_k \\frac{c_k}{T - a_k} - B.

The root lies in ``(max a, max a + sum c / B]`` (at the right end every term is
at most ``c_k B / sum c``), and is found by Brent's method to machine precision.
The same problem in CVXPY is :func:`models.p2.build_bandwidth_cvxpy`.  Two ways to the root live here:
:func:`latency_root_s` (Newton from the left; its loop is compiled, :func:`solvers.kernels.newton_offset`,
and the exact methods call the compiled form directly) and :func:`solve_bandwidth_equation` (the same
Newton iteration, with Brent's method as the fallback when Newton does not settle).

*The problem family* (:mod:`instances.core`, G1 per-block sizes D_m, G2 up to
c_k blocks per device).  A device k holding the set S_k computes down to its
deepest block ``d_k = max S_k`` and uploads ``U_k = sum_{m in S_k} D_m`` bits, so
the equation is the same with per-device data

.. math:: a_k = t_{k, d_k}, \\qquad c_k = \\frac{U_k}{R_k} \\quad (\\text{Hz s}),

(:func:`device_terms`); the argument above does not use how ``a_k`` and
``c_k`` arise.  On a paper-model instance (one D, one block per device) the
coefficients are read directly as ``D / R_k`` of the assigned devices.

>>> from instances import Instance
>>> inst = Instance.from_arrays([[1.0], [2.0]], [1.0], [1.0, 1.0], [1.0, 1.0],
...                             gradient_bits=1.0, bandwidth_hz=1.0)
>>> T, band = optimal_bandwidth(inst, [1])   # one device takes all the band
>>> float(T), band.tolist()
(3.0, [0.0, 1.0])
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

from instances import Instance

def solve_bandwidth_equation(a_s: np.ndarray, coef: np.ndarray, bandwidth_hz: float) -> tuple[float, np.ndarray]:
    """Root T of ``sum_k coef_k / (T - a_k) = B`` and the bandwidths ``coef_k / (T - a_k)``.

    Newton from the left (the iteration of :func:`latency_root_s`, the same
    root to the last bit), or Brent's method on a bracket when Newton does not
    settle.

    Parameters
    ----------
    a_s : (n,) computation latency of each involved device, seconds
    coef : (n,) D / R_k of each involved device, Hz s (in the family U_k / R_k,
        the device's bits over its spectral efficiency, :func:`device_terms`)
    bandwidth_hz : total bandwidth B, Hz

    Returns
    -------
    T : float, seconds
    band : (n,) Hz, summing to B up to rounding

    Notes
    -----
    O(n) per Newton step (typically 4-8), O(n log(1/eps)) with Brent's method.
    """
    a_s = np.asarray(a_s, dtype=float)
    coef = np.asarray(coef, dtype=float)
    top = float(a_s.max())
    width = float(coef.sum() / bandwidth_hz)     # g(top + width) <= 0
    if a_s.size == 1:
        return top + width, np.array([bandwidth_hz])
    # work in the offset t = T - top, which keeps full relative precision for small t
    gap = top - a_s

    def g(t: float) -> float:
        return float(np.sum(coef / (t + gap)) / bandwidth_hz - 1.0)

    hi = width
    t = _newton_offset(coef / bandwidth_hz, gap)      # the fast path; Brent's method if it does not settle
    if t is None:
        if g(hi) >= 0.0:      # only by rounding: the root is the right end itself
            t = hi
        else:
            lo = hi
            while g(lo) < 0.0:    # shrink until the left end is above the root (g > 0 near 0)
                lo *= 0.5
                if lo < np.finfo(float).tiny:
                    break
            t = brentq(g, lo, hi, xtol=np.finfo(float).tiny, rtol=4 * np.finfo(float).eps, maxiter=500)
    band = coef / (t + gap)
    return top + t, band


def latency_root_s(a_s: np.ndarray, share: np.ndarray) -> float:
    """T(x): the root of ``sum_k share_k / (T - a_k) = 1`` above ``max a`` (s), by Newton from the left.

    .. math:: h(t) = \\sum_k \\frac{q_k}{t + g_k} - 1, \\qquad g_k = \\max a - a_k \\ge 0,
              \\qquad T(x) = \\max a + t^*,

    with ``q_k = D / (R_k B)`` (s; in the family ``U_k / (R_k B)``, the
    device's bits, and ``a_k`` its deepest block's latency: the function does
    not care how they arise).  h is convex and decreasing, so Newton's
    iterates from a point with ``h >= 0`` rise monotonically to the root and
    converge quadratically; the start ``t_0 = max_k (q_k - g_k)`` has
    ``h(t_0) >= 0`` (its own term is at least 1).  The loop stops when a step
    no longer moves t, i.e. at the root to the last bit.  Each term is at most
    ``(1 + h) / t``, so nothing overflows.  The same root as
    :func:`solve_bandwidth_equation` (Brent's method, the robust fallback), in
    O(M) per step and typically 4-8 steps; None if it does not settle in
    :data:`NEWTON_MAX_STEPS` (the caller then uses that function).

    >>> T = latency_root_s(np.array([1.0, 2.0]), np.array([1.0, 1.0]))   # 1/(T-1) + 1/(T-2) = 1
    >>> abs(T - (5.0 + 5.0 ** 0.5) / 2.0) < 1e-15 * T       # T^2 - 5 T + 5 = 0
    True
    """
    top = float(a_s.max())
    t = _newton_offset(share, top - a_s)
    return None if t is None else top + t


def _newton_offset(share: np.ndarray, gap: np.ndarray) -> float | None:
    """The root t >= 0 of ``sum_k share_k / (t + gap_k) = 1`` by Newton from the left (:func:`latency_root_s`).

    The iteration is :func:`solvers.kernels.newton_offset` (sums in index order); None if it does not settle.
    """
    from . import kernels

    t = kernels.newton_offset(np.ascontiguousarray(share, dtype=np.float64),
                              np.ascontiguousarray(gap, dtype=np.float64), NEWTON_MAX_STEPS)
    return None if t != t else float(t)


#: Newton steps allowed in :func:`latency_root_s` before falling back to Brent's method.
NEWTON_MAX_STEPS = 100


def device_terms(instance: Instance, assignment) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The involved devices of ``assignment`` with their computation latency and upload coefficient.

    Returns ``(devices, a_s, coef)``: the devices holding a block (sorted), and
    for each ``a_k = tcp[k, d_k]`` (s) with ``d_k`` its deepest block, and
    ``coef_k = U_k / R_k`` (Hz s) with ``U_k = sum_{m in S_k} D_m`` its bits.
    Valid for every instance of the family (a device may appear several times
    in ``assignment`` under G2).  O(M + K).

    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0, 2.0, 3.0], [1.0, 1.5, 2.0]], [1.0, 1.0, 1.0], [1.0, 1.0],
    ...                             [2.0, 1.0], gradient_bits=[4.0, 2.0, 2.0], bandwidth_hz=1.0,
    ...                             device_max_blocks=[2, 1])
    >>> devices, a_s, coef = device_terms(inst, [0, 1, 0])   # device 0: blocks 0 and 2, 6 bits / 2
    >>> devices.tolist(), a_s.tolist(), coef.tolist()
    ([0, 1], [3.0, 1.5], [3.0, 2.0])
    """
    assignment = np.asarray(assignment, dtype=int)
    devices, inverse = np.unique(assignment, return_inverse=True)
    deepest = np.zeros(devices.size, dtype=np.intp)
    np.maximum.at(deepest, inverse, np.arange(assignment.size))
    bits = np.bincount(inverse, weights=instance.block_bits, minlength=devices.size)
    return devices, instance.compute_latency[devices, deepest], bits / instance.spectral_efficiency[devices]


def optimal_bandwidth(instance: Instance, assignment) -> tuple[float, np.ndarray]:
    """Optimal round latency (s) and bandwidths (K-vector, Hz) for a fixed assignment.

    ``assignment[m]`` is the device of block m.  Idle devices get 0 Hz.  On an
    instance of the family (G1, G2) device k gets ``U_k / (R_k (T - a_k))``
    (:func:`device_terms`).  Complexity: O(K) for the output vector plus
    O(M log(1/eps)) for the root.

    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.0, 3.0]], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0],
    ...                             gradient_bits=[1.0, 2.0], bandwidth_hz=1.0, device_max_blocks=[2, 1])
    >>> T, band = optimal_bandwidth(inst, [0, 0])   # device 0 alone: 2 s + 3 bits / 1 Hz
    >>> float(T), band.tolist()
    (5.0, [1.0, 0.0])
    """
    if not instance.paper_model:
        devices, a_s, coef = device_terms(instance, assignment)
        T, band = solve_bandwidth_equation(a_s, coef, instance.bandwidth_hz)
        full = np.zeros(instance.K)
        full[devices] = band
        return T, full
    assignment = np.asarray(assignment, dtype=int)
    a_s = instance.compute_latency[assignment, np.arange(instance.M)]
    T, band = solve_bandwidth_equation(a_s, instance.comm_coef[assignment], instance.bandwidth_hz)
    full = np.zeros(instance.K)
    full[assignment] = band
    return T, full


def p2_objective(instance: Instance, assignment, bandwidth_hz) -> float:
    """Round latency (s) of an assignment with given bandwidths: max_k a_k + D / (B_k R_k).  O(M).

    In the family, ``max_k tcp[k, d_k] + U_k / (R_k B_k)`` over the involved
    devices (:func:`device_terms`); ``inf`` if one of them has no bandwidth.

    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.0, 3.0]], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0],
    ...                             gradient_bits=[1.0, 2.0], bandwidth_hz=1.0, device_max_blocks=[2, 1])
    >>> p2_objective(inst, [0, 0], [1.0, 0.0]), p2_objective(inst, [0, 1], [0.5, 0.5])
    (5.0, 7.0)
    """
    if not instance.paper_model:
        devices, a_s, coef = device_terms(instance, assignment)
        band = np.asarray(bandwidth_hz, dtype=float)[devices]
        with np.errstate(divide="ignore"):
            upload = np.where(band > 0, coef / band, np.inf)
        return float(np.max(a_s + upload))
    assignment = np.asarray(assignment, dtype=int)
    band = np.asarray(bandwidth_hz, dtype=float)[assignment]
    with np.errstate(divide="ignore"):
        upload = np.where(band > 0, instance.comm_coef[assignment] / band, np.inf)
    return float(np.max(instance.compute_latency[assignment, np.arange(instance.M)] + upload))
