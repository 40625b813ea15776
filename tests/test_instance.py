"""The Instance type: round trip through files (both formats), derived quantities, in-memory validation."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from instances import Instance, InstanceError, load_instance, save_instance
from instances.core import FORMAT, FORMAT_V2, MAX_BLOCKS_PER_DEVICE
from instances.corpus import FOLDERS
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


# --------------------------------------------------------------------------------------
# deft-instance/2: per-block gradient sizes (G1), several blocks per device (G2)
# --------------------------------------------------------------------------------------
REPO = Path(__file__).resolve().parents[1]
PAPER_FOLDERS = FOLDERS         # the corpus of the paper's model (deft-instance/1)
BASE = dict(compute_latency=[[1.0, 2.0], [1.0, 1.0], [0.5, 3.0]], block_memory=[2.0, 4.0],
            device_memory=[3.0, 4.0, 4.0], spectral_efficiency=[1.0, 4.0, 2.0], gradient_bits=8.0,
            bandwidth_hz=2.0, name="x", source="mine.json")


def family(**kwargs) -> Instance:
    return Instance.from_arrays(**dict(BASE, **kwargs))


@pytest.mark.parametrize("path", sorted(p for f in PAPER_FOLDERS for p in (REPO / "instances" / f).glob("*.json")),
                         ids=lambda p: p.name)
def test_v1_files_round_trip_byte_for_byte(tmp_path, path):
    inst = load_instance(path)
    assert inst.paper_model and inst.family == frozenset() and isinstance(inst.gradient_bits, float)
    save_instance(inst, tmp_path / "x.json")
    assert (tmp_path / "x.json").read_bytes() == path.read_bytes()
    assert inst.to_dict() == json.loads(path.read_text())


@st.composite
def family_instances(draw):
    K, M = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    value = st.one_of(st.just(0.0), st.floats(1e-3, 4.0))
    tcp = np.cumsum(draw(st.lists(st.lists(value, min_size=M, max_size=M), min_size=K, max_size=K)), axis=1)
    mu = np.sort(draw(st.lists(value, min_size=M, max_size=M)))
    cap = draw(st.lists(value, min_size=K, max_size=K))
    rate = draw(st.lists(st.floats(0.1, 8.0), min_size=K, max_size=K))
    bits = draw(st.one_of(st.floats(1.0, 1e6), st.lists(st.floats(1.0, 1e6), min_size=M, max_size=M)))
    most = draw(st.one_of(st.none(), st.lists(st.integers(1, 6), min_size=K, max_size=K)))
    return Instance.from_arrays(tcp, mu, cap, rate, bits, draw(st.floats(1.0, 1e8)), name="h", device_max_blocks=most)


@settings(max_examples=60, deadline=None)
@given(family_instances())
def test_family_file_round_trip(tmp_path_factory, instance):
    path = tmp_path_factory.mktemp("rt2") / "x.json"
    save_instance(instance, path)
    again = load_instance(path)
    data = json.loads(path.read_text())
    assert data["format"] == (FORMAT if instance.paper_model else FORMAT_V2)
    assert ("device_max_blocks" in data) == (not instance.single_block)
    assert isinstance(data["gradient_bits"], float if instance.uniform_bits else list)
    assert again.to_dict() == instance.to_dict() == data
    for name in ("compute_latency", "block_memory", "device_memory", "spectral_efficiency", "device_max_blocks",
                 "block_bits"):
        assert np.array_equal(getattr(again, name), getattr(instance, name))
    assert again.family == instance.family
    save_instance(again, path.with_name("y.json"))
    assert path.with_name("y.json").read_bytes() == path.read_bytes()


def test_family_property_and_field_types():
    paper = family()
    assert paper.family == frozenset() and paper.paper_model and paper.uniform_bits and paper.single_block
    assert isinstance(paper.gradient_bits, float)
    assert paper.device_max_blocks.dtype == np.int64 and paper.device_max_blocks.tolist() == [1, 1, 1]
    g1 = family(gradient_bits=[8.0, 2.0])
    assert g1.family == frozenset({"G1"}) and not g1.uniform_bits and g1.single_block and not g1.paper_model
    assert isinstance(g1.gradient_bits, np.ndarray) and g1.gradient_bits.dtype == float
    assert g1.gradient_bits.tolist() == [8.0, 2.0] and g1.to_dict()["format"] == FORMAT_V2
    g2 = family(device_max_blocks=[2, 1, 3])
    assert g2.family == frozenset({"G2"}) and g2.uniform_bits and not g2.single_block
    assert g2.gradient_bits == 8.0 and g2.device_max_blocks.tolist() == [2, 1, 3]
    both = family(gradient_bits=np.array([8.0, 2.0]), device_max_blocks=np.array([2, 1, 3]))
    assert both.family == frozenset({"G1", "G2"})
    for inst in (paper, g1, g2, both):
        assert inst.block_bits.shape == (2,)
        for name in ("block_bits", "device_max_blocks"):
            with pytest.raises(ValueError):
                getattr(inst, name)[0] = 5
    with pytest.raises(ValueError):
        g1.gradient_bits[0] = 1.0


def test_equal_sizes_and_unit_counts_are_the_paper_model():
    """M equal D_m are normalised to the scalar D, c_k = 1 everywhere to the default: the paper's model, v1."""
    inst = family(gradient_bits=[8.0, 8.0], device_max_blocks=[1, 1, 1])
    assert inst.gradient_bits == 8.0 and isinstance(inst.gradient_bits, float) and inst.paper_model
    assert inst.to_dict() == family().to_dict() and inst.to_dict()["format"] == FORMAT
    data = dict(family().to_dict(), format=FORMAT_V2, gradient_bits=[8.0, 8.0], device_max_blocks=[1, 1, 1])
    assert Instance.from_dict(data).to_dict()["format"] == FORMAT       # a v2 file of the paper's model


