"""Malformed instance files are refused with one clear message naming file, field and index.

The corpus is ``tests/data/malformed/*.json`` (one file per kind of defect);
``tests/data/valid/`` holds instances that look suspicious but are valid
(M > K, a memory wall): they load, and every method reports them infeasible.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import solvers
from instances import Instance, InstanceError, load_instance
from instances.core import FLOAT_TINY, VALUE_MAX, VALUE_MIN
from instances.discovery import find_instance_files
from solvers.result import Status
from validation.check import check_result

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
MALFORMED = DATA / "malformed"
VALID = DATA / "valid"

#: file -> (field named in the message, index of the one bad entry or None)
CASES = {
    "truncated.json": ("<json>", None),
    "empty_file.json": ("<json>", None),
    "trailing_garbage.json": ("<json>", None),
    "deeply_nested.json": ("<json>", None),
    "not_utf8.json": ("<file>", None),
    "not_object.json": ("<top level>", None),
    "top_level_string.json": ("<top level>", None),
    "wrong_format_version.json": ("format", None),
    "format_null.json": ("format", None),
    "missing_field.json": ("spectral_efficiency", None),
    "unknown_field.json": ("colour", None),
    "string_latency.json": ("compute_latency", (1, 0)),
    "string_bandwidth.json": ("bandwidth_hz", None),
    "nan_latency.json": ("compute_latency", (1, 1)),
    "nan_bits.json": ("gradient_bits", None),
    "nan_in_meta.json": ("meta", ("note",)),
    "infinity_device_memory.json": ("device_memory", (1,)),
    "overflow_number.json": ("block_memory", (1,)),
    "negative_latency.json": ("compute_latency", (2, 0)),
    "negative_block_memory.json": ("block_memory", (0,)),
    "negative_device_memory.json": ("device_memory", (1,)),
    "zero_spectral_efficiency.json": ("spectral_efficiency", (2,)),
    "zero_bandwidth.json": ("bandwidth_hz", None),
    "negative_bits.json": ("gradient_bits", None),
    "ragged_rows.json": ("compute_latency", (1,)),
    "row_not_list.json": ("compute_latency", (1,)),
    "three_dimensional_latency.json": ("compute_latency", (1, 0)),
    "latency_not_list.json": ("compute_latency", None),
    "device_memory_length.json": ("device_memory", None),
    "spectral_efficiency_length.json": ("spectral_efficiency", None),
    "block_memory_length.json": ("block_memory", None),
    "non_monotone_row.json": ("compute_latency", (1, 1)),
    "non_monotone_block_memory.json": ("block_memory", (1,)),
    "empty_lists.json": ("compute_latency", None),
    "empty_rows.json": ("compute_latency", None),
    "null_device_memory.json": ("device_memory", (1,)),
    "null_bits.json": ("gradient_bits", None),
    "boolean_spectral_efficiency.json": ("spectral_efficiency", (1,)),
    "boolean_bandwidth.json": ("bandwidth_hz", None),
    "name_not_string.json": ("name", None),
    "empty_name.json": ("name", None),
    "meta_not_object.json": ("meta", None),
    "subnormal_spectral_efficiency.json": ("spectral_efficiency", (1,)),
    "subnormal_bandwidth.json": ("bandwidth_hz", None),
    "subnormal_bits.json": ("gradient_bits", None),
    "subnormal_latency.json": ("compute_latency", (2, 0)),
    "overflowing_upload_bits.json": ("gradient_bits", None),
    "overflowing_upload_time.json": ("spectral_efficiency", (0,)),
    "underflowing_upload_time.json": ("spectral_efficiency", (0,)),
    "overflowing_latency_sum.json": ("compute_latency", (1, 0)),
    "overflowing_cost.json": ("compute_latency", (1, 0)),
    "duplicate_key.json": ("bandwidth_hz", None),
    "duplicate_key_in_meta.json": ("meta", ("note",)),
    "huge_integer_latency.json": ("compute_latency", (1, 1)),
    # deft-instance/2: per-block gradient sizes (G1) and device_max_blocks (G2)
    "v1_list_bits.json": ("gradient_bits", None),
    "v1_device_max_blocks.json": ("device_max_blocks", None),
    "bits_list_length.json": ("gradient_bits", None),
    "bits_list_string.json": ("gradient_bits", (0,)),
    "bits_list_negative.json": ("gradient_bits", (1,)),
    "bits_list_nan.json": ("gradient_bits", (1,)),
    "bits_list_too_large.json": ("gradient_bits", (1,)),
    "bits_list_upload_overflow.json": ("spectral_efficiency", (0,)),
    "max_blocks_fraction.json": ("device_max_blocks", (1,)),
    "max_blocks_boolean.json": ("device_max_blocks", (0,)),
    "max_blocks_string.json": ("device_max_blocks", (2,)),
    "max_blocks_zero.json": ("device_max_blocks", (1,)),
    "max_blocks_too_large.json": ("device_max_blocks", (0,)),
    "max_blocks_huge_integer.json": ("device_max_blocks", (1,)),
    "max_blocks_nan.json": ("device_max_blocks", (1,)),
    "max_blocks_length.json": ("device_max_blocks", None),
    "max_blocks_null.json": ("device_max_blocks", None),
    "max_blocks_upload_overflow.json": ("device_max_blocks", (0,)),
}

#: file -> words the message must hold: the reason, for the files outside the
#: accepted domain of ``instances.core`` (subnormal, overflowing, duplicated, huge)
#: and for every defect of the deft-instance/2 fields
REASONS = {
    "subnormal_spectral_efficiency.json": "got 1e-310 (a subnormal float",
    "subnormal_bandwidth.json": "got 1e-310 (a subnormal float",
    "subnormal_bits.json": "got 5e-324 (a subnormal float",
    "subnormal_latency.json": "got 1e-320 (a subnormal float",
    "overflowing_upload_bits.json": "got 1e+300 (above the accepted maximum 1e+60 bits",
    "overflowing_upload_time.json": "P1 upload time D*M/(B*R_k) (band split equally) of 2e+100 s, above the accepted maximum",
    "underflowing_upload_time.json": "P2 upload time D/(R_k*B) (whole band) of 9.999999999999999e-101 s, below the accepted minimum",
    "overflowing_latency_sum.json": "got 1e+308 (above the accepted maximum 1e+60 s",
    "overflowing_cost.json": "P1 cost tcp + D*M/(B*R_k) of 1.35e+60 s, above the accepted maximum",
    "duplicate_key.json": "duplicate key 'bandwidth_hz': it appears 2 times in the top-level object",
    "duplicate_key_in_meta.json": "duplicate key 'note': it appears 2 times in the object 'meta'",
    "huge_integer_latency.json": "is too large for a float: an integer of 401 digits",
    "wrong_format_version.json": "must be 'deft-instance/1' or 'deft-instance/2', got 'deft-instance/3'",
    "v1_list_bits.json": "needs format deft-instance/2",
    "v1_device_max_blocks.json": "needs format deft-instance/2",
    "bits_list_length.json": "has 1 entries but there are 2 blocks",
    "bits_list_string.json": "must be a number, got '786432'",
    "bits_list_negative.json": "must be positive, got -1.0",
    "bits_list_nan.json": "JSON has no NaN",
    "bits_list_too_large.json": "got 1e+61 (above the accepted maximum 1e+60 bits",
    "bits_list_upload_overflow.json": "gives block 1 a P1 upload time D_m*M/(B*R_k) (band split equally) of 2e+61 s",
    "max_blocks_fraction.json": "must be an integer (a number of blocks), got 1.5",
    "max_blocks_boolean.json": "must be an integer (a number of blocks), got True",
    "max_blocks_string.json": "must be an integer (a number of blocks), got '2'",
    "max_blocks_zero.json": "must be at least 1",
    "max_blocks_too_large.json": "must be at most 1000000",
    "max_blocks_huge_integer.json": "must be at most 1000000 (the largest accepted number of blocks per device; "
                                    "any c_k >= M already means no limit), got an integer of 400 digits",
    "max_blocks_nan.json": "JSON has no NaN",
    "max_blocks_length.json": "has 2 entries but there are 3 devices",
    "max_blocks_null.json": "must be a list of integers (one per device), got null",
    "max_blocks_upload_overflow.json": "the upload of all blocks (sum_m D_m)*M/(B*R_k) is 1.6e+60 s, above the "
                                       "accepted maximum",
}


def test_corpus_is_complete():
    """Every file of the corpus has an expected outcome, and vice versa."""
    on_disk = {p.name for p in MALFORMED.glob("*.json")}
    assert on_disk == set(CASES)
    assert len(CASES) >= 15


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_file_is_refused(name):
    field, index = CASES[name]
    path = MALFORMED / name
    with pytest.raises(InstanceError) as info:
        load_instance(path)
    exc = info.value
    message = str(exc)
    assert exc.source == str(path)
    assert message.startswith(f"{path}: ")
    assert exc.field == field
    assert exc.index == index
    where = field + ("".join(f"[{i}]" for i in index) if index else "")
    assert f"field '{where}'" in message
    assert "\n" not in message            # one line
    assert "np.float64" not in message    # plain numbers for people


@pytest.mark.parametrize("name", sorted(REASONS))
def test_message_gives_the_reason(name):
    assert name in CASES
    with pytest.raises(InstanceError) as info:
        load_instance(MALFORMED / name)
    assert REASONS[name] in str(info.value)


@pytest.mark.parametrize("name", sorted(CASES))
def test_harness_reports_malformed_file_as_one_row(name):
    """The harness turns each bad file into an error row with the same message, no exception."""
    from validation.compare import EXIT_UNUSABLE, compare_paths

    path = MALFORMED / name
    report = compare_paths([path], problems=["P1"], solvers=["crunch"], time_limit=5)
    assert report.exit_code == EXIT_UNUSABLE
    assert [r["status"] for r in report.rows] == ["error"]
    with pytest.raises(InstanceError) as info:
        load_instance(path)
    assert report.rows[0]["message"] == str(info.value) == report.unusable[0]


def test_missing_file_is_refused():
    path = MALFORMED / "does-not-exist.json"
    with pytest.raises(InstanceError, match=r"does-not-exist\.json: field '<file>': cannot be read"):
        load_instance(path)


@pytest.mark.parametrize("name", ["m_greater_than_k.json", "memory_wall.json"])
def test_infeasible_is_not_invalid(name):
    """M > K and a memory wall load fine; every method says infeasible, with a certificate.

    The benchmarks (heuristics that prove nothing) may instead say ``no_solution``
    when they hit the memory wall; with M > K they too say infeasible.
    """
    inst = load_instance(VALID / name)
    if name.startswith("m_greater"):
        assert inst.M > inst.K
    else:
        # independent check of the wall: no device can hold the deepest block
        assert all(inst.block_memory[-1] > cap for cap in inst.device_memory)
    for (problem, solver) in list(solvers.REGISTRY):
        res = solvers.run(problem, solver, inst, time_limit=10)
        allowed = {Status.INFEASIBLE}
        if solver in ("compute-aware", "comm-aware") and inst.M <= inst.K:
            allowed = {Status.NO_SOLUTION}
        assert res.status in allowed, (problem, solver, res.status, res.message)
        assert res.assignment is None
        assert res.message   # says why
        if res.status == Status.INFEASIBLE:
            assert res.certificate is not None and check_result(inst, res, problem).ok


def test_valid_files_round_trip_through_json():
    for path in VALID.glob("*.json"):
        data = json.loads(path.read_text())
        assert load_instance(path).to_dict() == data


# --------------------------------------------------------------------------------------
# The accepted domain, in memory
# --------------------------------------------------------------------------------------
BASE = dict(compute_latency=[[1.0, 2.0], [1.5, 2.5]], block_memory=[1.0, 2.0], device_memory=[2.0, 2.0],
            spectral_efficiency=[1.0, 2.0], gradient_bits=8.0, bandwidth_hz=4.0, name="x")


@pytest.mark.parametrize("kwargs, where, reason", [
    (dict(spectral_efficiency=[1.0, 1e-310]), "spectral_efficiency[1]", "subnormal"),
    (dict(bandwidth_hz=np.float64(5e-324)), "bandwidth_hz", "subnormal"),
    (dict(gradient_bits=1e300, bandwidth_hz=1e-300), "gradient_bits", "above the accepted maximum"),
    (dict(device_memory=[2.0, 1e-315]), "device_memory[1]", "subnormal"),
    (dict(compute_latency=[[1.0, 2.0], [1.5, 10**400]]), "compute_latency[1][1]", "too large for a float"),
    (dict(spectral_efficiency=[1.0, 10**400]), "spectral_efficiency[1]", "too large for a float"),
    (dict(gradient_bits=10**400), "gradient_bits", "too large for a float"),
    (dict(gradient_bits=1e45, bandwidth_hz=1e-45), "spectral_efficiency[0]", "P1 upload time"),
    # per block (G1) and several blocks per device (G2)
    (dict(gradient_bits=[8.0, 1e-310]), "gradient_bits[1]", "subnormal"),
    (dict(gradient_bits=[8.0, 10**400]), "gradient_bits[1]", "too large for a float"),
    (dict(gradient_bits=[1e45, 1.0], bandwidth_hz=1e-45), "spectral_efficiency[0]",
     "gives block 0 a P1 upload time D_m*M/(B*R_k)"),
    (dict(gradient_bits=[1.0, 1e-45], bandwidth_hz=1e45), "spectral_efficiency[0]",
     "gives block 1 a P2 upload time D_m/(R_k*B) (whole band) of 1e-90 s, below the accepted minimum"),
    (dict(gradient_bits=[1.0, 2.5e59], bandwidth_hz=1.0, compute_latency=[[1.0, 9e59], [1.5, 2.5]]),
     "compute_latency[0][1]", "P1 cost tcp + D_m*M/(B*R_k) of 1.3999999999999999e+60 s"),
    (dict(gradient_bits=4e39, bandwidth_hz=1e-20, spectral_efficiency=[4.0, 1.0], device_max_blocks=[1, 2]),
     "device_max_blocks[1]", "the upload of all blocks (sum_m D_m)*M/(B*R_k) is 1.6"),
    (dict(device_max_blocks=[1, 10**400]), "device_max_blocks[1]", "got an integer of about 10^400"),
])
def test_in_memory_domain_names_field_and_reason(kwargs, where, reason):
    with pytest.raises(InstanceError) as info:
        Instance.from_arrays(**dict(BASE, **kwargs))
    message = str(info.value)
    assert message.startswith(f"<arrays>: field '{where}': ") and reason in message and "\n" not in message


def test_huge_integer_in_a_dict_names_field():
    data = dict(json.loads((VALID / "m_greater_than_k.json").read_text()))
    data["block_memory"] = [1, 10**400]
    with pytest.raises(InstanceError, match=r"^d\.json: field 'block_memory\[1\]': is too large for a float"):
        Instance.from_dict(data, source="d.json")


def test_domain_edges_are_accepted():
    """Zero latency and memory, and every value at either end of the window, are valid."""
    Instance.from_arrays([[0.0, VALUE_MIN], [VALUE_MAX / 2, VALUE_MAX / 2]], [0.0, VALUE_MIN], [0.0, VALUE_MAX],
                         [1.0, 1.0], gradient_bits=1.0, bandwidth_hz=8.0)
    Instance.from_arrays([[1.0]], [1.0], [1.0], [VALUE_MAX], gradient_bits=VALUE_MAX, bandwidth_hz=1.0)
    Instance.from_arrays([[1.0]], [1.0], [1.0], [VALUE_MIN], gradient_bits=VALUE_MIN, bandwidth_hz=1.0)


def test_family_domain_edges_are_accepted():
    """Per-block sizes and block counts at the ends of their ranges are valid; c_k = 1 needs no G2 check."""
    from instances.core import MAX_BLOCKS_PER_DEVICE
    Instance.from_arrays([[1.0, 1.0]], [1.0, 1.0], [1.0], [1.0], gradient_bits=[VALUE_MIN, VALUE_MAX / 2],
                         bandwidth_hz=1.0, device_max_blocks=[MAX_BLOCKS_PER_DEVICE])
    # D M / (B R) = 1e60 for each block; all blocks on one device would be 2e60: refused only with c_k >= 2
    Instance.from_arrays([[0.0, 0.0]], [1.0, 1.0], [1.0], [1.0], 5e59, 1.0, device_max_blocks=[1])
    with pytest.raises(InstanceError, match=r"field 'device_max_blocks\[0\]'"):
        Instance.from_arrays([[0.0, 0.0]], [1.0, 1.0], [1.0], [1.0], 5e59, 1.0, device_max_blocks=[2])


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 4), st.integers(1, 3), st.data())
def test_whatever_family_instance_is_accepted_has_normal_derived_quantities(K, M, data):
    """G1/G2 instances that are accepted have normal per-block uploads and costs, and normal whole-device uploads."""
    zero_or = lambda: st.one_of(st.just(0.0), positive_values())
    steps = data.draw(st.lists(st.lists(zero_or(), min_size=M, max_size=M), min_size=K, max_size=K))
    with np.errstate(over="ignore"):
        tcp = np.cumsum(np.array(steps), axis=1)
    rate = data.draw(st.lists(positive_values(), min_size=K, max_size=K))
    bits = data.draw(st.lists(positive_values(), min_size=M, max_size=M))
    most = data.draw(st.lists(st.integers(1, 3), min_size=K, max_size=K))
    band = data.draw(positive_values())
    try:
        with np.errstate(all="raise"):
            inst = Instance.from_arrays(tcp, np.ones(M), np.ones(K), rate, bits, band, device_max_blocks=most)
    except InstanceError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("<arrays>: field '")
        return
    equal_s, full_s = inst.block_upload_equal_s, inst.block_upload_full_s
    assert _normal(equal_s) and _normal(full_s) and _normal(inst.block_comm_coef)
    assert np.all(equal_s <= VALUE_MAX) and np.all(full_s >= VALUE_MIN)
    assert _normal(inst.compute_latency + equal_s) and np.all(inst.compute_latency + equal_s <= VALUE_MAX)
    several = inst.device_max_blocks >= 2
    every_block_s = inst.block_bits.sum() * M / (inst.bandwidth_hz * inst.spectral_efficiency)
    assert _normal(every_block_s) and np.all(every_block_s[several] <= VALUE_MAX)


def _normal(values) -> bool:
    values = np.asarray(values, dtype=float)
    return bool(np.all(np.isfinite(values)) and np.all(values >= FLOAT_TINY))


#: Decimal exponents of the values drawn by :func:`positive_values`: ordinary ones, the window's
#: ends, and beyond (subnormal, the limits of the normal floats).
ORDINARY_EXPONENTS = st.integers(-8, 8)
EDGE_EXPONENTS = st.sampled_from([-61, -60, -59, -30, 30, 59, 60, 61])
FAR_EXPONENTS = st.sampled_from([-330, -320, -310, -308, -307, -300, -150, 150, 300, 307, 308])


@st.composite
def positive_values(draw):
    """A positive float: ordinary 3 times in 4, near the window's ends 3 in 16, far beyond 1 in 16."""
    kind = draw(st.integers(0, 15))
    exponents = ORDINARY_EXPONENTS if kind < 12 else EDGE_EXPONENTS if kind < 15 else FAR_EXPONENTS
    return draw(st.floats(1.0, 9.99)) * 10.0 ** draw(exponents)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 4), st.integers(1, 3), st.data())
