"""Tests of the reproduction of the paper's experiments (``python -m validation.reproduce``).

One ``--quick`` run (module fixture, about 10-15 s) is checked for its files,
its columns, and the facts every point must satisfy (BA <= comm-aware, exact
JBBA <= every other scheme); its statistics are recomputed from the per-draw
CSV with plain Python, and some per-draw values from the definitions.
"""
from __future__ import annotations

import io
import math
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from instances.generate import ScenarioParams, generate_instance
from instances.tolerances import EXACT_RTOL
from validation import reproduce as rp

REPO = Path(__file__).resolve().parents[1]
TOL = EXACT_RTOL   # exact comparisons between methods


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduction")
    stdout, stderr = io.StringIO(), io.StringIO()
    code = rp.main(["--quick", "--out", str(out), "--jobs", "1", "--quiet"], stdout=stdout, stderr=stderr)
    assert code == 0, stderr.getvalue()
    return out, stdout.getvalue()


def _draws(out: Path, sweep: rp.Sweep) -> pd.DataFrame:
    return pd.read_csv(out / f"{sweep.key}_draws.csv")


def _summary(out: Path, sweep: rp.Sweep) -> pd.DataFrame:
    return pd.read_csv(out / f"{sweep.key}.csv")


# --------------------------------------------------------------------------------------
# The quick run: files and columns
# --------------------------------------------------------------------------------------
def test_quick_run_writes_every_figure_and_csv(quick):
    out, text = quick
    stems = ["fig4_cost_model", "table1_time_to_target"] + [s.key for s in rp.SWEEPS]
    for stem in stems:
        png = out / f"{stem}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000, stem
        assert (out / f"{stem}.csv").stat().st_size > 0
    for sweep in rp.SWEEPS:
        assert (out / f"{sweep.key}_draws.csv").exists()
    assert (out / "claims.csv").exists()
    assert "Fig. 8: JBBA / BA" in text and "wrote" in text
    # every file the run reports is there and not empty
    listed = [line for line in text.splitlines() if line.startswith("wrote ")]
    assert listed and int(listed[-1].split()[1]) == len(list(out.iterdir()))
    for path in out.iterdir():
        assert path.stat().st_size > 0, path.name


def test_summary_csvs_have_the_expected_columns_and_points(quick):
    out, _ = quick
    for sweep in rp.SWEEPS:
        summary = _summary(out, sweep)
        assert tuple(summary.columns) == rp.SUMMARY_COLUMNS
        assert sorted(set(summary["x"])) == sorted(float(x) for x in sweep.quick)
        assert sorted(set(summary["scheme"])) == sorted(rp.SCHEME_KEYS)
        assert (summary["draws"] == rp.QUICK_DRAWS).all()
        assert summary["infeasible_frac"].between(0, 1).all()
        assert (summary["errors"] == 0).all()
        draws = _draws(out, sweep)
        assert len(draws) == rp.QUICK_DRAWS * len(sweep.quick)
        for key in rp.SCHEME_KEYS:
            assert {f"{key}_s", f"{key}_status", f"{key}_seconds"} <= set(draws.columns)


def test_summary_statistics_recomputed_from_the_draws(quick):
    """Means, quartiles, infeasible fractions and paired ratios, by plain Python from the draws CSV."""
    out, _ = quick
    for sweep in rp.SWEEPS:
        draws, summary = _draws(out, sweep), _summary(out, sweep)
        for _, row in summary.iterrows():
            at = draws[draws["x"] == row["x"]]
            values = [v for v in at[f"{row['scheme']}_s"] if not math.isnan(v)]
            assert row["feasible"] == len(values)
            assert row["infeasible_frac"] == pytest.approx(1 - len(values) / len(at))
            if values:
                assert row["mean_s"] == pytest.approx(statistics.fmean(values), rel=1e-12)
                assert row["median_s"] == pytest.approx(statistics.median(values), rel=1e-12)
            else:
                assert math.isnan(row["mean_s"])
            for ref, column in (("comm_aware", "ratio_to_comm_aware"), ("ba", "ratio_to_ba"),
                                ("jbba_exact", "ratio_to_exact")):
                pairs = [(a, b) for a, b in zip(at[f"{row['scheme']}_s"], at[f"{ref}_s"])
                         if not math.isnan(a) and not math.isnan(b)]
                if pairs:
                    expect = sum(a for a, _ in pairs) / sum(b for _, b in pairs)
                    assert row[column] == pytest.approx(expect, rel=1e-12)
                else:
                    assert math.isnan(row[column])