def test_block_quantities_match_the_paper_ones_on_one_size():
    inst = family()
    np.testing.assert_array_equal(inst.block_upload_equal_s, np.repeat(inst.upload_equal_s[:, None], 2, axis=1))
    np.testing.assert_array_equal(inst.block_upload_full_s, np.repeat(inst.upload_full_s[:, None], 2, axis=1))
    np.testing.assert_array_equal(inst.block_comm_coef, np.repeat(inst.comm_coef[:, None], 2, axis=1))
    np.testing.assert_array_equal(inst.p1_cost(), np.where(inst.memory_ok, inst.compute_latency
                                                           + inst.upload_equal_s[:, None], np.inf))
    g2 = family(device_max_blocks=[2, 2, 2])     # G2 alone keeps the per-device quantities
    np.testing.assert_array_equal(g2.upload_equal_s, inst.upload_equal_s)


def test_block_quantities_by_hand_and_old_ones_refused_on_g1():
    inst = family(gradient_bits=[8.0, 2.0])          # M = 2, B = 2, R = 1, 4, 2
    assert inst.block_bits.tolist() == [8.0, 2.0]
    assert inst.block_upload_equal_s.tolist() == [[8.0, 2.0], [2.0, 0.5], [4.0, 1.0]]    # D_m M / (B R_k)
    assert inst.block_upload_full_s.tolist() == [[4.0, 1.0], [1.0, 0.25], [2.0, 0.5]]    # D_m / (R_k B)
    assert inst.block_comm_coef.tolist() == [[8.0, 2.0], [2.0, 0.5], [4.0, 1.0]]         # D_m / R_k
    cost = inst.p1_cost()
    assert cost.tolist() == [[9.0, np.inf], [3.0, 1.5], [4.5, 4.0]]   # rows need not be non-decreasing under G1
    for name in ("upload_equal_s", "upload_full_s", "comm_coef"):
        with pytest.raises(ValueError, match=rf"Instance\.{name} needs one gradient size D.*G1.*block_"):
            getattr(inst, name)


def test_k_below_m_with_several_blocks_is_valid():
    inst = Instance.from_arrays([[1.0, 2.0, 3.0]], [1.0, 2.0, 3.0], [3.0], [1.0], [1.0, 2.0, 3.0], 1.0,
                                device_max_blocks=[3])
    assert inst.K < inst.M and inst.family == frozenset({"G1", "G2"})


