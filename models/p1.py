"""Pyomo model of P1 (block allocation with equal bandwidth, "BA").

P1 is a linear bottleneck assignment problem.  Its MILP form, with the
equal-bandwidth latency ``c[k,m] = tcp[k,m] + D M / (B R_k)`` (seconds):

.. math::

    \\min_{x \\in \\{0,1\\}^{K \\times M},\\, T} \\; T \\quad \\text{s.t.}

    (C1)\\;& \\textstyle\\sum_k x_{km} = 1 && \\forall m  \\\\
    (C2)\\;& \\textstyle\\sum_m x_{km} \\le 1 && \\forall k \\\\
    (C3)\\;& \\textstyle\\sum_m x_{km} \\mu_m \\le \\mathrm{cap}_k && \\forall k \\\\
    (L)\\;& \\textstyle\\sum_m x_{km} c_{km} \\le T && \\forall k

The builder is pure: it neither loads data nor solves (see
:func:`solvers.p1.milp` for the solve).

>>> from instances import Instance
>>> inst = Instance.from_arrays([[1.0, 2.0], [1.0, 4.0]], [1.0, 1.0], [1.0, 1.0],
...                             [1.0, 1.0], gradient_bits=1.0, bandwidth_hz=2.0)
>>> model = build_p1_milp(inst)
>>> sorted(c.name for c in model.component_objects(pyo.Constraint))
['C1', 'C2', 'C3', 'latency']
"""
from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

from instances import Instance


def build_p1_milp(instance: Instance, time_unit_s: float = 1.0,
                  latency_cap_s: float | None = None) -> pyo.ConcreteModel:
    """Build the P1 MILP (min T s.t. C1, C2, C3 and the latency rows).

    .. math::

        \\min_{x, T}\\; T \\quad\\text{s.t.}\\quad
        \\sum_k x_{km} = 1,\\;\\; \\sum_m x_{km} \\le 1,\\;\\;
        \\sum_m \\mu_m x_{km} \\le \\mathrm{cap}_k,\\;\\;
        \\sum_m \\Big(t_{km} + \\frac{D M}{B R_k}\\Big) x_{km} \\le T,
        \\qquad x \\in \\{0, 1\\}^{K \\times M}.

    Parameters
    ----------
    instance : Instance
    time_unit_s : float, optional
        The latency rows (L) are written in this unit (both sides divided by
        it); the objective ``T`` stays in seconds.  A solver's feasibility
        tolerance is absolute, so it becomes relative to ``time_unit_s``:
        :func:`solvers.p1.milp` passes the latency of a feasible start, an
        upper bound close to the optimum, which makes the tolerance relative
        to the answer (default 1 s: rows as written in the formulation).
    latency_cap_s : float, optional
        An upper bound on the optimum (s), e.g. the latency of any feasible
        assignment.  Pairs whose latency exceeds it cannot appear in an optimal
        assignment and are fixed to 0, which keeps the coefficients of (L)
        within ``latency_cap_s / time_unit_s``.

    Returns
    -------
    pyomo.environ.ConcreteModel
        Components, in the formulation's order: sets ``K`` (devices) and ``M``
        (blocks); parameters ``tcp`` (s), ``upload`` (s, equal bandwidth),
        ``mu`` and ``cap`` (bytes); variables ``x[k,m]`` (binary) and ``T`` (s);
        objective ``round_latency``; constraints ``C1``, ``C2``, ``C3``, ``latency``.

    Notes
    -----
    Size: K M + 1 variables, M + 3 K rows, O(K M) to build (Pyomo adds about
    0.1 s of model handling per solve).  The model is a generic MILP; the
    structure CRUNCH exploits (sorted rows, Proposition 1) is not visible to
    the solver, which makes it an independent check of
    :func:`solvers.p1.crunch`.

    References
    ----------
    .. [1] "Resource Management for Low-latency Cooperative Fine-tuning of
       Foundation Models at the Network Edge", Sec. IV (problem P1).
    .. [2] R. E. Burkard, M. Dell'Amico, S. Martello, *Assignment Problems*,
       SIAM 2009, Sec. 6.2 (linear bottleneck assignment).

    Examples
    --------
    >>> from instances import Instance
    >>> from solvers.pyomo_solve import solve_with_highs
    >>> from tests.bruteforce import brute_force_p1
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.5, 1.5], [0.5, 3.0]], [1e9, 2e9],
    ...     [4e9, 1e9, 4e9], [1.0, 2.0, 4.0], gradient_bits=1e6, bandwidth_hz=1e6)
    >>> model = build_p1_milp(inst)
    >>> solve_with_highs(model).status.value
    'optimal'
    >>> abs(model.T.value - brute_force_p1(inst)) < 1e-6    # re-check by enumeration
    True
    """
    tcp = instance.compute_latency
    upload = instance.upload_equal_s
    model = pyo.ConcreteModel(name=f"P1_{instance.name}")
    # Sets
    model.K = pyo.RangeSet(0, instance.K - 1, doc="devices")
    model.M = pyo.RangeSet(0, instance.M - 1, doc="parameter blocks, shallow to deep")
    # Parameters
    model.tcp = pyo.Param(model.K, model.M, initialize=lambda _, k, m: float(tcp[k, m]), doc="computation latency, s")
    model.upload = pyo.Param(model.K, initialize=lambda _, k: float(upload[k]), doc="upload latency with B/M Hz, s")
    model.mu = pyo.Param(model.M, initialize=lambda _, m: float(instance.block_memory[m]), doc="block memory, bytes")
    model.cap = pyo.Param(model.K, initialize=lambda _, k: float(instance.device_memory[k]), doc="device memory, bytes")
    # Variables
    model.x = pyo.Var(model.K, model.M, domain=pyo.Binary, doc="1 if device k computes block m")
    # Pairs that break C3 are fixed to 0 as well: C3 alone lets a solver accept a
    # block that exceeds the budget by less than its feasibility tolerance (1e-7).
    forbidden = ~instance.memory_ok
    if latency_cap_s is not None:   # pairs slower than a known feasible round are never optimal
        forbidden = forbidden | (tcp + upload[:, None] > latency_cap_s)
    for k, m in zip(*np.nonzero(forbidden)):
        model.x[int(k), int(m)].fix(0)
    model.T = pyo.Var(domain=pyo.NonNegativeReals, doc="round latency, s")
    # Objective
    model.round_latency = pyo.Objective(expr=model.T, sense=pyo.minimize)
    # Constraints
    # (C1) every block is computed by exactly one device
    model.C1 = pyo.Constraint(model.M, rule=lambda mdl, m: sum(mdl.x[k, m] for k in mdl.K) == 1)
    # (C2) a device computes at most one block
    model.C2 = pyo.Constraint(model.K, rule=lambda mdl, k: sum(mdl.x[k, m] for m in mdl.M) <= 1)
    # (C3) the assigned block fits the device's memory budget
    model.C3 = pyo.Constraint(model.K, rule=lambda mdl, k: sum(mdl.mu[m] * mdl.x[k, m] for m in mdl.M) <= mdl.cap[k])
    # (L) every device finishes computing and uploading by T
    # (in units of time_unit_s, so that the solver's absolute tolerance is relative to it)
    unit = float(time_unit_s)
    model.latency = pyo.Constraint(
        model.K, rule=lambda mdl, k: sum((mdl.tcp[k, m] + mdl.upload[k]) / unit * mdl.x[k, m] for m in mdl.M)
        <= mdl.T / unit)
    return model
