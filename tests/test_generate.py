"""Tests of the cost model, the instance generator, its command line and the shipped corpus."""
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

from instances import load_instance
from instances.corpus import CORPUS, FOLDERS, build_corpus, corpus_instances
from instances.costmodel import GB, EncoderCostModel
from instances.generate import (GENERATOR_VERSION, ScenarioParams, _parser, generate_instance,
                                spectral_efficiency)
from solvers import p1
from tests.bruteforce import brute_force_p1

REPO = Path(__file__).resolve().parents[1]
INSTANCES = REPO / "instances"
DOC = REPO / "docs" / "cost-model.md"


def corpus_files() -> list[Path]:
    return sorted(p for folder in FOLDERS for p in (INSTANCES / folder).glob("*.json"))


def run_cli(*args, cwd=REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "instances.generate", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


# --------------------------------------------------------------------------------------
# Cost model: Fig. 4 and independent counts
# --------------------------------------------------------------------------------------
def test_fig4_block_memory_is_linear_in_depth():
    cm = EncoderCostModel()
    mu = cm.block_memory_bytes(12)
    steps = np.diff(mu)
    assert np.all(steps > 0)
    np.testing.assert_allclose(steps, steps[0], rtol=1e-12)        # linear: constant increments
    # the deepest block needs the activations of all layers, the shallowest one layer's
    assert mu[-1] / mu[0] > 5


def test_fig4_deepest_latency_about_twice_shallowest():
    t = EncoderCostModel().block_compute_latency_s(12)
    assert np.all(np.diff(t) > 0)
    assert 1.7 <= t[-1] / t[0] <= 2.3                              # "nearly twice" (Fig. 4)
    # independent arithmetic: with beta = 1 and F_F = L F_layer the ratio is (L + L) / (L + 1) up to LoRA terms
    assert t[-1] / t[0] == pytest.approx(24 / 13, rel=1e-2)


def test_fig4_single_device_memory_about_12_gb():
    cm = EncoderCostModel()
    assert 11e9 <= cm.single_device_memory_bytes <= 13e9           # "nearly 12GB" with batch 32
    assert cm.block_memory_bytes(12)[-1] <= cm.single_device_memory_bytes


def test_roberta_base_sizes_match_published_counts():
    cm = EncoderCostModel()
    pooler = cm.hidden * cm.hidden + cm.hidden      # not in the cost model (unused by LoRA GLUE heads)
    assert cm.model_params + pooler == 124_645_632  # roberta-base parameter count as published on its model card
    assert cm.lora_params_per_block == 2 * (768 * 8 + 8 * 768) == 24_576   # the paper's count
    assert cm.gradient_bits == 24_576 * 32
    # the paper's "feature dimension of a RoBERTa base model using a batch size of 32 is 12.5 million"
    assert cm.batch_size * cm.seq_len * cm.hidden == pytest.approx(12.5e6, rel=0.01)


def test_layer_flops_by_enumerating_matrix_products():
    cm = EncoderCostModel(batch_size=3, seq_len=7, hidden=24, ffn=40, heads=4, lora_rank=2)
    b, s, h, f, r, a = 3, 7, 24, 40, 2, 4
    tokens = b * s
    products = [(tokens, h, h)] * 4                       # Q, K, V, O projections
    products += [(tokens, h, f), (tokens, f, h)]          # FFN
    products += [(s, h // a, s)] * (b * a)                # scores Q K^T per batch and head
    products += [(s, s, h // a)] * (b * a)                # P V
    products += [(tokens, h, r), (tokens, r, h)] * 2      # LoRA B(Ax) on query and value
    assert cm.layer_forward_flops == sum(2 * m * k * n for m, k, n in products)
    assert cm.forward_flops == 12 * cm.layer_forward_flops
    lora_grads = sum(2 * m * k * n for m, k, n in [(h, tokens, r), (r, tokens, h)] * 2)   # dA, dB
    np.testing.assert_array_equal(cm.backward_flops(3), [m * cm.layer_forward_flops + lora_grads for m in (1, 2, 3)])


def test_activation_memory_is_korthikanti_estimate():
    cm = EncoderCostModel()
    s, b, h, a = 512, 32, 768, 12
    per_layer = s * b * h * 34 + 5 * a * s * s * b       # bytes, Korthikanti et al. 2022 eq. (2)
    assert cm.activation_bytes_per_layer == per_layer


@settings(max_examples=40, deadline=None)
@given(f=st.lists(st.floats(0.1, 10.0), min_size=1, max_size=8), M=st.integers(1, 12),
       iters=st.integers(1, 5), beta=st.sampled_from([0.0, 0.5, 1.0, 2.0]))
def test_compute_latency_matrix_matches_equation_3(f, M, iters, beta):
    cm = EncoderCostModel(backward_factor=beta)
    tcp = cm.compute_latency_matrix(f, M, iters)
    t_f, t_b = cm.forward_latency_s, cm.backward_latency_s(M)
    for k, fk in enumerate(f):
        for m in range(M):
            assert tcp[k, m] == pytest.approx(iters * (t_f + t_b[m]) / fk, rel=1e-12)
    assert np.all(np.diff(tcp, axis=1) >= 0)


@pytest.mark.parametrize("bad", [{"batch_size": 0}, {"hidden": 770}, {"flops_efficiency": 1.5},
                                 {"backward_factor": -1.0}, {"seq_len": 3.5}, {"peak_flops": math.inf}])
def test_cost_model_rejects_bad_parameters(bad):
    with pytest.raises(ValueError, match="cost model"):
        EncoderCostModel(**bad)


# --------------------------------------------------------------------------------------
# Generator
# --------------------------------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(K=st.integers(1, 30), M=st.integers(1, 12), seed=st.integers(0, 2**32))
def test_same_seed_same_instance_and_rows_sorted(K, M, seed):
    a, b = generate_instance(K, M, seed), generate_instance(K, M, seed)
    assert json.dumps(a.to_dict()) == json.dumps(b.to_dict())
    assert np.all(np.diff(a.compute_latency, axis=1) >= 0) and np.all(np.diff(a.block_memory) >= 0)
    c = generate_instance(K, M, seed + 1)
    assert not np.array_equal(a.compute_latency, c.compute_latency)


def test_same_seed_same_file_bytes(tmp_path):
    from instances import save_instance
    save_instance(generate_instance(20, 12, 5), tmp_path / "a.json")
    save_instance(generate_instance(20, 12, 5), tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


@settings(max_examples=25, deadline=None)
@given(K=st.integers(1, 12), M=st.integers(1, 6), seed=st.integers(0, 1000),
       fmin=st.floats(0.1, 2.0), fspan=st.floats(0.0, 2.0), lo=st.floats(0.5, 10.0), span=st.floats(0.0, 10.0),
       snr=st.floats(-10.0, 30.0), pl=st.floats(0.0, 40.0), iters=st.integers(1, 4))
def test_draws_respect_ranges_and_meta_rebuilds_instance(K, M, seed, fmin, fspan, lo, span, snr, pl, iters):
    params = dict(compute_factor_min=fmin, compute_factor_max=fmin + fspan, memory_min_gb=lo,
                  memory_max_gb=lo + span, snr_db=snr, path_loss_db=pl, local_iterations=iters)
    inst = generate_instance(K, M, seed, **params)
    meta = inst.meta
    assert meta["seed"] == seed and meta["generator_version"] == GENERATOR_VERSION
    for key, value in params.items():
        assert meta["scenario"][key] == value
    f = np.array(meta["draws"]["compute_factor"])
    assert np.all((fmin <= f) & (f <= fmin + fspan))
    assert np.all((lo * GB <= inst.device_memory) & (inst.device_memory <= (lo + span) * GB))
    # tcp and R re-derived from the draws by the paper's formulas, independently of the generator
    t = meta["cost_model"]["forward_latency_s"] + np.array(meta["cost_model"]["backward_latency_s"])
    np.testing.assert_allclose(inst.compute_latency, iters * t[None, :] / f[:, None], rtol=1e-12)
    gain = meta["draws"]["channel_gain"]
    expected_r = [math.log2(1 + 10 ** (snr / 10) * 10 ** (-pl / 10) * g) for g in gain]
    np.testing.assert_allclose(inst.spectral_efficiency, expected_r, rtol=1e-9)
    # meta is complete: the scenario it records rebuilds the very same instance
    again = generate_instance(meta["devices"], meta["blocks"], meta["seed"], **meta["scenario"])
    assert json.dumps(again.to_dict()) == json.dumps(inst.to_dict())


def test_distributions_at_scale():
    """K = 100,000 builds quickly; f ~ U[lo, hi] (defaults) and |h|^2 ~ Exp(1) (mean 1, P(>1) = 1/e)."""
    inst = generate_instance(100_000, 12, seed=3)
    assert inst.compute_latency.shape == (100_000, 12)
    f = np.array(inst.meta["draws"]["compute_factor"])
    lo, hi = ScenarioParams().compute_factor_min, ScenarioParams().compute_factor_max
    assert f.min() >= lo and f.max() <= hi
    assert f.mean() == pytest.approx((lo + hi) / 2, abs=0.01)
    assert f.std() == pytest.approx((hi - lo) / math.sqrt(12), rel=0.02)   # std of U[lo, hi]
    gain = (2.0 ** inst.spectral_efficiency - 1) / 10 ** ((10 - 20) / 10)   # invert R = log2(1 + snr G |h|^2)
    assert gain.mean() == pytest.approx(1.0, abs=0.02)
    assert np.mean(gain > 1) == pytest.approx(math.exp(-1), abs=0.01)
    cap_gb = inst.device_memory / GB
    assert cap_gb.mean() == pytest.approx(14.0, abs=0.1)


def test_fading_none_gives_equal_rates():
    inst = generate_instance(6, 3, 1, fading="none", snr_db=10.0, path_loss_db=10.0)
    np.testing.assert_allclose(inst.spectral_efficiency, 1.0)        # log2(1 + 10 * 0.1 * 1)
    assert spectral_efficiency(np.array([1e-300]), 10.0, 20.0)[0] > 0   # never a zero rate


def test_default_scenario_is_usually_feasible_and_balanced():
    feasible, shares = 0, []
    for seed in range(30):
        inst = generate_instance(20, 12, seed)
        res = p1.crunch(inst)
        if res.status.value == "optimal":
            feasible += 1
            a = np.array(res.assignment)
            comp = inst.compute_latency[a, np.arange(12)]
            comm = inst.upload_equal_s[a]
            j = int(np.argmax(comp + comm))
            shares.append(comp[j] / (comp[j] + comm[j]))
    assert feasible >= 27
    # both computation and upload matter at the optimum's bottleneck device, on average
    assert 0.2 <= np.mean(shares) <= 0.9


@pytest.mark.parametrize("kwargs, match", [
    (dict(K=0, M=1), "at least one device"),
    (dict(K=3, M=13), "exceeds the model's 12 layers"),
    (dict(K=3, M=2, seed=-1), "seed"),
    (dict(K=3, M=2, compute_factor_min=2.0, compute_factor_max=1.0), "compute factor range"),
    (dict(K=3, M=2, memory_min_gb=5.0, memory_max_gb=4.0), "memory range"),
    (dict(K=3, M=2, fading="rician"), "fading"),
    (dict(K=3, M=2, colour="red"), "unknown scenario parameter"),
    (dict(K=3, M=2, local_iterations=0), "local_iterations"),
    (dict(K=3, M=2, gradient_bits=-1.0), "gradient_bits"),
])
def test_bad_parameters_are_named(kwargs, match):
    K, M = kwargs.pop("K"), kwargs.pop("M")
    with pytest.raises(ValueError, match=match):
        generate_instance(K, M, **kwargs)


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------
def test_cli_end_to_end(tmp_path):
    out = tmp_path / "many"
    res = run_cli("-K", 5, "-M", 3, "--seed", 4, "--count", 2, "--out", out,
                  "--path-loss-db", 25, "--compute-factor", 1, 2, "--memory-gb", 3, 5, "--snr-db", 5,
                  "--bandwidth-mhz", 50, "--local-iterations", 3, "--batch-size", 16, "--seq-len", 128,
                  "--peak-tflops", 4, "--efficiency", 0.5, "--backward-factor", 2, "--gradient-bits", 1000,
                  "--fading", "rayleigh", "--layers", 6, "--hidden", 512, "--ffn", 2048, "--heads", 8,
                  "--lora-rank", 4)
    assert res.returncode == 0, res.stderr
    files = sorted(out.glob("*.json"))
    assert [p.name for p in files] == ["deft-K5-M3-s4.json", "deft-K5-M3-s5.json"]
    expected = dict(path_loss_db=25.0, compute_factor_min=1.0, compute_factor_max=2.0, memory_min_gb=3.0,
                    memory_max_gb=5.0, snr_db=5.0, bandwidth_mhz=50.0, local_iterations=3, batch_size=16,
                    seq_len=128, peak_flops=4e12, flops_efficiency=0.5, backward_factor=2.0, gradient_bits=1000.0,
                    fading="rayleigh", num_layers=6, hidden=512, ffn=2048, heads=8, lora_rank=4)
    for seed, path in zip((4, 5), files):
        inst = load_instance(path)
        for key, value in expected.items():
            assert inst.meta["scenario"][key] == value, key
        assert inst.gradient_bits == 1000.0 and inst.bandwidth_hz == 50e6
        assert json.dumps(inst.to_dict()) == json.dumps(generate_instance(5, 3, seed, name=inst.name, **expected).to_dict())

    one = tmp_path / "sub" / "one.json"
    res = run_cli("-K", 4, "-M", 2, "--name", "mine", "--out", one)
    assert res.returncode == 0 and load_instance(one).name == "mine"
    res = run_cli("-K", 2, "-M", 1, "--out", "-")
    assert res.returncode == 0 and json.loads(res.stdout)["name"] == "deft-K2-M1-s0"


@pytest.mark.parametrize("args, match", [
    (("-K", 3, "-M", 20), "exceeds the model"),
    (("--memory-gb", 5, 4), "memory range"),
    (("--count", 2, "--out", "x.json"), "one file"),
])
def test_cli_bad_input_is_one_line(tmp_path, args, match):
    res = run_cli(*args, cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.startswith("error:") and match in res.stderr and "Traceback" not in res.stderr


def test_every_flag_is_documented():
    text = DOC.read_text(encoding="utf-8")
    flags = [o for a in _parser()._actions for o in a.option_strings if o.startswith("--") and o != "--help"]
    missing = [f for f in flags if f"`{f}" not in text]
    assert not missing, f"flags missing from {DOC.name}: {missing}"
    for name in ScenarioParams().flat():
        assert name in text, f"parameter {name} missing from {DOC.name}"


# --------------------------------------------------------------------------------------
# The shipped corpus
# --------------------------------------------------------------------------------------
def test_corpus_regenerates_byte_for_byte(tmp_path):
    res = run_cli("--corpus", "--out", tmp_path)
    assert res.returncode == 0, res.stderr
    fresh = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.json"))
    shipped = sorted(p.relative_to(INSTANCES) for p in corpus_files())
    assert fresh == shipped
    for rel in shipped:
        assert (tmp_path / rel).read_bytes() == (INSTANCES / rel).read_bytes(), rel
    # the library function writes the same bytes as the command line
    again = build_corpus(tmp_path / "lib")
    assert all(p.read_bytes() == (INSTANCES / p.relative_to(tmp_path / "lib")).read_bytes() for p in again)


def test_corpus_files_load_and_carry_meta():
    files = corpus_files()
    assert 10 <= len(files) <= 15
    assert sum(p.stat().st_size for p in files) < 400_000
    for path in files:
        inst = load_instance(path)                      # validates
        assert inst.name == path.stem
        corpus = inst.meta["corpus"]
        assert corpus["folder"] == path.parent.name and corpus["description"]
        assert np.all(np.diff(inst.compute_latency, axis=1) >= 0)
        if inst.meta.get("generator") == "instances.generate":
            assert inst.meta["generator_version"] == GENERATOR_VERSION
            assert set(ScenarioParams().flat()) == set(inst.meta["scenario"])


def _by_property():
    out = {}
    for path in corpus_files():
        inst = load_instance(path)
        out.setdefault(inst.meta["corpus"]["property"], []).append(inst)
    return out


def test_paper_files_match_the_paper_setup():
    paper = _by_property()["paper"]
    assert sorted((i.K, i.M) for i in paper) == [(20, 12)] * 3 + [(50, 12)] * 2
    for inst in paper:
        assert inst.gradient_bits == 786_432 and inst.bandwidth_hz == 100e6
        assert inst.meta["scenario"]["snr_db"] == 10.0
        assert p1.crunch(inst).status.value == "optimal"


def test_tiny_files_are_brute_forceable_and_crunch_agrees():
    tiny = _by_property()["tiny"]
    assert len(tiny) == 4 and any(i.meta.get("generator", "").startswith("hand-made") for i in tiny)
    for inst in tiny:
        assert inst.K <= 6 and inst.M <= 4
        best = brute_force_p1(inst)
        assert best is not None
        assert p1.crunch(inst).objective_s == pytest.approx(best, rel=1e-12)


def test_edge_files_have_their_advertised_property():
    groups = _by_property()
    (same,) = groups["identical-devices"]
    assert np.all(same.compute_latency == same.compute_latency[0])
    assert np.all(same.spectral_efficiency == same.spectral_efficiency[0])
    assert np.all(same.device_memory == same.device_memory[0])
    (eq,) = groups["equal-compute"]
    assert np.all(eq.compute_latency == eq.compute_latency[0])          # every column tied
    assert len(set(eq.spectral_efficiency.tolist())) == eq.K            # channels differ
    (mk,) = groups["m-equals-k"]
    assert mk.M == mk.K
    (m1,) = groups["m-one"]
    assert m1.M == 1
    for inst in (same, eq, mk, m1):
        res = p1.crunch(inst)
        assert res.status.value == "optimal"
        assert res.objective_s == pytest.approx(brute_force_p1(inst), rel=1e-12)


def test_infeasible_files_are_infeasible():
    groups = _by_property()
    (wall,) = groups["memory-wall"]
    assert np.all(wall.device_memory < wall.block_memory[-1])           # independent reason
    (many,) = groups["m-greater-than-k"]
    assert many.M > many.K
    for inst in (wall, many):
        res = p1.crunch(inst)
        assert res.status.value == "infeasible" and res.message


def test_corpus_spec_is_consistent_with_files():
    names = sorted(inst.name for _, inst in corpus_instances())
    assert names == sorted(p.stem for p in corpus_files())
    assert len({e.name for e in CORPUS}) == len(CORPUS)
