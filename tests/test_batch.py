"""The batch API (solvers.batch): draw by draw the same answers as one call each; shapes and validation.

P1: exactly equal objectives and assignments (the batch computes the same
matrix entries and breaks ties the same way).  P2: objectives equal to 1e-12
relative (in fact identical: the same descent runs per draw), assignments and
bandwidths the same.  Infeasible draws are marked.  No assertion on time.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from instances import Instance, InstanceError
from instances.generate import generate_instance
from solvers import batch, p1
from solvers.p2_exact import exact_jbba
from solvers.result import Status
from instances.tolerances import close
from tests.strategies import instances


def arrays_of(insts):
    return ([i.compute_latency for i in insts], [i.block_memory for i in insts], [i.device_memory for i in insts],
            [i.spectral_efficiency for i in insts], [i.gradient_bits for i in insts], [i.bandwidth_hz for i in insts])


def assert_p1_same(insts, out):
    for i, inst in enumerate(insts):
        res = p1.crunch(inst)
        if res.status == Status.INFEASIBLE:
            assert not out.feasible[i] and np.isnan(out.objective_s[i]) and (out.assignment[i] == -1).all()
            assert not out.bandwidth_hz[i].any()
        else:
            assert out.feasible[i]
            assert out.objective_s[i] == res.objective_s                 # exactly
            assert tuple(out.assignment[i].tolist()) == res.assignment
            assert out.bandwidth_hz[i].tolist() == list(res.bandwidth_hz)
            assert out.block_bandwidth_hz[i].tolist() == [res.bandwidth_hz[k] for k in res.assignment]


def assert_p2_same(insts, out):
    for i, inst in enumerate(insts):
        res = exact_jbba(inst)
        if res.status == Status.INFEASIBLE:
            assert not out.feasible[i] and np.isnan(out.objective_s[i]) and (out.assignment[i] == -1).all()
        else:
            assert res.status == Status.OPTIMAL and out.feasible[i]
            assert close(out.objective_s[i], res.objective_s, 1e-12)
            assert tuple(out.assignment[i].tolist()) == res.assignment
            assert np.allclose(out.bandwidth_hz[i], res.bandwidth_hz, rtol=1e-12, atol=0.0)
            assert out.block_bandwidth_hz[i].tolist() == out.bandwidth_hz[i][out.assignment[i]].tolist()
            assert out.iterations[i] == res.info["iterations"]


@st.composite
def same_shape_instances(draw, max_devices=7, max_blocks=4, max_draws=6):
    """A few instances of one (K, M): the basic strategy's, drawn until the shape repeats."""
    first = draw(instances(max_devices=max_devices, max_blocks=max_blocks))
    K, M = first.K, first.M
    out = [first]
    for _ in range(draw(st.integers(0, max_draws - 1))):
        other = draw(instances(max_devices=K, max_blocks=M, min_devices=K))
        if other.M == M:
            out.append(other)
    return out


@settings(max_examples=200, deadline=None)
@given(same_shape_instances())
def test_crunch_batch_equals_single_calls(insts):
    assert_p1_same(insts, batch.crunch_batch(*arrays_of(insts)))
    assert_p1_same(insts, batch.crunch_instances(insts))


@settings(max_examples=80, deadline=None)
@given(same_shape_instances(max_devices=6, max_blocks=3, max_draws=4))
def test_exact_batch_equals_single_calls(insts):
    assert_p2_same(insts, batch.exact_batch(*arrays_of(insts)))
    assert_p2_same(insts, batch.exact_instances(insts))


def test_generated_draws():
    """Many draws of the generator's instances."""
    insts = [generate_instance(50, 12, seed=s) for s in range(40)]
    assert_p1_same(insts, batch.crunch_batch(*arrays_of(insts)))
    assert_p2_same(insts[:15], batch.exact_instances(insts[:15]))


def test_shared_block_memory_and_scalars_broadcast():
    insts = [generate_instance(30, 6, seed=s) for s in range(5)]
    tcp, mu, cap, rate, bits, band = arrays_of(insts)
    assert all(np.array_equal(m, mu[0]) for m in mu) and len(set(bits)) == 1 and len(set(band)) == 1
    out = batch.crunch_batch(tcp, mu[0], cap, rate, bits[0], band[0])
    assert_p1_same(insts, out)
    assert_p2_same(insts, batch.exact_batch(tcp, mu[0], cap, rate, bits[0], band[0]))


def test_infeasible_draws_are_marked():
    ok = Instance.from_arrays([[1.0, 2.0], [1.5, 1.5], [0.5, 3.0]], [1.0, 2.0], [4.0, 1.0, 4.0], [1.0, 2.0, 4.0], 1.0, 1.0)
    wall = Instance.from_arrays([[1.0, 2.0], [1.5, 1.5], [0.5, 3.0]], [1.0, 2.0], [1.0, 1.0, 1.0], [1.0, 2.0, 4.0], 1.0, 1.0)
    for solve in (batch.crunch_instances, batch.exact_instances):
        out = solve([ok, wall, ok])
        assert out.feasible.tolist() == [True, False, True]
        assert np.isnan(out.objective_s[1]) and out.assignment[1].tolist() == [-1, -1]
    more_blocks = [Instance.from_arrays([[1.0, 2.0, 3.0]], [1, 1, 1], [5], [1], 1, 1)] * 2
    out = batch.exact_instances(more_blocks)
    assert not out.feasible.any() and out.assignment.shape == (2, 3)


