"""Models of P2 (JBBA, joint bandwidth-and-block allocation): Pyomo and CVXPY builders.

P2 chooses an assignment ``x[k,m]`` (binary, C1-C3 of the formulation) and
bandwidths ``B_k >= 0`` (Hz) with ``sum_k B_k <= B`` to minimise the round
latency ``max_k a_k + z_k D / (B_k R_k)``, where ``a_k = sum_m x[k,m] tcp[k,m]``
(s) and ``z_k = sum_m x[k,m]`` (device k involved).  Writing ``c_k = D / R_k``
(Hz s) and ``s_k = T - a_k`` (slack, s), the latency row is the rotated cone

.. math:: s_k B_k \\ge c_k z_k^2, \\qquad s_k, B_k \\ge 0,

exact for binary z (``z^2 = z``) and convex in the continuous variables.

Builders here are pure (no data loading, no solving):

``build_p2_assignment(instance, T)``
    The feasibility test of a latency threshold T (s), a min-cost assignment
    MILP: the least total bandwidth with which every block finishes by T.
``build_p2_minlp(instance, upper_bound_s=None)``
    The convex MINLP of P2 in rotated-cone form (for SCIP).
``build_bandwidth_cvxpy(instance, assignment)``
    The fixed-assignment bandwidth problem in CVXPY.
``build_p2_family_assignment(instance, T)``
    The threshold test of the problem family (G2: devices that take up to c_k
    blocks; G1 too), a MILP on (device, block, deepest block) triples.
``build_p2_family_minlp(instance, upper_bound_s)``
    The convex MINLP of P2 for the family (G1, G2), scaled as ``build_p2_minlp``.

The family (:mod:`instances.core`): block m has D_m bits (G1); device k takes
up to c_k blocks (G2), computes down to its deepest one ``d_k`` (latency
``tcp[k, d_k]``, memory ``mu[d_k] <= cap_k``) and uploads ``U_k = sum_m D_m``
over its blocks.  :func:`build_p2_assignment` is the paper's threshold test
(it also takes G1 instances, with one block per device; G2 needs
:func:`build_p2_family_assignment`); :func:`build_p2_minlp` builds the paper's
MINLP, or :func:`build_p2_family_minlp` for an instance of the family.

Scaling (for the solvers' conditioning): bandwidth is the *share* ``b_k = B_k / B``
of the band (in [0, 1]); time is measured in units of a reference time (an
upper bound on the optimum, so every time variable is in [0, 1]).  In the
MINLP the cone then reads ``s_k b_k >= q_k z_k^2`` with
``q_k = c_k / (B * time_scale_s)``, and slack and share are further measured
in per-device units whose product is ``q_k`` (``s_k b_k >= z_k^2``, see
:func:`build_p2_minlp`).  The CVXPY model further measures each
share in units of an a-priori lower bound on it (see :func:`bandwidth_scaling`).
The threshold MILP's weights are shares of B.

>>> from instances import Instance
>>> inst = Instance.from_arrays([[1.0, 2.0], [1.0, 4.0]], [1.0, 1.0], [1.0, 1.0],
...                             [1.0, 1.0], gradient_bits=1.0, bandwidth_hz=2.0)
>>> sorted(c.name for c in build_p2_assignment(inst, 5.0).component_objects(pyo.Constraint))
['C1', 'C2', 'C3']
>>> sorted(c.name for c in build_p2_minlp(inst).component_objects(pyo.Constraint))
['C1', 'C2', 'C3', 'bandwidth', 'computation', 'involvement', 'latency_cone', 'slack']

References
----------
.. [1] "Resource Management for Low-latency Cooperative Fine-tuning of Foundation
   Models at the Network Edge", Sec. V (JBBA).
.. [2] F. Alizadeh, D. Goldfarb, "Second-order cone programming", Math. Program. 95, 2003
   (rotated cones).
"""
from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

from instances import Instance
from models.costs import threshold_weights
from models.pairs import first_empty, index_pairs
from instances.tolerances import ROUNDING_RTOL


# --------------------------------------------------------------------------------------
# The threshold test: a min-cost assignment
# --------------------------------------------------------------------------------------
def assignment_weights(instance: Instance, threshold_s: float) -> np.ndarray:
    """(K, M) bandwidth share each pair needs to finish by ``threshold_s``; inf if it cannot.

    .. math:: w_{km}(T) = \\frac{D}{R_k B\\,(T - t_{km})} \\quad (t_{km} < T
              \\text{ and } \\mu_m \\le \\mathrm{cap}_k), \\qquad +\\infty \\text{ otherwise}.

    A share (fraction of the band B), so a threshold T is reachable iff some
    assignment has total weight <= 1.  O(KM).

    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.0, 4.0]], [1.0, 1.0], [1.0, 1.0],
    ...                             [1.0, 2.0], gradient_bits=1.0, bandwidth_hz=2.0)
    >>> assignment_weights(inst, 3.0).tolist()    # device 1, block 1: 4 s >= 3 s
    [[0.25, 0.5], [0.125, inf]]

    With per-block sizes (G1) the numerator is ``D_m`` (``Instance.block_upload_full_s``);
    under G2 an entry is the share of block m *alone* on device k.
    """
    if not instance.uniform_bits:
        return threshold_weights(instance.block_upload_full_s, instance.compute_latency, threshold_s,
                                 instance.memory_ok)
    return threshold_weights(instance.upload_full_s[:, None], instance.compute_latency, threshold_s,
                             instance.memory_ok)


