"""Paper tables and plots from harness rows (python -m validation.report).

Oracle: a small hand-made set of rows whose every statistic is computed by hand
in the comments below; plus one end-to-end run on rows that validation.compare
writes for instances/tiny.
"""
from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from validation import compare
from validation.compare import JSON_FIELDS, ROW_FIELDS
from validation.report import (
    BOOTSTRAP_SEED,
    EXIT_OK,
    EXIT_UNUSABLE,
    analyse,
    bootstrap_mean_ci,
    ecdf,
    load_rows,
    load_runs,
    main,
    prepare,
    profile_rho,
    report,
    time_ratios,
)

ROOT = Path(__file__).resolve().parents[1]


def row(instance, solver, status, objective_s, gap, seconds, problem="P1", certified=None, bound_s=None):
    out = dict.fromkeys(ROW_FIELDS)
    out.update(instance=instance, problem=problem, solver=solver, status=status, objective_s=objective_s,
               bound_s=bound_s, gap=gap, seconds=seconds, message="", certified=certified)
    if certified:
        out["certificate"] = {"kind": "hall", "blocks": [0], "devices": []}
        out["assignment"] = [0]
    return out


# P1, methods A (exact), B, C; instance i4 has no proven optimum (A hit the time limit).
#   i1: A 1.0 (0.1 s)   B 1.1 (0.01 s)   C 1.0 + 1e-12 (0.02 s)  -> A ties C
#   i2: A 2.0 (0.2 s)   B 2.5 (0.05 s)   C no_solution (0.001 s)
#   i3: A 4.0 (0.4 s)   B 4.4 (0.8 s)    C 6.0 (0.1 s)
#   i4: A 3.0 tl (1 s)  B 3.3 (0.5 s)    C error (0 s)
HAND_ROWS = [
    row("i1", "A", "optimal", 1.0, 0.0, 0.1, certified=True, bound_s=1.0),
    row("i1", "B", "feasible", 1.1, 0.1, 0.01),
    row("i1", "C", "feasible", 1.0 + 1e-12, 1e-12, 0.02),
    row("i2", "A", "optimal", 2.0, 0.0, 0.2, certified=True, bound_s=2.0),
    row("i2", "B", "feasible", 2.5, 0.25, 0.05),
    row("i2", "C", "no_solution", None, None, 0.001),
    row("i3", "A", "optimal", 4.0, 0.0, 0.4, certified=True, bound_s=4.0),
    row("i3", "B", "feasible", 4.4, 0.1, 0.8),
    row("i3", "C", "feasible", 6.0, 0.5, 0.1),
    row("i4", "A", "time_limit", 3.0, None, 1.0, bound_s=2.5),
    row("i4", "B", "feasible", 3.3, None, 0.5),
    row("i4", "C", "error", None, None, 0.0),
    # P2 on one instance: an exact optimum and a lower bound (not a solution)
    row("i1", "A", "optimal", 0.8, 0.0, 0.01, problem="P2", certified=True, bound_s=0.8),
    row("i1", "R", "bound", None, None, 0.02, problem="P2", bound_s=0.7),
    # an unusable instance file, as the harness writes it
    {**dict.fromkeys(ROW_FIELDS), "instance": "broken.json", "problem": "-", "solver": "-", "status": "error",
     "message": "broken.json: invalid JSON"},
]


def write_json(path: Path, rows: list[dict]) -> Path:
    path.write_text(json.dumps({"rows": rows, "summary": {}}), encoding="utf-8")
    return path


def write_csv(path: Path, rows: list[dict]) -> Path:
    """As validation.compare's CsvWriter: header ROW_FIELDS, list/object fields as JSON text."""
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=ROW_FIELDS, lineterminator="\n")
        writer.writeheader()
        for r in rows:
            writer.writerow({k: (json.dumps(v) if k in JSON_FIELDS and v is not None else v) for k, v in r.items()})
    return path


def method(methods: pd.DataFrame, solver: str, problem: str = "P1", run: str | None = None) -> pd.Series:
    sel = (methods["solver"] == solver) & (methods["problem"] == problem)
    if run is not None:
        sel &= methods["run"] == run
    (index,) = np.flatnonzero(sel)
    return methods.iloc[index]


@pytest.fixture(scope="module")
def hand(tmp_path_factory):
    """The hand rows as JSON, reported once: (frames, output folder)."""
    tmp = tmp_path_factory.mktemp("hand")
    frames = report([write_json(tmp / "hand.json", HAND_ROWS)], tmp / "out")
    return frames, tmp / "out"


