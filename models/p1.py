"""Pyomo model of P1 (block allocation with equal bandwidth, "BA").

P1 is a linear bottleneck assignment problem.  Its MILP form, with the
equal-bandwidth latency ``c[k,m] = tcp[k,m] + D M / (B R_k)`` (seconds):

.. math::

    \\min_{x \\in \\{0,1\\}^{K \\times M},\\, T} \\; T \\quad \\text{s.t.}

    (C1)\\;& \\textstyle\\sum_k x_{km} = 1 && \\forall m  \\\\
    (C2)\\;& \\textstyle\\sum_m x_{km} \\le 1 && \\forall k \\\\
    (C3)\\;& \\textstyle\\sum_m x_{km} \\mu_m \\le \\mathrm{cap}_k && \\forall k \\\\
    (L)\\;& \\textstyle\\sum_m x_{km} c_{km} \\le T && \\forall k

On the problem family (G1: per-block gradient sizes D_m; G2: device k takes
up to c_k blocks) the builder writes the family's exact model instead
(section *The family* of :func:`build_p1_milp`); on the paper's model it
writes the model above, unchanged.

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
from instances.tolerances import ROUNDING_RTOL
from models.pairs import first_empty, index_pairs


def pair_latency_bounds(instance: Instance) -> np.ndarray:
    """(K, M) s: a lower bound on the P1 latency of device k whenever it holds block m (inf where C3 fails).

    With a_km = D_m M / (B R_k) (:attr:`Instance.block_upload_equal_s`):

    * one D (the paper's model, G2) or one block per device (G1): the cost
      ``c[k, m] = tcp[k, m] + a_km`` of :meth:`Instance.p1_cost`, which is
      exact for G1 and, with one D, at most the device's latency
      ``max_{m' in S_k} c[k, m']``;
    * G1 with G2: ``tcp[k, m] + amin_k + (a_km - amin_k) / C_k``, with
      amin_k the least a over the blocks that fit k and ``C_k = min(c_k, n_k)``
      the most blocks k can hold (n_k its memory prefix).  *Why*: a device that
      holds m with n <= C_k blocks computes down to ``d_k >= m``, so
      ``tcp[k, d_k] >= tcp[k, m]``, and its upload term is the mean of its
      blocks' a, at least ``(a_km + (n - 1) amin_k) / n = amin_k +
      (a_km - amin_k) / n >= amin_k + (a_km - amin_k) / C_k``.

    O(KM).

    >>> from instances import Instance
    >>> fam = Instance.from_arrays([[1.0, 2.0], [1.0, 1.0]], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0],
    ...                            gradient_bits=[1.0, 3.0], bandwidth_hz=2.0, device_max_blocks=[2, 1])
    >>> pair_latency_bounds(fam).tolist()        # device 0 may share block 1's upload 3 s with block 0's 1 s
    [[2.0, 4.0], [2.0, 4.0]]
    """
    cost = instance.p1_cost()
    if instance.uniform_bits or instance.single_block:
        return cost
    upload = instance.block_upload_equal_s
    ok = instance.memory_ok
    held = np.minimum(instance.device_max_blocks, ok.sum(axis=1))
    least = np.min(np.where(ok, upload, np.inf), axis=1)
    least = np.where(np.isfinite(least), least, 0.0)[:, None]
    bound = instance.compute_latency + least + (upload - least) / np.maximum(held, 1)[:, None]
    return np.where(ok, bound, np.inf)


def usable_pairs(instance: Instance, upper_bound_s: float) -> tuple[np.ndarray, np.ndarray]:
    """The pairs that fit memory and can be in a solution of latency at most ``upper_bound_s``: ``(devices, blocks)``, row-major.

    .. math:: P(U) = \\{(k, m) : \\mu_m \\le \\mathrm{cap}_k,\\;\\; t_{km} + u_k \\le U\\},
              \\qquad u_k = \\frac{D M}{B R_k}.

    When U is at least the optimum (e.g. the latency of a feasible assignment),
    some optimal assignment uses only pairs of P(U), so the variables of the
    other pairs can be left out.  The latencies are computed as in
    :meth:`instances.Instance.p1_cost`, so the pairs of an assignment whose
    latency is U compare exactly.  O(KM).

    The family: the pairs whose :func:`pair_latency_bounds` is at most U.  With
    one D or one block per device these are the pair costs, compared exactly
    as above; under G1 with G2 the bound is compared with ``U (1 + ROUNDING_RTOL)``,
    so that rounding never drops a pair of an assignment of latency U (the
    bound is below that latency in exact arithmetic, and both are sums of a
    few positive rounded terms).

    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.0, 4.0]], [1.0, 2.0], [2.0, 1.0],
    ...                             [1.0, 1.0], gradient_bits=1.0, bandwidth_hz=2.0)
    >>> [index.tolist() for index in usable_pairs(inst, 3.0)]   # (1, 1) breaks memory
    [[0, 0, 1], [0, 1, 0]]
    """
    if instance.paper_model:
        latency_s = instance.compute_latency + instance.upload_equal_s[:, None]
        return np.nonzero(instance.memory_ok & (latency_s <= upper_bound_s))
    bound = pair_latency_bounds(instance)              # inf where memory fails
    if not (instance.uniform_bits or instance.single_block):
        upper_bound_s = upper_bound_s * (1.0 + ROUNDING_RTOL)
    return np.nonzero(bound <= upper_bound_s)


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

    **The family.**  On an instance that is not the paper's model
    (``instance.family`` non-empty) the model below is built; the paper's
    model is built exactly as above (same components, names and sizes).
    A device k that holds the blocks S_k (``n_k = |S_k| = sum_m x_km``)
    computes down to its deepest block ``d_k = max S_k`` and finishes at
    ``L_k = t[k, d_k] + sum_{m in S_k} a_km / n_k``, with
    ``a_km = D_m M / (B R_k)`` (parameter ``upload``, on P: block m's upload
    with its share B/M).  Rows, by name:

    * **C1[m]** ``sum_k x_km = 1`` and **C2[k]** ``sum_m x_km <= c_k``
      (parameter ``max_blocks``).
    * **C3** (memory): with one block per device (G1) the paper's row
      ``sum_m mu_m x_km <= cap_k``; under G2 one row per pair,
      **C3[k,m]** ``mu_m x_km <= cap_k``.  *Exact*: the need of S_k is
      ``mu[d_k] = max_{m in S_k} mu_m`` (mu is non-decreasing), which fits
      iff every held block fits.  Pairs that break memory get no variable
      (scaled) or a variable fixed to 0 (textbook), as above.
    * **latency**, by case:

      - *G1* (one block per device): **latency[k]**
        ``sum_m (t_km + a_km) x_km <= T``, the paper's row with per-pair uploads.
      - *G2 with one D*: **latency[k,m]** ``(t_km + a_k) x_km <= T`` for every
        pair.  *Exact*: with one D, ``a_km = a_k`` for every m, so
        ``L_k = t[k, d_k] + a_k = max_{m in S_k} (t_km + a_k)`` (tcp rows are
        non-decreasing), and ``T >= L_k`` iff T is at least every held pair's
        cost; the rows of unheld pairs read ``0 <= T``.
      - *G1 with G2*: ``L_k <= T`` times ``n_k >= 1`` is
        ``sum_m x_km (T - t[k, d_k] - a_km) >= 0`` (and ``0 >= 0`` for an
        idle device, which does not count), linearised exactly with
        continuous ``y[k,m]`` (= T x_km) and ``v[k]`` (= n_k t[k, d_k] / C_k,
        ``C_k = min(c_k, |P_k|)`` the most blocks k can hold):

        **mccormick_x[k,m]** ``y_km <= T_max x_km`` and
        **mccormick_T[k,m]** ``y_km <= T`` (the upper McCormick envelope of
        ``T x_km``; ``T_max``, parameter ``latency_cap``, is twice an upper
        bound on the optimum), **deepest[k,m]**
        ``v_k >= t_km (n_k / C_k - 1 + x_km)``, and **latency[k]**
        ``sum_m (y_km - a_km x_km) / C_k >= v_k``.

        *Sound*: for binary x, ``y_km <= T x_km`` (x = 0: ``y <= 0``; x = 1:
        ``y <= T``), so ``sum_m y_km <= n_k T``; a held m gives
        ``v_k >= t_km n_k / C_k`` and an unheld one a bound ``<= 0`` (as
        ``n_k <= C_k``), so ``C_k v_k >= n_k max_{m in S_k} t_km = n_k t[k, d_k]``
        (tcp rows non-decreasing); together
        ``n_k T >= n_k t[k, d_k] + sum_{m in S_k} a_km``, i.e. ``T >= L_k``
        when ``n_k >= 1``.  *Complete*: for any assignment of latency
        ``L <= T_max``, ``T = L``, ``y = L x`` and ``v_k = n_k t[k, d_k] / C_k``
        satisfy every row.  So the optimum of the model is the optimum of P1
        (which is at most ``T_max``).  No z (deepest-block indicator) is
        needed: tcp and mu being non-decreasing, the deepest block is the one
        with the largest t and mu among the held ones.

    Scaled by ``upper_bound_s = U`` as above (time in units of U, memory in
    units of each budget; ``T_max = 2`` units: doubling leaves the start's
    tight rows slack, with ``T_max = 1`` HiGHS once called a feasible model
    infeasible), and only the pairs of :func:`usable_pairs` get a variable:
    those whose :func:`pair_latency_bounds` is at most U.  Coefficients are
    then at most 2 (``deepest``: ``t_km (1 + 1 / C_k)``) and those of
    ``latency`` at most 1, to rounding (a kept pair has ``a_km <= C_k U``).  Size under G1
    with G2: 2|P| + K + 1 variables and O(sum_k |P_k|^2) matrix entries (the
    ``deepest`` rows); under G2 with one D, |P| + 1 variables, M + K + 2|P| rows.

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
    if not instance.paper_model:
        return _build_family(instance, upper_bound_s)
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


def _scale(instance: Instance, upper_bound_s: float | None):
    """``(scaled, unit_s, devices, blocks, memory_unit)``: the pairs with a variable and the units, as in the paper's model."""
    K, M = instance.K, instance.M
    budget = instance.device_memory
    if upper_bound_s is not None:
        unit_s = float(upper_bound_s)
        if not (np.isfinite(unit_s) and unit_s > 0):
            raise ValueError(f"upper_bound_s must be a positive finite number of seconds, got {upper_bound_s!r}")
        devices, blocks = usable_pairs(instance, unit_s)
        return True, unit_s, devices, blocks, np.where(budget > 0, budget, 1.0).tolist()
    devices, blocks = np.divmod(np.arange(K * M), M)
    return False, 1.0, devices, blocks, [1.0] * K