# --------------------------------------------------------------------------------------
# Facts on every point and draw
# --------------------------------------------------------------------------------------
def test_ba_never_above_comm_aware(quick):
    out, _ = quick
    compared = 0
    for sweep in rp.SWEEPS:
        draws = _draws(out, sweep)
        both = draws.dropna(subset=["ba_s", "comm_aware_s"])
        assert (both["ba_s"] <= both["comm_aware_s"] * (1 + TOL)).all()
        compared += len(both)
        summary = _summary(out, sweep)
        ratio = summary[summary["scheme"] == "ba"]["ratio_to_comm_aware"].dropna()
        assert (ratio <= 1 + TOL).all()
    assert compared >= 5          # the comparison is not vacuous (comm-aware is feasible on some draws)


def test_exact_jbba_never_above_any_scheme(quick):
    out, _ = quick
    for sweep in rp.SWEEPS:
        draws = _draws(out, sweep)
        for key in rp.HEURISTIC_KEYS + ("ba", "comm_aware", "compute_aware"):
            both = draws.dropna(subset=["jbba_exact_s", f"{key}_s"])
            assert (both["jbba_exact_s"] <= both[f"{key}_s"] * (1 + TOL)).all(), key
        assert (draws["jbba_s"].isna() == draws["jbba_exact_s"].isna()).all()
        summary = _summary(out, sweep)
        assert (summary["ratio_to_exact"].dropna() >= 1 - TOL).all()
        assert (summary["gap_to_exact_mean"].dropna() >= -TOL).all()


def test_comm_aware_values_recomputed_from_the_definition(quick):
    """M best channels, deepest block to the best, equal bandwidth; NaN on a memory wall."""
    out, _ = quick
    draws = _draws(out, rp.SWEEPS[0])
    params = ScenarioParams()
    for _, row in draws.head(6).iterrows():
        inst = generate_instance(int(row["K"]), rp.BLOCKS, int(row["seed"]),
                                 ScenarioParams.with_overrides(params, snr_db=float(row["x"])))
        order = sorted(range(inst.K), key=lambda k: (-inst.spectral_efficiency[k], k))[:inst.M]
        device_of_block = order[::-1]                      # block M-1 (deepest) -> best channel
        fits = all(inst.block_memory[m] <= inst.device_memory[k] for m, k in enumerate(device_of_block))
        if not fits:
            assert math.isnan(row["comm_aware_s"])
            continue
        latency = max(inst.compute_latency[k, m] + inst.gradient_bits * inst.M
                      / (inst.bandwidth_hz * inst.spectral_efficiency[k]) for m, k in enumerate(device_of_block))
        assert row["comm_aware_s"] == pytest.approx(latency, rel=1e-12)


