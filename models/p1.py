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
:func:`solvers.p1.milp` for the solve).  Called with an upper bound U on the
optimum it writes the same problem scaled for a solver: only the pairs that
can matter get a variable, time is in units of U and memory in units of each
device's budget (see :func:`build_p1_milp`).

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
from models.pairs import first_empty, index_pairs


def usable_pairs(instance: Instance, upper_bound_s: float) -> tuple[np.ndarray, np.ndarray]:
    """The pairs that fit memory and finish by ``upper_bound_s``: ``(devices, blocks)``, row-major.

    .. math:: P(U) = \\{(k, m) : \\mu_m \\le \\mathrm{cap}_k,\\;\\; t_{km} + u_k \\le U\\},
              \\qquad u_k = \\frac{D M}{B R_k}.

    When U is at least the optimum (e.g. the latency of a feasible assignment),
    some optimal assignment uses only pairs of P(U), so the variables of the
    other pairs can be left out.  The latencies are computed as in
    :meth:`instances.Instance.p1_cost`, so the pairs of an assignment whose
    latency is U compare exactly.  O(KM).

    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.0, 4.0]], [1.0, 2.0], [2.0, 1.0],
    ...                             [1.0, 1.0], gradient_bits=1.0, bandwidth_hz=2.0)
    >>> [index.tolist() for index in usable_pairs(inst, 3.0)]   # (1, 1) breaks memory
    [[0, 0, 1], [0, 1, 0]]
    """
    latency_s = instance.compute_latency + instance.upload_equal_s[:, None]
    return np.nonzero(instance.memory_ok & (latency_s <= upper_bound_s))


