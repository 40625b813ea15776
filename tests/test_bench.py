"""The benchmark (validation.bench) and the speed work behind it.

* ``--quick`` writes its files with the documented columns, and the methods it
  compares agree (re-checked here from the CSV, not from its own verdicts).
  No assertion depends on a measured time.
* CRUNCH's closed form (solvers.bottleneck.bottleneck_rows) returns exactly what the
  definition gives -- the least matrix entry at which Proposition 1 holds, and
  assignment_from_counts of the prefix counts there -- on instances with ties,
  memory walls and M > K, also when the matrix is scanned in small slices and
  when fewer than M devices hold the deepest block; and it never builds the
  (K, M) matrix (tracemalloc).
* The P2 oracle's candidate filter keeps a set of M cheapest devices of every block;
  the Newton root of the descent equals the bandwidth equation's root.
* The peers of the bench (bisection + SciPy LSAP) find the exact optimum.
"""
from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys
import tracemalloc
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import solvers
from models.p2 import assignment_weights
from solvers import bottleneck, kernels, p1
from solvers.p2_exact import candidate_devices, weight_rows
from instances.tolerances import EXACT_RTOL, close
from tests.strategies import instances
from validation import bench

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------------------
# python -m validation.bench --quick
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    log = io.StringIO()
    code = bench.main(["--quick", "--out", str(out)], stdout=log)
    return code, out, log.getvalue()


def read_csv(path: Path) -> tuple[list[str], list[dict]]:
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames), list(reader)


