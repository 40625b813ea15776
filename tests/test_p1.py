"""P1 (BA): CRUNCH (closed form and literal), both linear searches and the MILP agree with brute force and each other."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching

from instances import Instance
from solvers import benchmarks, bottleneck, p1
from solvers.result import Status
from instances.tolerances import EXACT_RTOL, close
from tests.bruteforce import brute_force_p1
from tests.strategies import instances


def assert_valid_p1(instance: Instance, res) -> None:
    """C1-C3 hold and the objective is the recomputed bottleneck."""
    a = np.asarray(res.assignment)
    assert a.shape == (instance.M,)
    assert len(set(a.tolist())) == instance.M                           # C1 + C2
    assert all(instance.block_memory[m] <= instance.device_memory[k] for m, k in enumerate(a))  # C3
    recomputed = max(instance.compute_latency[k, m] + instance.gradient_bits * instance.M
                     / (instance.bandwidth_hz * instance.spectral_efficiency[k]) for m, k in enumerate(a))
    assert close(res.objective_s, recomputed, 1e-12)
    band = np.asarray(res.bandwidth_hz)
    assert np.isclose(band.sum(), instance.bandwidth_hz) and np.count_nonzero(band) == instance.M


def check_against_brute_force(instance: Instance, res) -> None:
    best = brute_force_p1(instance)
    if best is None:
        assert res.status == Status.INFEASIBLE, res
        assert res.assignment is None and res.message
    else:
        assert res.status == Status.OPTIMAL, res
        assert_valid_p1(instance, res)
        assert close(res.objective_s, best, 1e-12), (res.objective_s, best)
        assert res.bound_s == res.objective_s


@settings(max_examples=300, deadline=None)
@given(instances())
def test_crunch_matches_brute_force(instance):
    check_against_brute_force(instance, p1.crunch(instance))


@settings(max_examples=150, deadline=None)
@given(instances())
def test_linear_search_matches_brute_force(instance):
    check_against_brute_force(instance, p1.linear_search(instance))


@settings(max_examples=200, deadline=None)
@given(instances())
def test_crunch_literal_matches_brute_force_and_crunch(instance):
    """Algorithm 2 cut by cut: the brute-force optimum, and exactly crunch's value (the same matrix entry)."""
    res = p1.crunch_literal(instance)
    check_against_brute_force(instance, res)
    if res.status == Status.OPTIMAL:
        assert res.objective_s == p1.crunch(instance).objective_s
        assert res.info["cuts"] >= 1


@settings(max_examples=150, deadline=None)
@given(instances())
def test_hungarian_search_matches_brute_force_and_crunch(instance):
    res = p1.hungarian_search(instance)
    check_against_brute_force(instance, res)
    if res.status == Status.OPTIMAL:
        assert res.objective_s == p1.crunch(instance).objective_s
        assert res.objective_s == p1.linear_search(instance).objective_s


@pytest.mark.parametrize("name", ["crunch-literal", "hungarian-search"])
def test_new_methods_are_registered_as_exact(name):
    import solvers

    assert name in solvers.EXACT["P1"] and ("P1", name) in solvers.REGISTRY
    res = solvers.run("P1", name, fig3_like_instance())
    assert res.status == Status.OPTIMAL and res.certificate is not None and res.objective_s == 7.0


@pytest.mark.parametrize("method", [p1.crunch_literal, p1.hungarian_search, p1.linear_search],
                         ids=lambda f: f.__name__)
def test_slow_exact_methods_honour_a_time_limit(method):
    """Stopped at once: a valid incumbent (never below the optimum) and a bound never above it."""
    rng = np.random.default_rng(4)
    tcp = np.sort(rng.uniform(1, 5, (300, 12)), axis=1)
    inst = Instance.from_arrays(tcp, np.arange(1, 13.0), rng.uniform(6, 13, 300), rng.uniform(0.1, 3, 300), 1e5, 1e7)
    optimum = p1.crunch(inst).objective_s
    res = method(inst, time_limit=0.0)
    assert res.status == Status.TIME_LIMIT and res.message
    assert_valid_p1(inst, res)
    assert res.objective_s >= optimum and res.bound_s <= optimum
    full = method(inst, time_limit=60.0)
    assert full.status == Status.OPTIMAL and full.objective_s == optimum