# --------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------
def test_json_and_csv_load_the_same_rows(tmp_path):
    a = load_rows(write_json(tmp_path / "r.json", HAND_ROWS))
    b = load_rows(write_csv(tmp_path / "r.csv", HAND_ROWS))
    assert list(a.columns) == list(ROW_FIELDS) == list(b.columns)
    pd.testing.assert_frame_equal(a[["objective_s", "bound_s", "gap", "seconds"]],
                                  b[["objective_s", "bound_s", "gap", "seconds"]])
    assert a["certified"].tolist() == b["certified"].tolist()
    assert a["certified"].isna().sum() == len(HAND_ROWS) - 4
    assert b.loc[0, "certificate"] == {"kind": "hall", "blocks": [0], "devices": []}
    assert b.loc[0, "assignment"] == [0]
    assert a["status"].tolist() == b["status"].tolist()


def test_rows_without_certified_keys_are_accepted(tmp_path):
    old = [{k: v for k, v in r.items() if k not in ("certified", "certificate")} for r in HAND_ROWS]
    frames = analyse(load_runs([write_json(tmp_path / "old.json", old)]))
    a = method(frames["methods"], "A")
    assert (a["optimal"], a["certified"]) == (3, 0)


def test_unusable_instance_rows_are_counted_and_left_out(hand):
    frames, _ = hand
    inputs = frames["inputs"].iloc[0]
    assert (inputs["rows"], inputs["usable_rows"], inputs["unusable_rows"], inputs["instances"]) == (15, 14, 1, 4)
    assert "-" not in set(frames["methods"]["problem"])


# --------------------------------------------------------------------------------------
# Numbers, against the hand computation
# --------------------------------------------------------------------------------------
def test_counts(hand):
    methods = hand[0]["methods"]
    got = {s: tuple(method(methods, s)[["runs", "solved", "optimal", "certified", "gap_runs"]]) for s in "ABC"}
    # A: 3 optimal + time_limit with objective; C: solved i1, i3 only
    assert got == {"A": (4, 4, 3, 3, 3), "B": (4, 4, 0, 0, 3), "C": (4, 2, 0, 0, 2)}
    r = method(methods, "R", "P2")
    assert (r["runs"], r["solved"], r["gap_runs"]) == (1, 0, 0) and math.isnan(r["mean_gap"])


def test_gap_statistics(hand):
    methods = hand[0]["methods"]
    b = method(methods, "B")
    # gaps 0.1, 0.25, 0.1: sorted 0.1 0.1 0.25; p90 at position 0.9 * 2 = 1.8 -> 0.1 + 0.8 * 0.15
    assert b["mean_gap"] == pytest.approx(0.15)
    assert b["median_gap"] == pytest.approx(0.1)
    assert b["p90_gap"] == pytest.approx(0.22)
    assert b["max_gap"] == pytest.approx(0.25)
    c = method(methods, "C")
    # gaps 1e-12, 0.5: p90 = 1e-12 + 0.9 * (0.5 - 1e-12)
    assert (c["mean_gap"], c["median_gap"], c["p90_gap"], c["max_gap"]) == pytest.approx((0.25, 0.25, 0.45, 0.5))
    a = method(methods, "A")
    assert (a["mean_gap"], a["ci95_low"], a["ci95_high"], a["max_gap"]) == (0.0, 0.0, 0.0, 0.0)


def test_times(hand):
    methods = hand[0]["methods"]
    # A: 0.1 0.2 0.4 1.0; B: 0.01 0.05 0.5 0.8; C: 0 0.001 0.02 0.1
    assert tuple(method(methods, "A")[["median_s", "total_s"]]) == pytest.approx((0.3, 1.7))
    assert tuple(method(methods, "B")[["median_s", "total_s"]]) == pytest.approx((0.275, 1.36))
    assert tuple(method(methods, "C")[["median_s", "total_s"]]) == pytest.approx((0.0105, 0.121))


