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
from instances.generate import (GENERATOR_VERSION, InfeasibleRequest, ScenarioParams, _parser,
                                generate_instance, infeasibility_reason, spectral_efficiency)
from solvers import p1
from solvers.certify import infeasibility_certificate
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
    a, b = (generate_instance(K, M, seed, allow_infeasible=True) for _ in range(2))   # M > K drawn too
    assert json.dumps(a.to_dict()) == json.dumps(b.to_dict())
    assert np.all(np.diff(a.compute_latency, axis=1) >= 0) and np.all(np.diff(a.block_memory) >= 0)
    c = generate_instance(K, M, seed + 1, allow_infeasible=True)
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
    inst = generate_instance(K, M, seed, allow_infeasible=True, **params)    # walls and M > K drawn too
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
    again = generate_instance(meta["devices"], meta["blocks"], meta["seed"], allow_infeasible=True, **meta["scenario"])
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
    (dict(K=3, M=12 * 24_576 + 1), "exceeds the model's 294912 LoRA parameters"),
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
    (("-K", 3, "-M", 20), "use -K 20 (K >= M)"),
    (("-M", 300_000), "exceeds the model's"),
    (("--memory-gb", 5, 4), "memory range"),
    (("--count", 2, "--out", "x.json"), "one file"),
])
def test_cli_bad_input_is_one_line(tmp_path, args, match):
    res = run_cli(*args, cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.startswith("error:") and match in res.stderr and "Traceback" not in res.stderr


def test_every_flag_is_documented():
    import instances.generate as generate

    text = DOC.read_text(encoding="utf-8")
    flags = [o for a in _parser()._actions for o in a.option_strings if o.startswith("--") and o != "--help"]
    # the cost-model document's table, or the generator's own reference (its module docstring)
    missing = [f for f in flags if f"`{f}" not in text and f"``{f}" not in generate.__doc__]
    assert not missing, f"flags missing from {DOC.name} and the instances.generate docstring: {missing}"
    for name in ScenarioParams().flat():
        assert name in text, f"parameter {name} missing from {DOC.name}"



# --------------------------------------------------------------------------------------
# Feasibility: M beyond the model's layers, refusals, --allow-infeasible
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("M", [24, 48, 96])
def test_many_blocks_at_k100_are_feasible(M):
    """M > L splits the 12 layers into finer blocks; every draw checked by Hall and by the certificate module."""
    L = EncoderCostModel().num_layers
    for seed in range(10):
        inst = generate_instance(100, M, seed)
        assert inst.M == M and inst.K == 100
        assert p1.hall_check(inst.memory_prefix, inst.M), seed
        assert infeasibility_certificate(inst) is None, seed
        assert np.all(np.diff(inst.block_memory) >= 0) and np.all(np.diff(inst.compute_latency, axis=1) >= 0)
    # the model is RoBERTa-base still: the deepest block is the M = 12 one, and the round uploads as many bits
    base = generate_instance(100, 12, 0)
    assert inst.block_memory[-1] == pytest.approx(base.block_memory[-1], rel=1e-4)
    assert inst.compute_latency[0, -1] / inst.compute_latency[0, 0] == pytest.approx(
        base.compute_latency[0, -1] / base.compute_latency[0, 0], rel=1e-3)
    assert inst.gradient_bits * M == base.gradient_bits * L
    assert p1.crunch(inst).status.value == "optimal"


def test_split_blocks_by_independent_arithmetic():
    """M = 26 over 12 layers: the top 2 layers carry 3 blocks, the other 10 carry 2; shares are ceilings."""
    cm = EncoderCostModel()
    n = cm.lora_params_per_block
    layers = [1] * 3 + [2] * 3 + [j for j in range(3, 13) for _ in range(2)]
    params = [math.ceil(n / 3)] * 6 + [n // 2] * 20
    assert cm.block_layers(26).tolist() == layers and cm.block_lora_params(26).tolist() == params
    A, W = cm.activation_bytes_per_layer, cm.weight_memory_bytes
    expected_mu = [W + d * A + p * 8 for d, p in zip(layers, params)]
    np.testing.assert_allclose(cm.block_memory_bytes(26), expected_mu, rtol=1e-15)
    lora_flops = cm.lora_weight_grad_flops
    expected_fb = [d * cm.layer_forward_flops + lora_flops * p / n for d, p in zip(layers, params)]
    np.testing.assert_allclose(cm.backward_flops(26), expected_fb, rtol=1e-15)
    assert cm.block_gradient_bits(26) == (n // 2) * 32
    inst = generate_instance(60, 26, 1)
    assert inst.meta["cost_model"]["block_layers"] == layers and inst.gradient_bits == (n // 2) * 32
    # one block per layer (M <= L): no split keys, the shipped corpus's meta is unchanged
    assert "block_layers" not in generate_instance(20, 12, 1).meta["cost_model"]


@settings(max_examples=30, deadline=None)
@given(M=st.integers(1, 200), beta=st.sampled_from([0.0, 1.0]), batch=st.sampled_from([1, 32]),
       seq=st.sampled_from([1, 512]))
def test_split_blocks_stay_sorted_for_any_workload(M, beta, batch, seq):
    cm = EncoderCostModel(backward_factor=beta, batch_size=batch, seq_len=seq)
    assert np.all(np.diff(cm.block_memory_bytes(M)) >= 0)
    assert np.all(np.diff(cm.block_compute_latency_s(M)) >= 0)
    assert np.all(np.diff(cm.block_layers(M)) >= 0) and cm.block_layers(M)[-1] == min(M, 12)
    assert cm.block_lora_params(M).sum() >= cm.lora_params_per_block * min(M, 12)


def test_k_below_m_is_refused_naming_the_option():
    with pytest.raises(InfeasibleRequest, match=r"use -K 48 \(K >= M\)"):
        generate_instance(20, 48, 1)
    inst = generate_instance(20, 48, 1, allow_infeasible=True)
    assert inst.M > inst.K and not p1.hall_check(inst.memory_prefix, inst.M)
    assert infeasibility_certificate(inst) is not None


def test_memory_wall_is_refused_and_the_named_option_fixes_every_seed():
    for K, M, lo, hi in ((20, 12, 4.0, 11.0), (100, 48, 2.0, 9.0), (30, 24, 10.0, 11.5)):
        with pytest.raises(InfeasibleRequest, match="memory wall") as caught:
            for seed in range(20):
                generate_instance(K, M, seed, memory_min_gb=lo, memory_max_gb=hi)
        message = str(caught.value)
        assert "\n" not in message
        low, high = map(float, message.split("--memory-gb ")[1].split(" (")[0].split())
        assert low * GB >= EncoderCostModel().block_memory_bytes(M)[-1] and high >= low
        for seed in range(20):
            inst = generate_instance(K, M, seed, memory_min_gb=low, memory_max_gb=high)
            assert p1.hall_check(inst.memory_prefix, M)
        drawn = generate_instance(K, M, 0, memory_min_gb=lo, memory_max_gb=hi, allow_infeasible=True)
        assert np.all(drawn.device_memory <= hi * GB)


def test_infeasibility_reason_agrees_with_hall_check():
    rng = np.random.default_rng(5)
    params = ScenarioParams()
    for _ in range(300):
        K, M = int(rng.integers(1, 8)), int(rng.integers(1, 8))
        mu = np.sort(rng.integers(1, 6, size=M)).astype(float)
        cap = rng.integers(0, 7, size=K).astype(float)
        counts = np.searchsorted(mu, cap, side="right")
        assert (infeasibility_reason(K, M, mu, cap, params) is None) == p1.hall_check(counts, M)


def test_infeasible_corpus_entries_are_built_as_drawn():
    from instances.corpus import CORPUS

    infeasible = [entry for entry in CORPUS if entry.folder == "infeasible"]
    assert infeasible and all(not p1.hall_check(e.build().memory_prefix, e.M) for e in infeasible)
    with pytest.raises(InfeasibleRequest):
        generate_instance(8, 12, 2, extra_meta={"corpus": {"folder": "infeasible"}})


def test_cli_refuses_infeasible_requests_in_one_line(tmp_path):
    res = run_cli("-K", 20, "-M", 48, "--out", tmp_path / "a")
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "use -K 48 (K >= M)" in res.stderr
    res = run_cli("-K", 20, "--memory-gb", 4, 11, "--count", 3, "--out", tmp_path / "b")
    assert res.returncode == 2 and res.stderr.count("\n") == 1
    assert "--memory-gb 11.43 11.43" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "a").exists() and not list((tmp_path / "b").glob("*.json"))   # nothing written
    res = run_cli("-K", 20, "--memory-gb", 11.43, 11.43, "--count", 3, "--out", tmp_path / "c")
    assert res.returncode == 0 and len(list((tmp_path / "c").glob("*.json"))) == 3


def test_cli_allow_infeasible_writes_and_counts(tmp_path):
    res = run_cli("-K", 20, "-M", 48, "--count", 2, "--allow-infeasible", "--out", tmp_path / "a")
    assert res.returncode == 0, res.stderr
    assert res.stderr.strip().splitlines()[-1] == "2 of 2 instances written are infeasible"
    assert all(load_instance(p).M == 48 for p in (tmp_path / "a").glob("*.json"))
    # a range straddling the deepest block's 11.42 GB: some draws are infeasible, some not
    out = tmp_path / "b"
    res = run_cli("-K", 20, "--memory-gb", 4, 12, "--count", 12, "--allow-infeasible", "--out", out)
    assert res.returncode == 0, res.stderr
    written = [load_instance(p) for p in sorted(out.glob("*.json"))]
    bad = sum(not p1.hall_check(i.memory_prefix, i.M) for i in written)
    assert len(written) == 12 and 0 < bad < 12
    assert res.stderr.strip().splitlines()[-1] == f"{bad} of 12 instances written are infeasible"
    res = run_cli("-K", 100, "-M", 96, "--allow-infeasible", "--out", tmp_path / "c")
    assert res.returncode == 0 and res.stderr.strip() == "0 of 1 instances written are infeasible"


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


# --------------------------------------------------------------------------------------
# The problem family: --ranks (G1) and --max-blocks (G2)
# --------------------------------------------------------------------------------------
def test_without_family_options_nothing_changes():
    assert "block_ranks" not in ScenarioParams().flat() and "device_max_blocks" not in ScenarioParams().flat()
    inst = generate_instance(20, 12, 1)
    assert inst.paper_model and inst.to_dict()["format"] == "deft-instance/1"
    assert set(inst.meta["draws"]) == {"compute_factor", "channel_gain"}


def test_ranks_list_scales_the_gradient_bits():
    base = generate_instance(6, 4, 3, num_layers=4, memory_min_gb=4.0)
    inst = generate_instance(6, 4, 3, num_layers=4, memory_min_gb=4.0, block_ranks="8,4,16,2")
    assert inst.family == frozenset({"G1"}) and inst.to_dict()["format"] == "deft-instance/2"
    assert inst.block_bits.tolist() == [base.gradient_bits * r / 8 for r in (8, 4, 16, 2)]
    assert inst.block_bits[0] == base.gradient_bits                         # the default rank gives today's D
    assert inst.meta["scenario"]["block_ranks"] == "8,4,16,2" and inst.meta["draws"]["block_rank"] == [8, 4, 16, 2]
    for name in ("compute_latency", "block_memory", "device_memory", "spectral_efficiency"):
        assert np.array_equal(getattr(inst, name), getattr(base, name))     # only the sizes follow the ranks
    # the bits per unit rank follow --gradient-bits and --lora-rank
    explicit = generate_instance(6, 4, 3, num_layers=4, memory_min_gb=4.0, block_ranks=[4, 2, 2, 1],
                                 gradient_bits=1000.0, lora_rank=4)
    assert explicit.block_bits.tolist() == [1000.0, 500.0, 500.0, 250.0]
    same = generate_instance(6, 4, 3, num_layers=4, memory_min_gb=4.0, block_ranks="8")
    assert same.paper_model and json.dumps(same.to_dict()["gradient_bits"]) == json.dumps(base.gradient_bits)


def test_ranks_range_is_drawn_deterministically_after_the_devices():
    a, b = (generate_instance(14, 12, 5, block_ranks="4:16") for _ in range(2))
    assert json.dumps(a.to_dict()) == json.dumps(b.to_dict())
    ranks = np.array(a.meta["draws"]["block_rank"])
    assert ranks.shape == (12,) and ranks.min() >= 4 and ranks.max() <= 16 and len(set(ranks.tolist())) > 1
    np.testing.assert_array_equal(a.block_bits, 786_432 * ranks / 8)
    plain = generate_instance(14, 12, 5)
    assert np.array_equal(a.compute_latency, plain.compute_latency)          # the same devices
    assert np.array_equal(a.spectral_efficiency, plain.spectral_efficiency)
    other = generate_instance(14, 12, 6, block_ranks="4:16")
    assert other.meta["draws"]["block_rank"] != a.meta["draws"]["block_rank"]


def test_max_blocks_makes_k_below_m_feasible():
    from tests.bruteforce import brute_force_family_p1

    with pytest.raises(InfeasibleRequest, match=r"use -K 5 \(K >= M\)"):
        generate_instance(2, 5, 1, num_layers=5, memory_min_gb=5.0, memory_max_gb=6.0)
    inst = generate_instance(3, 5, 1, num_layers=5, memory_min_gb=5.0, memory_max_gb=6.0, device_max_blocks=2)
    assert inst.family == frozenset({"G2"}) and inst.device_max_blocks.tolist() == [2, 2, 2]
    assert inst.meta["scenario"]["device_max_blocks"] == "2"
    assert brute_force_family_p1(inst) is not None
    with pytest.raises(InfeasibleRequest, match=r"take at most 4 \(--max-blocks 2\); use --max-blocks 3"):
        generate_instance(2, 5, 1, num_layers=5, memory_min_gb=5.0, device_max_blocks=2)
    drawn = generate_instance(2, 5, 1, num_layers=5, memory_min_gb=5.0, device_max_blocks=2, allow_infeasible=True)
    assert brute_force_family_p1(drawn) is None
    listed = generate_instance(3, 4, 0, num_layers=4, memory_min_gb=4.0, device_max_blocks=[1, 3, 1])
    assert listed.device_max_blocks.tolist() == [1, 3, 1] and listed.meta["scenario"]["device_max_blocks"] == "1,3,1"


@settings(max_examples=30, deadline=None)
@given(K=st.integers(1, 4), M=st.integers(1, 4), seed=st.integers(0, 500), lo=st.floats(1.0, 4.0),
       span=st.floats(0.0, 2.0), spec=st.sampled_from(["1:3", "2", "1:2", "3"]), ranks=st.sampled_from([None, "1:16"]))
def test_generated_family_instances_are_feasible_exactly_when_brute_force_says(K, M, seed, lo, span, spec, ranks):
    """Without --allow-infeasible every instance has a map (brute force); with it, the count matches."""
    from tests.bruteforce import brute_force_family_p1

    kwargs = dict(num_layers=M, memory_min_gb=lo, memory_max_gb=lo + span, device_max_blocks=spec, block_ranks=ranks)
    try:
        inst = generate_instance(K, M, seed, **kwargs)
    except InfeasibleRequest as exc:
        assert "\n" not in str(exc) and "use " in str(exc)
        inst = generate_instance(K, M, seed, allow_infeasible=True, **kwargs)
        assert brute_force_family_p1(inst) is None
        return
    assert brute_force_family_p1(inst) is not None
    again = generate_instance(inst.meta["devices"], inst.meta["blocks"], inst.meta["seed"], **inst.meta["scenario"])
    assert json.dumps(again.to_dict()) == json.dumps(inst.to_dict())      # meta rebuilds the instance


def test_capacity_reason_agrees_with_brute_force():
    from instances import Instance
    from tests.bruteforce import family_assignments

    rng = np.random.default_rng(11)
    params = ScenarioParams()
    for _ in range(300):
        K, M = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        mu = np.sort(rng.integers(1, 6, size=M)).astype(float)
        cap = rng.integers(0, 7, size=K).astype(float)
        most = rng.integers(1, 4, size=K)
        inst = Instance.from_arrays(np.ones((K, M)), mu, cap, np.ones(K), 1.0, 1.0, device_max_blocks=most)
        has_map = next(iter(family_assignments(inst)), None) is not None
        assert (infeasibility_reason(K, M, mu, cap, params, most) is None) == has_map


@pytest.mark.parametrize("kwargs, match", [
    (dict(block_ranks="0:4"), "at least 1"),
    (dict(block_ranks="8:4"), "range is empty"),
    (dict(block_ranks="8,x"), "not LO:HI or a comma-separated list"),
    (dict(block_ranks="8,8"), "gives 2 values but there are 3 blocks"),
    (dict(block_ranks=2.5), "must be LO:HI, a whole number or a list"),
    (dict(device_max_blocks="0"), "at least 1"),
    (dict(device_max_blocks="1:2000000"), "at most 1000000"),
    (dict(device_max_blocks="1,2"), "gives 2 values but there are 4 devices"),
    (dict(device_max_blocks=[1, True]), "whole numbers"),
])
def test_bad_family_options_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        generate_instance(4, 3, **kwargs)


def test_cli_family_options(tmp_path):
    out = tmp_path / "fam"
    res = run_cli("-K", 3, "-M", 5, "--layers", 5, "--memory-gb", 5, 6, "--ranks", "2:16", "--max-blocks", "2:3",
                  "--seed", 7, "--count", 2, "--out", out)
    assert res.returncode == 0, res.stderr
    files = sorted(out.glob("*.json"))
    assert len(files) == 2
    for seed, path in zip((7, 8), files):
        data = json.loads(path.read_text())
        assert data["format"] == "deft-instance/2"
        inst = load_instance(path)
        assert inst.meta["scenario"]["block_ranks"] == "2:16" and inst.meta["scenario"]["device_max_blocks"] == "2:3"
        fresh = generate_instance(3, 5, seed, name=inst.name, num_layers=5, memory_min_gb=5.0, memory_max_gb=6.0,
                                  block_ranks="2:16", device_max_blocks="2:3")
        assert json.dumps(fresh.to_dict()) == json.dumps(inst.to_dict())
    again = tmp_path / "again"
    run_cli("-K", 3, "-M", 5, "--layers", 5, "--memory-gb", 5, 6, "--ranks", "2:16", "--max-blocks", "2:3",
            "--seed", 7, "--count", 2, "--out", again)
    assert [p.read_bytes() for p in sorted(again.glob("*.json"))] == [p.read_bytes() for p in files]
    res = run_cli("-K", 2, "-M", 5, "--max-blocks", 2, "--out", tmp_path / "no")
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "use --max-blocks 3" in res.stderr
    res = run_cli("-K", 2, "-M", 5, "--max-blocks", 2, "--allow-infeasible", "--out", tmp_path / "yes")
    assert res.returncode == 0 and res.stderr.strip().splitlines()[-1] == "1 of 1 instances written are infeasible"
    res = run_cli("-K", 4, "-M", 3, "--ranks", "4,4", "--out", tmp_path / "bad")
    assert res.returncode == 2 and "--ranks 4,4 gives 2 values but there are 3 blocks" in res.stderr
