"""P2 (JBBA): the exact oracles agree with brute force and each other; the bounds stay below.

Independent references: :func:`tests.bruteforce.brute_force_p2` (enumeration
of every assignment with a plain bisection for its bandwidth) and CVXPY for
the fixed-assignment bandwidth.  SCIP runs are kept to K <= 8 except the
realistic K = 20 instance, marked slow.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from instances import Instance
from models.p2 import assignment_weights, build_p2_assignment, build_p2_minlp
import solvers
from solvers import p1
from solvers.bandwidth import optimal_bandwidth, p2_objective
from solvers.p2_exact import (bandwidth_cvxpy, dual_certificate, exact_jbba, full_band_bound_s, lsap_oracle,
                              milp_jbba, minlp_jbba, relaxation_bound)
from solvers.result import Status, Stopwatch
from instances.tolerances import BANDWIDTH_RTOL, BOUND_RTOL, CONIC_TOL, EXACT_RTOL, OBJECTIVE_RTOL, close
from tests.bruteforce import brute_force_p2, fixed_assignment_latency
from tests.strategies import instances


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------
def realistic_instance(seed: int, K: int = 20, M: int = 12) -> Instance:
    """Numbers of the paper's set-up: tcp 1..5 s, D = 786432 bits, B = 100 MHz, R in 0.05..3."""
    rng = np.random.default_rng(seed)
    speed = rng.uniform(1.0, 2.5, K)
    depth = np.arange(1, M + 1)
    tcp = 1.25 * (1.0 + 4.0 * (depth - 1) / max(M - 1, 1))[None, :] / speed[:, None]
    mu = 1e9 * (0.5 + 0.25 * depth)
    cap = rng.uniform(0.5, 1.2, K) * mu[-1]
    cap[rng.integers(K)] = mu[-1]
    rate = rng.uniform(0.05, 3.0, K)
    return Instance.from_arrays(tcp, mu, cap, rate, 786432.0, 1e8, name=f"realistic-{seed}")


def assert_valid_p2(instance: Instance, res) -> None:
    """C1-C3 hold, the band fits, and the objective is the recomputed latency of the answer."""
    a = np.asarray(res.assignment)
    assert a.shape == (instance.M,)
    assert len(set(a.tolist())) == instance.M                                   # C1 + C2
    assert np.all(instance.memory_ok[a, np.arange(instance.M)])                 # C3
    band = np.asarray(res.bandwidth_hz)
    assert band.shape == (instance.K,) and np.all(band >= 0)
    assert band.sum() <= instance.bandwidth_hz * (1 + BANDWIDTH_RTOL)
    assert close(p2_objective(instance, a, band), res.objective_s, OBJECTIVE_RTOL)
    # and it is the optimum for that assignment (independent bisection of the brute-force module)
    assert close(fixed_assignment_latency(instance, a), res.objective_s, EXACT_RTOL)


def check_against_brute_force(instance: Instance, res) -> None:
    best = brute_force_p2(instance)
    if best is None:
        assert res.status == Status.INFEASIBLE, res
        assert res.assignment is None and res.message
    else:
        assert res.status == Status.OPTIMAL, res
        assert_valid_p2(instance, res)
        assert close(res.objective_s, best, EXACT_RTOL), (res.objective_s, best)
        assert res.bound_s <= res.objective_s * (1 + BOUND_RTOL)


def infeasible_examples() -> list[Instance]:
    """M > K, and memory walls (two devices needed but one fits; nobody fits the deep block)."""
    more_blocks = Instance.from_arrays([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]], [1.0, 1.0, 1.0], [1.0, 1.0],
                                       [1.0, 1.0], 1.0, 1.0, name="M>K")
    wall = Instance.from_arrays([[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]], [2.0, 2.0], [2.0, 1.0, 1.5],
                                [1.0, 1.0, 1.0], 1.0, 1.0, name="wall")
    deep_wall = Instance.from_arrays([[1.0, 2.0], [1.0, 2.0]], [1.0, 3.0], [2.0, 2.0],
                                     [1.0, 1.0], 1.0, 1.0, name="nobody-fits-the-deep-block")
    return [more_blocks, wall, deep_wall]


# --------------------------------------------------------------------------------------
# exact methods vs brute force
# --------------------------------------------------------------------------------------
@settings(max_examples=150, deadline=None)
@given(instances(max_devices=5, max_blocks=3))
def test_exact_matches_brute_force(instance):
    check_against_brute_force(instance, exact_jbba(instance))


@settings(max_examples=25, deadline=None)
@given(instances(max_devices=5, max_blocks=3))
def test_milp_matches_brute_force(instance):
    check_against_brute_force(instance, milp_jbba(instance, time_limit=30.0))