def test_bootstrap_ci_contains_the_mean_and_is_deterministic(hand):
    b = method(hand[0]["methods"], "B")
    gaps = [0.1, 0.25, 0.1]
    assert bootstrap_mean_ci(gaps) == (b["ci95_low"], b["ci95_high"])        # the table's interval
    assert bootstrap_mean_ci(gaps) == bootstrap_mean_ci(gaps, seed=BOOTSTRAP_SEED)
    assert b["ci95_low"] <= b["mean_gap"] <= b["ci95_high"]
    # resample means of three values lie in [min, max]; with 10,000 draws both ends are reached
    assert (b["ci95_low"], b["ci95_high"]) == pytest.approx((0.1, 0.25))
    rng = np.random.default_rng(1)
    values = rng.exponential(0.05, size=40)
    low, high = bootstrap_mean_ci(values)
    assert low < values.mean() < high
    assert bootstrap_mean_ci(values) == (low, high)
    assert bootstrap_mean_ci(values, seed=BOOTSTRAP_SEED + 1) != (low, high)
    # the standard error of the mean is about std / sqrt(n): the 95 % interval spans about 4 of them
    assert high - low == pytest.approx(2 * 1.96 * values.std() / math.sqrt(values.size), rel=0.2)


def test_wins_ties_losses(hand):
    frames = hand[0]
    wins = frames["wins"].set_index(["solver", "opponent"])

    def pick(a, b):
        return tuple(wins.loc[(a, b), ["instances", "wins", "ties", "losses"]])

    assert pick("A", "B") == (4, 4, 0, 0)       # 1<1.1, 2<2.5, 4<4.4, 3<3.3
    assert pick("A", "C") == (2, 1, 1, 0)       # i1 within 1e-9 relative: tie; i3 4 < 6
    assert pick("B", "C") == (2, 1, 0, 1)       # i1 1.1 > 1.0; i3 4.4 < 6
    assert pick("C", "A") == (2, 0, 1, 1)
    matrix = frames["wins_P1"].set_index("method")
    assert matrix.loc["A", "B"] == "4/0/0" and matrix.loc["C", "A"] == "0/1/1" and matrix.loc["A", "A"] == "-"
    assert frames["wins_P2"].set_index("method").loc["A", "R"] == "0/0/0"   # a bound is no solution


def test_performance_profile(hand):
    rows = prepare(load_rows(write_json(Path(hand[1]) / "again.json", HAND_ROWS)))
    ratios = time_ratios(rows, "P1")
    # best times 0.01, 0.05, 0.1, 0.5 (C unsolved on i2, i4)
    expected = pd.DataFrame({"A": [10.0, 4.0, 4.0, 2.0], "B": [1.0, 1.0, 8.0, 1.0], "C": [2.0, np.inf, 1.0, np.inf]},
                            index=["i1", "i2", "i3", "i4"])
    np.testing.assert_allclose(ratios.to_numpy(), expected.to_numpy())
    assert list(ratios.index) == ["i1", "i2", "i3", "i4"]
    rho = profile_rho(ratios, [1, 2, 4, 8, 10, 1e6])
    assert rho["A"].tolist() == [0.0, 0.25, 0.75, 0.75, 1.0, 1.0]
    assert rho["B"].tolist() == [0.75, 0.75, 0.75, 1.0, 1.0, 1.0]
    assert rho["C"].tolist() == [0.25, 0.5, 0.5, 0.5, 0.5, 0.5]
    table = hand[0]["time_profile"].set_index(["problem", "solver"])
    assert tuple(table.loc[("P1", "C"), ["instances", "solved", "rho(1)", "rho(2)", "rho(100)"]]) == (4, 2, 0.25, 0.5, 0.5)
    assert table.loc[("P2", "A"), "rho(1)"] == 1.0 and table.loc[("P2", "R"), "rho(100)"] == 0.0


def test_ecdf():
    gaps = [0.1, 0.25, 0.1]
    assert ecdf(gaps, [0.0, 0.1, 0.2, 0.25, 1.0]).tolist() == pytest.approx([0, 2 / 3, 2 / 3, 1, 1])
    assert ecdf([0.0, 0.0, 0.3], [0.0]).tolist() == pytest.approx([2 / 3])   # zeros counted at 0
    assert np.isnan(ecdf([], [0.1])).all()