def test_quick_run_succeeds_and_writes_every_file(quick_run):
    code, out, log = quick_run
    assert code == 0, log
    for name, columns in (("bench.csv", bench.BENCH_COLUMNS), ("growth.csv", bench.GROWTH_COLUMNS),
                          ("targets.csv", bench.TARGET_COLUMNS)):
        header, rows = read_csv(out / name)
        assert header == list(columns), name
        assert rows, name
    png = (out / "time_vs_K.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    machine = json.loads((out / "machine.json").read_text())
    for key in ("cpu", "logical_cpus", "python", "numpy", "scipy", "highspy (HiGHS)", "SCIP", "command"):
        assert machine[key], key
    assert "all compared objectives agree" in log


def test_quick_run_writes_the_performance_tables(quick_run, capsys):
    """tables.md: the page's tables from this run, the peer's time and ratio in every times table where it
    ran, every target listed; ``python -m validation.bench_tables`` prints the same from the CSV files."""
    from validation import bench_tables

    _, out, _ = quick_run
    text = (out / "tables.md").read_text()
    _, targets = read_csv(out / "targets.csv")
    for t in targets:
        assert f"| {t['target']} |" in text
    sections = dict(part.split("\n", 1) for part in text.split("### ")[1:])
    for title in ("P1, M = 12 (seed 0, s)", "P2, M = 12 (seed 0, s)"):
        header = sections[title].strip().splitlines()[0]
        assert "| peer |" in header and "| peer / " in header, header
    assert "| 20 | 0 |" in sections["Dual ascent against exact (M = 12, s; gap = objective / exact optimum - 1)"]
    assert "| P1 | 50 | 12 |" in sections["The batch API"]
    assert bench_tables.main([str(out)]) == 0
    assert capsys.readouterr().out == text
    assert bench_tables.main([str(out / "missing")]) == 2
    assert "No such file" in capsys.readouterr().err


def test_quick_run_methods_agree(quick_run):
    """Recompute the agreement from the CSV: exact methods equal, heuristics never below the optimum."""
    _, out, _ = quick_run
    _, rows = read_csv(out / "bench.csv")
    groups = defaultdict(list)
    for r in rows:
        groups[(r["problem"], r["scenario"], r["K"], r["M"], r["seed"])].append(r)
    compared = 0
    for key, group in groups.items():
        problem = key[0]
        optimal = [float(r["objective_s"]) for r in group
                   if r["method"] in solvers.EXACT[problem] and r["status"] == "optimal"]
        assert optimal, key                                   # every size has an exact answer
        for value in optimal:
            assert close(value, optimal[0], EXACT_RTOL), (key, optimal)
        compared += len(optimal) - 1
        for r in group:
            assert r["status"] != "error", r
            assert r["objectives_agree"] != "False", r
            if r["objective_s"]:
                assert float(r["objective_s"]) >= optimal[0] * (1 - EXACT_RTOL), r
    assert compared >= 8          # crunch vs linear-search / milp, exact vs milp / minlp, several sizes
    assert {r["scenario"] for r in rows} == set(bench.SCENARIOS)
    methods = {(r["problem"], r["method"]) for r in rows}
    assert {("P1", "crunch"), ("P1", "crunch-literal"), ("P1", "linear-search"), ("P1", "hungarian-search"),
            ("P1", "milp"), ("P1", "matrix-pass"), ("P1", "peer"), ("P1", "crunch-batch"),
            ("P2", "exact"), ("P2", "milp"), ("P2", "minlp"), ("P2", "dual-ascent"), ("P2", "peer"),
            ("P2", "exact-batch")} <= methods
    # the peer finds the optimum wherever it ran, and every row of its size carries the ratio to it
    for r in rows:
        if r["method"] == "peer":
            assert r["objectives_agree"] == "True", r
            key = (r["problem"], r["scenario"], r["K"], r["M"], r["seed"])
            assert all(o["ratio_to_peer"] for o in groups[key] if not o["method"].endswith(("-batch", "-single")))
        if r["method"].endswith("-batch"):
            assert r["objectives_agree"] == "True", r


def test_quick_run_ratios_growth_and_targets_are_consistent(quick_run):
    _, out, _ = quick_run
    _, rows = read_csv(out / "bench.csv")
    key = ("problem", "scenario", "K", "M", "seed")
    seconds = {tuple(r[k] for k in key) + (r["method"],): float(r["seconds"]) for r in rows}
    for r in rows:
        ref = seconds[tuple(r[k] for k in key) + (r["reference"],)]
        assert math.isclose(float(r["ratio_to_reference"]), float(r["seconds"]) / ref, rel_tol=1e-9)
        assert int(r["repeats"]) >= 1
    for r in rows:
        if r["method"] in ("crunch", "matrix-pass", "exact"):
            assert int(r["peak_bytes"]) > 0
        if r["ratio_to_peer"]:
            peer = seconds[tuple(r[k] for k in key) + ("peer",)]
            assert math.isclose(float(r["ratio_to_peer"]), float(r["seconds"]) / peer, rel_tol=1e-9)
        if r["method"] in ("crunch", "exact") and r["status"] in ("optimal", "infeasible"):
            assert float(r["certify_s"]) > 0                  # the certificate's own cost, timed apart
    _, growth = read_csv(out / "growth.csv")
    steps = [g for g in growth if g["kind"] == "step"]
    assert any(g["method"] == "crunch" for g in steps)
    for g in steps:
        ratio = float(g["seconds_to"]) / float(g["seconds_from"])
        assert math.isclose(float(g["time_ratio"]), ratio, rel_tol=1e-9)
        assert math.isclose(float(g["exponent"]), math.log(ratio) / math.log(int(g["K_to"]) / int(g["K_from"])),
                            rel_tol=1e-9)
    assert any(g["kind"] == "fit" and g["method"] == "crunch" for g in growth)
    lean = [r for r in rows if r["method"] in ("crunch-lean", "exact-lean")]
    assert lean and all(r["objectives_agree"] == "True" for r in lean)   # the full method's answer, bit for bit
    _, targets = read_csv(out / "targets.csv")
    assert len(targets) == 21
    measured = {t["target"]: t for t in targets if t["measured"]}
    assert any("than milp" in name for name in measured) and any("linear-search" in name for name in measured)


def _typed(rows: list[dict]) -> list[dict]:
    """bench.csv rows read back with the types bench.plot receives."""
    out = []
    for r in rows:
        out.append(dict(r, K=int(r["K"]), M=int(r["M"]), seed=int(r["seed"]),
                        seconds=float(r["seconds"]) if r["seconds"] else None))
    return out


def test_quick_run_figure_styles(quick_run, tmp_path):
    """time_vs_K.png's conventions, from what it plots (no pixels): one colour per M shared by both
    panels, one (marker, dashes) per method shared by both panels, and a file written again from the CSV."""
    _, out, _ = quick_run
    _, rows = read_csv(out / "bench.csv")
    series = bench.plot_series(_typed(rows))
    assert set(series) == {"P1", "P2"} and series["P1"] and series["P2"]
    for panel in series.values():
        for points in panel.values():
            assert [k for k, _ in points] == sorted(k for k, _ in points)
    colors, styles = bench.plot_styles(series)
    Ms = {M for panel in series.values() for _, M in panel}
    methods = {m for panel in series.values() for m, _ in panel}
    assert set(colors) == Ms and len(set(colors.values())) == len(Ms)          # distinct colour per M
    assert set(styles) == methods and len(set(map(str, styles.values()))) == len(methods)
    assert len({marker for marker, _ in styles.values()}) == len(methods)        # distinct markers
    assert {M for _, M in series["P1"]} & {M for _, M in series["P2"]}          # a shared M: same colour
    path = tmp_path / "again.png"
    bench.plot(_typed(rows), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


def test_growth_exponent_and_time_call():
    assert math.isclose(bench.growth_exponent([10, 20, 40, 80], [3.0, 3.0 * 8, 3.0 * 64, 3.0 * 512]), 3.0)
    calls = []
    median, runs, out = bench.time_call(lambda: calls.append(1) or len(calls), budget_s=1e9, max_repeats=7)
    assert runs == 7 == len(calls) and out == 7 and median >= 0
    best, runs, _ = bench.time_call(lambda: None, budget_s=0.0, max_repeats=7)
    assert runs == 1
    best, runs, _ = bench.time_call(lambda: None, budget_s=0.0, max_repeats=7, min_repeats=4)
    assert runs == 4


def test_compare_rows_flags_a_disagreement():
    def row(method, status, objective, note=""):
        r = dict.fromkeys(bench.BENCH_COLUMNS)
        r.update(method=method, status=status, objective_s=objective, seconds=1.0, note=note)
        return r

    rows = [row("exact", "optimal", 2.0), row("minlp", "optimal", 2.0 * (1 + 1e-3)),
            row("milp", "optimal", 2.0 * (1 + 1e-9)), row("dual-ascent", "feasible", 1.9),
            row("crunch+bandwidth", "feasible", 2.5)]
    bench.compare_rows(rows, "P2")
    assert [r["objectives_agree"] for r in rows] == [True, False, True, False, True]
    rows = [row("crunch", "infeasible", None), row("linear-search", "optimal", 3.0)]
    bench.compare_rows(rows, "P1")
    assert rows[0]["objectives_agree"] is False


def test_bad_budget_is_refused(tmp_path):
    log = io.StringIO()
    assert bench.main(["--quick", "--budget", "-1", "--out", str(tmp_path)], stdout=log) == 2
    assert "--budget" in log.getvalue()


# --------------------------------------------------------------------------------------
# CRUNCH in closed form: identical to the definition
# --------------------------------------------------------------------------------------
def crunch_by_definition(cost: np.ndarray):
    """The least entry v at which Proposition 1 holds for counts (cost <= v), and its assignment."""
    K, M = cost.shape
    for v in np.unique(cost[np.isfinite(cost)]):
        counts = (cost <= v).sum(axis=1)
        if bottleneck.hall_check(counts, M):
            return float(v), bottleneck.assignment_from_counts(counts, M)
    return None


def assert_same(found, expected):
    if expected is None:
        assert found is None
    else:
        assert found is not None
        assert found[0] == expected[0]
        assert found[1].tolist() == expected[1].tolist()


@settings(max_examples=300, deadline=None)
@given(instances(max_devices=9, max_blocks=5))
def test_crunch_equals_definition(instance):
    """Same value *and* same assignment (ties included) as the definition on the p1_cost matrix."""
    expected = crunch_by_definition(instance.p1_cost())
    res = p1.crunch(instance)
    if expected is None:
        assert res.status.value == "infeasible"
    else:
        assert res.objective_s == expected[0]
        assert list(res.assignment) == expected[1].tolist()
    assert_same(bottleneck.bottleneck_crunch(instance.p1_cost()), expected)


@st.composite
def sorted_matrices(draw, blocks=st.integers(1, 5)):
    """Row-sorted matrices with ties (small integers), inf suffixes and an offset per row."""
    M = draw(blocks)
    K = draw(st.integers(1, max(14, M + 6)))
    steps = np.array(draw(st.lists(st.lists(st.integers(0, 2), min_size=M, max_size=M), min_size=K, max_size=K)),
                     dtype=float)
    base = np.cumsum(steps, axis=1)
    offset = np.array(draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 3.0]), min_size=K, max_size=K)))
    prefix = np.array(draw(st.lists(st.integers(0, M), min_size=K, max_size=K)))
    return base, offset, prefix