@settings(max_examples=40, deadline=None)
@given(instances(max_devices=5, max_blocks=3))
def test_milp_matches_brute_force(instance):
    check_against_brute_force(instance, p1.milp(instance, time_limit=30.0))


@settings(max_examples=25, deadline=None)
@given(instances(max_devices=14, max_blocks=8, min_devices=6))
def test_exact_methods_agree_beyond_brute_force(instance):
    """On instances too big to enumerate, the three exact methods agree."""
    results = [p1.crunch(instance), p1.crunch_literal(instance), p1.linear_search(instance),
               p1.hungarian_search(instance), p1.milp(instance, time_limit=60.0)]
    statuses = {r.status for r in results}
    assert len(statuses) == 1, [(r.solver, r.status) for r in results]
    if statuses == {Status.OPTIMAL}:
        for r in results:
            assert_valid_p1(instance, r)
            assert close(r.objective_s, results[0].objective_s, EXACT_RTOL)


@settings(max_examples=300, deadline=None)
@given(instances(max_devices=7, max_blocks=5))
def test_traced_walk_equals_binary_search(instance):
    """Algorithm 2 cut by cut gives the same optimum as the binary search."""
    lines: list[str] = []
    fast = bottleneck.bottleneck_crunch(instance.p1_cost())
    walked = bottleneck.bottleneck_crunch(instance.p1_cost(), trace=lines.append)
    if fast is None:
        assert walked is None
    else:
        assert fast[0] == walked[0]
        assert lines[-1].startswith("stop: optimal latency")
        assert sum(line.startswith("step") for line in lines) >= 1


counts_strategy = st.integers(1, 7).flatmap(
    lambda K: st.tuples(st.lists(st.integers(0, 6), min_size=K, max_size=K), st.integers(1, 7)))


@settings(max_examples=500, deadline=None)
@given(counts_strategy)
def test_proposition_1_is_halls_condition(data):
    """Proposition 1 agrees with a maximum bipartite matching on prefix neighbourhoods."""
    counts, M = data
    counts = np.minimum(np.array(counts), M)
    allowed = np.arange(M)[None, :] < counts[:, None]            # device k may take blocks 0..n_k-1
    if M > len(counts):
        has_matching = False
    else:
        match = maximum_bipartite_matching(csr_matrix(allowed.T.astype(np.int8)), perm_type="column")
        has_matching = bool(np.all(match >= 0))
    assert bottleneck.hall_check(counts, M) == has_matching
    if has_matching:   # and the constructive proof gives a valid matching
        a = bottleneck.assignment_from_counts(counts, M)
        assert len(set(a.tolist())) == M and all(allowed[k, m] for m, k in enumerate(a))