# --------------------------------------------------------------------------------------
# Table I, Fig. 4, claims
# --------------------------------------------------------------------------------------
def test_table_one_is_rounds_times_paired_mean_latency(quick):
    out, _ = quick
    table = pd.read_csv(out / "table1_time_to_target.csv")
    assert tuple(table.columns) == rp.TABLE_COLUMNS
    assert list(table["task"]) == list(rp.PAPER_TABLE_I)
    base = _draws(out, rp.SWEEPS[2])          # Fig. 8 at K = 20: the paper's set-up (10 dB, 100 MHz)
    base = base[base["x"] == 20].dropna(subset=[f"{k}_s" for k in rp.TABLE_OURS])
    assert len(base) >= 1
    latency = {k: base[f"{k}_s"].mean() for k in rp.TABLE_OURS}
    for _, row in table.iterrows():
        paper = rp.PAPER_TABLE_I[row["task"]]
        assert row["input_paper_ba_over_comm"] == pytest.approx(paper[1] / paper[0])
        # the fitted rounds: geometric mean over the three schemes of paper time / our latency
        rounds = math.exp(sum(math.log(60 * t / latency[k]) for t, k in zip(paper, rp.TABLE_SCHEMES)) / 3)
        assert row["fitted_rounds"] == pytest.approx(rounds, rel=1e-9)
        for key in rp.TABLE_OURS:
            assert row[f"fitted_ours_{key}_min"] == pytest.approx(rounds * latency[key] / 60, rel=1e-9)
            assert row[f"result_ours_{key}_latency_s"] == pytest.approx(latency[key], rel=1e-12)
        assert row["result_ours_ba_over_comm"] == pytest.approx(latency["ba"] / latency["comm_aware"], rel=1e-9)
        for key in rp.HEURISTIC_KEYS:
            assert row["result_ours_jbba_exact_over_ba"] <= row[f"result_ours_{key}_over_ba"] * (1 + TOL)
        assert row["result_ours_ba_over_comm"] <= 1 + TOL


def test_table_one_labels_inputs_fitted_and_results(quick):
    """Every column says where it comes from: the paper (input), a fit to it, or our measurement."""
    out, _ = quick
    sources = pd.read_csv(out / "table1_time_to_target_sources.csv")
    assert list(sources["column"]) == list(rp.TABLE_COLUMNS)
    assert set(sources["kind"]) == {"input", "fitted", "result"}
    for _, row in sources.iterrows():
        assert row["column"] == "task" or row["column"].startswith(row["kind"] + "_")
        assert row["meaning"] == rp.TABLE_SOURCE_KINDS[row["kind"]]
    kinds = dict(zip(sources["column"], sources["kind"]))
    assert kinds["fitted_rounds"] == "fitted"                       # no fitted quantity labelled a result
    assert all(kinds[c] == "fitted" for c in rp.TABLE_COLUMNS if c.endswith("_min") and "ours" in c)
    assert all(kinds[c] == "input" for c in rp.TABLE_COLUMNS if c.startswith("input_paper"))
    table = pd.read_csv(out / "table1_time_to_target.csv")
    for i, column in enumerate(("input_paper_comm_aware_min", "input_paper_ba_min", "input_paper_jbba_min")):
        assert list(table[column]) == [v[i] for v in rp.PAPER_TABLE_I.values()]   # copied, not computed
    # our per-task ratios are equal by construction (the docs and the figure say so)
    assert table["result_ours_ba_over_comm"].nunique() == 1


def test_fig4_table_is_linear_memory_and_about_twice_latency(quick):
    out, _ = quick
    fig4 = pd.read_csv(out / "fig4_cost_model.csv")
    assert tuple(fig4.columns) == rp.FIG4_COLUMNS
    assert list(fig4["block"]) == list(range(12))          # 0-based, like the instance files
    steps = np.diff(fig4["memory_gb"])
    assert np.all(steps > 0) and np.allclose(steps, steps[0], rtol=1e-9)       # linear in depth
    assert 1.7 <= fig4["latency_over_shallowest"].iloc[-1] <= 2.3                # "nearly twice"
    assert 11.0 <= fig4["single_device_memory_gb"].iloc[0] <= 12.5              # "nearly 12GB"
    np.testing.assert_allclose(fig4["forward_latency_s"] + fig4["backward_latency_s"], fig4["compute_latency_s"])