@settings(max_examples=400, deadline=None)
@given(sorted_matrices())
def test_bottleneck_rows_equals_definition(matrix):
    """Few or many holders of the deepest block; ties; walls; the running bound of the kernel."""
    base, offset, prefix = matrix
    K, M = base.shape
    cost = np.where(np.arange(M)[None, :] < prefix[:, None], base + offset[:, None], np.inf)
    assert_same(bottleneck.bottleneck_rows(base, offset, prefix), crunch_by_definition(cost))


@settings(max_examples=150, deadline=None)
@given(sorted_matrices(blocks=st.integers(kernels.ROUNDS_MAX_BLOCKS - 2, kernels.ROUNDS_MAX_BLOCKS + 3)))
def test_both_ways_of_the_crunch_kernel(matrix):
    """Around the block count where crunch_rows switches from Hall's rounds to the heap scan: the
    definition's answer, and both find the same T* on any M (inf when Hall fails)."""
    base, offset, prefix = matrix
    K, M = base.shape
    cost = np.where(np.arange(M)[None, :] < prefix[:, None], base + offset[:, None], np.inf)
    assert_same(bottleneck.bottleneck_rows(base, offset, prefix), crunch_by_definition(cost))
    prefix = prefix.astype(np.int64)
    values, iwork = kernels.crunch_work(K, M)
    index, sizes, rows = iwork[:M * M], iwork[M * M:M * M + M], iwork[M * M + M:M * M + M + K]
    by_heaps = kernels._scan_heaps(base, offset, prefix, values, index, sizes, rows)[0]
    counts = np.empty(K, dtype=np.int64)
    by_rounds = kernels._hall_rounds(base, offset, prefix, counts, np.empty(M + 1, dtype=np.int64), np.empty(M))
    assert by_heaps == by_rounds
    if by_rounds < np.inf:           # the rounds leave every row's prefix count under T*
        assert counts.tolist() == (cost <= by_rounds).sum(axis=1).tolist()