def _build_family(instance: Instance, upper_bound_s: float | None) -> pyo.ConcreteModel:
    """The P1 MILP of a family instance (G1, G2 or both); see :func:`build_p1_milp`, section *The family*."""
    K, M = instance.K, instance.M
    tcp = instance.compute_latency
    upload = instance.block_upload_equal_s
    most = instance.device_max_blocks
    ok = instance.memory_ok
    several = not instance.single_block                 # G2
    mean_upload = several and not instance.uniform_bits  # G1 with G2
    scaled, unit_s, devices, blocks, memory_unit = _scale(instance, upper_bound_s)
    pairs, by_device, by_block = index_pairs(devices, blocks, K, M)
    m = first_empty(by_block)
    if scaled and m is not None:
        raise ValueError(f"upper_bound_s = {unit_s!r} s is below every usable pair of block {m}: "
                         f"no assignment finishes by it")
    free = [[m for m in by_device[k] if ok[k, m]] for k in range(K)]     # the pairs whose x is not fixed to 0
    held = [min(int(most[k]), len(free[k])) for k in range(K)]           # C_k: most blocks k can hold

    model = pyo.ConcreteModel(name=f"P1_{instance.name}")
    # Sets
    model.K = pyo.RangeSet(0, K - 1, doc="devices")
    model.M = pyo.RangeSet(0, M - 1, doc="parameter blocks, shallow to deep")
    if scaled:
        model.P = pyo.Set(within=model.K * model.M, initialize=pairs, ordered=False,
                          doc="pairs that fit memory and can be in a solution of latency <= time_scale_s")
    else:
        model.P = pyo.Set(initialize=model.K * model.M, doc="every pair")
    # Parameters
    model.tcp = pyo.Param(model.P, initialize={(k, m): float(tcp[k, m]) for k, m in pairs},
                          doc="computation latency down to block m, s")
    model.upload = pyo.Param(model.P, initialize={(k, m): float(upload[k, m]) for k, m in pairs},
                             doc="upload latency of block m with its share B/M, D_m M / (B R_k), s")
    model.mu = pyo.Param(model.M, initialize=lambda _, m: float(instance.block_memory[m]), doc="block memory, bytes")
    model.cap = pyo.Param(model.K, initialize=lambda _, k: float(instance.device_memory[k]), doc="device memory, bytes")
    model.max_blocks = pyo.Param(model.K, initialize=lambda _, k: int(most[k]), doc="c_k: most blocks device k takes")
    model.time_scale_s = pyo.Param(initialize=unit_s, doc="seconds per unit of T")
    # Variables
    model.x = pyo.Var(model.P, domain=pyo.Binary, doc="1 if device k computes block m")
    for k, m in pairs:
        if not ok[k, m]:            # C3 alone would let a solver accept a block within its tolerance
            model.x[k, m].fix(0)
    model.T = pyo.Var(domain=pyo.NonNegativeReals, doc="round latency, in units of time_scale_s")
    if mean_upload:
        # an upper bound on T*, doubled: T can then exceed the start's latency, whose rows are tight
        # to rounding, so the model is never infeasible by a solver's tolerance (a cap of exactly U made
        # HiGHS call the start's model infeasible)
        if scaled:
            cap_T = 2.0
        else:   # no device of any assignment is slower than its slowest computation plus its largest upload
            cap_T = 2.0 * max((float(tcp[k, free[k]].max() + upload[k, free[k]].max())
                               for k in range(K) if free[k]), default=1.0)
        model.latency_cap = pyo.Param(initialize=cap_T, doc="an upper bound on the optimal T (units of time_scale_s)")
        model.y = pyo.Var(model.P, bounds=(0.0, cap_T), doc="T x[k,m]: the round latency where k holds m, else 0")
        for k, m in pairs:
            if not ok[k, m]:
                model.y[k, m].fix(0.0)
        model.v = pyo.Var(model.K, domain=pyo.NonNegativeReals,
                          doc="n_k tcp[k, d_k] / C_k: device k's computation latency times its blocks, over C_k")
    # Objective
    model.round_latency = pyo.Objective(expr=model.T, sense=pyo.minimize)
    # Constraints (a device with no variable has no rows)
    # (C1) every block is computed by exactly one device
    model.C1 = pyo.Constraint(model.M, rule=lambda mdl, m: sum(mdl.x[k, m] for k in by_block[m]) == 1)
    # (C2) device k computes at most c_k blocks
    model.C2 = pyo.Constraint(model.K, rule=lambda mdl, k: sum(mdl.x[k, m] for m in by_device[k]) <= mdl.max_blocks[k]
                              if by_device[k] else pyo.Constraint.Skip)
    if several:
        # (C3) every block device k holds fits its memory: mu_{d_k} <= cap_k, per pair (mu is non-decreasing)
        model.C3 = pyo.Constraint(model.P, rule=lambda mdl, k, m: mdl.mu[m] / memory_unit[k] * mdl.x[k, m]
                                  <= mdl.cap[k] / memory_unit[k] if ok[k, m] else pyo.Constraint.Skip)
    else:
        # (C3) the assigned block fits the device's memory budget (one block per device)
        model.C3 = pyo.Constraint(model.K, rule=lambda mdl, k: sum(
            mdl.mu[m] / memory_unit[k] * mdl.x[k, m] for m in by_device[k]) <= mdl.cap[k] / memory_unit[k]
            if by_device[k] else pyo.Constraint.Skip)
    if not several:
        # (L) every device finishes computing and uploading its one block by T (G1)
        model.latency = pyo.Constraint(model.K, rule=lambda mdl, k: sum(
            (mdl.tcp[k, m] + mdl.upload[k, m]) / unit_s * mdl.x[k, m] for m in by_device[k]) <= mdl.T
            if by_device[k] else pyo.Constraint.Skip)
    elif not mean_upload:
        # (L) one D: device k's latency is the largest cost of its blocks, one row per pair (G2)
        model.latency = pyo.Constraint(model.P, rule=lambda mdl, k, m: (
            mdl.tcp[k, m] + mdl.upload[k, m]) / unit_s * mdl.x[k, m] <= mdl.T if ok[k, m] else pyo.Constraint.Skip)
    else:
        # (Y1, Y2) y[k,m] <= T x[k,m]: the upper McCormick envelope, exact for binary x with T <= latency_cap
        model.mccormick_x = pyo.Constraint(model.P, rule=lambda mdl, k, m: mdl.y[k, m] <= mdl.latency_cap * mdl.x[k, m]
                                           if ok[k, m] else pyo.Constraint.Skip)
        model.mccormick_T = pyo.Constraint(model.P, rule=lambda mdl, k, m: mdl.y[k, m] <= mdl.T
                                           if ok[k, m] else pyo.Constraint.Skip)
        # (DB) v_k >= tcp[k,m] (n_k / C_k - 1 + x[k,m]): v_k >= n_k tcp[k, d_k] / C_k
        model.deepest = pyo.Constraint(model.P, rule=lambda mdl, k, m: mdl.v[k] >= mdl.tcp[k, m] / unit_s * (
            sum(mdl.x[k, j] for j in free[k]) / held[k] - 1 + mdl.x[k, m])
            if ok[k, m] and tcp[k, m] > 0 else pyo.Constraint.Skip)
        # (L) n_k T >= n_k tcp[k, d_k] + sum_{m in S_k} D_m M / (B R_k), divided by C_k
        model.latency = pyo.Constraint(model.K, rule=lambda mdl, k: sum(
            mdl.y[k, m] - mdl.upload[k, m] / unit_s * mdl.x[k, m] for m in free[k]) / held[k] >= mdl.v[k]
            if free[k] else pyo.Constraint.Skip)
    return model