def build_p2_assignment(instance: Instance, threshold_s: float, max_share: float | None = None) -> pyo.ConcreteModel:
    """Min-cost assignment MILP: least bandwidth share with which all blocks finish by T.

    .. math::

        \\min_{x} \\; \\sum_{(k,m) \\in P} w_{km}(T)\\, x_{km} \\quad \\text{s.t.}\\quad
        (C1)\\; \\textstyle\\sum_k x_{km} = 1,\\;
        (C2)\\; \\textstyle\\sum_m x_{km} \\le 1,\\;
        (C3)\\; \\textstyle\\sum_m \\mu_m x_{km} \\le \\mathrm{cap}_k,

    with ``x`` binary on ``P = {(k, m) : tcp[k,m] < T, mu_m <= cap_k, w_km(T) <=
    max_share}`` (other pairs cannot finish by T with any bandwidth, break
    memory, or are too expensive to be in a min-cost assignment when one of
    cost <= ``max_share`` is known to exist: weights are positive).  Weights
    ``w = D / (R_k B (T - tcp[k,m]))`` are shares of the band B, so T is
    reachable iff the optimum is <= 1.  Memory (C3) stays an explicit constraint,
    as in the formulation, hence x is declared binary (with C3 the LP relaxation
    is not totally unimodular: a fractional x could half-fit a block).

    Parameters
    ----------
    instance : Instance
    threshold_s : float
        The latency threshold T, seconds.
    max_share : float, optional
        Leave out pairs whose weight exceeds it (default: keep every pair that
        can finish by T).  Valid whenever some assignment costs at most
        ``max_share``; it also keeps the objective's coefficients in (0, max_share].

    Returns
    -------
    pyomo.environ.ConcreteModel
        Sets ``K``, ``M``, ``P``; params ``tcp`` (s), ``mu``, ``cap`` (bytes),
        ``weight`` (share of B, on P); var ``x[k,m]`` (on P); objective
        ``bandwidth_share``; constraints ``C1``, ``C2``, ``C3``.

    Per-block sizes (G1, one block per device) change only the weights
    (``D_m`` in the numerator, :func:`assignment_weights`); devices that take
    several blocks (G2) need :func:`build_p2_family_assignment` (``ValueError``).

    Notes
    -----
    Size: |P| <= K M binaries, M + 2 K rows; O(K M) to find P, O(|P| + K) to build.  Used by :func:`solvers.p2_exact.milp_jbba`, one
    model per step of the parametric assignment.

    References
    ----------
    .. [1] R. E. Burkard, M. Dell'Amico, S. Martello, *Assignment Problems*,
       SIAM 2009, Ch. 4 (linear sum assignment).

    Examples
    --------
    >>> import itertools
    >>> from instances import Instance
    >>> from solvers.pyomo_solve import solve_with_highs
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.0, 4.0], [3.0, 3.0]], [1.0, 1.0], [1.0, 1.0, 1.0],
    ...                             [1.0, 2.0, 4.0], gradient_bits=1.0, bandwidth_hz=1.0)
    >>> model = build_p2_assignment(inst, 5.0)
    >>> out = solve_with_highs(model)
    >>> w = assignment_weights(inst, 5.0)          # re-check: cheapest of all injective maps
    >>> best = min(w[a, 0] + w[b, 1] for a, b in itertools.permutations(range(3), 2))
    >>> out.status.value, bool(abs(out.incumbent - best) < 1e-9)
    ('optimal', True)
    """
    if not instance.single_block:
        raise ValueError(f"build_p2_assignment needs one block per device, but instance {instance.name!r} lets "
                         "devices take several (G2): use build_p2_family_assignment")
    T = float(threshold_s)
    tcp = instance.compute_latency
    w = assignment_weights(instance, T)                     # inf where tcp >= T or memory fails
    keep = np.isfinite(w) if max_share is None else w <= max_share
    pairs, by_device, by_block = index_pairs(*np.nonzero(keep), instance.K, instance.M)
    empty = first_empty(by_block)
    if empty is not None:
        raise ValueError(f"no device can take block {empty} by T = {T!r} s: the assignment model is infeasible")
    model = pyo.ConcreteModel(name=f"P2_assignment_{instance.name}")
    # Sets
    model.K = pyo.RangeSet(0, instance.K - 1, doc="devices")
    model.M = pyo.RangeSet(0, instance.M - 1, doc="parameter blocks, shallow to deep")
    model.P = pyo.Set(within=model.K * model.M, initialize=pairs, ordered=True,
                      doc="pairs that can finish by T (and fit the memory; cheap enough, with max_share)")
    # Parameters
    model.T = pyo.Param(initialize=T, doc="latency threshold, s")
    model.tcp = pyo.Param(model.P, initialize={p: float(tcp[p]) for p in pairs}, doc="computation latency, s")
    model.mu = pyo.Param(model.M, initialize=lambda _, m: float(instance.block_memory[m]), doc="block memory, bytes")
    model.cap = pyo.Param(model.K, initialize=lambda _, k: float(instance.device_memory[k]), doc="device memory, bytes")
    model.weight = pyo.Param(model.P, initialize={p: float(w[p]) for p in pairs},
                             doc="share of B device k needs to upload block m by T")
    # Variables: only on P.  Pairs that break C3 are left out as well: C3 alone lets a solver
    # accept a block that exceeds the budget by less than its feasibility tolerance (found by
    # fuzzing: 3 bytes on a device with 2.9999999999999996).
    model.x = pyo.Var(model.P, domain=pyo.Binary, doc="1 if device k computes block m")
    # Objective
    model.bandwidth_share = pyo.Objective(expr=sum(model.weight[k, m] * model.x[k, m] for (k, m) in model.P),
                                          sense=pyo.minimize)
    # Constraints
    # (C1) every block is computed by exactly one device
    model.C1 = pyo.Constraint(model.M, rule=lambda mdl, m: sum(mdl.x[k, m] for k in by_block[m]) == 1)
    # (C2) a device computes at most one block
    model.C2 = pyo.Constraint(model.K, rule=lambda mdl, k: sum(mdl.x[k, m] for m in by_device[k]) <= 1
                              if by_device[k] else pyo.Constraint.Skip)
    # (C3) the assigned block fits the device's memory budget (in units of that budget)
    model.C3 = pyo.Constraint(model.K, rule=lambda mdl, k: _memory_row(mdl, k, by_device[k]))
    return model


def _memory_row(model, k, blocks):
    """(C3) for device k in units of its budget, ``sum_m (mu_m / cap_k) x_km <= 1``: coefficients in [0, 1].

    In bytes the row's coefficients reach 1e15 and beyond, which HiGHS drops as
    "infinite" (it then lost every row of a model).  Only pairs that fit are
    modelled (``mu_m <= cap_k``), so a zero budget leaves only zero-byte blocks
    and the row is void.
    """
    cap = pyo.value(model.cap[k])
    if not blocks or cap <= 0:
        return pyo.Constraint.Skip
    return sum((pyo.value(model.mu[m]) / cap) * model.x[k, m] for m in blocks) <= 1


# --------------------------------------------------------------------------------------
# The convex MINLP
# --------------------------------------------------------------------------------------
def default_upper_bound_s(instance: Instance) -> float:
    """A cheap upper bound (s) on the P2 optimum: the largest memory-feasible P1 latency.

    Any feasible assignment with the band split equally (as in P1) finishes by
    the largest finite entry of :meth:`Instance.p1_cost`, and P2 can only do
    better.  Returns 1.0 when no pair is memory-feasible (then P2 is infeasible
    and the value is only a scale).  O(K M).

    .. math:: \\bar T = \\max\\{t_{km} + D M / (B R_k) : \\mu_m \\le \\mathrm{cap}_k\\} \\;\\ge\\; T^*_{P1} \\;\\ge\\; T^*_{P2}.

    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.0, 4.0], [3.0, 3.0]], [1.0, 1.0], [1.0, 1.0, 1.0],
    ...                             [1.0, 2.0, 4.0], gradient_bits=1.0, bandwidth_hz=1.0)
    >>> default_upper_bound_s(inst)                # device 1, block 1: 4 + 1 * 2 / (1 * 2)
    5.0
    >>> from itertools import permutations
    >>> from solvers.bandwidth import optimal_bandwidth
    >>> best_s = min(optimal_bandwidth(inst, a)[0] for a in permutations(range(inst.K), inst.M))   # enumeration
    >>> default_upper_bound_s(inst) >= best_s
    True
    """
    cost = instance.p1_cost()
    finite = cost[np.isfinite(cost)]
    return float(finite.max()) if finite.size else 1.0


