"""P1 milp: scaling at every magnitude, the pruned model, proofs before building, the clock.

Oracles: CRUNCH (exact, independent of Pyomo and HiGHS), the independent
checker (validation.check) for every returned answer, and the model itself
(its coefficients and bounds read back through Pyomo's standard form).
Nothing here measures the machine's speed: the paths that depend on the clock
are driven by time limits of 0 s, by a patched build-rate constant, or by a
builder that sleeps past a limit.
"""
from __future__ import annotations

import time

import numpy as np
import pytest
from pyomo.repn import generate_standard_repn

import solvers
from instances import Instance
from instances.generate import generate_instance
from models import p1 as models_p1
from models.p1 import build_p1_milp, usable_pairs
from solvers import bottleneck, p1
from solvers.result import Status, Stopwatch
from instances.tolerances import BOUND_RTOL, P1_MILP_RTOL, close
from validation.check import check_result

#: Magnitudes of the optimum (s) at which milp must agree with CRUNCH.
MAGNITUDES_S = [1e-9, 1e-3, 1.0, 1e6, 1e9, 1e12]

#: Relative agreement of milp with CRUNCH (see instances.tolerances.P1_MILP_RTOL).
AGREEMENT_RTOL = P1_MILP_RTOL


def run_milp(inst: Instance, time_limit: float | None = None):
    """P1 milp as the harness runs it: through the registry, which attaches the certificate the checker wants."""
    return solvers.run("P1", "milp", inst, time_limit=time_limit)


def at_magnitude(base: Instance, optimum_s: float) -> Instance:
    """``base`` with every latency multiplied by one factor (computation and D), so that its P1 optimum is ``optimum_s``."""
    factor = optimum_s / p1.crunch(base).objective_s
    return Instance.from_arrays(base.compute_latency * factor, base.block_memory, base.device_memory,
                                base.spectral_efficiency, base.gradient_bits * factor, base.bandwidth_hz,
                                name=f"{base.name}-x{factor:.3g}")


@pytest.fixture(scope="module")
def base():
    return generate_instance(30, 12, seed=3)


def assert_sound(inst, res, optimum_s):
    """A returned answer passes the checker and is not below the optimum; a bound is not above it."""
    verdict = check_result(inst, res, "P1")
    assert verdict.ok, verdict.problems
    if res.assignment is not None:
        assert res.objective_s >= optimum_s or close(res.objective_s, optimum_s, AGREEMENT_RTOL)
    if res.bound_s is not None:
        assert res.bound_s <= optimum_s or close(res.bound_s, optimum_s, BOUND_RTOL), (res.bound_s, optimum_s)


# --------------------------------------------------------------------------------------
# Scaling
# --------------------------------------------------------------------------------------
def test_single_pair_beyond_1e9_s():
    """K = M = 1 at 1.1e9 s: in seconds, T's coefficient 1/U fell below HiGHS's 1e-9 and the model read infeasible."""
    inst = Instance.from_arrays([[1.1e9]], [1.0], [1.0], [1.0], gradient_bits=1e-9, bandwidth_hz=1.0)
    res = run_milp(inst, time_limit=30.0)
    assert res.status == Status.OPTIMAL, res.message
    assert res.objective_s == p1.crunch(inst).objective_s


@pytest.mark.parametrize("optimum_s", MAGNITUDES_S)
def test_milp_equals_crunch_at_every_magnitude(base, optimum_s):
    inst = at_magnitude(base, optimum_s)
    exact = p1.crunch(inst)
    res = run_milp(inst, time_limit=30.0)
    assert res.status == Status.OPTIMAL, res.message
    assert close(res.objective_s, exact.objective_s, AGREEMENT_RTOL), (res.objective_s, exact.objective_s)
    assert check_result(inst, res, "P1").ok