def test_figures_number_blocks_from_zero(quick):
    """Fig. 4's CSVs and axes count blocks 0..M-1, block 0 the shallowest (docs/formulation.md, Indexing)."""
    out, _ = quick
    measured = out / "fig4_measured.csv"
    if measured.exists():                       # the shipped profile could be read
        table = pd.read_csv(measured)
        assert list(table["block"]) == list(range(len(table)))
        assert table["measured_latency_over_shallowest"].iloc[0] == pytest.approx(1.0)
    assert "0-based" in rp.BLOCK_AXIS_LABEL and "block 0 the shallowest" in rp.BLOCK_AXIS_LABEL
    fig4 = rp.fig4_table(ScenarioParams())
    assert fig4["block"].iloc[0] == 0 and fig4["latency_over_shallowest"].iloc[0] == 1.0


def test_claims_console_marks_every_value_in_or_out_of_the_papers_range(quick):
    """The console table shows each value of ours with yes / NO / - exactly as claims.csv's marks say."""
    out, text = quick
    claims = pd.read_csv(out / "claims.csv")
    lines = {line.split("  ")[0].strip(): line for line in text.splitlines() if line.strip()}
    keys = [("ours_exact", "within_paper_range_exact")] + [(f"ours_{k}", f"within_paper_range_{k}")
                                                           for k in rp.HEURISTIC_KEYS]
    seen = set()
    for _, row in claims.iterrows():
        cells = lines[row["claim"]].split()
        assert cells[-1] == str(int(row["draws_paired"]))
        ours = cells[-(2 * len(keys) + 1):-1]               # (value, mark) per scheme, then the paired draws
        for i, (value_col, mark_col) in enumerate(keys):
            mark = row[mark_col]
            expect = "-" if pd.isna(mark) else ("yes" if str(mark) == "True" else "NO")
            assert ours[2 * i:2 * i + 2] == [f"{row[value_col]:.3f}", expect], (row["claim"], value_col)
            seen.add(expect)
    assert {"yes", "NO", "-"} <= seen          # the quick run has claims of every kind
    assert "yes = inside the paper's range" in text and "NO = outside it" in text
    # the function itself, on a hand-made table with every mark
    table = pd.DataFrame([
        {"claim": "in", "where": "w", "paper": 0.6, "paper_low": 0.5, "paper_high": 0.7, "ours_exact": 0.65,
         "within_paper_range_exact": True, "draws_paired": 2},
        {"claim": "out", "where": "w", "paper": 0.6, "paper_low": 0.5, "paper_high": 0.7, "ours_exact": 0.9,
         "within_paper_range_exact": False, "draws_paired": 2},
        {"claim": "none", "where": "w", "paper": math.nan, "paper_low": math.nan, "paper_high": math.nan,
         "ours_exact": 0.1, "within_paper_range_exact": None, "draws_paired": 2}])
    rendered = {line.split()[0]: line.split() for line in rp.claims_text(table).splitlines()[2:5]}
    assert rendered["in"][-2:] == ["yes", "2"] and rendered["out"][-2:] == ["NO", "2"]
    assert rendered["none"][-2:] == ["-", "2"] and "(not stated)" in " ".join(rendered["none"])