def test_whatever_is_accepted_has_normal_derived_quantities(K, M, data):
    """Accepted instances have finite, normal upload times, costs, M * max cost and threshold weights."""
    zero_or = lambda: st.one_of(st.just(0.0), positive_values())
    steps = data.draw(st.lists(st.lists(zero_or(), min_size=M, max_size=M), min_size=K, max_size=K))
    with np.errstate(over="ignore"):
        tcp = np.cumsum(np.array(steps), axis=1)
    mu = np.sort(np.array(data.draw(st.lists(zero_or(), min_size=M, max_size=M))))
    cap = data.draw(st.lists(zero_or(), min_size=K, max_size=K))
    rate = data.draw(st.lists(positive_values(), min_size=K, max_size=K))
    bits, band = data.draw(positive_values()), data.draw(positive_values())
    try:
        with np.errstate(all="raise"):      # validation itself must not overflow or underflow
            inst = Instance.from_arrays(tcp, mu, cap, rate, bits, band)
    except InstanceError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("<arrays>: field '")
        return
    upload_equal_s, upload_full_s = inst.upload_equal_s, inst.upload_full_s
    assert _normal(upload_equal_s) and _normal(upload_full_s) and _normal(inst.comm_coef)
    assert np.all(upload_equal_s <= VALUE_MAX) and np.all(upload_full_s >= VALUE_MIN)
    cost_s = inst.compute_latency + upload_equal_s[:, None]          # every pair, memory aside
    assert _normal(cost_s) and _normal(cost_s.max() * 2 * (M + 1))
    assert _normal(np.sum(np.sort(cost_s, axis=None)[-M:]))          # a sum over M pairs
    for threshold_s in (2 * float(cost_s.max()), 2 * M * float(cost_s.max())):   # T - t >= every upload
        gap_s = threshold_s - inst.compute_latency
        weights = (inst.comm_coef / inst.bandwidth_hz)[:, None] / gap_s
        assert _normal(weights) and np.all(weights <= 1.0) and _normal(weights.sum())
    checker_s = [bits / ((band / M) * r) for r in inst.spectral_efficiency.tolist()]   # validation.check's form
    assert _normal(checker_s) and all(math.isclose(a, b, rel_tol=1e-12) for a, b in zip(checker_s, upload_equal_s))


