"""Malformed instance files are refused with one clear message naming file, field and index.

The corpus is ``tests/data/malformed/*.json`` (one file per kind of defect);
``tests/data/valid/`` holds instances that look suspicious but are valid
(M > K, a memory wall): they load, and every method reports them infeasible.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import solvers
from instances import InstanceError, load_instance
from solvers.result import Status

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
    """M > K and a memory wall load fine; every registered method says infeasible (or errs not)."""
    inst = load_instance(VALID / name)
    if name.startswith("m_greater"):
        assert inst.M > inst.K
    else:
        # independent check of the wall: no device can hold the deepest block
        assert all(inst.block_memory[-1] > cap for cap in inst.device_memory)
    for (problem, solver) in list(solvers.REGISTRY):
        res = solvers.run(problem, solver, inst, time_limit=10)
        assert res.status == Status.INFEASIBLE, (problem, solver, res.status, res.message)
        assert res.assignment is None
        assert res.message   # says why


def test_valid_files_round_trip_through_json():
    for path in VALID.glob("*.json"):
        data = json.loads(path.read_text())
        assert load_instance(path).to_dict() == data