#: (keyword arguments, field and index named, words of the reason): one per kind of defect
FAMILY_ERRORS = [
    (dict(gradient_bits=[8.0]), "gradient_bits", "has 1 entries but there are 2 blocks"),
    (dict(gradient_bits=[8.0, 2.0, 1.0]), "gradient_bits", "has 3 entries but there are 2 blocks"),
    (dict(gradient_bits=[8.0, "2"]), "gradient_bits[1]", "must be a number, got '2'"),
    (dict(gradient_bits=[True, 2.0]), "gradient_bits[0]", "must be a number, got True"),
    (dict(gradient_bits=[8.0, None]), "gradient_bits[1]", "must be a number, got None"),
    (dict(gradient_bits=[[8.0, 2.0]]), "gradient_bits[0]", "flat list"),
    (dict(gradient_bits=[8.0, float("nan")]), "gradient_bits[1]", "must be finite, got nan"),
    (dict(gradient_bits=[8.0, float("inf")]), "gradient_bits[1]", "must be finite, got inf"),
    (dict(gradient_bits=[8.0, 0.0]), "gradient_bits[1]", "must be positive, got 0.0"),
    (dict(gradient_bits=[8.0, 1e61]), "gradient_bits[1]", "above the accepted maximum 1e+60 bits"),
    (dict(gradient_bits=[1e-61, 8.0]), "gradient_bits[0]", "below the accepted minimum 1e-60 bits"),
    (dict(gradient_bits=[8.0, 10**400]), "gradient_bits[1]", "too large for a float"),
    (dict(device_max_blocks=[1, 1]), "device_max_blocks", "has 2 entries but there are 3 devices"),
    (dict(device_max_blocks=2), "device_max_blocks", "must be a list of 3 integers"),
    (dict(device_max_blocks=np.ones((3, 1), dtype=int)), "device_max_blocks", "2-dimensional"),
    (dict(device_max_blocks=[1, 1.5, 1]), "device_max_blocks[1]", "must be an integer (a number of blocks), got 1.5"),
    (dict(device_max_blocks=[1, 1, 2.0]), "device_max_blocks[2]", "must be an integer (a number of blocks), got 2.0"),
    (dict(device_max_blocks=[True, 1, 1]), "device_max_blocks[0]", "got True"),
    (dict(device_max_blocks=[1, "2", 1]), "device_max_blocks[1]", "got '2'"),
    (dict(device_max_blocks=[1, 1, float("nan")]), "device_max_blocks[2]", "got nan"),
    (dict(device_max_blocks=[1, 0, 1]), "device_max_blocks[1]", "must be at least 1"),
    (dict(device_max_blocks=[1, -3, 1]), "device_max_blocks[1]", "must be at least 1"),
    (dict(device_max_blocks=[1, 1, MAX_BLOCKS_PER_DEVICE + 1]), "device_max_blocks[2]", "must be at most 1000000"),
    (dict(gradient_bits=[1e45, 1.0], bandwidth_hz=1e-45), "spectral_efficiency[0]",
     "gives block 0 a P1 upload time D_m*M/(B*R_k) (band split equally)"),
    (dict(gradient_bits=[1.0, 1e-45], bandwidth_hz=1e45), "spectral_efficiency[0]",
     "gives block 1 a P2 upload time D_m/(R_k*B) (whole band)"),
    (dict(gradient_bits=[1.0, 4e59], bandwidth_hz=1.0, compute_latency=[[1.0, 9e59], [1.0, 1.0], [0.5, 3.0]],
          spectral_efficiency=[1.0, 4.0, 4.0]), "compute_latency[0][1]", "P1 cost tcp + D_m*M/(B*R_k)"),
    (dict(gradient_bits=[3e59, 2.9e59], bandwidth_hz=1.0, spectral_efficiency=[1.0, 1.0, 4.0],
          device_max_blocks=[1, 2, 1]), "device_max_blocks[1]", "the upload of all blocks (sum_m D_m)*M/(B*R_k)"),
]


@pytest.mark.parametrize("kwargs, where, reason", FAMILY_ERRORS, ids=[f"{w}:{r[:30]}" for _, w, r in FAMILY_ERRORS])
def test_family_field_errors_name_file_field_and_index(kwargs, where, reason):
    with pytest.raises(InstanceError) as err:
        family(**kwargs)
    message = str(err.value)
    assert message.startswith(f"mine.json: field '{where}': "), message
    assert reason in message and "\n" not in message, message
    assert err.value.source == "mine.json"


@pytest.mark.parametrize("extra, field", [(dict(gradient_bits=[8.0, 2.0]), "gradient_bits"),
                                          (dict(device_max_blocks=[2, 1, 1]), "device_max_blocks")])
def test_v1_with_family_fields_needs_v2(extra, field):
    data = dict(family().to_dict(), **extra)
    assert data["format"] == FORMAT
    with pytest.raises(InstanceError, match=rf"^d\.json: field '{field}': .*needs format deft-instance/2"):
        Instance.from_dict(data, source="d.json")
    Instance.from_dict(dict(data, format=FORMAT_V2), source="d.json")          # fine as v2


@pytest.mark.parametrize("value, words", [(None, "got null"), (2, "got the number 2"), ("2", "got the string '2'")])
def test_v2_device_max_blocks_must_be_a_list(value, words):
    data = dict(family().to_dict(), format=FORMAT_V2, device_max_blocks=value)
    with pytest.raises(InstanceError, match=rf"^d\.json: field 'device_max_blocks': must be a list .*{words}"):
        Instance.from_dict(data, source="d.json")


def test_v2_unknown_field_and_bad_format_are_named():
    data = dict(family().to_dict(), format=FORMAT_V2, colour="red")
    with pytest.raises(InstanceError, match=r"field 'colour': is not a field of deft-instance/2"):
        Instance.from_dict(data, source="d.json")
    with pytest.raises(InstanceError, match=r"field 'format': must be 'deft-instance/1' or 'deft-instance/2'"):
        Instance.from_dict(dict(family().to_dict(), format="deft-instance/3"), source="d.json")
    with pytest.raises(InstanceError, match=r"field 'gradient_bits\[1\]': must be a number, got '2'"):
        Instance.from_dict(dict(family().to_dict(), format=FORMAT_V2, gradient_bits=[1.0, "2"]), source="d.json")