def test_claims_csv_lists_the_papers_numbers(quick):
    out, _ = quick
    claims = pd.read_csv(out / "claims.csv")
    assert tuple(claims.columns) == rp.CLAIM_COLUMNS
    text = " ".join(claims["claim"])
    for needle in ("Fig. 4", "Table I: BA / comm-aware", "Table I: JBBA / BA", "Fig. 8: JBBA / BA"):
        assert needle in text
    row = claims[claims["claim"] == "Table I: JBBA / BA (range over tasks)"].iloc[0]
    ratios = [v[2] / v[1] for v in rp.PAPER_TABLE_I.values()]
    assert row["paper_low"] == pytest.approx(min(ratios)) and row["paper_high"] == pytest.approx(max(ratios))
    summary = _summary(out, rp.SWEEPS[2])
    for key in rp.HEURISTIC_KEYS:
        # JBBA exact never above a dual-ascent variant's ratio
        assert (claims["ours_exact"] <= claims[f"ours_{key}"] * (1 + TOL)).all()
        # the gap columns are those of the sweep's summary at the claim's point
        at = summary[(summary["x"] == 50.0) & (summary["scheme"] == key)].iloc[0]
        k50 = claims[claims["claim"] == "Fig. 8: JBBA / BA"].iloc[0]
        for stat in ("mean", "p90", "max"):
            assert k50[f"gap_{key}_{stat}"] == pytest.approx(at[f"gap_to_exact_{stat}"], rel=1e-12)
    # the 'within range' marks are the comparisons they claim to be
    for _, r in claims.iterrows():
        for key in ("exact",) + tuple(rp.HEURISTIC_KEYS):
            value, mark = r[f"ours_{key}" if key != "exact" else "ours_exact"], r[f"within_paper_range_{key}"]
            if math.isnan(r["paper_low"]):
                assert pd.isna(mark)
            else:
                assert bool(mark) == (r["paper_low"] <= value <= r["paper_high"])


def test_every_registered_dual_ascent_variant_is_shown():
    from solvers import REGISTRY
    labels = {s.solver: s.label for s in rp.SCHEMES}
    for name, key, label, *_ in rp.DUAL_ASCENT_VARIANTS:
        assert (name in labels) == (("P2", name) in REGISTRY)
        if name in labels:
            assert labels[name] == label and key in rp.HEURISTIC_KEYS
    assert labels["dual-ascent"] == "JBBA (Algorithm 3, as published)"
    assert len({s.color for s in rp.SCHEMES}) == len(rp.SCHEMES)           # distinct colours
    # coinciding lines stay visible: every scheme its own marker and its own dash pattern, and the
    # JBBA lines (which often coincide) markers of decreasing size towards the exact optimum drawn on top
    assert len({s.marker for s in rp.SCHEMES}) == len(rp.SCHEMES)
    assert len({s.linestyle for s in rp.SCHEMES}) == len(rp.SCHEMES)
    jbba = [s.ms for s in rp.SCHEMES if s.problem == "P2"]
    assert jbba == sorted(jbba, reverse=True) and len(set(jbba)) == len(jbba)
    lines = rp._ratio_lines()
    assert len({(marker, str(dashes)) for _, _, _, _, marker, dashes, _ in lines}) == len(lines)


# --------------------------------------------------------------------------------------
# Helpers, infeasible and tied draws, determinism, command line
# --------------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(1.0, 1e5), min_size=1, max_size=8), st.lists(st.floats(0.1, 100.0), min_size=1, max_size=4))
def test_fit_rounds_recovers_exact_rounds(rounds, latency_s):
    r, L = np.array(rounds), np.array(latency_s)
    times_min = r[:, None] * L[None, :] / 60.0
    np.testing.assert_allclose(rp.fit_rounds(times_min, L), r, rtol=1e-9)
    # the paper-implied relative latencies are then exactly ours
    np.testing.assert_allclose(rp.paper_relative_latency(times_min), L / L[0], rtol=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), st.floats(0.1, 100.0)), st.one_of(st.none(), st.floats(0.1, 100.0))),
                min_size=1, max_size=10))
def test_paired_ratio_against_a_loop(pairs):
    a = np.array([math.nan if x is None else x for x, _ in pairs])
    b = np.array([math.nan if y is None else y for _, y in pairs])
    kept = [(x, y) for x, y in pairs if x is not None and y is not None]
    got = rp.paired_ratio(a, b)
    if kept:
        assert got == pytest.approx(sum(x for x, _ in kept) / sum(y for _, y in kept), rel=1e-12)
    else:
        assert math.isnan(got)


