"""The formulation's cost functions as array functions, shared by the models and the methods.

No Pyomo here: the fast methods of :mod:`solvers` import this module without
paying for a modelling layer.  Each function is one formula of
``docs/formulation.md``, written once.
"""
from __future__ import annotations

import numpy as np


def threshold_weights(upload_full_s: np.ndarray, compute_latency_s: np.ndarray, threshold_s: float,
                      allowed: np.ndarray) -> np.ndarray:
    """P2's pair weights at a threshold T: the share of the band each pair needs to finish by T.

    .. math:: w_{km}(T) = \\frac{q_{km}}{T - t_{km}} \\quad (t_{km} < T \\text{ and the pair allowed}),
              \\qquad +\\infty \\text{ otherwise},

    with ``q_km = D_m / (R_k B)`` (s) the upload time with the whole band B.  A
    device with bandwidth ``w B`` uploads in ``q / w``, so it finishes by T
    exactly when ``w >= w_km(T)``; T is reachable iff some assignment has total
    weight <= 1.

    Parameters
    ----------
    upload_full_s : (n, 1) or (n, M) array
        q, seconds: one column when every block's gradient has the same size.
    compute_latency_s : (n, M) array
        t, seconds.
    threshold_s : float
        T, seconds.
    allowed : (n, M) bool array
        Pairs that may be used at all (memory, C3).

    Returns
    -------
    (n, M) array of shares (dimensionless), ``inf`` where the pair cannot finish by T.

    >>> threshold_weights(np.array([[1.0], [0.5]]), np.array([[1.0, 2.0], [1.0, 4.0]]), 3.0,
    ...                   np.ones((2, 2), dtype=bool)).tolist()
    [[0.5, 1.0], [0.25, inf]]
    """
    gap = threshold_s - compute_latency_s
    with np.errstate(divide="ignore"):
        w = upload_full_s / gap
    return np.where((gap > 0) & allowed, w, np.inf)
