"""P1 on the problem family (G1: per-block gradient sizes, G2: devices that take several blocks).

Every P1 method either refuses an instance it does not solve (status
``unsupported``, for the reason its docstring proves) or returns the optimum
of brute force (``tests.bruteforce.brute_force_family_p1``, which shares no
code with the solvers), or proves infeasibility when brute force finds no
assignment.  Random tiny instances: ties (values on a grid), duplicated
devices, K < M made feasible by the capacities c_k, instances infeasible by
capacity or by memory, latencies and uploads from 1e-9 s to 1e9 s.  The
paper's model is checked to be answered exactly as before.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching

import solvers
from instances import Instance
from instances.tolerances import EXACT_RTOL, close
from models import p1 as models_p1
from models.p1 import build_p1_milp, pair_latency_bounds, usable_pairs
from solvers import bottleneck, p1
from solvers.result import Status, Stopwatch
from tests.bruteforce import brute_force_family_p1, family_p1_latency
from tests.strategies import instances

#: Relative agreement of the combinatorial methods with brute force (both price the same
#: assignment by the same formula, rounded in a different order).
COMBINATORIAL_RTOL = 1e-9

COMBINATORIAL = {
    "crunch": p1.crunch,
    "crunch-literal": p1.crunch_literal,
    "linear-search": p1.linear_search,
    "hungarian-search": p1.hungarian_search,
    "crunch-capacity": p1.crunch_capacity,
}


# --------------------------------------------------------------------------------------
# Instances
# --------------------------------------------------------------------------------------
@st.composite
def family_instances(draw, max_devices: int = 4, max_blocks: int = 4, kinds=("paper", "G1", "G2", "G1+G2")):
    """Tiny valid instances of the family (the kind drawn; equal draws may fall back to a smaller kind).

    Devices are copies of 1..K types (duplicates); values on a small grid (ties) or
    floats; computation and upload of magnitudes 1e-9 s .. 1e9 s, drawn apart;
    memory budgets that may leave blocks to nobody (walls); capacities c_k in
    1..M+1, so that K < M is often feasible and sum c_k < M infeasible.
    """
    kind = draw(st.sampled_from(kinds))
    K = draw(st.integers(1, max_devices))
    M = draw(st.integers(1, max_blocks))
    n_types = draw(st.integers(1, K))
    device_type = [draw(st.integers(0, n_types - 1)) for _ in range(K)]
    device_type[:n_types] = range(n_types)
    grid = draw(st.booleans())
    mantissa = st.sampled_from([1.0, 2.0, 3.0, 0.0]) if grid else st.one_of(st.floats(1.0, 9.99), st.just(0.0))
    step = st.sampled_from([0.0, 1.0, 0.5]) if grid else st.one_of(st.floats(0.01, 5.0), st.just(0.0))
    tcp_scale = 10.0 ** draw(st.integers(-9, 8))
    upload_scale = 10.0 ** draw(st.integers(-9, 8))
    mu = np.cumsum(draw(st.lists(st.integers(0, 2), min_size=M, max_size=M))) + 1.0
    rows, caps, rates, most = [], [], [], []
    for _ in range(n_types):
        first = draw(mantissa)
        rows.append(first + np.concatenate([[0.0], np.cumsum(draw(st.lists(step, min_size=M - 1, max_size=M - 1)))]))
        caps.append(draw(st.sampled_from([float(v) for v in mu] + [float(mu[-1]) * 2, 0.5])))
        rates.append(draw(st.sampled_from([0.5, 1.0, 2.0])) if grid else draw(st.floats(0.1, 10.0)))
        most.append(draw(st.integers(1, M + 1)) if "G2" in kind else 1)
    if draw(st.booleans()):
        caps[0] = float(mu[-1])                 # usually someone holds the deepest block
    bandwidth_hz = 10.0 ** draw(st.integers(0, 6))
    if "G1" in kind:
        sizes = st.sampled_from([1.0, 2.0, 3.0]) if grid else st.floats(0.1, 10.0)
        bits = np.array(draw(st.lists(sizes, min_size=M, max_size=M)))
        if draw(st.booleans()):
            bits = np.sort(bits)                # D_m non-decreasing: crunch's extension
        bits = (bits * upload_scale * bandwidth_hz / M).tolist()
    else:
        bits = draw(st.sampled_from([1.0, 2.0, 3.0]) if grid else st.floats(0.1, 10.0)) * upload_scale * bandwidth_hz / M
    tcp = np.array([rows[t] for t in device_type]) * tcp_scale
    return Instance.from_arrays(tcp, mu, [caps[t] for t in device_type], [rates[t] for t in device_type], bits,
                                bandwidth_hz, name=f"family-{kind}",
                                device_max_blocks=[most[t] for t in device_type])


def g1g2(**changes) -> Instance:
    """A hand-made G1 + G2 instance: 3 devices, 4 blocks, capacities (3, 2, 1)."""
    data = {"compute_latency": [[1.0, 2.0, 3.0, 4.0], [1.0, 1.5, 2.0, 6.0], [0.5, 0.5, 0.5, 0.5]],
            "block_memory": [1.0, 1.0, 2.0, 2.0], "device_memory": [2.0, 2.0, 1.0],
            "spectral_efficiency": [1.0, 2.0, 1.0], "gradient_bits": [1.0, 4.0, 1.0, 2.0], "bandwidth_hz": 4.0,
            "device_max_blocks": [3, 2, 1]}
    data.update(changes)
    return Instance.from_arrays(**data)


# --------------------------------------------------------------------------------------
# Checks, independent of the solvers
# --------------------------------------------------------------------------------------
def refuses(name: str, inst: Instance) -> bool:
    """Whether method ``name`` must refuse ``inst`` (what each one's docstring proves it solves)."""
    unsorted = not inst.uniform_bits and bool(np.any(np.diff(inst.block_bits) < 0))
    if name in ("crunch", "crunch-literal"):
        return not inst.single_block or unsorted
    if name in ("linear-search", "hungarian-search"):
        return not inst.uniform_bits and not inst.single_block
    if name == "crunch-capacity":
        return not inst.uniform_bits
    return False


def assert_valid(inst: Instance, res) -> None:
    """C1 (one device per block), C2 (at most c_k blocks), C3 (the deepest block fits); latency and band recomputed."""
    a = np.asarray(res.assignment)
    assert a.shape == (inst.M,) and a.min() >= 0 and a.max() < inst.K
    counts = np.bincount(a, minlength=inst.K)
    assert np.all(counts <= inst.device_max_blocks)                                        # C2
    assert all(inst.block_memory[m] <= inst.device_memory[k] for m, k in enumerate(a))     # C3
    assert close(res.objective_s, family_p1_latency(inst, tuple(a.tolist())), 1e-12)
    band = np.asarray(res.bandwidth_hz)
    assert np.allclose(band, counts * inst.bandwidth_hz / inst.M, rtol=1e-15, atol=0.0)
    assert close(band.sum(), inst.bandwidth_hz, 1e-12)


def check(inst: Instance, res, rtol: float, best=None) -> None:
    """``res`` is the brute-force optimum of ``inst`` (or its infeasibility)."""
    best = brute_force_family_p1(inst) if best is None else best
    if best is None:
        assert res.status == Status.INFEASIBLE, (res.status, res.message)
        assert res.assignment is None and res.message
        return
    assert res.status == Status.OPTIMAL, (res.solver, res.status, res.message)
    assert_valid(inst, res)
    assert close(res.objective_s, best[0], rtol), (res.solver, res.objective_s, best[0])
    assert res.bound_s == res.objective_s


# --------------------------------------------------------------------------------------
# Every method against brute force
# --------------------------------------------------------------------------------------
@settings(max_examples=500, deadline=None)
@given(family_instances())
def test_combinatorial_methods_refuse_or_match_brute_force(inst):
    best = brute_force_family_p1(inst)
    values = {}
    for name, method in COMBINATORIAL.items():
        res = method(inst)
        if refuses(name, inst):
            assert res.status == Status.UNSUPPORTED and res.assignment is None and res.message, (name, res)
            continue
        check(inst, res, COMBINATORIAL_RTOL, best)
        if res.status == Status.OPTIMAL:
            values[name] = res.objective_s
    # with one D (or one block per device) every optimum is a matrix entry: the same float
    assert len(set(values.values())) <= 1, values


@settings(max_examples=150, deadline=None)
@given(family_instances(max_devices=3, max_blocks=4))
def test_milp_matches_brute_force(inst):
    check(inst, p1.milp(inst, time_limit=30.0), EXACT_RTOL)


@settings(max_examples=60, deadline=None)
@given(family_instances(max_devices=3, max_blocks=5, kinds=("G2", "G1+G2")))
def test_five_blocks_on_few_devices(inst):
    best = brute_force_family_p1(inst)
    check(inst, p1.milp(inst, time_limit=30.0), EXACT_RTOL, best)
    for name, method in COMBINATORIAL.items():
        res = method(inst)
        if not refuses(name, inst):
            check(inst, res, COMBINATORIAL_RTOL, best)


@settings(max_examples=40, deadline=None)
@given(family_instances(max_devices=10, max_blocks=7, kinds=("G2",)))
def test_exact_methods_agree_beyond_brute_force(inst):
    """One D, several blocks per device, too big to enumerate: the closed form, both searches and milp agree."""
    results = [p1.crunch_capacity(inst), p1.linear_search(inst), p1.hungarian_search(inst),
               p1.milp(inst, time_limit=60.0)]
    assert len({r.status for r in results}) == 1, [(r.solver, r.status, r.message) for r in results]
    if results[0].status == Status.OPTIMAL:
        for r in results:
            assert_valid(inst, r)
            assert close(r.objective_s, results[0].objective_s, EXACT_RTOL)
        assert results[0].objective_s == results[1].objective_s == results[2].objective_s


@pytest.mark.parametrize("scale_s", [1e-9, 1e-3, 1.0, 1e3, 1e9])
@pytest.mark.parametrize("kind", ["G1", "G2", "G1+G2"])
def test_every_magnitude(scale_s, kind):
    """The same 4 x 4 instance with every latency and upload multiplied by ``scale_s``."""
    inst = Instance.from_arrays(
        np.array([[1.0, 2.0, 3.0, 4.0], [1.0, 1.5, 2.0, 6.0], [0.5, 0.5, 0.5, 0.5], [2.0, 2.0, 2.0, 2.0]]) * scale_s,
        [1.0, 1.0, 2.0, 2.0], [2.0, 2.0, 1.0, 2.0], [1.0, 2.0, 1.0, 0.5],
        (np.array([1.0, 4.0, 1.0, 2.0]) if "G1" in kind else 2.0) * scale_s, 4.0,
        device_max_blocks=[3, 2, 1, 2] if "G2" in kind else None)
    assert inst.family == set(kind.split("+"))
    best = brute_force_family_p1(inst)
    assert best is not None
    check(inst, p1.milp(inst, time_limit=30.0), EXACT_RTOL, best)
    for name, method in COMBINATORIAL.items():
        res = method(inst)
        if refuses(name, inst):
            assert res.status == Status.UNSUPPORTED
        else:
            check(inst, res, COMBINATORIAL_RTOL, best)


# --------------------------------------------------------------------------------------
# Feasibility by capacity, infeasibility by capacity or memory
# --------------------------------------------------------------------------------------
@pytest.fixture
def no_build(monkeypatch):
    """Building the MILP (or solving it) is an error: the proofs under test come before."""
    def refuse(*args, **kwargs):
        raise AssertionError("the model was built")

    monkeypatch.setattr(models_p1, "build_p1_milp", refuse)
    monkeypatch.setattr("solvers.pyomo_solve.solve_with_highs", refuse)


def two_devices(most, memory=(3.0, 3.0), bits=1.0) -> Instance:
    return Instance.from_arrays([[1.0, 2.0, 3.0, 4.0], [2.0, 2.0, 2.0, 2.0]], [1.0, 1.0, 2.0, 3.0], list(memory),
                                [1.0, 1.0], bits, 4.0, device_max_blocks=list(most))


def test_fewer_devices_than_blocks_is_feasible_by_capacity():
    inst = two_devices([2, 2])
    best = brute_force_family_p1(inst)
    assert best == (3.0, (0, 0, 1, 1))            # device 1: blocks 2-3, 2 + 1 s; device 0: blocks 0-1, 2 + 1 s
    for name in ("linear-search", "hungarian-search", "crunch-capacity"):
        check(inst, COMBINATORIAL[name](inst), 0.0, best)
    check(inst, p1.milp(inst, time_limit=30.0), EXACT_RTOL, best)
    assert p1.crunch(inst).status == Status.UNSUPPORTED


@pytest.mark.parametrize("method", [p1.linear_search, p1.hungarian_search, p1.crunch_capacity, p1.milp],
                         ids=lambda f: f.__name__)
def test_too_few_block_slots(method, no_build):
    res = method(two_devices([1, 2]))
    assert res.status == Status.INFEASIBLE and res.assignment is None
    assert "M = 4 blocks > 3 block slots" in res.message and "Hall" in res.message


@pytest.mark.parametrize("method", [p1.linear_search, p1.hungarian_search, p1.crunch_capacity, p1.milp],
                         ids=lambda f: f.__name__)
def test_memory_wall_with_capacities(method, no_build):
    # only device 0 holds blocks 2-3 (2 and 3 bytes) and it takes 1 block; device 1 (1 byte) could take 4
    res = method(two_devices([1, 4], memory=(3.0, 1.0)))
    assert res.status == Status.INFEASIBLE
    assert "blocks 3..3" not in res.message
    assert "memory wall: blocks 2..3 need 2 block slots" in res.message and "take only 1" in res.message


def test_milp_proves_a_g1g2_wall_without_a_model(no_build):
    inst = g1g2(device_max_blocks=[1, 1, 1])      # K = 3 < M = 4, every c_k = 1 (G1 only)
    res = p1.milp(inst)
    assert res.status == Status.INFEASIBLE and "M = 4 blocks > K = 3 devices" in res.message
    res = p1.milp(g1g2(device_memory=[1.0, 1.0, 1.0]))  # blocks 2-3 (2 bytes) fit nobody
    assert res.status == Status.INFEASIBLE and "no device can hold block 3" in res.message
    assert brute_force_family_p1(g1g2(device_memory=[1.0, 1.0, 1.0])) is None


counts_and_capacities = st.integers(1, 5).flatmap(lambda K: st.tuples(
    st.lists(st.integers(0, 6), min_size=K, max_size=K), st.lists(st.integers(1, 4), min_size=K, max_size=K),
    st.integers(1, 6)))


@settings(max_examples=400, deadline=None)
@given(counts_and_capacities)
def test_hall_with_capacities_is_a_matching_into_copies(data):
    """The nested-prefix condition with capacities agrees with a matching into the devices' copies; the proof's assignment is valid."""
    counts, capacity, M = (np.array(x) if isinstance(x, list) else x for x in data)
    counts = np.minimum(counts, M)
    owner = np.repeat(np.arange(counts.size), capacity)
    allowed = np.arange(M)[None, :] < counts[owner, None]
    if owner.size < M:
        exists = False
    else:
        exists = bool(np.all(maximum_bipartite_matching(csr_matrix(allowed.T.astype(np.int8)), perm_type="column") >= 0))
    assert bottleneck.capacity_hall_check(counts, capacity, M) == exists
    assert (p1.capacity_wall(counts, capacity, M) is None) == exists
    if np.all(capacity == 1):
        assert bottleneck.hall_check(counts, M) == exists
    if exists:
        a = bottleneck.capacity_assignment(counts, capacity, M)
        assert np.all(np.bincount(a, minlength=counts.size) <= capacity)
        assert all(m < counts[k] for m, k in enumerate(a))
        if np.all(capacity == 1):
            assert a.tolist() == bottleneck.assignment_from_counts(counts, M).tolist()


sorted_matrices = st.integers(1, 4).flatmap(lambda K: st.integers(1, 4).flatmap(lambda M: st.tuples(
    st.lists(st.lists(st.sampled_from([0.0, 1.0, 2.0]), min_size=M, max_size=M), min_size=K, max_size=K),
    st.lists(st.integers(0, M), min_size=K, max_size=K), st.lists(st.integers(1, 3), min_size=K, max_size=K))))


@settings(max_examples=400, deadline=None)
@given(sorted_matrices)
def test_bottleneck_b_matching_closed_form(data):
    """The weighted order statistics equal the least bottleneck over every map that respects the capacities."""
    steps, prefix, capacity = data
    cost = np.cumsum(np.array(steps), axis=1) + 1.0
    K, M = cost.shape
    cost[np.arange(M)[None, :] >= np.array(prefix)[:, None]] = np.inf
    best = None
    for a in itertools.product(range(K), repeat=M):
        if np.all(np.bincount(a, minlength=K) <= capacity):
            value = max(cost[k, m] for m, k in enumerate(a))
            if np.isfinite(value) and (best is None or value < best):
                best = value
    found = bottleneck.bottleneck_capacity(cost, np.array(capacity))
    if best is None:
        assert found is None
    else:
        value, a = found
        assert value == best == max(cost[k, m] for m, k in enumerate(a))
        assert np.all(np.bincount(a, minlength=K) <= capacity)
        if all(c == 1 for c in capacity):
            assert value == bottleneck.bottleneck_crunch(cost)[0]


# --------------------------------------------------------------------------------------
# Scope: the declarations and the refusals
# --------------------------------------------------------------------------------------
def test_declared_features():
    assert p1.crunch.features == p1.crunch_literal.features == {"G1"}
    assert p1.linear_search.features == p1.hungarian_search.features == p1.milp.features == {"G1", "G2"}
    assert p1.crunch_capacity.features == {"G2"}


def test_refusals_say_why_and_what_solves_it():
    unsorted = g1g2(device_max_blocks=None, compute_latency=[[1.0, 2.0, 3.0, 4.0]] * 3 + [[1.0, 1.0, 1.0, 1.0]],
                    device_memory=[2.0] * 4, spectral_efficiency=[1.0] * 4)
    for method in (p1.crunch, p1.crunch_literal):
        res = method(unsorted)
        assert res.status == Status.UNSUPPORTED
        assert "D_0 = 1.0 bits > D_1" not in res.message and "D_1 = 4.0 bits > D_2 = 1.0 bits" in res.message
    # solvers.run adds the methods that solve it, and only those
    res = solvers.run("P1", "crunch", unsorted)
    assert res.status == Status.UNSUPPORTED
    assert res.message.endswith("; methods for it: linear-search, hungarian-search, milp"), res.message
    both = g1g2()
    for method in (p1.linear_search, p1.hungarian_search):
        res = method(both)
        assert res.status == Status.UNSUPPORTED and "(G1)" in res.message and "(G2)" in res.message
    assert solvers.run("P1", "linear-search", both).message.endswith("; methods for it: milp")
    assert "(G1)" in p1.crunch_capacity(both).message
    assert "(G2)" in p1.crunch(both).message


def test_crunch_on_sorted_sizes_is_the_bottleneck_assignment():
    """G1 with D_m non-decreasing: the closed form, Algorithm 2 cut by cut and its trace give the brute-force optimum."""
    inst = Instance.from_arrays([[1.0, 2.0, 3.0], [1.0, 1.0, 4.0], [2.0, 2.0, 2.0], [0.5, 3.0, 3.0]],
                                [1.0, 1.0, 1.0], [1.0] * 4, [1.0, 2.0, 1.0, 4.0], [1.0, 2.0, 4.0], 3.0)
    best = brute_force_family_p1(inst)
    lines = []
    for res in (p1.crunch(inst), p1.crunch_literal(inst), p1.crunch(inst, trace=lines.append)):
        check(inst, res, 0.0, best)
    assert lines[-1].startswith("stop: optimal latency")
    assert p1.p1_answer(inst)[0] == best[0]


# --------------------------------------------------------------------------------------
# The paper's model is answered as before
# --------------------------------------------------------------------------------------
@settings(max_examples=150, deadline=None)
@given(instances())
def test_paper_model_objective_and_bandwidth_unchanged(inst):
    """Bit for bit: p1_objective is max_m (tcp + u_k) of the chosen pairs, the band B/M each; crunch-capacity is crunch."""
    res = p1.crunch(inst)
    cap = p1.crunch_capacity(inst)
    assert cap.status == res.status
    if res.status != Status.OPTIMAL:
        return
    a = np.asarray(res.assignment)
    old = float((inst.compute_latency[a, np.arange(inst.M)] + inst.upload_equal_s[a]).max())
    assert p1.p1_objective(inst, a) == old == res.objective_s
    band = np.zeros(inst.K)
    band[a] = inst.bandwidth_hz / inst.M                 # the paper's B / M for each involved device
    assert p1.p1_bandwidth(inst, a).tolist() == band.tolist()
    assert cap.objective_s == res.objective_s


def test_paper_model_milp_components_unchanged():
    inst = Instance.from_arrays([[1.0, 2.0], [1.5, 1.5], [0.5, 3.0]], [1e9, 2e9], [4e9, 1e9, 4e9],
                                [1.0, 2.0, 4.0], gradient_bits=1e6, bandwidth_hz=1e6)
    import pyomo.environ as pyo

    for model in (build_p1_milp(inst), build_p1_milp(inst, upper_bound_s=3.5)):
        assert sorted(c.name for c in model.component_objects(pyo.Constraint)) == ["C1", "C2", "C3", "latency"]
        assert sorted(c.name for c in model.component_objects(pyo.Var)) == ["T", "x"]
        assert list(model.upload.index_set()) == [0, 1, 2]


# --------------------------------------------------------------------------------------
# The family's MILP
# --------------------------------------------------------------------------------------
def constraint_names(model):
    import pyomo.environ as pyo

    return sorted(c.name for c in model.component_objects(pyo.Constraint))


def test_family_models_are_named_after_the_formulation():
    g2 = two_devices([2, 2])
    assert constraint_names(build_p1_milp(g2)) == ["C1", "C2", "C3", "latency"]
    assert len(build_p1_milp(g2).latency) == 8                  # one row per pair: T >= c[k,m] x[k,m]
    g1 = two_devices([1, 1], bits=[1.0, 2.0, 3.0, 4.0])
    assert g1.family == {"G1"} and len(build_p1_milp(g1).latency) == 2 and len(build_p1_milp(g1).C3) == 2
    model = build_p1_milp(g1g2())
    assert constraint_names(model) == ["C1", "C2", "C3", "deepest", "latency", "mccormick_T", "mccormick_x"]
    assert float(model.latency_cap) == 16.0     # twice 8 s: devices 0 and 1, 4 s + 4 s and 6 s + 2 s (tcp, largest upload)


def test_scaled_family_model_has_small_coefficients():
    import pyomo.environ as pyo
    from pyomo.repn import generate_standard_repn

    inst = g1g2(compute_latency=(np.array(g1g2().compute_latency) * 1e9).tolist(),
                gradient_bits=[1e9, 4e9, 1e9, 2e9])
    best = brute_force_family_p1(inst)
    model = build_p1_milp(inst, upper_bound_s=best[0])
    for con in model.component_data_objects(pyo.Constraint, active=True):
        repn = generate_standard_repn(con.body)
        assert repn.is_linear()
        coefs = np.abs(np.array(repn.linear_coefs, dtype=float))
        assert np.all(coefs <= 3.0), (con.name, coefs.max())
    from solvers.pyomo_solve import solve_with_highs

    assert solve_with_highs(model).status == Status.OPTIMAL
    assert close(model.T.value * float(model.time_scale_s), best[0], EXACT_RTOL)


@settings(max_examples=100, deadline=None)
@given(family_instances(kinds=("G1+G2",)))
def test_pair_bounds_are_below_every_latency(inst):
    """A device that holds block m finishes no sooner than pair_latency_bounds[k, m]; usable_pairs keeps every pair of an optimum."""
    best = brute_force_family_p1(inst)
    if best is None:
        return
    bounds = pair_latency_bounds(inst)
    latency, a = best
    for m, k in enumerate(a):
        assert bounds[k, m] <= latency * (1 + 1e-12)
    # the latency milp passes: p1_objective's float (brute force rounds in another order)
    kept = set(zip(*(i.tolist() for i in usable_pairs(inst, p1.p1_objective(inst, a)))))
    assert all((k, m) in kept for m, k in enumerate(a))


@pytest.mark.parametrize("inst", [two_devices([2, 2]), g1g2()], ids=["G2", "G1+G2"])
def test_milp_stopped_at_once_keeps_a_valid_start(inst):
    best = brute_force_family_p1(inst)
    res = p1.milp(inst, time_limit=0.0)
    assert res.status == Status.TIME_LIMIT and "HiGHS not run" in res.message
    assert_valid(inst, res)
    assert res.objective_s >= best[0] and res.bound_s <= best[0]
    start = p1._milp_start(inst, Stopwatch())
    assert start.lower_s <= best[0] <= start.upper_s == p1.p1_objective(inst, start.assignment)
    assert start.complete == inst.uniform_bits


def test_milp_build_estimate_counts_the_family_entries(monkeypatch, no_build):
    monkeypatch.setattr(p1, "MILP_BUILD_S_PER_PAIR", 1e3)
    res = p1.milp(g1g2(), time_limit=5.0)
    assert res.status == Status.TIME_LIMIT and "would take about" in res.message
    assert_valid(g1g2(), res)


@settings(max_examples=80, deadline=None)
@given(family_instances(max_devices=4, max_blocks=4))
def test_answers_pass_the_independent_checker(inst):
    """Every claim gets its certificate (or, under G1 with G2, the 'none defined' note) and passes validation.check."""
    from solvers.certify import attach
    from validation.check import check_result

    for name, method in dict(COMBINATORIAL, milp=lambda i: p1.milp(i, time_limit=30.0)).items():
        res = method(inst)
        if res.status == Status.UNSUPPORTED:
            continue
        claimed = res.status
        res = attach(inst, res, "P1")
        assert res.status == claimed, (name, res.message)
        verdict = check_result(inst, res, "P1")
        assert verdict.ok, (name, verdict.problems)
