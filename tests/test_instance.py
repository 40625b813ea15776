"""The Instance type: round trip through files, derived quantities, in-memory validation."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from instances import Instance, InstanceError, load_instance, save_instance
from tests.strategies import instances


@settings(max_examples=50, deadline=None)
@given(instances())
def test_file_round_trip(tmp_path_factory, instance):
    path = tmp_path_factory.mktemp("rt") / "x.json"
    save_instance(instance, path)
    again = load_instance(path)
    assert np.array_equal(again.compute_latency, instance.compute_latency)
    for name in ("block_memory", "device_memory", "spectral_efficiency"):
        assert np.array_equal(getattr(again, name), getattr(instance, name))
    assert (again.gradient_bits, again.bandwidth_hz, again.name) == (instance.gradient_bits, instance.bandwidth_hz, instance.name)
    assert again.source == str(path)


def test_derived_quantities():
    inst = Instance.from_arrays([[1.0, 2.0], [1.0, 1.0]], [2.0, 4.0], [3.0, 4.0], [1.0, 4.0], 8.0, 2.0)
    assert inst.memory_prefix.tolist() == [1, 2]
    assert inst.memory_ok.tolist() == [[True, False], [True, True]]
    assert inst.upload_equal_s.tolist() == [8.0, 2.0]          # D M / (B R_k)
    assert inst.comm_coef.tolist() == [8.0, 2.0]               # D / R_k
    cost = inst.p1_cost()
    assert cost[0, 1] == np.inf and cost[1, 1] == 3.0


def test_arrays_are_read_only():
    inst = Instance.from_arrays([[1.0]], [1.0], [1.0], [1.0], 1.0, 1.0)
    with pytest.raises(ValueError):
        inst.compute_latency[0, 0] = 5.0


@pytest.mark.parametrize("kwargs, field", [
    (dict(compute_latency=[[1.0, np.nan]]), "compute_latency[0][1]"),
    (dict(block_memory=[1.0]), "block_memory"),
    (dict(spectral_efficiency=[0.0]), "spectral_efficiency[0]"),
    (dict(bandwidth_hz=0.0), "bandwidth_hz"),
    (dict(gradient_bits=True), "gradient_bits"),
    (dict(name=""), "name"),
])
def test_in_memory_validation_names_field(kwargs, field):
    base = dict(compute_latency=[[1.0, 2.0]], block_memory=[1.0, 1.0], device_memory=[1.0],
                spectral_efficiency=[1.0], gradient_bits=1.0, bandwidth_hz=1.0, name="x")
    base.update(kwargs)
    with pytest.raises(InstanceError) as err:
        Instance.from_arrays(**base)
    assert f"field '{field}'" in str(err.value) and str(err.value).startswith("<arrays>: ")


def test_infeasible_is_not_invalid():
    Instance.from_arrays([[1.0, 2.0, 3.0]], [1.0, 2.0, 3.0], [0.5], [1.0], 1.0, 1.0)   # M > K and a wall