# --------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------
def test_files(hand):
    _, out = hand
    for name in ("inputs", "methods", "wins", "wins_P1", "wins_P2", "time_profile"):
        md, tex, table = (out / f"{name}{s}" for s in (".md", ".tex", ".csv"))
        assert md.read_text().startswith("**Table:") and "| --- " not in md.read_text()
        text = tex.read_text()
        for needle in (r"\toprule", r"\midrule", r"\bottomrule", r"\caption{", rf"\label{{tab:{name}}}"):
            assert needle in text, (name, needle)
        assert pd.read_csv(table).shape[0] > 0
    tex = (out / "methods.tex").read_text()
    assert r"median\_s" in tex and "median_s" not in tex.replace(r"median\_s", "")
    assert f"seed {BOOTSTRAP_SEED}" in tex and "10,000 resamples" in tex
    assert f"seed {BOOTSTRAP_SEED}" in (out / "methods.md").read_text()
    methods = pd.read_csv(out / "methods.csv")
    assert methods.loc[methods["solver"] == "B", "mean_gap"].iloc[0] == pytest.approx(0.15)   # fractions in CSV
    assert "15%" in (out / "methods.md").read_text()                                         # percent in text
    for stem in ("profile_time_P1", "profile_time_P2", "gap_ecdf_P1", "gap_ecdf_P2"):
        for suffix in (".png", ".pdf"):
            assert (out / f"{stem}{suffix}").stat().st_size > 1000
    assert (out / "profile_time_P1.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "profile_time_P1.pdf").read_bytes()[:4] == b"%PDF"
    assert not (out / "side_by_side.csv").exists()   # one run only


def test_two_runs_side_by_side(tmp_path):
    # run "new": B improved to the optimum on i2 (gaps 0.1, 0, 0.1), csv format
    better = [dict(r, objective_s=2.0, gap=0.0) if (r["instance"], r["solver"], r["problem"]) == ("i2", "B", "P1")
              else r for r in HAND_ROWS]
    paths = [write_json(tmp_path / "old.json", HAND_ROWS), write_csv(tmp_path / "new.csv", better)]
    frames = report(paths, tmp_path / "out")
    side = frames["side_by_side"].set_index(["problem", "solver"])
    assert side.loc[("P1", "B"), "mean_gap [old]"] == pytest.approx(0.15)
    assert side.loc[("P1", "B"), "mean_gap [new]"] == pytest.approx(0.2 / 3)
    assert side.loc[("P1", "B"), "gap_runs [new]"] == 3
    assert side.loc[("P1", "A"), "median_s [new]"] == pytest.approx(0.3)
    assert set(frames["methods"]["run"]) == {"old", "new"}
    assert (tmp_path / "out" / "side_by_side.tex").read_text().count(r"\toprule") == 1
    # every (run, method) is a competitor: B new ties A new on i2 where B old lost
    wins = frames["wins"].set_index(["run", "solver", "opponent_run", "opponent"])
    assert tuple(wins.loc[("new", "B", "old", "B"), ["wins", "ties", "losses"]]) == (1, 3, 0)
    assert tuple(wins.loc[("new", "A", "new", "B"), ["wins", "ties", "losses"]]) == (3, 1, 0)
    assert frames["time_profile"]["run"].tolist().count("new") == 5   # A, B, C (P1) and A, R (P2)
    labelled = analyse(load_runs(paths, labels=["v1", "v2"]))
    assert "mean_gap [v2]" in labelled["side_by_side"].columns


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------
def run_main(argv):
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_bad_inputs_are_named_and_the_others_reported(tmp_path):
    good = write_json(tmp_path / "good.json", HAND_ROWS)
    missing = tmp_path / "missing.json"
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"rows": [', encoding="utf-8")
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("instance,problem,solver\ni1,P1,A\n", encoding="utf-8")
    code, out, err = run_main([good, missing, bad_json, bad_csv, "--out", tmp_path / "out"])
    assert code == EXIT_UNUSABLE
    lines = err.strip().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(str(missing)) and "no such file" in lines[0]
    assert lines[1].startswith(str(bad_json)) and "invalid JSON" in lines[1]
    assert lines[2].startswith(str(bad_csv)) and "lacks the column(s) status, objective_s, gap, seconds" in lines[2]
    assert "good" in out and "UNUSABLE" in out
    methods = pd.read_csv(tmp_path / "out" / "methods.csv")
    assert set(methods["run"]) == {"good"} and len(methods) == 5   # A, B, C (P1), A, R (P2)
    inputs = pd.read_csv(tmp_path / "out" / "inputs.csv")
    assert inputs["error"].notna().tolist() == [False, True, True, True]


def test_bad_values_and_wrong_shapes(tmp_path):
    no_rows = tmp_path / "summary.json"
    no_rows.write_text('{"summary": {}}', encoding="utf-8")
    lacking = write_json(tmp_path / "lacking.json", [{"instance": "i1", "problem": "P1"}])
    text_number = write_json(tmp_path / "text.json", [dict(HAND_ROWS[0], gap="small")])
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    code, _, err = run_main([no_rows, lacking, text_number, empty, "--out", tmp_path / "out"])
    assert code == EXIT_UNUSABLE
    lines = err.strip().splitlines()
    assert 'no "rows" list' in lines[0]
    assert "row 0 lacks the key(s) solver, status" in lines[1]
    assert "row 0, column gap: not a number: 'small'" in lines[2]
    assert lines[3].startswith(str(empty)) and "empty" in lines[3]


def test_good_input_exit_0_help_version(tmp_path, capsys):
    code, out, err = run_main([write_csv(tmp_path / "r.csv", HAND_ROWS), "--out", tmp_path / "out"])
    assert (code, err) == (EXIT_OK, "")
    assert "P1" in out and "wrote" in out
    for flag in ("--help", "--version"):
        with pytest.raises(SystemExit) as stop:
            main([flag])
        assert stop.value.code == 0
    text = capsys.readouterr().out
    assert "exit status" in text.lower() and "--label" in text
    assert "0.1.0" in text or "unknown" in text
    with pytest.raises(SystemExit) as stop:     # one label for two files
        main([str(tmp_path / "r.csv"), str(tmp_path / "r.csv"), "--label", "x", "--out", str(tmp_path / "o")])
    assert stop.value.code == 2


# --------------------------------------------------------------------------------------
# End to end: rows from the harness
# --------------------------------------------------------------------------------------
def test_end_to_end_on_compare_rows(tmp_path):
    args = [str(ROOT / "instances" / "tiny"), "--solvers", "crunch,comm-aware,exact,crunch+bandwidth"]
    paths = []
    for fmt in ("json", "csv"):
        path = tmp_path / f"tiny-{fmt}.{fmt}"
        assert compare.main([*args, "--format", fmt, "--output", str(path)], stdout=io.StringIO(),
                            stderr=io.StringIO()) == compare.EXIT_OK
        paths.append(path)
    code, _, err = run_main([*paths, "--out", tmp_path / "out"])
    assert (code, err) == (EXIT_OK, "")
    methods = pd.read_csv(tmp_path / "out" / "methods.csv")
    for run in ("tiny-json", "tiny-csv"):
        crunch = method(methods, "crunch", "P1", run)
        assert tuple(crunch[["runs", "solved", "optimal", "certified", "gap_runs"]]) == (4, 4, 4, 4, 4)
        assert crunch["max_gap"] == 0.0
        exact = method(methods, "exact", "P2", run)
        assert (exact["optimal"], exact["certified"], exact["max_gap"]) == (4, 4, 0.0)
        heuristic = method(methods, "crunch+bandwidth", "P2", run)
        assert heuristic["mean_gap"] >= 0 and heuristic["ci95_low"] <= heuristic["mean_gap"] <= heuristic["ci95_high"]
    # the two formats carry the same rows: same objectives, so every cross-run pair of a method ties
    wins = pd.read_csv(tmp_path / "out" / "wins.csv")
    same = wins[(wins["solver"] == wins["opponent"]) & (wins["run"] != wins["opponent_run"])]
    assert (same["ties"] == same["instances"]).all() and (same["instances"] > 0).any()
    side = pd.read_csv(tmp_path / "out" / "side_by_side.csv")
    np.testing.assert_allclose(side["mean_gap [tiny-json]"], side["mean_gap [tiny-csv]"])
    assert (tmp_path / "out" / "profile_time_P2.png").stat().st_size > 1000


def test_refused_runs_are_counted_as_unsupported_not_solved():
    """A method that refuses an instance (beyond what it solves) is counted apart: not solved, no gap."""
    from validation.report import method_table

    rows = prepare(pd.DataFrame([row("f1", "A", "optimal", 2.0, 0.0, 0.1, certified=True, bound_s=2.0),
                                 row("f1", "C", "unsupported", None, None, 0.0),
                                 row("f2", "C", "feasible", 3.0, 0.5, 0.0)]))
    table = method_table(rows).set_index("solver")
    assert table.loc["C", ["runs", "unsupported", "solved", "gap_runs"]].tolist() == [2, 1, 1, 1]
    assert table.loc["A", "unsupported"] == 0