@pytest.mark.parametrize("optimum_s", MAGNITUDES_S)
def test_scaled_model_sees_only_unit_sized_numbers(base, optimum_s):
    """Every coefficient in [0, 1], every row bound 0 or 1, x in [0, 1], T >= 0; the bottleneck's coefficient is 1."""
    inst = at_magnitude(base, optimum_s)
    upper_s = p1.crunch(inst).objective_s
    model = build_p1_milp(inst, upper_bound_s=upper_s)
    largest_latency_coef = 0.0
    for con in model.component_data_objects(pyo_constraint(), active=True):
        repn = generate_standard_repn(con.body)
        assert repn.is_linear() and repn.constant == 0
        coefs = np.abs(np.array(repn.linear_coefs, dtype=float))
        assert np.all(coefs <= 1.0), (con.name, coefs.max())
        bounds = {pyo_value(b) for b in (con.lower, con.upper) if b is not None}
        assert bounds <= {0, 1}, (con.name, bounds)
        if con.parent_component().name == "latency":
            largest_latency_coef = max(largest_latency_coef, max(c for v, c in zip(repn.linear_vars, repn.linear_coefs)
                                                                 if v is not model.T))
    assert largest_latency_coef == 1.0
    assert all(v.lb == 0 and v.ub == 1 for v in model.x.values())
    assert model.T.lb == 0 and model.T.ub is None


def pyo_constraint():
    import pyomo.environ as pyo

    return pyo.Constraint


def pyo_value(expr) -> float:
    import pyomo.environ as pyo

    return pyo.value(expr)


def test_default_model_is_the_textbook_model():
    """Without a bound: x on every pair (memory-forbidden ones fixed to 0), seconds and bytes as in the formulation."""
    inst = Instance.from_arrays([[1.0, 2.0], [1.5, 1.5], [0.5, 3.0]], [1e9, 2e9], [4e9, 1e9, 4e9],
                                [1.0, 2.0, 4.0], gradient_bits=1e6, bandwidth_hz=1e6)
    model = build_p1_milp(inst)
    cost = inst.compute_latency + inst.upload_equal_s[:, None]
    assert len(model.x) == inst.K * inst.M and float(model.time_scale_s) == 1.0
    assert [(k, m) for (k, m), v in model.x.items() if v.fixed] == [(1, 1)]          # 2 GB on a 1 GB device
    for k in range(inst.K):
        repn = generate_standard_repn(model.latency[k].body)     # fixed variables drop out as constants
        coefs = {v.name: c for v, c in zip(repn.linear_vars, repn.linear_coefs)}
        free = [m for m in range(inst.M) if not model.x[k, m].fixed]
        assert coefs == {**{f"x[{k},{m}]": cost[k, m] for m in free}, "T": -1} and repn.constant == 0
        assert model.C3[k].upper == inst.device_memory[k]


def test_scaled_model_keeps_only_the_usable_pairs(base):
    """Pairs slower than the bound, or beyond memory, get no variable at all."""
    upper_s = p1.crunch(base).objective_s
    model = build_p1_milp(base, upper_bound_s=upper_s)
    cost = base.p1_cost()
    expected = {(k, m) for k in range(base.K) for m in range(base.M) if cost[k, m] <= upper_s}
    assert set(model.x) == expected == set(zip(*(i.tolist() for i in usable_pairs(base, upper_s))))
    assert len(expected) < base.K * base.M
    assert float(model.time_scale_s) == upper_s


def test_a_bound_below_some_block_is_refused(base):
    with pytest.raises(ValueError, match="below every usable pair of block"):
        build_p1_milp(base, upper_bound_s=0.5 * float(np.min(base.p1_cost()[:, -1])))
    with pytest.raises(ValueError, match="positive finite"):
        build_p1_milp(base, upper_bound_s=0.0)


# --------------------------------------------------------------------------------------
# Proofs before building anything
# --------------------------------------------------------------------------------------
@pytest.fixture
def no_build(monkeypatch):
    """Make building the model (and solving it) an error: the paths under test must not reach them."""
    def refuse(*args, **kwargs):
        raise AssertionError("the model was built")

    monkeypatch.setattr(models_p1, "build_p1_milp", refuse)
    monkeypatch.setattr("solvers.pyomo_solve.solve_with_highs", refuse)