def test_shapes_are_validated_with_clear_errors():
    tcp = np.ones((2, 3, 2))
    good = dict(block_memory=[1.0, 1.0], device_memory=np.ones((2, 3)), spectral_efficiency=np.ones((2, 3)),
                gradient_bits=1.0, bandwidth_hz=1.0)
    assert batch.crunch_batch(tcp, **good).feasible.all()
    with pytest.raises(ValueError, match=r"compute_latency must have shape \(draws, K, M\)"):
        batch.crunch_batch(np.ones((3, 2)), **good)
    for name, value, expected in (("block_memory", [1.0, 1.0, 1.0], r"block_memory must have shape \(2,\) or \(2, 2\)"),
                                  ("device_memory", np.ones(3), r"device_memory must have shape \(2, 3\)"),
                                  ("spectral_efficiency", np.ones((3, 3)), r"spectral_efficiency must have shape \(2, 3\)"),
                                  ("gradient_bits", [1.0, 1.0, 1.0], r"gradient_bits must have shape \(\) or \(2,\)"),
                                  ("bandwidth_hz", np.ones((2, 1)), r"bandwidth_hz must have shape \(\) or \(2,\)")):
        with pytest.raises(ValueError, match=expected):
            batch.exact_batch(tcp, **{**good, name: value})
    with pytest.raises(ValueError, match="one shape"):
        batch.crunch_instances([generate_instance(5, 2, seed=0), generate_instance(6, 2, seed=0)])
    with pytest.raises(ValueError, match="no instances"):
        batch.exact_instances([])


@pytest.mark.parametrize("field, value, message", [
    ("compute_latency", np.array([[[1.0, 2.0], [1.0, 2.0]], [[1.0, 0.5], [1.0, 2.0]]]), "draw 1: field 'compute_latency[0][1]'"),
    ("compute_latency", np.array([[[1.0, 2.0], [1.0, 2.0]], [[1.0, np.nan], [1.0, 2.0]]]), "draw 1: field 'compute_latency[0][1]'"),
    ("device_memory", np.array([[1.0, 1.0], [1.0, -1.0]]), "draw 1: field 'device_memory[1]'"),
    ("spectral_efficiency", np.array([[1.0, 1.0], [0.0, 1.0]]), "draw 1: field 'spectral_efficiency[0]'"),
    ("block_memory", np.array([2.0, 1.0]), "draw 0: field 'block_memory[1]'"),
    ("bandwidth_hz", np.array([1.0, 1e-70]), "draw 1: field 'bandwidth_hz'"),
    ("gradient_bits", 0.0, "draw 0: field 'gradient_bits'"),        # one value for every draw
])
def test_invalid_draws_raise_the_instance_error_naming_the_draw(field, value, message):
    """The error Instance raises for that draw, its source naming the draw."""
    args = dict(compute_latency=np.array([[[1.0, 2.0], [1.0, 2.0]]] * 2), block_memory=[1.0, 1.0],
                device_memory=np.ones((2, 2)), spectral_efficiency=np.ones((2, 2)), gradient_bits=1.0, bandwidth_hz=1.0)
    args[field] = value
    for solve in (batch.crunch_batch, batch.exact_batch):
        with pytest.raises(InstanceError) as info:
            solve(**args)
        assert str(info.value).startswith(message), str(info.value)


def test_family_instances_are_refused_with_a_reason():
    """The batch API solves the paper's model only: a family instance is named, not solved wrongly."""
    from instances import load_instance
    from solvers import batch

    fam = load_instance("instances/family/g2-k3-m4.json")
    for solve in (batch.crunch_instances, batch.exact_instances):
        with pytest.raises(ValueError, match=r"instances\[0\].*beyond the paper's model \(G2\)"):
            solve([fam])


_SPECIAL = [0.0, -0.0, 1e-61, 1e-60, 1e-30, 0.5, 1.0, 2.0, 1e30, 1e60, 1e61, -1.0, np.inf, -np.inf, np.nan]


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.data())
def test_the_compiled_draw_check_is_instances_validation(K, M, data):
    """kernels.plainly_valid accepts a draw exactly when Instance accepts it (so no invalid draw is solved),
    on arrays of special values: 0, -0, the range's edges and just beyond, huge, negative, inf, NaN."""
    from instances.core import VALUE_MAX, VALUE_MIN
    from solvers import kernels

    def values(shape, sort):
        a = np.array(data.draw(st.lists(st.sampled_from(_SPECIAL), min_size=int(np.prod(shape)),
                                        max_size=int(np.prod(shape)))), dtype=float).reshape(shape)
        if sort and data.draw(st.booleans()):
            a = np.sort(a, axis=-1)                      # mostly non-decreasing rows, where validity is decided
        return a

    tcp, mu, cap, rate = values((K, M), True), values((M,), True), values((K,), False), values((K,), False)
    bits, band = data.draw(st.sampled_from(_SPECIAL)), data.draw(st.sampled_from(_SPECIAL))
    try:
        Instance.from_arrays(tcp, mu, cap, rate, bits, band)
        accepted = True
    except InstanceError:
        accepted = False
    assert kernels.plainly_valid(tcp, mu, cap, rate, bits, band, VALUE_MIN, VALUE_MAX) == accepted