def test_memory_wall_draws_are_infeasible_for_every_scheme():
    params = ScenarioParams.with_overrides(memory_min_gb=4.0, memory_max_gb=10.0)   # < 11.42 GB deepest block
    sweep = rp.SWEEPS[0]
    frame = pd.DataFrame([rp.solve_draw(t) for t in rp.draw_tasks(sweep, (10.0,), 2, params, 30.0)])
    for key in rp.SCHEME_KEYS:
        assert frame[f"{key}_s"].isna().all()
        # the benchmarks are heuristics: they may say no_solution (nothing about the instance) instead
        allowed = {"infeasible", "no_solution"} if key in ("comm_aware", "compute_aware") else {"infeasible"}
        assert set(frame[f"{key}_status"]) <= allowed, key
    summary = rp.summarise(frame, sweep)
    assert (summary["infeasible_frac"] == 1.0).all() and summary["mean_s"].isna().all()
    assert rp.consistency_problems(frame) == []


def test_more_blocks_than_devices_is_infeasible():
    sweep = rp.SWEEPS[2]
    row = rp.solve_draw(rp.DrawTask(sweep.key, "devices", 8, 0, ScenarioParams(), 30.0))   # K = 8 < M = 12
    assert all(math.isnan(row[f"{k}_s"]) and row[f"{k}_status"] in ("infeasible", "no_solution")
               for k in rp.SCHEME_KEYS)
    assert row["ba_status"] == "infeasible" and row["jbba_exact_status"] == "infeasible"


def test_tied_devices_keep_every_fact():
    """Identical speeds and no fading: every row of tcp tied, equal R_k."""
    params = ScenarioParams.with_overrides(compute_factor_min=1.0, compute_factor_max=1.0, fading="none",
                                           memory_min_gb=12.0, memory_max_gb=12.0)
    frame = pd.DataFrame([rp.solve_draw(t) for t in rp.draw_tasks(rp.SWEEPS[0], (10.0,), 2, params, 30.0)])
    assert rp.consistency_problems(frame) == []
    # all devices identical: with equal bandwidth every assignment is as good as any other ...
    for key in ("comm_aware", "compute_aware"):
        np.testing.assert_allclose(frame[f"{key}_s"], frame["ba_s"], rtol=1e-12)
    # ... whose latency is, by hand, the deepest block's computation plus the equal-split upload
    inst = generate_instance(20, rp.BLOCKS, 0, ScenarioParams.with_overrides(params, snr_db=10.0))
    by_hand = inst.compute_latency[0, -1] + inst.gradient_bits * inst.M / (inst.bandwidth_hz * inst.spectral_efficiency[0])
    assert frame["ba_s"].iloc[0] == pytest.approx(by_hand, rel=1e-12)
    # while bandwidth still helps: shallow blocks finish computing earlier and give up band
    assert (frame["jbba_exact_s"] < frame["ba_s"]).all()


def test_consistency_problems_are_detected():
    row = {"sweep": "fig5_snr", "x": 10.0, "seed": 0, "K": 20}
    for key in rp.SCHEME_KEYS:
        row[f"{key}_s"], row[f"{key}_status"], row[f"{key}_seconds"] = 2.0, "feasible", 0.0
    clean = pd.DataFrame([row])
    assert rp.consistency_problems(clean) == []
    bad = dict(row, ba_s=3.0, comm_aware_s=2.5, jbba_s=1.5)
    problems = rp.consistency_problems(pd.DataFrame([bad]))
    assert any("BA 3 s above comm_aware" in p for p in problems)
    assert any("JBBA exact 2 s above jbba" in p for p in problems)
    errored = dict(row, jbba_status="check-failed")
    assert any("check-failed" in p for p in rp.consistency_problems(pd.DataFrame([errored])))