def test_bottleneck_rows_on_large_instances():
    """Many rows: the bound U, the running bound, and the full scan (< M holders of the deepest block)."""
    rng = np.random.default_rng(5)
    K, M = 3000, 6
    base = np.sort(rng.integers(0, 40, size=(K, M)).astype(float), axis=1)
    offset = rng.choice([0.0, 1.0, 2.5], size=K)
    for prefix in (np.full(K, M), np.where(np.arange(K) < 3, M, rng.integers(1, M, size=K))):
        cost = np.where(np.arange(M)[None, :] < prefix[:, None], base + offset[:, None], np.inf)
        assert_same(bottleneck.bottleneck_rows(base, offset, prefix), crunch_by_definition(cost))
    identical = np.tile(np.sort(rng.random(M)), (K, 1))      # every row alike: every row is scanned
    cost = identical + 0.0
    assert_same(bottleneck.bottleneck_rows(identical, np.zeros(K), np.full(K, M)), crunch_by_definition(cost))


def test_bottleneck_rows_never_builds_the_matrix():
    """Peak memory (tracemalloc) stays far below the 8 K M bytes of the cost matrix."""
    rng = np.random.default_rng(0)
    K, M = 100_000, 96
    base = np.cumsum(rng.random((K, M)), axis=1)
    offset = rng.random(K)
    prefix = np.full(K, M)
    tracemalloc.start()
    try:
        found = bottleneck.bottleneck_rows(base, offset, prefix)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert found is not None
    assert peak < 8 * K * M / 4, (peak, 8 * K * M)


