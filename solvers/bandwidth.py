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
The same problem in CVXPY is :func:`models.p2.build_bandwidth_cvxpy`.

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

    Parameters
    ----------
    a_s : (n,) computation latency of each involved device, seconds
    coef : (n,) D / R_k of each involved device, Hz s
    bandwidth_hz : total bandwidth B, Hz

    Returns
    -------
    T : float, seconds
    band : (n,) Hz, summing to B up to rounding

    Notes
    -----
    O(n) per evaluation of g, O(n log(1/eps)) in all.
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
    if g(hi) >= 0.0:          # only by rounding: the root is the right end itself
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


def optimal_bandwidth(instance: Instance, assignment) -> tuple[float, np.ndarray]:
    """Optimal round latency (s) and bandwidths (K-vector, Hz) for a fixed assignment.

    ``assignment[m]`` is the device of block m.  Idle devices get 0 Hz.
    Complexity: O(K) for the output vector plus O(M log(1/eps)) for the root.
    """
    assignment = np.asarray(assignment, dtype=int)
    a_s = instance.compute_latency[assignment, np.arange(instance.M)]
    T, band = solve_bandwidth_equation(a_s, instance.comm_coef[assignment], instance.bandwidth_hz)
    full = np.zeros(instance.K)
    full[assignment] = band
    return T, full


def p2_objective(instance: Instance, assignment, bandwidth_hz) -> float:
    """Round latency (s) of an assignment with given bandwidths: max_k a_k + D / (B_k R_k).  O(M)."""
    assignment = np.asarray(assignment, dtype=int)
    band = np.asarray(bandwidth_hz, dtype=float)[assignment]
    with np.errstate(divide="ignore"):
        upload = np.where(band > 0, instance.comm_coef[assignment] / band, np.inf)
    return float(np.max(instance.compute_latency[assignment, np.arange(instance.M)] + upload))