@settings(max_examples=25, deadline=None)
@given(instances(max_devices=5, max_blocks=3))
def test_minlp_matches_brute_force(instance):
    check_against_brute_force(instance, minlp_jbba(instance, time_limit=30.0))


@pytest.mark.parametrize("instance", infeasible_examples(), ids=lambda i: i.name)
@pytest.mark.parametrize("method", [exact_jbba, milp_jbba, minlp_jbba, relaxation_bound],
                         ids=lambda f: f.__name__)
def test_infeasible_agreement(instance, method):
    assert brute_force_p2(instance) is None
    res = method(instance)
    assert res.status == Status.INFEASIBLE and res.message
    assert res.assignment is None and res.objective_s is None and res.bound_s is None


def test_all_ties():
    """Identical devices and blocks: every assignment is optimal, value D M / (B R) + t."""
    inst = Instance.from_arrays(np.full((4, 3), 2.0), [1.0] * 3, [1.0] * 4, [2.0] * 4, 10.0, 5.0)
    expected = 2.0 + 10.0 * 3 / (5.0 * 2.0)
    assert close(brute_force_p2(inst), expected, EXACT_RTOL)
    for method in (exact_jbba, milp_jbba, minlp_jbba):
        res = method(inst)
        assert res.status == Status.OPTIMAL and close(res.objective_s, expected, EXACT_RTOL), res
        assert_valid_p2(inst, res)


def test_single_block_uses_whole_band():
    """M = 1: the best device with the whole band, min_k t_k + D / (R_k B)."""
    inst = Instance.from_arrays([[3.0], [1.0], [2.0]], [1.0], [1.0, 1.0, 1.0], [4.0, 0.5, 2.0], 4.0, 2.0)
    options = [3.0 + 4.0 / 8.0, 1.0 + 4.0 / 1.0, 2.0 + 4.0 / 4.0]
    res = exact_jbba(inst)
    assert close(res.objective_s, min(options), EXACT_RTOL) and res.assignment == (int(np.argmin(options)),)
    assert close(res.bandwidth_hz[res.assignment[0]], 2.0, BANDWIDTH_RTOL)


# --------------------------------------------------------------------------------------
# cross-checks between the methods (property tests)
# --------------------------------------------------------------------------------------
@settings(max_examples=50, deadline=None)
@given(st.one_of(instances(max_devices=8, max_blocks=4),
                 instances(max_devices=8, max_blocks=5, allow_infeasible=False, min_devices=4)))
def test_exact_milp_minlp_agree_and_bound_below(instance):
    exact = exact_jbba(instance)
    milp = milp_jbba(instance, time_limit=30.0)
    minlp = minlp_jbba(instance, time_limit=30.0)
    relax = relaxation_bound(instance)
    if exact.status == Status.INFEASIBLE:
        assert {milp.status, minlp.status, relax.status} == {Status.INFEASIBLE}
        assert p1.crunch(instance).status == Status.INFEASIBLE
        return
    assert exact.status == milp.status == minlp.status == Status.OPTIMAL, (exact, milp, minlp)
    assert close(exact.objective_s, milp.objective_s, EXACT_RTOL)
    assert close(exact.objective_s, minlp.objective_s, EXACT_RTOL)
    # SCIP's dual bound: below the optimum up to its own feasibility tolerance
    assert minlp.bound_s <= exact.objective_s * (1 + BOUND_RTOL)
    assert relax.status == Status.BOUND and relax.assignment is None and relax.objective_s is None
    assert relax.bound_s <= exact.objective_s * (1 + BOUND_RTOL)
    # equal split is feasible for P2, so P2 <= P1
    assert exact.objective_s <= p1.crunch(instance).objective_s * (1 + EXACT_RTOL)


@settings(max_examples=60, deadline=None)
@given(instances(max_devices=7, max_blocks=4))
def test_relaxation_and_full_band_bounds_never_exceed_optimum(instance):
    best = brute_force_p2(instance)
    plain = relaxation_bound(instance, block_rows=False)
    strong = relaxation_bound(instance)
    if best is None:
        assert plain.status == strong.status == Status.INFEASIBLE
        assert full_band_bound_s(instance) is None
        return
    assert plain.status == strong.status == Status.BOUND
    # the certificates are rigorous: no tolerance needed beyond their own rounding allowance
    assert plain.bound_s <= best * (1 + EXACT_RTOL)
    assert strong.bound_s <= best * (1 + EXACT_RTOL)
    assert full_band_bound_s(instance) <= best * (1 + EXACT_RTOL)
    # the certificate is tight against the solver's own optimum (strong duality)
    for res in (plain, strong):
        assert res.bound_s <= res.info["relaxation_value_s"] * (1 + BOUND_RTOL)
        assert close(res.bound_s, res.info["relaxation_value_s"], 1e3 * BOUND_RTOL)