def test_crunch_refuses_unsorted_rows():
    with pytest.raises(ValueError, match="non-decreasing"):
        bottleneck.bottleneck_crunch(np.array([[1.0, 3.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="forbidden pair before an allowed one"):
        bottleneck.bottleneck_crunch(np.array([[np.inf, 3.0], [2.0, 4.0]]))


def test_unsorted_instance_is_rejected_before_any_solver():
    from instances import InstanceError

    with pytest.raises(InstanceError, match=r"compute_latency\[1\]\[1\]"):
        Instance.from_arrays([[1, 2], [3, 1]], [1, 1], [1, 1], [1, 1], 1, 1)


def fig3_like_instance() -> Instance:
    """A 4-device, 3-block example in the spirit of the paper's Fig. 3 (device 3 hits the memory wall)."""
    return Instance.from_arrays(
        compute_latency=[[2.0, 4.0, 7.0], [1.0, 3.0, 9.0], [3.0, 5.0, 6.0], [1.5, 2.5, 3.5]],
        block_memory=[1.0, 2.0, 3.0], device_memory=[3.0, 3.0, 3.0, 1.0],
        spectral_efficiency=[1.0, 1.0, 1.0, 1.0], gradient_bits=1.0, bandwidth_hz=3.0, name="fig3")


def test_trace_on_fig3_example():
    inst = fig3_like_instance()          # upload with B/M = 1 Hz is 1 s for everyone
    lines: list[str] = []
    res = p1.crunch(inst, trace=lines.append)
    assert res.objective_s == brute_force_p1(inst) == 7.0
    assert lines[0].startswith("init") and "counts n = [3, 3, 3, 1]" in lines[0]
    cuts = [line for line in lines if line.startswith("step")]
    assert "cut c[1,2] = 10" in cuts[0] and "feasible" in cuts[0]      # the largest entry goes first
    assert cuts[-1].endswith("INFEASIBLE") and "= 7" in cuts[-1]
    assert_valid_p1(inst, res)


@pytest.mark.parametrize("method", [p1.crunch, p1.crunch_literal, p1.linear_search, p1.hungarian_search, p1.milp])
def test_infeasible_cases(method):
    more_blocks = Instance.from_arrays([[1, 2, 3]], [1, 1, 1], [5], [1], 1, 1)
    wall = Instance.from_arrays([[1, 2], [1, 2]], [1, 5], [4, 4], [1, 1], 1, 1)
    # a wall by less than a MILP solver's feasibility tolerance is still a wall
    thin_wall = Instance.from_arrays([[1.0], [2.0]], [1.0], [1 - 1e-9, 1 - 1e-9], [1.0, 1.0], 1.0, 1.0)
    for inst in (more_blocks, wall, thin_wall):
        res = method(inst)
        assert res.status == Status.INFEASIBLE and res.assignment is None
        assert "M = 3 blocks > K = 1" in res.message or "memory" in res.message


def test_single_block_and_square():
    one = Instance.from_arrays([[5.0], [2.0], [3.0]], [1.0], [1, 1, 1], [1.0, 0.1, 1.0], 1.0, 1.0)
    res = p1.crunch(one)                 # uploads 1, 10, 1 s -> best is device 2: 3 + 1
    assert res.assignment == (2,) and res.objective_s == 4.0
    rng = np.random.default_rng(3)
    tcp = np.sort(rng.uniform(1, 5, (5, 5)), axis=1)
    square = Instance.from_arrays(tcp, np.ones(5), np.ones(5), rng.uniform(0.5, 2, 5), 1.0, 5.0)
    check_against_brute_force(square, p1.crunch(square))


@settings(max_examples=200, deadline=None)
@given(instances())
def test_benchmarks_are_valid_or_say_they_found_nothing(instance):
    best = brute_force_p1(instance)
    for method in (benchmarks.compute_aware, benchmarks.comm_aware):
        res = method(instance)
        if res.status == Status.INFEASIBLE:      # a proof: only for M > K
            assert res.message and instance.M > instance.K
            continue
        if res.status == Status.NO_SOLUTION:     # the benchmark hit the memory wall; proves nothing
            assert res.message and res.assignment is None and instance.M <= instance.K
            continue
        assert res.status == Status.FEASIBLE
        assert_valid_p1(instance, res)
        assert res.objective_s >= best - 1e-12 * max(1.0, best)


def test_benchmarks_follow_their_rule():
    inst = Instance.from_arrays([[1, 2], [3, 6], [2, 4]], [1, 1], [1, 1, 1], [3.0, 2.0, 1.0], 1, 1)
    assert benchmarks.compute_aware(inst).assignment == (2, 0)   # fastest (device 0) takes the deepest block
    assert benchmarks.comm_aware(inst).assignment == (1, 0)      # best channel (device 0) takes the deepest block
    wall = Instance.from_arrays([[1, 2], [3, 6], [2, 4]], [1, 2], [1, 2, 2], [1, 1, 1], 1, 1)
    res = benchmarks.compute_aware(wall)
    assert res.status == Status.NO_SOLUTION and "hit the memory wall: block 1" in res.message
    assert p1.crunch(wall).status == Status.OPTIMAL          # the instance itself is feasible


def test_milp_time_limit_never_crashes():
    rng = np.random.default_rng(0)
    tcp = np.sort(rng.uniform(1, 5, (60, 12)), axis=1)
    inst = Instance.from_arrays(tcp, np.arange(1, 13.0), rng.uniform(6, 13, 60), rng.uniform(0.1, 3, 60), 1e5, 1e7)
    res = p1.milp(inst, time_limit=0.01)
    assert res.status in (Status.OPTIMAL, Status.TIME_LIMIT)
    optimum = p1.crunch(inst).objective_s
    if res.objective_s is not None:
        assert res.objective_s >= optimum - 1e-9
    if res.bound_s is not None:
        assert res.bound_s <= optimum + 1e-6 * optimum