def test_parallel_run_matches_the_serial_quick_run(quick, tmp_path):
    out, _ = quick
    small = rp.reproduce(tmp_path, quick=True, draws=2, jobs=2, progress=None)
    assert small.problems == []
    for sweep in rp.SWEEPS:
        serial = _draws(out, sweep)
        serial = serial[serial["seed"] < 2].reset_index(drop=True)
        parallel = small.draws[sweep.key]
        for key in rp.SCHEME_KEYS:
            np.testing.assert_allclose(parallel[f"{key}_s"], serial[f"{key}_s"], rtol=1e-12)
            assert list(parallel[f"{key}_status"]) == list(serial[f"{key}_status"])


def test_progress_line():
    stream = io.StringIO()
    bar = rp.Progress(3, "demo", stream, every_s=0.0)
    for _ in range(3):
        bar.update()
    text = stream.getvalue()
    assert "demo: 3/3 draws" in text and text.endswith("\n")


@pytest.mark.parametrize("args, match", [
    (["--draws", "0"], "positive integer"),
    (["--set", "colour=red"], "unknown scenario parameter"),
    (["--set", "path_loss_db=abc"], "path_loss_db needs a float"),
    (["--set", "nonsense"], "NAME=VALUE"),
    (["--time-limit", "-1"], "positive number"),
])
def test_cli_bad_input_is_one_line(tmp_path, args, match):
    res = subprocess.run([sys.executable, "-m", "validation.reproduce", "--out", str(tmp_path), *args],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert res.stderr.startswith("error:") and match in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


# --------------------------------------------------------------------------------------
# The calibration study (validation.study, also `python -m validation.reproduce --study`)
# --------------------------------------------------------------------------------------
from validation import study as cs  # noqa: E402


@pytest.fixture(scope="module")
def study_quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    stdout, stderr = io.StringIO(), io.StringIO()
    code = rp.main(["--study", "--quick", "--out", str(out), "--quiet"], stdout=stdout, stderr=stderr)
    assert code == 0, stderr.getvalue()
    return out, stdout.getvalue()


def test_study_writes_heatmap_and_csv(study_quick):
    out, text = study_quick
    png = out / "study_calibration.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    table = pd.read_csv(out / "study_calibration.csv")
    assert tuple(table.columns) == cs.STUDY_COLUMNS
    for column in ("path_loss_db", "path_loss_exponent", "cf_halfwidth", "memory_min_gb", "local_iterations",
                   "snr_db", "ba_comm_k20", "ba_comm_k20_se", "jbba_ba_k20", "jbba_comm_k50", "jbba_ba_k50",
                   "jbba_ba_k50_se", "comm_nosol_k20", "ok_widening", "ok_all", "draws"):
        assert column in table.columns
    assert len(table) == len(cs.study_points(quick=True))
    assert (table["draws"] == cs.QUICK_STUDY_DRAWS).all()
    assert {"default", "2d:path_loss_dbxcf_halfwidth", "2d:path_loss_dbxpath_loss_exponent"} <= set(table["sweep"])
    assert "every claim holds at:" in text and "wrote" in text


def test_study_point_recomputed_by_hand(study_quick):
    """Every number of one CSV row (the distance-model point), from the solvers and plain Python."""
    from solvers import run
    out, _ = study_quick
    table = pd.read_csv(out / "study_calibration.csv")
    row = table[(table["sweep"] == "1d:path_loss_exponent") & (table["path_loss_exponent"] > 0)].iloc[0]
    point = {p: float(row[p]) for p in cs.PARAMETERS}
    lat = {}
    for K in cs.DEVICES:
        for seed in range(int(row["draws"])):
            params = ScenarioParams.with_overrides(
                path_loss_db=point["path_loss_db"], snr_db=point["snr_db"],
                compute_factor_min=1 - point["cf_halfwidth"], compute_factor_max=1 + point["cf_halfwidth"],
                memory_min_gb=point["memory_min_gb"], memory_max_gb=point["memory_max_gb"],
                local_iterations=int(point["local_iterations"]))
            inst = generate_instance(K, 12, seed, params, allow_infeasible=True)
            # the distance model by hand: uniform in the annulus, path loss relative to the median distance
            rng = np.random.default_rng([seed, 1])
            d = np.sqrt(rng.uniform(cs.CELL_MIN_DISTANCE_M ** 2, cs.CELL_RADIUS_M ** 2, size=K))
            d_ref = math.sqrt((cs.CELL_MIN_DISTANCE_M ** 2 + cs.CELL_RADIUS_M ** 2) / 2)
            loss = point["path_loss_db"] + 10 * point["path_loss_exponent"] * np.log10(d / d_ref)
            gain = np.array(inst.meta["draws"]["channel_gain"])
            rate = np.log2(1 + 10 ** ((point["snr_db"] - loss) / 10) * gain)
            mine = cs.study_instance(K, seed, point)
            np.testing.assert_allclose(mine.spectral_efficiency, rate, rtol=1e-12)
            np.testing.assert_array_equal(mine.compute_latency, inst.compute_latency)
            for name, (problem, solver) in {"ba": ("P1", "crunch"), "jbba": ("P2", "exact"),
                                            "comm": ("P1", "comm-aware")}.items():
                res = run(problem, solver, mine)
                lat[name, K, seed] = res.objective_s if res.status.value in ("optimal", "feasible") else None
    ratios = {}
    for name, num, den, K in cs.RATIOS:
        pairs = [(lat[num, K, s], lat[den, K, s]) for s in range(int(row["draws"]))
                 if lat[num, K, s] is not None and lat[den, K, s] is not None]
        rho = sum(a for a, _ in pairs) / sum(b for _, b in pairs)
        mean_b = sum(b for _, b in pairs) / len(pairs)
        se = math.sqrt(sum((a - rho * b) ** 2 for a, b in pairs) / (len(pairs) * (len(pairs) - 1))) / mean_b
        assert row[name] == pytest.approx(rho, rel=1e-9), name
        assert row[f"{name}_se"] == pytest.approx(se, rel=1e-6), name
        assert row[f"{name}_n"] == len(pairs)
        ratios[name] = rho
    for K in cs.DEVICES:
        n = int(row["draws"])
        assert row[f"p1_infeasible_k{K}"] == sum(lat["ba", K, s] is None for s in range(n))
        assert row[f"comm_nosol_k{K}"] == sum(lat["comm", K, s] is None and lat["ba", K, s] is not None
                                              for s in range(n))
    held = {c.key: c.low <= ratios[c.key] <= c.high for c in cs.CLAIMS}
    held["widening"] = ratios["jbba_ba_k50"] < ratios["jbba_ba_k20"] and ratios["jbba_comm_k50"] < ratios["jbba_comm_k20"]
    for key, value in held.items():
        assert bool(row[f"ok_{key}"]) == value, key
    assert row["claims_held"] == sum(held.values())
    assert bool(row["ok_all"]) == all(held.values())


def test_study_alpha_zero_is_the_generator_and_snr_is_path_loss():
    """alpha = 0 gives the generator's instance; only SNR - path loss matters (one knob)."""
    base = dict(cs.DEFAULTS)
    inst = cs.study_instance(20, 3, base)
    ref = generate_instance(20, 12, 3, ScenarioParams())
    np.testing.assert_array_equal(inst.spectral_efficiency, ref.spectral_efficiency)
    shifted = cs.study_instance(20, 3, dict(base, snr_db=15.0, path_loss_db=25.0))
    np.testing.assert_allclose(shifted.spectral_efficiency, ref.spectral_efficiency, rtol=1e-12)


def test_study_bad_draws_is_one_line():
    err = io.StringIO()
    assert cs.main(["--draws", "1", "--quiet"], stdout=io.StringIO(), stderr=err) == 2
    assert err.getvalue().startswith("error:") and len(err.getvalue().strip().splitlines()) == 1
    err = io.StringIO()
    assert rp.main(["--study", "--set", "snr_db=3"], stdout=io.StringIO(), stderr=err) == 2
