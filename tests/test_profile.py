"""Tests of the measured cost model: the profiler on a tiny encoder, the file, and the generator's --cost-model."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from instances import load_instance, save_instance
from instances.costmodel import (COST_MODEL_FORMAT, MEASURED_COST_MODEL_VERSION, EncoderCostModel,
                                 load_cost_model, nondecreasing_fit)
from instances.generate import ScenarioParams, generate_instance
from instances.profile import (SHIPPED_COST_MODEL, ProfileConfig, analytic_counterpart, fig4_comparison, fit_line,
                               write_cost_model)

REPO = Path(__file__).resolve().parents[1]
NO_TORCH = "PyTorch is not installed: the profiler is the optional extra 'profile' (pip install -e \".[profile]\")"

#: The tests' tiny encoder: 2 layers, hidden 64 (a second of measurement).
TINY = ProfileConfig(num_layers=2, hidden=64, ffn=256, heads=4, vocab=1000, max_positions=64, batch_size=2,
                     seq_len=16, repeats=3, warmup=1, threads=1)
TINY_FLAGS = ("--layers", 2, "--hidden", 64, "--ffn", 256, "--heads", 4, "--vocab", 1000, "--max-positions", 64,
              "--batch-size", 2, "--seq-len", 16, "--repeats", 3, "--threads", 1)


def run(module: str, *args, cwd=REPO, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def tiny_document() -> dict:
    pytest.importorskip("torch", reason=NO_TORCH)
    from instances.profile import measure_profile
    return measure_profile(TINY, name="tiny")


@pytest.fixture(scope="module")
def tiny_file(tiny_document, tmp_path_factory) -> Path:
    return write_cost_model(tiny_document, tmp_path_factory.mktemp("profile") / "tiny.json")


# --------------------------------------------------------------------------------------
# What the profiler measures (tiny encoder)
# --------------------------------------------------------------------------------------
def test_tiny_profile_is_positive_and_monotone_in_depth(tiny_document):
    blocks = tiny_document["blocks"]
    assert blocks["layers_backpropagated"] == [1, 2]
    for key in ("latency_s", "forward_s", "backward_s", "wall_latency_s", "cpu_latency_s", "memory_bytes",
                "saved_activation_bytes", "executed_flops", "autograd_nodes"):
        assert len(blocks[key]) == 2 and all(v > 0 for v in blocks[key]), key
    assert all(len(r) == TINY.repeats and min(r) > 0 for r in blocks["latency_repeats_s"])
    # deterministic quantities: strictly monotone in depth
    for key in ("memory_bytes", "step_peak_bytes", "saved_activation_bytes", "executed_flops", "autograd_nodes"):
        assert blocks[key][1] > blocks[key][0], key
    assert blocks["forward_flops"][0] == blocks["forward_flops"][1]      # the forward pass is the whole model
    # timing on a loaded machine is noisy: only a generous check, independent of the machine's speed
    assert blocks["latency_s"][1] > blocks["latency_s"][0] / 3
    assert tiny_document["weight_memory_bytes"] < min(blocks["memory_bytes"])


def test_backward_stops_at_block_m_by_counted_flops_and_saved_bytes():
    pytest.importorskip("torch", reason=NO_TORCH)
    from instances.profile import measure_profile
    config = ProfileConfig(**{**TINY.__dict__, "num_layers": 3, "repeats": 1, "warmup": 0})
    blocks = measure_profile(config)["blocks"]
    analytic = EncoderCostModel(num_layers=3, hidden=64, ffn=256, heads=4, lora_rank=8, batch_size=2, seq_len=16)
    forward = blocks["forward_flops"][0]
    # the forward pass: the analytic F_F plus the head (neglected by the analytic model)
    assert analytic.forward_flops <= forward <= 1.05 * analytic.forward_flops
    backward = np.array(blocks["executed_flops"]) - forward
    steps = np.diff(backward)
    # every extra layer backpropagated costs the same: one frozen layer's input gradient, about F_layer
    # (plus the second operand gradients of Q K^T and P V); nothing below block m is differentiated
    assert steps[0] == steps[1]
    assert analytic.layer_forward_flops <= steps[0] <= 1.3 * analytic.layer_forward_flops
    assert backward[0] < analytic.layer_forward_flops                  # block 0: its own layer, partly
    saved = np.diff(blocks["saved_activation_bytes"])
    assert saved[0] == saved[1] > 0                                     # activations kept: linear in m
    nodes = np.diff(blocks["autograd_nodes"])
    assert nodes[0] == nodes[1] > 0


def test_only_block_m_adapters_get_gradients():
    torch = pytest.importorskip("torch", reason=NO_TORCH)
    from instances.profile import _select_block, build_encoder
    model = build_encoder(TINY)
    ids = torch.randint(3, TINY.vocab, (2, 16))
    assert _select_block(model, 0)[0] is model.layers[-1].query.lora_A   # block 0: the top layer
    with pytest.raises(IndexError):
        _select_block(model, 2)                             # blocks are 0..L-1
    params = _select_block(model, 1)                        # block 1: the bottom layer of two
    assert params[0] is model.layers[0].query.lora_A
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert len(trainable) == 4 and all(any(p is q for q in params) for p in trainable)
    grads = torch.autograd.grad(model(ids).float().sum(), params)
    assert [g.shape for g in grads] == [p.shape for p in params]


# --------------------------------------------------------------------------------------
# The file and the generator
# --------------------------------------------------------------------------------------
def test_file_round_trips_through_the_generator(tiny_document, tiny_file, tmp_path):
    cm = load_cost_model(tiny_file)
    assert cm.num_layers == 2 and cm.hidden == 64 and cm.batch_size == 2 and cm.seq_len == 16
    assert list(cm.latency_s) == tiny_document["blocks"]["latency_s"]
    assert list(cm.memory_bytes) == tiny_document["blocks"]["memory_bytes"]
    inst = generate_instance(6, 2, seed=3, measured_cost_model=cm, memory_min_gb=0.0006, memory_max_gb=0.002)
    f = np.array(inst.meta["draws"]["compute_factor"])
    t = nondecreasing_fit(cm.latency_s)
    np.testing.assert_allclose(inst.compute_latency, t[None, :] / f[:, None], rtol=1e-12)
    np.testing.assert_array_equal(inst.block_memory, cm.memory_bytes)
    assert inst.gradient_bits == 2 * 2 * 64 * 8 * 32                   # LoRA count of the measured model
    assert inst.meta["cost_model_version"] == MEASURED_COST_MODEL_VERSION
    assert inst.meta["cost_model"]["sha256"] == cm.sha256
    # meta rebuilds the instance exactly, without the file
    again = generate_instance(inst.meta["devices"], inst.meta["blocks"], inst.meta["seed"], **inst.meta["scenario"])
    np.testing.assert_array_equal(again.compute_latency, inst.compute_latency)
    # the command line writes the same instance
    out = tmp_path / "one.json"
    res = run("instances.generate", "-K", 6, "-M", 2, "--seed", 3, "--cost-model", tiny_file,
              "--memory-gb", 0.0006, 0.002, "--out", out)
    assert res.returncode == 0, res.stderr
    save_instance(inst, tmp_path / "api.json")
    assert out.read_bytes() == (tmp_path / "api.json").read_bytes()
    assert load_instance(out).meta["scenario"]["measured_cost_model"]["name"] == "tiny"


def test_generator_with_cost_model_splits_layers_and_keeps_rows_sorted(tiny_file):
    cm = load_cost_model(tiny_file)
    inst = generate_instance(8, 5, seed=1, measured_cost_model=cm, memory_min_gb=0.01, memory_max_gb=0.02)
    # M = 5 > L = 2: blocks 0-2 in the top layer, 3-4 in the bottom one
    t = nondecreasing_fit(cm.latency_s)
    np.testing.assert_allclose(inst.compute_latency[0] * inst.meta["draws"]["compute_factor"][0],
                               t[[0, 0, 0, 1, 1]], rtol=1e-12)
    assert np.all(np.diff(inst.compute_latency, axis=1) >= 0) and np.all(np.diff(inst.block_memory) >= 0)


def test_generator_cli_refuses_model_flags_and_bad_files(tmp_path):
    res = run("instances.generate", "-K", 4, "-M", 2, "--cost-model", SHIPPED_COST_MODEL, "--batch-size", 4,
              "--out", "-")
    assert res.returncode == 2 and res.stderr.startswith("error: --batch-size cannot be combined with --cost-model")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "deft-instance/1"}))
    for path, match in ((bad, "format must be 'deft-cost-model/1'"), (tmp_path / "none.json", "cannot read")):
        res = run("instances.generate", "-K", 4, "-M", 2, "--cost-model", path, "--out", "-")
        assert res.returncode == 2 and match in res.stderr and "Traceback" not in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("edit, match", [
    (lambda d: d.update(format="x"), "format"),
    (lambda d: d["blocks"].pop("memory_bytes"), "memory_bytes"),
    (lambda d: d["blocks"].update(latency_s=[1.0]), "latency_s has 1 entries"),
    (lambda d: d["blocks"].update(memory_bytes=[1.0, -2.0] + [3.0] * 10), r"memory_bytes\[1\] must be positive"),
    (lambda d: d["config"].update(num_layers=0), "num_layers"),
])
def test_loader_names_the_bad_field(tmp_path, edit, match):
    doc = json.loads(SHIPPED_COST_MODEL.read_text())
    edit(doc)
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=match):
        load_cost_model(path)


def test_analytic_scenarios_are_unchanged():
    # no measured model: the scenario (and so every analytic instance's meta) carries no new key
    assert "measured_cost_model" not in ScenarioParams().flat()
    assert generate_instance(20, 12, seed=1).meta["cost_model"]["version"] == "encoder-lora/1"


def test_nondecreasing_fit_is_the_least_squares_monotone_sequence():
    assert nondecreasing_fit([3.0, 1.0, 2.0]).tolist() == [2.0, 2.0, 2.0]
    assert nondecreasing_fit([1.0, 2.0, 2.0, 5.0]).tolist() == [1.0, 2.0, 2.0, 5.0]
    rng = np.random.default_rng(0)
    for _ in range(50):
        y = rng.normal(size=7)
        # the min-max formula of isotonic regression: fit_i = max_{j <= i} min_{k >= i} mean(y[j..k])
        expected = [max(min(y[j:k + 1].mean() for k in range(i, 7)) for j in range(i + 1)) for i in range(7)]
        np.testing.assert_allclose(nondecreasing_fit(y), expected, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------------------
# The shipped RoBERTa-base profile and Fig. 4
# --------------------------------------------------------------------------------------
def test_shipped_roberta_base_profile():
    cm = load_cost_model(SHIPPED_COST_MODEL)
    doc = json.loads(SHIPPED_COST_MODEL.read_text())
    assert doc["format"] == COST_MODEL_FORMAT and doc["config"]["lora_modules"] == ["query", "value"]
    assert (cm.num_layers, cm.hidden, cm.ffn, cm.heads, cm.lora_rank) == (12, 768, 3072, 12, 8)
    assert (cm.batch_size, cm.seq_len, cm.dtype) == (8, 128, "bfloat16")
    assert np.all(np.diff(cm.memory_bytes) > 0) and np.all(np.diff(doc["blocks"]["executed_flops"]) > 0)
    table = fig4_comparison(cm)
    a = table.attrs
    assert 1.2 < a["measured_latency_ratio"] < 3.0 and a["measured_latency_r2"] > 0.9      # about linear in m
    # the activations kept per layer agree with the analytic (Korthikanti) estimate at the same b, s
    saved_slope = fit_line(table["block"], table["measured_saved_activation_gb"] * 1e9)[1]
    assert saved_slope == pytest.approx(analytic_counterpart(cm).activation_bytes_per_layer, rel=0.25)
    assert a["measured_memory_slope_bytes"] == pytest.approx(a["analytic_memory_slope_bytes"], rel=0.25)
    # usable by the generator with budgets around its memories
    inst = generate_instance(20, 12, seed=1, measured_cost_model=cm, memory_min_gb=0.5, memory_max_gb=1.5)
    assert inst.M == 12 and np.all(np.diff(inst.block_memory) > 0)


def test_fig4_comparison_columns():
    table = fig4_comparison(SHIPPED_COST_MODEL)
    assert list(table["block"]) == list(range(12))          # 0-based, block 0 the shallowest
    assert table["measured_latency_over_shallowest"].iloc[0] == 1.0
    assert np.all(np.diff(table["measured_latency_fit_s"]) >= 0)
    # the latency line is fitted against the layer count l_m = m + 1 (block m backpropagates through m + 1 layers)
    a = table.attrs
    assert fit_line(table["block"] + 1, table["measured_latency_s"]) == (
        a["measured_latency_intercept_s"], a["measured_latency_slope_s"], a["measured_latency_r2"])
    assert table["analytic_latency_over_shallowest"].iloc[-1] == pytest.approx(
        analytic_counterpart(load_cost_model(SHIPPED_COST_MODEL)).block_compute_latency_s(12)[-1]
        / analytic_counterpart(load_cost_model(SHIPPED_COST_MODEL)).block_compute_latency_s(12)[0])
    for key in ("measured_latency_slope_s", "analytic_latency_slope_s", "measured_memory_slope_bytes",
                "analytic_memory_slope_bytes", "batch_size", "seq_len", "machine"):
        assert key in table.attrs


# --------------------------------------------------------------------------------------
# The command line
# --------------------------------------------------------------------------------------
def test_profile_cli_tiny(tmp_path):
    pytest.importorskip("torch", reason=NO_TORCH)
    out = tmp_path / "cli.json"
    res = run("instances.profile", *TINY_FLAGS, "--clock", "cpu", "--quiet", "--out", out)
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""                                  # --quiet, and the profiler's log lines kept off
    assert str(out) in res.stdout and "memory slope" in res.stdout
    doc = json.loads(out.read_text())
    assert doc["method"]["clock"] == "cpu" and doc["blocks"]["latency_s"] == doc["blocks"]["cpu_latency_s"]
    assert load_cost_model(out).num_layers == 2


def test_profile_cli_tiny_preset(tmp_path):
    """``python -m instances.profile --tiny``: the set-up check CI runs."""
    pytest.importorskip("torch", reason=NO_TORCH)
    out = tmp_path / "tiny.json"
    res = run("instances.profile", "--tiny", "--quiet", "--out", out)
    assert res.returncode == 0, res.stderr
    model = load_cost_model(out)
    assert model.num_layers == 2


def test_profile_cli_bad_input_and_missing_torch(tmp_path):
    res = run("instances.profile", "--clock", "cpu", "--out", tmp_path / "x.json")     # cpu clock needs 1 thread
    assert res.returncode == 2 and res.stderr.startswith("error:") and "threads = 1" in res.stderr
    code = ("import sys; sys.modules['torch'] = None; from instances.profile import main; "
            f"sys.exit(main(['--out', {str(tmp_path / 'y.json')!r}]))")
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "needs PyTorch" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "y.json").exists()