def build_p1_milp(instance: Instance, upper_bound_s: float | None = None) -> pyo.ConcreteModel:
    """Build the P1 MILP (min T s.t. C1, C2, C3 and the latency rows).

    Without ``upper_bound_s``, the textbook model, in seconds and bytes:

    .. math::

        \\min_{x, T}\\; T \\quad\\text{s.t.}\\quad
        \\sum_k x_{km} = 1,\\;\\; \\sum_m x_{km} \\le 1,\\;\\;
        \\sum_m \\mu_m x_{km} \\le \\mathrm{cap}_k,\\;\\;
        \\sum_m \\Big(t_{km} + \\frac{D M}{B R_k}\\Big) x_{km} \\le T,
        \\qquad x \\in \\{0, 1\\}^{K \\times M}.

    With ``upper_bound_s = U`` (at least the optimum), the same problem in the
    form a solver needs at any magnitude of the latencies:

    .. math::

        \\min_{x, \\tau}\\; \\tau \\quad\\text{s.t.}\\quad
        \\sum_{k : (k,m) \\in P} x_{km} = 1,\\;\\; \\sum_{m : (k,m) \\in P} x_{km} \\le 1,\\;\\;
        \\sum_{m : (k,m) \\in P} \\frac{\\mu_m}{\\mathrm{cap}_k} x_{km} \\le 1,\\;\\;
        \\sum_{m : (k,m) \\in P} \\frac{c_{km}}{U} x_{km} \\le \\tau,
        \\qquad x \\in \\{0, 1\\}^{P},

    with ``P = P(U)`` of :func:`usable_pairs`; the component ``T`` holds tau,
    the round latency in units of U (``U tau`` seconds).  Why each change:

    * *only the pairs of P(U)*: a pair slower than U is in no assignment of
      latency <= U, so no optimal assignment needs it; leaving it out (rather
      than fixing it to 0) makes the model as small as the pairs that can
      matter, and the memory-forbidden pairs are left out with it.
    * *time in units of U* (``time_scale_s = U``): every latency coefficient
      is in [0, 1] and the bottleneck's is near 1.  A solver's feasibility
      tolerance is absolute, so it becomes relative to U; and T's own
      coefficient is 1, where in seconds it would be 1/U (below HiGHS's
      small-coefficient threshold of 1e-9 once U >= 1e9 s, which drops it and
      leaves ``latency <= 0``).  Coefficients far below 1 belong to pairs far
      faster than U; a solver that drops them as negligible errs by less than
      its tolerance in units of U.
    * *memory in units of the budget*: every (C3) coefficient is in [0, 1].
      With the forbidden pairs left out, (C3) is implied by (C2) and stays only
      to keep the formulation's rows; a budget of 0 keeps its bytes (then
      every remaining block needs 0 bytes).

    Parameters
    ----------
    instance : Instance
    upper_bound_s : float, optional
        An upper bound (s) on the optimum, e.g. the latency of a feasible
        assignment (:func:`solvers.p1.milp` passes its start's).  Default:
        the textbook model.

    Returns
    -------
    pyomo.environ.ConcreteModel
        Components, in the formulation's order: sets ``K`` (devices), ``M``
        (blocks) and ``P`` (the pairs with a variable: all of K x M, or P(U));
        parameters ``tcp`` (s, on P), ``upload`` (s, equal bandwidth), ``mu``
        and ``cap`` (bytes), ``time_scale_s`` (seconds per unit of T: 1, or U);
        variables ``x[k,m]`` (binary, on P) and ``T`` (round latency in units
        of ``time_scale_s``); objective ``round_latency``; constraints ``C1``,
        ``C2``, ``C3``, ``latency`` (a device with no pair of P has no rows).

    Raises
    ------
    ValueError
        If ``upper_bound_s`` is not a positive finite number, or is below
        every usable pair of some block (then no assignment finishes by it).

    Notes
    -----
    Size: |P| + 1 variables (|P| = K M without the bound), at most M + 3 K
    rows, 4 |P| + K matrix entries; building is linear in them (Pyomo takes
    tens of microseconds per entry: :data:`solvers.p1.MILP_BUILD_S_PER_PAIR`).
    The model is a generic MILP; the structure CRUNCH exploits (sorted rows,
    Proposition 1) is not visible to the solver, which makes it an independent
    check of :func:`solvers.p1.crunch`.

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
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.5, 1.5], [0.5, 3.0]], [1e9, 2e9],
    ...     [4e9, 1e9, 4e9], [1.0, 2.0, 4.0], gradient_bits=1e6, bandwidth_hz=1e6)
    >>> model = build_p1_milp(inst)
    >>> solve_with_highs(model).status.value
    'optimal'
    >>> from itertools import permutations
    >>> best_s = min(float(inst.p1_cost()[list(a), [0, 1]].max()) for a in permutations(range(inst.K), inst.M))   # enumeration
    >>> abs(model.T.value - best_s) < 1e-6    # re-check by enumeration
    True
    >>> scaled = build_p1_milp(inst, upper_bound_s=3.5)     # leaves out (0, 1): 4 s, (1, 1): memory
    >>> sorted(scaled.P), solve_with_highs(scaled).status.value
    ([(0, 0), (1, 0), (2, 0), (2, 1)], 'optimal')
    >>> abs(scaled.T.value * scaled.time_scale_s - best_s) < 1e-6
    True
    """
    K, M = instance.K, instance.M
    tcp = instance.compute_latency
    upload = instance.upload_equal_s
    budget = instance.device_memory
    scaled = upper_bound_s is not None
    if scaled:
        unit_s = float(upper_bound_s)
        if not (np.isfinite(unit_s) and unit_s > 0):
            raise ValueError(f"upper_bound_s must be a positive finite number of seconds, got {upper_bound_s!r}")
        devices, blocks = usable_pairs(instance, unit_s)
        # memory in units of each budget (a budget of 0 keeps bytes: its blocks need 0 bytes)
        memory_unit = np.where(budget > 0, budget, 1.0).tolist()
    else:
        unit_s = 1.0
        devices, blocks = np.divmod(np.arange(K * M), M)
        memory_unit = [1.0] * K
    pairs, by_device, by_block = index_pairs(devices, blocks, K, M)   # blocks of k, devices of m with a variable
    m = first_empty(by_block)
    if scaled and m is not None:
        raise ValueError(f"upper_bound_s = {unit_s!r} s is below every usable pair of block {m}: "
                         f"no assignment finishes by it")

    model = pyo.ConcreteModel(name=f"P1_{instance.name}")
    # Sets
    model.K = pyo.RangeSet(0, K - 1, doc="devices")
    model.M = pyo.RangeSet(0, M - 1, doc="parameter blocks, shallow to deep")
    if scaled:
        model.P = pyo.Set(within=model.K * model.M, initialize=pairs, ordered=False,
                          doc="pairs that fit memory and finish by time_scale_s")
    else:
        model.P = pyo.Set(initialize=model.K * model.M, doc="every pair")
    # Parameters
    model.tcp = pyo.Param(model.P, initialize={(k, m): float(tcp[k, m]) for k, m in pairs},
                          doc="computation latency, s")
    model.upload = pyo.Param(model.K, initialize=lambda _, k: float(upload[k]), doc="upload latency with B/M Hz, s")
    model.mu = pyo.Param(model.M, initialize=lambda _, m: float(instance.block_memory[m]), doc="block memory, bytes")
    model.cap = pyo.Param(model.K, initialize=lambda _, k: float(budget[k]), doc="device memory, bytes")
    model.time_scale_s = pyo.Param(initialize=unit_s, doc="seconds per unit of T")
    # Variables
    model.x = pyo.Var(model.P, domain=pyo.Binary, doc="1 if device k computes block m")
    if not scaled:
        # Pairs that break C3 are fixed to 0 as well: C3 alone lets a solver accept a
        # block that exceeds the budget by less than its feasibility tolerance (1e-7).
        for k, m in zip(*np.nonzero(~instance.memory_ok)):
            model.x[int(k), int(m)].fix(0)
    model.T = pyo.Var(domain=pyo.NonNegativeReals, doc="round latency, in units of time_scale_s")
    # Objective
    model.round_latency = pyo.Objective(expr=model.T, sense=pyo.minimize)
    # Constraints (a device with no variable has no rows: they would read 0 <= 1)
    # (C1) every block is computed by exactly one device
    model.C1 = pyo.Constraint(model.M, rule=lambda mdl, m: sum(mdl.x[k, m] for k in by_block[m]) == 1)
    # (C2) a device computes at most one block
    model.C2 = pyo.Constraint(model.K, rule=lambda mdl, k: sum(mdl.x[k, m] for m in by_device[k]) <= 1
                              if by_device[k] else pyo.Constraint.Skip)
    # (C3) the assigned block fits the device's memory budget (in units of memory_unit[k])
    model.C3 = pyo.Constraint(model.K, rule=lambda mdl, k: sum(
        mdl.mu[m] / memory_unit[k] * mdl.x[k, m] for m in by_device[k]) <= mdl.cap[k] / memory_unit[k]
        if by_device[k] else pyo.Constraint.Skip)
    # (L) every device finishes computing and uploading by T (in units of time_scale_s)
    model.latency = pyo.Constraint(model.K, rule=lambda mdl, k: sum(
        (mdl.tcp[k, m] + mdl.upload[k]) / unit_s * mdl.x[k, m] for m in by_device[k]) <= mdl.T
        if by_device[k] else pyo.Constraint.Skip)
    return model