@settings(max_examples=60, deadline=None)
@given(instances(max_devices=6, max_blocks=3, allow_infeasible=False),
       st.lists(st.floats(0.0, 1.0), min_size=6, max_size=6), st.floats(0.0, 10.0),
       st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3))
def test_any_multipliers_give_a_valid_certificate(instance, lam, eta, rho):
    """Weak duality: g(lambda, eta, rho) <= T* for arbitrary multipliers (not only the solver's)."""
    best = brute_force_p2(instance)
    scale = 1.0
    g = dual_certificate(instance, instance.compute_latency / scale,
                         instance.comm_coef / (instance.bandwidth_hz * scale),
                         np.array(lam[:instance.K]), eta, np.array(rho[:instance.M]))
    assert g * scale <= best * (1 + EXACT_RTOL)


# --------------------------------------------------------------------------------------
# building blocks
# --------------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(instances(max_devices=30, max_blocks=4, allow_infeasible=False, min_devices=5), st.floats(0.0, 3.0))
def test_pruned_lsap_is_a_min_cost_assignment(instance, extra):
    """The LSAP on each block's M cheapest devices reaches the full LSAP's minimum."""
    T = float(instance.compute_latency.min()) + extra + 1e-3
    w = assignment_weights(instance, T)
    try:
        rows, cols = linear_sum_assignment(w.T)
        full = w.T[rows, cols].sum()
    except ValueError:
        full = math.inf
    answer = lsap_oracle(instance)(T, Stopwatch())
    if math.isinf(full):
        assert answer.status == Status.INFEASIBLE
        return
    assert answer.status == Status.OPTIMAL
    pruned = w[answer.assignment, np.arange(instance.M)].sum()
    assert len(set(answer.assignment.tolist())) == instance.M
    assert close(pruned, full, 1e-12)


@settings(max_examples=25, deadline=None)
@given(instances(max_devices=20, max_blocks=4, allow_infeasible=False, min_devices=6))
def test_exact_matches_milp_on_wider_instances(instance):
    """Pruning is active (K > M^2 possible): the LSAP loop and the unpruned HiGHS loop agree."""
    exact, milp = exact_jbba(instance), milp_jbba(instance, time_limit=30.0)
    assert exact.status == milp.status == Status.OPTIMAL
    assert close(exact.objective_s, milp.objective_s, EXACT_RTOL)
    assert_valid_p2(instance, exact)


@settings(max_examples=30, deadline=None)
@given(instances(max_devices=6, max_blocks=3, allow_infeasible=False))
def test_threshold_test_models_agree(instance):
    """At T = the optimum, the MILP threshold model's optimum share is 1 (and the LSAP's too)."""
    from solvers.pyomo_solve import solve_with_highs

    best = brute_force_p2(instance)
    assume(best is not None)
    upper = best * (1 + 1e-9)
    model = build_p2_assignment(instance, upper)
    out = solve_with_highs(model)
    assert out.status == Status.OPTIMAL
    lsap = lsap_oracle(instance)(upper, Stopwatch())
    share = assignment_weights(instance, upper)[lsap.assignment, np.arange(instance.M)].sum()
    assert share <= 1.0 + 1e-9 and close(out.incumbent, share, 1e-6)
    # and just below the optimum no assignment fits the band
    lower = best * (1 - 1e-6)
    lsap = lsap_oracle(instance)(lower, Stopwatch())
    if lsap.assignment is not None:
        assert assignment_weights(instance, lower)[lsap.assignment, np.arange(instance.M)].sum() > 1.0


@settings(max_examples=60, deadline=None)
@given(instances(max_devices=6, max_blocks=4, allow_infeasible=False), st.randoms(use_true_random=False))
def test_cvxpy_bandwidth_matches_closed_form(instance, rnd):
    assignment = rnd.sample(range(instance.K), instance.M)
    T_root, band_root = optimal_bandwidth(instance, assignment)
    T_cvx, band_cvx = bandwidth_cvxpy(instance, assignment)
    assert close(T_cvx, T_root, EXACT_RTOL), (T_cvx, T_root)
    # CVXPY's bandwidths reach its T (a device off the critical path is only loosely pinned
    # down by the objective, so the vectors are compared through the latency they achieve)
    assert band_cvx.sum() <= instance.bandwidth_hz * (1 + CONIC_TOL * 10)
    assert close(p2_objective(instance, assignment, band_cvx), T_root, EXACT_RTOL)
    assert np.all(band_cvx[np.setdiff1d(np.arange(instance.K), assignment)] == 0)


