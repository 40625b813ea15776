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

import pyomo.environ as pyo

from instances import Instance


def build_p1_milp(instance: Instance) -> pyo.ConcreteModel:
    """Build the P1 MILP (min T s.t. C1, C2, C3 and the latency rows).

    Parameters
    ----------
    instance : Instance

    Returns
    -------
    pyomo.environ.ConcreteModel
        Components, in the formulation's order: sets ``K`` (devices) and ``M``
        (blocks); parameters ``tcp`` (s), ``upload`` (s, equal bandwidth),
        ``mu`` and ``cap`` (bytes); variables ``x[k,m]`` (binary) and ``T`` (s);
        objective ``round_latency``; constraints ``C1``, ``C2``, ``C3``, ``latency``.
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
    model.latency = pyo.Constraint(
        model.K, rule=lambda mdl, k: sum((mdl.tcp[k, m] + mdl.upload[k]) * mdl.x[k, m] for m in mdl.M) <= mdl.T)
    return model