def minlp_usable_pairs(instance: Instance, upper_bound_s: float) -> np.ndarray:
    """(K, M) bool: the pairs an optimum of value <= ``upper_bound_s`` may use.

    .. math:: \\mu_m \\le \\mathrm{cap}_k \\quad\\text{and}\\quad t_{km} + \\frac{c_k}{B} \\le \\bar T,

    since a device never has more than the whole band B (the upload of block m
    on device k takes at least ``c_k / B``).  O(K M).

    In the family the test is ``t_km + D_m / (R_k B) <= T`` (:attr:`Instance.block_upload_full_s`):
    a device holding block m computes at least ``t_km`` (its deepest block is
    no shallower) and uploads at least ``D_m`` bits with at most B.
    """
    if not instance.paper_model:
        return instance.memory_ok & (instance.compute_latency + instance.block_upload_full_s <= upper_bound_s)
    full_band_s = instance.compute_latency + (instance.comm_coef / instance.bandwidth_hz)[:, None]
    return instance.memory_ok & (full_band_s <= upper_bound_s)


def build_p2_minlp(instance: Instance, upper_bound_s: float | None = None, usable=None) -> pyo.ConcreteModel:
    """The convex MINLP of P2 in rotated-cone form, scaled per device.

    .. math::

        \\min \\tau \\quad\\text{s.t.}\\quad & \\text{C1, C2, C3 on binary } x_{km},\\ (k, m) \\in P \\\\
        & z_k = \\textstyle\\sum_m x_{km}, \\quad a_k = \\sum_m \\hat t_{km} x_{km},
          \\quad \\sigma_k s_k \\le \\tau - a_k \\\\
        & \\textstyle\\sum_k r_k b_k \\le 1, \\quad s_k, b_k \\ge 0 \\\\
        & s_k\\, b_k \\ge z_k^2 \\qquad (\\text{latency\\_cone})

    Time is in units of ``S = upper_bound_s`` (default :func:`default_upper_bound_s`,
    widened by ``ROUNDING_RTOL``): ``tau = T / S``, ``t_hat = tcp / S``.  The slack
    (time left to upload) of device k is ``sigma_k s_k`` and its share of the
    band ``B_k / B = r_k b_k``: the variables ``s_k``, ``b_k`` are measured in
    per-device units ``sigma_k``, ``r_k`` with ``sigma_k r_k = q_k = c_k / (B S)``,
    so ``s_k b_k >= z_k^2`` is ``(sigma_k s_k)(r_k b_k) >= q_k z_k^2``, i.e.
    (binary z) ``a_k + c_k / B_k <= T``.

    *Why per-device scaling.*  A solver checks ``s b >= q z^2`` to an absolute
    tolerance delta, which lets the upload time ``q / b`` be short by a relative
    ``delta / q``: with ``q_k`` near delta a device uploads almost for free, and
    SCIP then returns a wrong assignment as optimal (spread-out channels with
    ``D / B`` small make such ``q_k``).  With the right-hand side 1, a violation
    delta shortens an upload by a relative delta only.  The split of ``q_k``:
    ``sigma_k = min(1 - min_m t_hat_km, sqrt(q_k))`` (at most the largest slack
    device k can have, so ``s_k <= (1 - min_m t_hat_km) / sigma_k``) and
    ``r_k = q_k / sigma_k``; both are at least ``sqrt(q_k)``, so linear rows
    carry no coefficient below the solver's zero tolerance unless ``q_k <
    1e-18`` (then the upload is below rounding anyway).  The slack row is an
    inequality, which changes no optimum (an idle device needs no slack; an
    involved one gains nothing from slack beyond its upload time), and it stays
    valid should a solver round a tiny ``sigma_k`` to zero (``tau >= a_k``).

    ``P`` holds the usable pairs (``usable``, default :func:`minlp_usable_pairs`
    at S): the others cannot be in a solution of value <= S, so they are left
    out, and so are devices with no usable pair (``model.K`` lists the others).

    Parameters
    ----------
    instance : Instance
    upper_bound_s : float, optional
        A proven upper bound on the P2 optimum (seconds), e.g. the optimal
        bandwidth on P1's assignment.  It is widened by ``ROUNDING_RTOL``.
    usable : (K, M) bool array, optional
        Pairs to model (a subset of :func:`minlp_usable_pairs`); default that function.

    Returns
    -------
    pyomo.environ.ConcreteModel
        Sets ``K`` (devices with a usable pair), ``M``, ``P``; params
        ``time_scale_s``, ``tcp`` (scaled, on P), ``sigma``, ``r``, ``mu``,
        ``cap``; vars ``x`` (on P), ``z``, ``a``, ``s``, ``b``, ``tau``; objective
        ``round_latency`` (scaled); constraints ``C1``, ``C2``, ``C3``,
        ``involvement``, ``computation``, ``slack``, ``bandwidth``,
        ``latency_cone``.  The latency in seconds is ``tau * time_scale_s``.

    Notes
    -----
    Size: |P| <= K M binaries and 4 K' + 1 continuous variables, M + 6 K' + 1
    rows (K' of them cones) for the K' devices with a usable pair; O(K M) to
    find P, O(|P| + K') to build.  Solving it is branch and bound
    (:func:`solvers.p2_exact.minlp_jbba`, exponential in the worst case); it
    uses none of the assignment structure, so it independently checks
    :func:`solvers.p2_exact.exact_jbba`.

    References
    ----------
    .. [1] "Resource Management for Low-latency Cooperative Fine-tuning of
       Foundation Models at the Network Edge", Sec. V (problem P2).
    .. [2] F. Alizadeh, D. Goldfarb, "Second-order cone programming",
       Math. Program. 95, 2003 (rotated cones).

    Examples
    --------
    >>> import pyomo.environ as pyo
    >>> from pyomo.contrib.solver.common.factory import SolverFactory
    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.0, 4.0], [3.0, 3.0]], [1.0, 1.0], [1.0, 1.0, 1.0],
    ...                             [1.0, 2.0, 4.0], gradient_bits=1.0, bandwidth_hz=1.0)
    >>> model = build_p2_minlp(inst)
    >>> res = SolverFactory("scip_direct").solve(model, solver_options={"numerics/feastol": 1e-9})
    >>> T = pyo.value(model.tau) * pyo.value(model.time_scale_s)       # back to seconds
    >>> from itertools import permutations
    >>> from solvers.bandwidth import optimal_bandwidth
    >>> best_s = min(optimal_bandwidth(inst, a)[0] for a in permutations(range(inst.K), inst.M))   # enumeration
    >>> abs(T - best_s) < 1e-6                          # re-check by enumeration
    True
    """
    if not instance.paper_model:       # per-block sizes or several blocks per device
        return build_p2_family_minlp(instance, upper_bound_s, usable)
    ub = default_upper_bound_s(instance) if upper_bound_s is None else float(upper_bound_s)
    ub *= 1.0 + ROUNDING_RTOL
    scale = ub
    tcp_hat = instance.compute_latency / scale
    q = instance.comm_coef / (instance.bandwidth_hz * scale)
    # pairs that cannot finish by ub even with the whole band, or break C3 (x would be 0 anyway:
    # C3 alone lets a solver accept a block a few ulps too big for the device)
    usable = minlp_usable_pairs(instance, ub) if usable is None else np.asarray(usable, dtype=bool)
    dev, blk = np.nonzero(usable)
    active = np.flatnonzero(usable.any(axis=1))
    # largest slack device k can have: its fastest usable block (>= q_k, since t_hat + q <= 1 there)
    fastest = np.where(usable, tcp_hat, np.inf).min(axis=1)
    most_slack = np.where(np.isfinite(fastest), 1.0 - fastest, 1.0)
    most_slack = np.maximum(most_slack, q)          # only rounding can make it smaller
    sigma = np.minimum(most_slack, np.sqrt(q))
    r = q / sigma
    pairs, by_device, by_block = index_pairs(dev, blk, instance.K, instance.M)
    empty = first_empty(by_block)
    if empty is not None:
        raise ValueError(f"no device can take block {empty} within {ub!r} s: the MINLP is infeasible "
                         "(upper_bound_s is below the optimum)")

    model = pyo.ConcreteModel(name=f"P2_minlp_{instance.name}")
    # Sets
    model.K = pyo.Set(initialize=active.tolist(), ordered=True, doc="devices with a usable pair")
    model.M = pyo.RangeSet(0, instance.M - 1, doc="parameter blocks, shallow to deep")
    model.P = pyo.Set(initialize=pairs, dimen=2, ordered=True, doc="usable pairs: memory fits, t + c/B <= S")
    # Parameters
    model.time_scale_s = pyo.Param(initialize=scale, doc="seconds per time unit of the model")
    model.tcp = pyo.Param(model.P, initialize={p: float(tcp_hat[p]) for p in pairs},
                          doc="computation latency / time_scale_s")
    model.sigma = pyo.Param(model.K, initialize={int(k): float(sigma[k]) for k in active},
                            doc="slack unit of device k, in time_scale_s")
    model.r = pyo.Param(model.K, initialize={int(k): float(r[k]) for k in active},
                        doc="share unit of device k; sigma_k r_k = D / (R_k B time_scale_s)")
    model.mu = pyo.Param(model.M, initialize=lambda _, m: float(instance.block_memory[m]), doc="block memory, bytes")
    model.cap = pyo.Param(model.K, initialize={int(k): float(instance.device_memory[k]) for k in active},
                          doc="device memory, bytes")
    # Variables
    model.x = pyo.Var(model.P, domain=pyo.Binary, doc="1 if device k computes block m")
    model.z = pyo.Var(model.K, bounds=(0, 1), doc="1 if device k is involved")
    model.a = pyo.Var(model.K, bounds=(0, 1), doc="computation latency of device k, scaled")
    model.s = pyo.Var(model.K, bounds=lambda _, k: (0, float(most_slack[k] / sigma[k])),
                      doc="slack tau - a_k (time left to upload) in units of sigma_k")
    model.b = pyo.Var(model.K, bounds=lambda _, k: (0, float(1.0 / r[k])),
                      doc="bandwidth share B_k / B in units of r_k")
    model.tau = pyo.Var(bounds=(0, 1), doc="round latency / time_scale_s")
    # Objective
    model.round_latency = pyo.Objective(expr=model.tau, sense=pyo.minimize)
    # Constraints
    # (C1) every block is computed by exactly one device
    model.C1 = pyo.Constraint(model.M, rule=lambda mdl, m: sum(mdl.x[k, m] for k in by_block[m]) == 1)
    # (C2) a device computes at most one block
    model.C2 = pyo.Constraint(model.K, rule=lambda mdl, k: sum(mdl.x[k, m] for m in by_device[k]) <= 1)
    # (C3) the assigned block fits the device's memory budget (in units of that budget)
    model.C3 = pyo.Constraint(model.K, rule=lambda mdl, k: _memory_row(mdl, k, by_device[k]))
    # z_k: device k is involved (uploads a gradient)
    model.involvement = pyo.Constraint(model.K, rule=lambda mdl, k: mdl.z[k] == sum(mdl.x[k, m] for m in by_device[k]))
    # a_k: its computation latency
    model.computation = pyo.Constraint(
        model.K, rule=lambda mdl, k: mdl.a[k] == sum(mdl.tcp[k, m] * mdl.x[k, m] for m in by_device[k]))
    # s_k <= tau - a_k (with s_k >= 0: every device finishes computing by tau); an inequality,
    # so that an idle device (a_k = 0) needs no slack bound above 1 and the row stays valid
    # should a solver round a tiny sigma_k to 0
    model.slack = pyo.Constraint(model.K, rule=lambda mdl, k: mdl.sigma[k] * mdl.s[k] <= mdl.tau - mdl.a[k])
    # the shares fit the band
    model.bandwidth = pyo.Constraint(expr=sum(model.r[k] * model.b[k] for k in model.K) <= 1)
    # upload by tau: q_k z_k / (r_k b_k) <= sigma_k s_k, as the rotated cone s_k b_k >= z_k^2
    # (right-hand side 1: a violation delta shortens the upload by a relative delta only)
    model.latency_cone = pyo.Constraint(model.K, rule=lambda mdl, k: mdl.s[k] * mdl.b[k] >= mdl.z[k] ** 2)
    return model