def test_minlp_model_structure():
    inst = realistic_instance(0, K=6, M=4)
    model = build_p2_minlp(inst)
    import pyomo.environ as pyo

    names = {c.name for c in model.component_objects(pyo.Constraint)}
    assert {"C1", "C2", "C3", "bandwidth", "latency_cone", "slack"} <= names
    assert model.s[0].lb == 0 and model.b[0].lb == 0


# --------------------------------------------------------------------------------------
# time limits, solver failure
# --------------------------------------------------------------------------------------
def test_minlp_honours_tiny_time_limit():
    inst = realistic_instance(2)           # K = 20, M = 12
    exact = exact_jbba(inst)
    for limit in (0.0, 0.05, 0.3):
        res = minlp_jbba(inst, time_limit=limit)
        assert res.status in (Status.TIME_LIMIT, Status.OPTIMAL), res
        assert res.seconds < limit + 5.0
        assert_valid_p2(inst, res)                                  # the incumbent (P1's start at worst)
        assert res.objective_s >= exact.objective_s * (1 - EXACT_RTOL)
        if res.bound_s is not None:
            assert res.bound_s <= exact.objective_s * (1 + BOUND_RTOL)


@pytest.mark.parametrize("method", [exact_jbba, milp_jbba], ids=lambda f: f.__name__)
def test_parametric_time_limit_keeps_incumbent(method):
    inst = realistic_instance(3)
    res = method(inst, time_limit=0.0)
    assert res.status == Status.TIME_LIMIT
    assert_valid_p2(inst, res)
    assert res.bound_s <= exact_jbba(inst).objective_s <= res.objective_s


def test_minlp_without_scip_is_an_error(monkeypatch):
    import pyomo.contrib.solver.common.factory as factory

    def broken(name):
        raise RuntimeError(f"no solver {name}")

    monkeypatch.setattr(factory, "SolverFactory", broken)
    res = minlp_jbba(realistic_instance(0, K=4, M=2))
    assert res.status == Status.ERROR and "SCIP" in res.message


# --------------------------------------------------------------------------------------
# the realistic instance
# --------------------------------------------------------------------------------------
@pytest.mark.slow
def test_realistic_exact_equals_minlp():
    inst = realistic_instance(0)           # K = 20, M = 12
    exact = exact_jbba(inst)
    minlp = minlp_jbba(inst, time_limit=120.0)
    milp = milp_jbba(inst)
    relax = relaxation_bound(inst)
    assert exact.status == milp.status == Status.OPTIMAL
    assert minlp.status == Status.OPTIMAL, minlp
    assert close(exact.objective_s, minlp.objective_s, EXACT_RTOL)
    assert close(exact.objective_s, milp.objective_s, EXACT_RTOL)
    assert minlp.bound_s <= exact.objective_s * (1 + BOUND_RTOL)
    assert relax.bound_s <= exact.objective_s
    assert exact.objective_s <= p1.crunch(inst).objective_s
    assert_valid_p2(inst, exact)


def test_minlp_rounds_a_block_split_between_identical_devices():
    """Regression (found by the fuzzer): SCIP returned block 2 as 0.5 + 0.5 on two identical devices and
    called it optimal; the rounded assignment has SCIP's objective, so the claim stands, certified."""
    from solvers.p2_exact import _rounded_assignment

    r = 6.953545511219703
    tcp = np.array([[1.0] * 3, [1.0] * 3, [10.0] * 3, [1.0] * 3, [1e-8] * 3] + [[1.0] * 3] * 5
                   + [[1e-8] * 3, [1.0] * 3, [1.0] * 3])
    inst = Instance.from_arrays(tcp, [1.0, 1.0, 2.0], [1, 1, 1, 1, 20, 1, 1, 1, 1, 1, 20, 1, 1],
                                [r, 1, 1, 2, 1, r, r, r, r, r, 1, r, r], gradient_bits=1e6, bandwidth_hz=1.0)
    x = np.zeros((inst.K, inst.M))
    x[4, 2] = x[10, 2] = 0.5
    x[6, 0] = x[12, 1] = 1.0
    rounded = _rounded_assignment(x, inst)
    assert rounded.tolist()[:2] == [6, 12] and rounded[2] in (4, 10)
    exact = solvers.run("P2", "exact", inst)
    res = solvers.run("P2", "minlp", inst, time_limit=30)
    assert res.status in (Status.OPTIMAL, Status.TIME_LIMIT), res.message
    if res.status == Status.OPTIMAL:
        assert close(res.objective_s, exact.objective_s, EXACT_RTOL) and res.certificate is not None