# --------------------------------------------------------------------------------------
# Folders: broken symbolic links are named, never skipped
# --------------------------------------------------------------------------------------
def _symlink(link: Path, target: str) -> None:
    try:
        link.symlink_to(target)
    except (OSError, NotImplementedError):
        pytest.skip("symbolic links are not available here")


def test_symlink_loop_and_dangling_link_are_reported(tmp_path):
    good = tmp_path / "good.json"
    good.write_text((VALID / "m_greater_than_k.json").read_text())
    (tmp_path / "sub").mkdir()
    _symlink(tmp_path / "sub" / "loop.json", "loop.json")
    _symlink(tmp_path / "a.json", "b.json")
    _symlink(tmp_path / "b.json", "a.json")
    _symlink(tmp_path / "dangling.json", "missing.json")
    _symlink(tmp_path / "alias.json", "good.json")            # a working link is an instance file
    (tmp_path / "empty").mkdir()
    files, unusable = find_instance_files([tmp_path, tmp_path / "empty"])
    assert files == [tmp_path / "alias.json", good]
    expected = {
        tmp_path / "a.json": "symlink loop", tmp_path / "b.json": "symlink loop",
        tmp_path / "dangling.json": "dangling symbolic link", tmp_path / "sub" / "loop.json": "symlink loop",
    }
    assert [p for p, _ in unusable] == [str(p) for p in sorted(expected)] + [str(tmp_path / "empty")]
    for (path, message), reason in zip(unusable, list(expected.values()) + ["holds no *.json files"]):
        field = "<folder>" if path.endswith("empty") else "<file>"
        assert message.startswith(f"{path}: field '{field}': ") and reason in message and "\n" not in message
    assert "'missing.json' does not exist" in unusable[2][1]

    from validation.compare import EXIT_UNUSABLE, compare_paths
    report = compare_paths([tmp_path], problems=["P1"], solvers=["crunch"], time_limit=5)
    assert report.exit_code == EXIT_UNUSABLE
    assert report.unusable == [m for p, m in unusable if not p.endswith("empty")]
    assert [r["status"] for r in report.rows if r["instance"].endswith("good.json")] == ["infeasible"]