# --------------------------------------------------------------------------------------
# P2: the oracle's candidate filter
# --------------------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(instances(max_devices=12, max_blocks=4), st.floats(0.0, 12.0))
def test_candidates_hold_m_cheapest_devices_of_every_block(instance, extra):
    T = float(instance.compute_latency.min()) + extra + 1e-3
    w = assignment_weights(instance, T)
    assert np.array_equal(weight_rows(instance, T, np.arange(instance.K)), w)
    rows = candidate_devices(instance, T)
    M = instance.M
    for m in range(M):
        column = np.sort(w[:, m])
        kept = np.sort(w[rows, m])
        # the M cheapest of the block, ties included, are available among the candidates
        need = min(M, int(np.isfinite(column).sum()))
        assert kept[:need].tolist() == column[:need].tolist()


def test_minlp_works_in_a_fresh_process():
    """Regression: the contrib solver factory returned None for scip_direct before pyomo.environ was imported."""
    code = ("from instances import Instance; from solvers.p2_exact import minlp_jbba, exact_jbba;"
            "inst = Instance.from_arrays([[1.0, 2.0], [1.0, 4.0], [3.0, 3.0]], [1.0, 1.0], [1.0, 1.0, 1.0],"
            " [1.0, 2.0, 4.0], gradient_bits=1.0, bandwidth_hz=1.0);"
            "r = minlp_jbba(inst, time_limit=60); print(r.status.value, r.objective_s == exact_jbba(inst).objective_s)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["optimal", "True"], out.stdout + out.stderr


@settings(max_examples=150, deadline=None)
@given(instances(max_devices=30, max_blocks=3, min_devices=4), st.floats(0.0, 12.0))
def test_candidates_hold_m_cheapest_devices_on_more_devices(instance, extra):
    """Many rows against few blocks: the running bound cuts rows and row scans; still each block's M cheapest."""
    T = float(instance.compute_latency.min()) + extra + 1e-3
    w = assignment_weights(instance, T)
    rows = candidate_devices(instance, T)
    assert rows.tolist() == sorted(set(rows.tolist()))
    for m in range(instance.M):
        column = np.sort(w[:, m])
        kept = np.sort(w[rows, m])
        need = min(instance.M, int(np.isfinite(column).sum()))
        assert kept[:need].tolist() == column[:need].tolist()


# --------------------------------------------------------------------------------------
# The peers and the descent's root
# --------------------------------------------------------------------------------------
@settings(max_examples=150, deadline=None)
@given(instances(max_devices=8, max_blocks=4))
def test_peers_find_the_optimum(instance):
    from solvers.p2_exact import exact_jbba

    found = bench.peer_p1(instance)
    exact = p1.crunch(instance)
    assert (found is None) == (exact.objective_s is None)
    if found is not None:
        assert found[0] == exact.objective_s
    found = bench.peer_p2(instance)
    exact = exact_jbba(instance)
    assert (found is None) == (exact.objective_s is None)
    if found is not None:
        assert close(found[0], exact.objective_s, 1e-9)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.floats(0.0, 1e6), st.floats(1e-9, 1e9)), min_size=1, max_size=12))
def test_newton_root_equals_the_bandwidth_equation(devices):
    from solvers.bandwidth import solve_bandwidth_equation
    from solvers.bandwidth import latency_root_s

    a_s = np.array([a for a, _ in devices])
    coef = np.array([c for _, c in devices])
    T_newton = latency_root_s(a_s, coef / 7.0)
    T_brent, _ = solve_bandwidth_equation(a_s, coef, 7.0)
    assert T_newton is not None and close(T_newton, T_brent, 1e-13)