def test_memory_wall_is_proved_without_a_model(no_build):
    """The generator's default batch puts the memory wall at block 20: K = 5000, M = 48 is infeasible."""
    inst = generate_instance(5000, 48, seed=1, num_layers=48, allow_infeasible=True)
    res = run_milp(inst, time_limit=1.0)
    assert res.status == Status.INFEASIBLE and res.assignment is None
    assert "memory wall" in res.message and "Hall" in res.message
    assert p1.crunch(inst).status == Status.INFEASIBLE


def test_memory_wall_names_the_blocks(no_build):
    # devices hold 3, 1, 1 blocks: blocks 1..2 need two devices, only device 0 holds them
    inst = Instance.from_arrays([[1.0, 2.0, 3.0]] * 3, [1.0, 2.0, 3.0], [3.0, 1.0, 1.0], [1.0] * 3, 1.0, 1.0)
    res = run_milp(inst)
    assert res.status == Status.INFEASIBLE
    assert "blocks 1..2 need 2 distinct devices, but only 1 can hold block 1" in res.message


def test_more_blocks_than_devices(no_build):
    inst = Instance.from_arrays([[1.0, 2.0, 3.0]], [1.0] * 3, [5.0], [1.0], 1.0, 1.0)
    res = run_milp(inst)
    assert res.status == Status.INFEASIBLE and "M = 3 blocks > K = 1" in res.message


# --------------------------------------------------------------------------------------
# The start and the clock
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(4))
def test_finished_start_is_the_optimum(seed):
    """The bisection with matchings, run to its end, meets the optimum from both sides."""
    inst = generate_instance(40, 12, seed=seed)
    start = p1._milp_start(inst, Stopwatch())
    optimum = p1.crunch(inst).objective_s
    assert start.complete and start.lower_s == start.upper_s == optimum
    assert p1.p1_objective(inst, start.assignment) == optimum


def test_the_start_stops_with_the_clock(base, no_build):
    """A limit of 0 s: no matching at all; the incumbent is Proposition 1's assignment on the memory prefix."""
    res = run_milp(base, time_limit=0.0)
    assert res.status == Status.TIME_LIMIT and "in the start heuristic after 0 matching(s)" in res.message
    assert res.assignment == tuple(bottleneck.assignment_from_counts(base.memory_prefix, base.M))
    assert_sound(base, res, p1.crunch(base).objective_s)


def test_a_model_too_big_for_the_time_left_is_not_built(base, monkeypatch, no_build):
    monkeypatch.setattr(p1, "MILP_BUILD_S_PER_PAIR", 1e3)   # any model would take hours
    res = run_milp(base, time_limit=5.0)
    assert res.status == Status.TIME_LIMIT and "would take about" in res.message, res.message
    assert res.seconds < 5.0
    optimum = p1.crunch(base).objective_s
    assert res.bound_s == res.objective_s == optimum      # the finished bisection: optimal by its matchings
    assert_sound(base, res, optimum)


def test_no_time_left_after_building(base, monkeypatch):
    """A build that takes the whole limit leaves nothing for HiGHS, which is then not called."""
    def slow_build(instance, upper_bound_s=None):
        model = build_p1_milp(instance, upper_bound_s)
        time.sleep(0.3)
        return model

    def refuse(*args, **kwargs):
        raise AssertionError("HiGHS was called")

    monkeypatch.setattr(p1, "MILP_BUILD_S_PER_PAIR", 0.0)
    monkeypatch.setattr(models_p1, "build_p1_milp", slow_build)
    monkeypatch.setattr("solvers.pyomo_solve.solve_with_highs", refuse)
    res = run_milp(base, time_limit=0.2)
    assert res.status == Status.TIME_LIMIT and "no time left for HiGHS" in res.message, res.message
    assert_sound(base, res, p1.crunch(base).objective_s)


def test_usable_pairs_are_reported(base):
    res = run_milp(base, time_limit=30.0)
    assert res.status == Status.OPTIMAL and res.objective_s == p1.crunch(base).objective_s
    assert res.info["usable_pairs"] == usable_pairs(base, res.objective_s)[0].size