# --------------------------------------------------------------------------------------
# The problem family (G1: per-block sizes, G2: several blocks per device)
# --------------------------------------------------------------------------------------
def family_assignment_triples(instance: Instance, threshold_s: float, max_share: float | None = None
                              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The variables of :func:`build_p2_family_assignment`: arrays ``(k, m, d, weight)``, one entry per triple.

    Triple (k, m, d): device k holds block m and its deepest block is d >= m.
    Kept when d may be a deepest block of k (``mu_d <= cap_k`` and
    ``tcp[k, d] < T``), m < d only if ``c_k >= 2``, and, with ``max_share``, when
    the triple's weight plus that of (k, d, d) (which every solution using it
    also pays) is at most ``max_share`` ((k, d, d) alone for m = d).  Weights
    ``D_m / (R_k B (T - tcp[k, d]))``, computed as
    ``block_upload_full_s[k, m] / (T - tcp[k, d])`` (for m = d exactly
    :func:`assignment_weights`).  Triples are ordered by d, then k, (k, d, d) first, then m.
    O(K M^2).

    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.0, 4.0]], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0],
    ...                             gradient_bits=[2.0, 1.0], bandwidth_hz=1.0, device_max_blocks=[2, 1])
    >>> [a.tolist() for a in family_assignment_triples(inst, 3.0)]   # (1, 1, 1): 4 s >= 3 s
    [[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 1, 1], [1.0, 1.0, 1.0, 2.0]]
    """
    T = float(threshold_s)
    tcp = instance.compute_latency
    q = instance.block_upload_full_s                        # (K, M) D_m / (R_k B), s
    gap = T - tcp
    with np.errstate(divide="ignore"):
        own = np.where(instance.memory_ok & (gap > 0), q / gap, np.inf)      # (k, d, d), inf = not a deepest
    several = np.asarray(instance.device_max_blocks) >= 2
    ks, ms, ds, ws = [], [], [], []
    for d in range(instance.M):
        deep = np.isfinite(own[:, d]) if max_share is None else own[:, d] <= max_share
        for k in np.flatnonzero(deep).tolist():
            ks.append(k), ms.append(d), ds.append(d), ws.append(own[k, d])
            if d == 0 or not several[k]:
                continue
            w = q[k, :d] / gap[k, d]
            keep = np.arange(d) if max_share is None else np.flatnonzero(own[k, d] + w <= max_share)
            ks.extend([k] * keep.size), ms.extend(keep.tolist()), ds.extend([d] * keep.size)
            ws.extend(w[keep].tolist())
    return (np.array(ks, dtype=np.intp), np.array(ms, dtype=np.intp), np.array(ds, dtype=np.intp),
            np.array(ws, dtype=float))


def build_p2_family_assignment(instance: Instance, threshold_s: float, max_share: float | None = None,
                               triples=None) -> pyo.ConcreteModel:
    r"""The threshold test of the family: least bandwidth share with which all blocks finish by T.

    For a threshold T the least share of B with which an assignment x finishes
    by T is :math:`N_x(T) = \sum_k U_k / (R_k B (T - t_{k d_k}))` (each involved
    device gets exactly what it needs); it is a sum over (device, block) pairs
    once each device's deepest block is known, hence the triples
    ``w[k, m, d]`` (device k holds block m, its deepest block is d >= m):

    .. math::

        \min \sum_{(k,m,d) \in W} \frac{D_m}{R_k B (T - t_{kd})}\, w_{kmd}
        \quad\text{s.t.}\quad
        & (C1)\; \textstyle\sum_{k,\, d \ge m} w_{kmd} = 1 \;\forall m, \qquad
          (\text{deepest})\; \textstyle\sum_d w_{kdd} \le 1 \;\forall k, \\
        & (C2)\; \textstyle\sum_{m \le d} w_{kmd} \le c_k\, w_{kdd} \;\forall (k, d), \qquad
          (\text{link})\; w_{kmd} \le w_{kdd} \;\forall (k, m < d),

    with ``z[k, d] = w[k, d, d]`` (device k's deepest block is d) and w binary on
    the triples of :func:`family_assignment_triples` (C3, memory, and
    ``t_kd < T`` by leaving out the others: a device's memory need is that of
    its deepest block, so C3 is ``mu_d <= cap_k`` on every z it may set).

    *Exact.*  A feasible w gives each device at most one deepest block d,
    which it holds (``w[k,d,d] = 1``), with at most ``c_k`` blocks, all ``<= d``:
    a C1-C3 assignment whose cost is :math:`N_x(T)`.  Conversely every
    assignment with ``t_{k d_k} < T`` is such a w at cost :math:`N_x(T)`.  So the
    optimum is :math:`W(T) = \min_x N_x(T)` (pairs left out by ``max_share``
    are in no assignment of cost ``<= max_share``, weights being positive).
    The link rows are implied by C2 for binary w; they tighten the LP relaxation.

    Parameters
    ----------
    instance : Instance
        Any instance of the family (with one block per device, C2 and link are void).
    threshold_s : float
        T, seconds.
    max_share : float, optional
        As in :func:`build_p2_assignment`: valid when some assignment costs at most it.
    triples : tuple of arrays, optional
        :func:`family_assignment_triples` at the same T and ``max_share``, if already computed.

    Returns
    -------
    pyomo.environ.ConcreteModel
        Sets ``K``, ``M``, ``D`` (pairs (k, d) that may be a deepest block),
        ``W`` (triples); params ``T``, ``most`` (c_k), ``weight`` (on W); var
        ``w`` (binary, on W); objective ``bandwidth_share``; constraints ``C1``,
        ``deepest``, ``C2``, ``link``.

    Notes
    -----
    Size: |W| <= K M (M + 1) / 2 binaries; M + K + |D| + |W| rows; O(K M^2) to
    build.  No polynomial method is known for this test; HiGHS solves it by
    branch and bound.  Used by :func:`solvers.p2_exact.milp_jbba` on G2 instances.

    Examples
    --------
    >>> import itertools
    >>> from instances import Instance
    >>> from solvers.pyomo_solve import solve_with_highs
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.0, 4.0], [3.0, 3.0]], [1.0, 1.0], [1.0, 1.0, 1.0],
    ...                             [1.0, 2.0, 4.0], gradient_bits=[1.0, 2.0], bandwidth_hz=1.0,
    ...                             device_max_blocks=[2, 1, 2])
    >>> out = solve_with_highs(build_p2_family_assignment(inst, 5.0))
    >>> from solvers.family_heuristics import family_needed_share   # re-check: every map, enumerated
    >>> maps = [a for a in itertools.product(range(3), repeat=2) if a[0] != a[1] or a[0] != 1]
    >>> best = min(family_needed_share(inst, a, 5.0) for a in maps)
    >>> out.status.value, bool(abs(out.incumbent - best) < 1e-9)
    ('optimal', True)
    """
    T = float(threshold_s)
    ks, ms, ds, ws = family_assignment_triples(instance, T, max_share) if triples is None else triples
    covered = np.zeros(instance.M, dtype=bool)
    covered[ms] = True
    if not covered.all():
        empty = int(np.flatnonzero(~covered)[0])
        raise ValueError(f"no device can take block {empty} by T = {T!r} s: the assignment model is infeasible")
    triples_list = list(zip(ks.tolist(), ms.tolist(), ds.tolist()))
    deepest = [(k, d) for (k, m, d) in triples_list if m == d]
    by_block: list[list[tuple[int, int, int]]] = [[] for _ in range(instance.M)]
    by_deepest: dict[tuple[int, int], list[tuple[int, int, int]]] = {p: [] for p in deepest}
    by_device: list[list[int]] = [[] for _ in range(instance.K)]
    for t in triples_list:
        by_block[t[1]].append(t)
        by_deepest[(t[0], t[2])].append(t)
    for (k, d) in deepest:
        by_device[k].append(d)
    most = np.asarray(instance.device_max_blocks)

    model = pyo.ConcreteModel(name=f"P2_family_assignment_{instance.name}")
    # Sets
    model.K = pyo.RangeSet(0, instance.K - 1, doc="devices")
    model.M = pyo.RangeSet(0, instance.M - 1, doc="parameter blocks, shallow to deep")
    model.D = pyo.Set(initialize=deepest, dimen=2, ordered=True,
                      doc="pairs (k, d): d may be device k's deepest block (memory fits, tcp < T)")
    model.W = pyo.Set(initialize=triples_list, dimen=3, ordered=True,
                      doc="triples (k, m, d): device k holds block m, its deepest block is d >= m")
    # Parameters
    model.T = pyo.Param(initialize=T, doc="latency threshold, s")
    model.most = pyo.Param(model.K, initialize=lambda _, k: int(most[k]), doc="most blocks device k takes (c_k)")
    model.weight = pyo.Param(model.W, initialize=dict(zip(triples_list, ws.tolist())),
                             doc="share of B device k needs to upload block m by T when its deepest block is d")
    # Variables
    model.w = pyo.Var(model.W, domain=pyo.Binary, doc="1 if device k holds block m and its deepest block is d")
    # Objective
    model.bandwidth_share = pyo.Objective(expr=sum(model.weight[t] * model.w[t] for t in model.W),
                                          sense=pyo.minimize)
    # Constraints
    # (C1) every block is held by exactly one device
    model.C1 = pyo.Constraint(model.M, rule=lambda mdl, m: sum(mdl.w[t] for t in by_block[m]) == 1)
    # (deepest) a device has at most one deepest block: z[k, d] = w[k, d, d]
    model.deepest = pyo.Constraint(model.K, rule=lambda mdl, k: sum(mdl.w[k, d, d] for d in by_device[k]) <= 1
                                   if by_device[k] else pyo.Constraint.Skip)
    # (C2) at most c_k blocks, and only on a device whose deepest block is d (void when c_k >= d + 1
    # blocks are all it could hold: then the link rows alone tie them to z)
    model.C2 = pyo.Constraint(model.D, rule=lambda mdl, k, d: (
        sum(mdl.w[t] for t in by_deepest[(k, d)]) <= mdl.most[k] * mdl.w[k, d, d]
        if len(by_deepest[(k, d)]) > int(most[k]) else pyo.Constraint.Skip))
    # (link) a block below d only with z[k, d] (implied by C2 for binary w; tightens the LP)
    shallower = [t for t in triples_list if t[1] < t[2]]
    model.link = pyo.Constraint(shallower, rule=lambda mdl, k, m, d: mdl.w[k, m, d] <= mdl.w[k, d, d])
    return model


def family_default_upper_bound_s(instance: Instance) -> float:
    r"""A cheap upper bound (s) on the P2 optimum of a family instance (any feasible assignment's latency).

    .. math:: \bar T = \max\{t_{km} : \mu_m \le \mathrm{cap}_k\} + \frac{\sum_m D_m}{B \min_k R_k},

    the right end of the bandwidth equation's bracket (``max a + sum_k U_k / (R_k B)``,
    :mod:`solvers.bandwidth`) for any assignment.  1.0 when no pair fits memory.  O(K M).

    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.0, 4.0]], [1.0, 1.0], [1.0, 1.0], [1.0, 2.0],
    ...                             gradient_bits=[2.0, 1.0], bandwidth_hz=1.0, device_max_blocks=[2, 1])
    >>> family_default_upper_bound_s(inst)       # 4 s + 3 bits at 1 bit/s
    7.0
    """
    ok = instance.memory_ok
    if not ok.any():
        return 1.0
    rate = instance.spectral_efficiency[ok.any(axis=1)].min()
    return float(instance.compute_latency[ok].max() + instance.block_bits.sum() / (instance.bandwidth_hz * rate))


def build_p2_family_minlp(instance: Instance, upper_bound_s: float | None = None, usable=None) -> pyo.ConcreteModel:
    r"""The convex MINLP of P2 for the family (G1, G2), scaled per device as :func:`build_p2_minlp`.

    .. math::

        \min \tau \quad\text{s.t.}\quad & (C1)\; \textstyle\sum_k x_{km} = 1, \quad
          (C2)\; \textstyle\sum_m x_{km} \le c_k, \quad x \text{ binary on } P \\
        & a_k \ge \hat t_{km} x_{km}\ \forall (k, m) \in P, \quad \sigma_k s_k \le \tau - a_k,
          \quad \textstyle\sum_k r_k b_k \le 1, \quad s_k, b_k \ge 0 \\
        & s_k b_k \ge \textstyle\sum_m g_{km} x_{km}^2 \quad (c_k \ge 2), \qquad
          s_k b_k \ge y_k^2,\ y_k = \textstyle\sum_m \sqrt{g_{km}}\, x_{km} \quad (c_k = 1)
          \qquad (\text{latency\_cone}) \\
        & \textstyle\sum_k (\hat t_{km} + q_{km})\, x_{km} \le \tau \quad (\text{block\_latency})

    Time in units of ``S = upper_bound_s`` (widened by ``ROUNDING_RTOL``;
    default :func:`family_default_upper_bound_s`), ``t_hat = tcp / S``; block
    m's upload on device k with the whole band is ``q_km = D_m / (R_k B S)``.
    Device k's units: ``q_ref_k = min_m q_km`` over its usable pairs, ``g_km =
    q_km / q_ref_k >= 1``, ``sigma_k = min(1 - min_m t_hat_km, sqrt(q_ref_k))``,
    ``r_k = q_ref_k / sigma_k`` (so ``sigma_k r_k = q_ref_k``, the paper model's
    scheme with its reasons, :func:`build_p2_minlp`: a cone violated by an
    absolute delta shortens an upload by a relative delta at most, as its
    right-hand side is >= 1 on an involved device).

    *Exact for binary x.*  C3 holds by construction: only pairs that fit
    memory are modelled (P, :func:`minlp_usable_pairs`), and a device's memory
    need is its deepest block's.  ``a_k >= t_hat x`` over its pairs makes a_k at
    least the computation latency of its deepest block (rows are sorted), and
    nothing gains from a larger a_k.  For binary x, ``x^2 = x``, so
    ``sum_m g_km x_km^2 = U_k / (R_k B S q_ref_k)`` (and for c_k = 1, ``y_k^2``
    is the same: one block at most); the cone is then
    ``(sigma_k s_k)(r_k b_k) >= U_k / (R_k B S)``, i.e. with ``B_k = r_k b_k B``
    and slack ``sigma_k s_k <= tau - a_k``: ``a_k + U_k / (R_k B_k) <= T``.  Both
    cone forms are convex (a rotated second-order cone, ``sum g x^2`` being a
    sum of squares); the ``y`` form (one block per device) has the tighter
    relaxation, ``(sum sqrt(g) x)^2 >= sum g x^2``, but with two blocks it would
    count cross terms.

    *Block rows* (``block_latency[m]``, valid, as in
    :func:`solvers.p2_exact.relaxation_bound`): block m's device computes at
    least ``t_km`` and uploads at least D_m bits with at most B, so
    ``t_hat_km + q_km <= tau`` on its pair.  Redundant for binary x, they raise
    the relaxation's bound (SCIP's dual bound: 2.18 s against 1.95 s after 60 s
    on a generated K = 20, M = 12, c_k = 2 instance whose optimum is 2.37 s).

    Parameters, returns
    -------------------
    As :func:`build_p2_minlp` (``upper_bound_s`` must bound the optimum: pass
    the latency of a feasible assignment).  Sets ``K`` (devices with a usable
    pair), ``M``, ``P``, ``single`` (devices with c_k = 1); params
    ``time_scale_s``, ``tcp`` (scaled), ``g``, ``sigma``, ``r``, ``most``; vars
    ``x``, ``y`` (on ``single``), ``a``, ``s``, ``b``, ``tau``; objective
    ``round_latency``; constraints ``C1``, ``C2``, ``upload`` (y's definition),
    ``computation``, ``slack``, ``bandwidth``, ``latency_cone``, ``block_latency``.

    Notes
    -----
    Size: |P| <= K M binaries, 4 K' + 1 continuous variables, 2 M + K' + |P| + 2 K' + 1
    rows.  Solved by :func:`solvers.p2_exact.minlp_jbba` (SCIP, branch and bound).

    Examples
    --------
    >>> import pyomo.environ as pyo
    >>> from pyomo.contrib.solver.common.factory import SolverFactory
    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.0, 4.0], [3.0, 3.0]], [1.0, 1.0], [1.0, 1.0, 1.0],
    ...                             [1.0, 2.0, 4.0], gradient_bits=[1.0, 2.0], bandwidth_hz=1.0,
    ...                             device_max_blocks=[2, 1, 2])
    >>> model = build_p2_family_minlp(inst, upper_bound_s=6.0)
    >>> res = SolverFactory("scip_direct").solve(model, solver_options={"numerics/feastol": 1e-9})
    >>> T = pyo.value(model.tau) * pyo.value(model.time_scale_s)
    >>> from solvers.p2_exact import milp_jbba                         # re-check by the other oracle
    >>> abs(T - milp_jbba(inst).objective_s) < 1e-6
    True
    """
    ub = family_default_upper_bound_s(instance) if upper_bound_s is None else float(upper_bound_s)
    ub *= 1.0 + ROUNDING_RTOL
    scale = ub
    tcp_hat = instance.compute_latency / scale
    q = instance.block_upload_full_s / scale
    usable = minlp_usable_pairs(instance, ub) if usable is None else np.asarray(usable, dtype=bool)
    dev, blk = np.nonzero(usable)
    active = np.flatnonzero(usable.any(axis=1))
    q_ref = np.where(usable, q, np.inf).min(axis=1)
    q_ref = np.where(np.isfinite(q_ref), q_ref, 1.0)
    fastest = np.where(usable, tcp_hat, np.inf).min(axis=1)
    most_slack = np.where(np.isfinite(fastest), 1.0 - fastest, 1.0)
    most_slack = np.maximum(most_slack, q_ref)      # only rounding can make it smaller
    sigma = np.minimum(most_slack, np.sqrt(q_ref))
    r = q_ref / sigma
    g = q / q_ref[:, None]
    most = np.asarray(instance.device_max_blocks)
    pairs, by_device, by_block = index_pairs(dev, blk, instance.K, instance.M)
    empty = first_empty(by_block)
    if empty is not None:
        raise ValueError(f"no device can take block {empty} within {ub!r} s: the MINLP is infeasible "
                         "(upper_bound_s is below the optimum)")
    single = [int(k) for k in active if most[k] == 1]

    model = pyo.ConcreteModel(name=f"P2_family_minlp_{instance.name}")
    # Sets
    model.K = pyo.Set(initialize=active.tolist(), ordered=True, doc="devices with a usable pair")
    model.M = pyo.RangeSet(0, instance.M - 1, doc="parameter blocks, shallow to deep")
    model.P = pyo.Set(initialize=pairs, dimen=2, ordered=True,
                      doc="usable pairs: memory fits, t + D_m/(R_k B) <= S")
    model.single = pyo.Set(initialize=single, ordered=True, doc="devices that take one block (c_k = 1)")
    # Parameters
    model.time_scale_s = pyo.Param(initialize=scale, doc="seconds per time unit of the model")
    model.tcp = pyo.Param(model.P, initialize={p: float(tcp_hat[p]) for p in pairs},
                          doc="computation latency / time_scale_s")
    model.g = pyo.Param(model.P, initialize={p: float(g[p]) for p in pairs},
                        doc="upload of block m on device k with the whole band, in units of sigma_k r_k")
    model.sigma = pyo.Param(model.K, initialize={int(k): float(sigma[k]) for k in active},
                            doc="slack unit of device k, in time_scale_s")
    model.r = pyo.Param(model.K, initialize={int(k): float(r[k]) for k in active},
                        doc="share unit of device k; sigma_k r_k = min_m D_m / (R_k B time_scale_s)")
    model.most = pyo.Param(model.K, initialize={int(k): int(most[k]) for k in active},
                           doc="most blocks device k takes (c_k)")
    # Variables
    model.x = pyo.Var(model.P, domain=pyo.Binary, doc="1 if device k computes block m")
    model.y = pyo.Var(model.single, bounds=lambda _, k: (0, float(max(np.sqrt(g[k, m]) for m in by_device[k]))),
                      doc="sqrt of device k's upload in its units (one block at most)")
    model.a = pyo.Var(model.K, bounds=(0, 1), doc="computation latency of device k (its deepest block), scaled")
    model.s = pyo.Var(model.K, bounds=lambda _, k: (0, float(most_slack[k] / sigma[k])),
                      doc="slack tau - a_k (time left to upload) in units of sigma_k")
    model.b = pyo.Var(model.K, bounds=lambda _, k: (0, float(1.0 / r[k])),
                      doc="bandwidth share B_k / B in units of r_k")
    model.tau = pyo.Var(bounds=(0, 1), doc="round latency / time_scale_s")
    # Objective
    model.round_latency = pyo.Objective(expr=model.tau, sense=pyo.minimize)
    # Constraints
    # (C1) every block is computed by exactly one device
    model.C1 = pyo.Constraint(model.M, rule=lambda mdl, m: sum(mdl.x[k, m] for k in by_block[m]) == 1)
    # (C2) device k takes at most c_k blocks (void when it has no more usable pairs than that)
    model.C2 = pyo.Constraint(model.K, rule=lambda mdl, k: sum(mdl.x[k, m] for m in by_device[k]) <= int(most[k])
                              if len(by_device[k]) > int(most[k]) else pyo.Constraint.Skip)
    # (C3) memory: by construction, every pair of P fits (a device needs its deepest block's memory)
    # y_k: the square root of a one-block device's upload, in its units
    model.upload = pyo.Constraint(model.single, rule=lambda mdl, k: mdl.y[k] == sum(
        float(np.sqrt(g[k, m])) * mdl.x[k, m] for m in by_device[k]))
    # a_k: at least the computation latency of every block it holds, so of its deepest one
    model.computation = pyo.Constraint(model.P, rule=lambda mdl, k, m: mdl.a[k] >= mdl.tcp[k, m] * mdl.x[k, m])
    # s_k <= tau - a_k, an inequality as in build_p2_minlp
    model.slack = pyo.Constraint(model.K, rule=lambda mdl, k: mdl.sigma[k] * mdl.s[k] <= mdl.tau - mdl.a[k])
    # the shares fit the band
    model.bandwidth = pyo.Constraint(expr=sum(model.r[k] * model.b[k] for k in model.K) <= 1)
    # upload by tau: U_k / (R_k B_k) <= slack, as a rotated cone with right-hand side >= 1 when involved
    model.latency_cone = pyo.Constraint(model.K, rule=lambda mdl, k: (
        mdl.s[k] * mdl.b[k] >= mdl.y[k] ** 2 if int(most[k]) == 1 else
        mdl.s[k] * mdl.b[k] >= sum(mdl.g[k, m] * mdl.x[k, m] ** 2 for m in by_device[k])))
    # block m's device needs at least t_km + D_m / (R_k B): valid rows that tighten the relaxation
    model.block_latency = pyo.Constraint(model.M, rule=lambda mdl, m: sum(
        float(tcp_hat[k, m] + q[k, m]) * mdl.x[k, m] for k in by_block[m]) <= mdl.tau)
    return model


# --------------------------------------------------------------------------------------
# Fixed-assignment bandwidth in CVXPY
# --------------------------------------------------------------------------------------
def bandwidth_scaling(instance: Instance, assignment) -> tuple[float, np.ndarray]:
    """Scaling of :func:`build_bandwidth_cvxpy`: time unit ``S`` (s) and reference shares ``r`` (length M).

    ``S = max_k a_k + sum_k c_k / B`` is the right end of the root bracket of
    :mod:`solvers.bandwidth` (an upper bound on the optimal T, so the scaled
    latency is in (0, 1]).  ``r_j = c_j / (B (S - a_j))`` is the share device j
    would need to finish by S: a lower bound on its optimal share, known before
    solving.  Shares are solved for as multiples ``y_j = b_j / r_j >= 1`` of it,
    so that devices whose shares differ by orders of magnitude are all resolved
    to the solver's relative accuracy (a plain share variable is accurate only
    to an absolute 1e-9, which on a 1e-3 share moves that device's upload time
    by 1e-6, relative).  O(M).

    .. math:: S = \\max_j a_j + \\sum_j \\frac{c_j}{B}, \\qquad r_j = \\frac{c_j}{B (S - a_j)}.

    >>> from instances import Instance
    >>> from solvers.bandwidth import optimal_bandwidth
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.0, 4.0], [3.0, 3.0]], [1.0, 1.0], [1.0, 1.0, 1.0],
    ...                             [1.0, 2.0, 4.0], gradient_bits=1.0, bandwidth_hz=1.0)
    >>> S, r = bandwidth_scaling(inst, [1, 0])     # a = [1, 2], c = [1/2, 1]
    >>> S, r.tolist()
    (3.5, [0.2, 0.6666666666666666])
    >>> T, band = optimal_bandwidth(inst, [1, 0])
    >>> bool(T <= S and np.all(band[[1, 0]] / inst.bandwidth_hz >= r))   # re-check: S and r bound the optimum
    True
    """
    assignment = np.asarray(assignment, dtype=int)
    a_s = instance.compute_latency[assignment, np.arange(instance.M)]
    coef = instance.comm_coef[assignment]
    scale = float(a_s.max() + coef.sum() / instance.bandwidth_hz)
    return scale, coef / (instance.bandwidth_hz * (scale - a_s))


def build_bandwidth_cvxpy(instance: Instance, assignment):
    """Optimal bandwidth for a fixed assignment as a CVXPY problem (scaled).

    .. math::

        \\min_{y \\ge 0,\\, \\tau} \\tau \\quad\\text{s.t.}\\quad
        \\hat a_j + \\hat q_j \\,\\mathrm{inv\\_pos}(r_j y_j) \\le \\tau, \\qquad \\textstyle\\sum_j r_j y_j \\le 1,

    i.e. ``a_k + (D / R_k) inv_pos(B_k) <= T`` and ``sum B_k <= B``, one row per
    block j (its device ``assignment[j]`` is involved), scaled by
    :func:`bandwidth_scaling`: ``tau = T / S``, ``a_hat = a / S``,
    ``q_hat = D / (R_k B S)`` and the share ``B_k / B = r_j y_j``.

    Returns
    -------
    cvxpy.Problem
        Variables named ``tau`` and ``y`` (length M).  Solve it and convert back
        with :func:`solvers.p2_exact.bandwidth_cvxpy`.

    Notes
    -----
    M + 1 variables, M convex ``inv_pos`` rows and one linear row; an interior
    point solve (Clarabel) is polynomial.  An independent check of the 1-D
    root of :func:`solvers.bandwidth.optimal_bandwidth`.

    References
    ----------
    .. [1] S. Boyd, L. Vandenberghe, *Convex Optimization*, CUP 2004, Sec. 4.4
       (the epigraph form; ``inv_pos`` is convex on x > 0).

    Examples
    --------
    >>> from instances import Instance
    >>> from solvers.bandwidth import optimal_bandwidth
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.0, 4.0], [3.0, 3.0]], [1.0, 1.0], [1.0, 1.0, 1.0],
    ...                             [1.0, 2.0, 4.0], gradient_bits=1.0, bandwidth_hz=1.0)
    >>> problem = build_bandwidth_cvxpy(inst, [1, 0])
    >>> _ = problem.solve(solver="CLARABEL")
    >>> S, _ = bandwidth_scaling(inst, [1, 0])
    >>> abs(problem.value * S - optimal_bandwidth(inst, [1, 0])[0]) < 1e-6   # re-check: the 1-D root
    True
    """
    import cvxpy as cp

    assignment = np.asarray(assignment, dtype=int)
    scale, ref = bandwidth_scaling(instance, assignment)
    a_hat = instance.compute_latency[assignment, np.arange(instance.M)] / scale
    q_hat = instance.comm_coef[assignment] / (instance.bandwidth_hz * scale)
    tau = cp.Variable(name="tau")
    y = cp.Variable(instance.M, name="y", nonneg=True)
    constraints = [a_hat + cp.multiply(q_hat / ref, cp.inv_pos(y)) <= tau, ref @ y <= 1]
    return cp.Problem(cp.Minimize(tau), constraints)