def test_linked_folders_are_searched_and_a_link_back_up_is_a_loop(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "c.json").write_text((VALID / "m_greater_than_k.json").read_text())
    _symlink(tmp_path / "linked", "other")                   # a folder behind a link: searched
    _symlink(tmp_path / "sub" / "up", "..")                   # back to a folder above: a loop, named
    files, unusable = find_instance_files([tmp_path])
    assert files == [tmp_path / "linked" / "c.json", tmp_path / "other" / "c.json"]
    assert [p for p, _ in unusable] == [str(tmp_path / "sub" / "up")]
    assert "symlink loop" in unusable[0][1] and "leads back to a folder that contains it" in unusable[0][1]


def test_cli_names_every_new_defect_and_runs_the_others(tmp_path):
    """One CLI run over the new defects, broken links and a valid file: exit 2, one stderr line each."""
    for name in REASONS:
        (tmp_path / name).write_bytes((MALFORMED / name).read_bytes())
    (tmp_path / "zz_good.json").write_text((VALID / "m_greater_than_k.json").read_text())
    _symlink(tmp_path / "loop.json", "loop.json")
    _symlink(tmp_path / "dangling.json", "nowhere.json")
    proc = subprocess.run([sys.executable, "-m", "validation.compare", str(tmp_path), "--format", "json",
                           "--problems", "P1", "--solvers", "crunch", "--time-limit", "10"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == len(REASONS) + 2
    for name, reason in REASONS.items():
        field, index = CASES[name]
        where = field + "".join(f"[{i}]" for i in index or ())
        assert any(line.startswith(f"{tmp_path / name}: field '{where}': ") and reason in line for line in lines), name
    assert any(line.startswith(f"{tmp_path / 'loop.json'}: field '<file>': symlink loop") for line in lines)
    assert any(line.startswith(f"{tmp_path / 'dangling.json'}: field '<file>': dangling symbolic link")
               for line in lines)
    rows = json.loads(proc.stdout)["rows"]
    assert [r["status"] for r in rows if r["instance"].endswith("zz_good.json")] == ["infeasible"]
