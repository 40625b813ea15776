r"""Measured cost model: the per-block latency and memory of LoRA fine-tuning, measured on this CPU.

``python -m instances.profile`` builds a transformer encoder from its
configuration (RoBERTa-base by default: 12 layers, hidden 768, FFN 3072, 12
heads; random weights, nothing downloaded) with LoRA adapters of rank 8 on the
query and value projections of every layer, and measures, for every block
m = 0..L-1 (block m backpropagates through m + 1 layers), one fine-tuning
step of block m on one batch:

* the wall time (s) of a forward pass of the whole model plus the backward
  pass that computes block m's adapter gradients and stops there;
* the memory (bytes) that step needs at its peak.

It writes a cost-model file (``deft-cost-model/1`` JSON) that
``python -m instances.generate --cost-model FILE`` uses instead of the
analytic FLOP model (:mod:`instances.costmodel`); the shipped
``instances/cost_models/roberta-base-cpu.costmodel`` is RoBERTa-base measured on
the project's reference machine at batch 8, sequence length 128, bfloat16.

Block numbering
---------------
As in the analytic model and everywhere in the toolkit (``docs/cost-model.md``,
``docs/formulation.md``, "Indexing"): blocks are numbered m = 0..L-1, block 0
the shallowest.  Block m is the LoRA adapter pair of the layer at depth
l_m = m + 1 counted from the output, so its gradient needs a backpropagation
through m + 1 layers; block 0 is the top layer (encoder layer L - 1, 0-based
from the input: ``Encoder.layers[L - 1]``), block L - 1 the bottom one
(layer 0).  Every per-block array of the file is in this order: entry m is
block m, and ``layers_backpropagated`` holds l_m = m + 1.  (The shipped file,
written earlier, states the same order in the former 1-based count in
``method.block_order``; that text is not read.)

Method
------
The encoder is RoBERTa's post-layer-norm encoder written in plain PyTorch
(:class:`Encoder`): embeddings (word, position, token type, layer norm,
dropout), L layers of eager self-attention (Q, K, V, O projections, softmax,
dropout on the probabilities, P V) and a GELU feed-forward network, and
RoBERTa's classification head on the first token with a cross-entropy loss.
Every frozen weight has ``requires_grad = False``; a LoRA adapter computes
``base(x) + (x A^T) B^T alpha / r`` (A: r x h, random; B: h x r, zero, as in
the LoRA paper), with alpha = 2 r.  The model runs in training mode (dropout
0.1, as RoBERTa) in one dtype, bfloat16 by default (the paper's half
precision; ``--dtype float32`` for single precision).

For block m only the two adapters of layer L - 1 - m (0-based from the
input) require a gradient, and the step is
``torch.autograd.grad(loss, adapters)``: the layers below layer L - 1 - m see
no tensor that requires a gradient, so they keep no activations and
autograd's graph, and so the backward pass, starts at layer L - 1 - m: it
runs through the m + 1 layers from the output down to it and stops at block
m's adapters.

*Latency.* Every depth is first run ``warmup`` times, then ``repeats``
rounds each time every depth once (interleaved, ascending and descending in
turn, so that a change of the machine's load during the run spreads over all
depths instead of biasing the deep ones); the latency is the median over the
rounds of the wall time (``time.perf_counter``) of forward plus backward, and
``forward_s`` / ``backward_s`` are the medians of the two parts.  With
``--clock cpu`` (needs ``--threads 1``) they are medians of the process's CPU
time (``time.process_time``) instead: on a machine shared with other jobs that
is the step's compute time, while the wall time also counts the waits for a
core.  Both clocks and every repeat are kept in the file (``wall_*``,
``cpu_*``).  Wall time on a shared machine is noisy; the
generator uses the least-squares non-decreasing fit of the medians
(:func:`instances.costmodel.nondecreasing_fit`).

*Memory.* One more, untimed step per depth under ``torch.profiler`` with
``profile_memory=True``: PyTorch's CPU allocator reports every allocation
and free of tensor memory made during the step; the peak of their running
sum is the step's peak of *new* tensor memory (activations kept for backward,
transient buffers, gradients).  The block's memory is that peak plus the
bytes of all parameters, buffers and the input batch (allocated before the
step).  Limits: memory that does not go through PyTorch's allocator (oneDNN
or BLAS scratch space, the Python interpreter, the allocator's own slack,
fragmentation) is not counted, so this is a lower bound on the process's
resident-memory growth; it is deterministic for a given configuration and
thread count.  The same step records, as cross-checks,
``saved_activation_bytes`` (the distinct storages autograd saves for
backward, through ``torch.autograd.graph.saved_tensors_hooks``, parameters
excluded: the measured counterpart of (m + 1) A_layer),
``executed_flops`` (``torch.utils.flop_counter.FlopCounterMode``: matrix
products of forward and backward, the measured counterpart of F_F + F_B(m))
and ``autograd_nodes`` (the nodes of the backward graph); all three are
deterministic.

Compared with the analytic model (:func:`analytic_counterpart`,
:func:`fig4_comparison`): the analytic backward charges block m's own layer a
full layer's backward, while autograd there needs only the path to the
query and value adapters (no input gradient through Q, K, V, no gradient of
K), so the measured backward is somewhat cheaper at every depth; the analytic
model neglects embeddings, layer norms, softmax and the head, which the wall
time includes.

Command line::

    python -m instances.profile --out my-cpu.json                 # RoBERTa-base, batch 8, seq 128, bf16
    python -m instances.profile --layers 2 --hidden 64 --ffn 256 --heads 4 --vocab 1000 \
        --batch-size 2 --seq-len 16 --repeats 3 --out tiny.json  # a tiny encoder, seconds
    python -m instances.generate -K 20 --cost-model my-cpu.json --memory-gb 0.6 1.4 --out runs/

PyTorch is the optional extra ``profile`` (``pip install -e ".[profile]"``);
reading a cost-model file (:func:`load_cost_model`) needs only NumPy.

Examples
--------
>>> cm = load_cost_model(SHIPPED_COST_MODEL)
>>> cm.num_layers, cm.hidden, cm.batch_size, cm.seq_len, cm.dtype
(12, 768, 8, 128, 'bfloat16')
>>> bool(np.all(np.diff(cm.memory_bytes) > 0))                    # memory grows with depth
True
>>> table = fig4_comparison(cm)
>>> list(table.columns[:4])
['block', 'measured_latency_s', 'measured_forward_s', 'measured_backward_s']
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd

from .cli import add_version
from .costmodel import (COST_MODEL_FORMAT, EncoderCostModel, MeasuredCostModel, load_cost_model,
                        nondecreasing_fit)

try:  # the optional extra "profile"; only profiling needs it
    import torch
    from torch import nn
except ImportError:  # pragma: no cover - exercised where the extra is not installed
    torch = None
    nn = None

#: The measured RoBERTa-base profile shipped with the package.
SHIPPED_COST_MODEL = Path(__file__).resolve().parent / "cost_models" / "roberta-base-cpu.costmodel"

#: Version of the measurement method, written into every cost-model file.
PROFILER_VERSION = "1"

#: dtype names accepted by ``--dtype`` and their bytes per element.
DTYPES = {"bfloat16": 2, "float16": 2, "float32": 4}

#: Clocks of ``--clock`` and what they read.
CLOCKS = {"wall": "wall time (time.perf_counter)",
          "cpu": "CPU time of the process (time.process_time; with one thread, the compute time)"}

#: Names of the adapted projections (the paper's query and value).
LORA_MODULES = ("query", "value")

__all__ = ["ProfileConfig", "SHIPPED_COST_MODEL", "analytic_counterpart", "build_encoder", "fig4_comparison",
           "fit_line", "load_cost_model", "main", "measure_profile", "write_cost_model"]


@dataclass(frozen=True)
class ProfileConfig:
    """The encoder, the workload and the measurement schedule of one profile.

    Attributes
    ----------
    num_layers, hidden, ffn, heads : int
        L, h, f, a (RoBERTa-base: 12, 768, 3072, 12).
    vocab, max_positions : int
        Embedding sizes (50,265 and 514).
    lora_rank : int
        r (8); adapters on the query and value projections, alpha = 2 r.
    batch_size, seq_len : int
        b and s of the measured batch (8 and 128: RoBERTa-base takes a few
        minutes on two cores; the analytic model's defaults are 32 and 512).
    dtype : str
        ``"bfloat16"`` (default, the paper's half precision), ``"float16"`` or ``"float32"``.
    dropout : float
        Dropout probability of hidden states and attention probabilities (0.1).
    repeats, warmup : int
        Timed rounds (median taken) and untimed warm-up runs per depth (5, 1).
    threads : int or None
        ``torch.set_num_threads`` (None: PyTorch's default, the cores available).
    seed : int
        Seed of the weights, the batch and the dropout masks.
    """

    num_layers: int = 12
    hidden: int = 768
    ffn: int = 3072
    heads: int = 12
    vocab: int = 50265
    max_positions: int = 514
    lora_rank: int = 8
    batch_size: int = 8
    seq_len: int = 128
    dtype: str = "bfloat16"
    dropout: float = 0.1
    clock: str = "wall"
    repeats: int = 5
    warmup: int = 1
    threads: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("dtype", "dropout", "threads", "clock"):
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"profile: {f.name} must be an integer, got {value!r}")
            if value < (0 if f.name in ("warmup", "seed") else 1):
                raise ValueError(f"profile: {f.name} must be {'non-negative' if f.name in ('warmup', 'seed') else 'positive'}, got {value!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"profile: dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if not (isinstance(self.dropout, (int, float)) and 0 <= self.dropout < 1):
            raise ValueError(f"profile: dropout must be in [0, 1), got {self.dropout!r}")
        if self.threads is not None and (isinstance(self.threads, bool) or not isinstance(self.threads, int)
                                         or self.threads < 1):
            raise ValueError(f"profile: threads must be a positive integer, got {self.threads!r}")
        if self.clock not in CLOCKS:
            raise ValueError(f"profile: clock must be one of {', '.join(CLOCKS)}, got {self.clock!r}")
        if self.clock == "cpu" and self.threads != 1:
            raise ValueError("profile: clock 'cpu' needs threads = 1 (the CPU time of several threads is not a latency)")
        if self.hidden % self.heads:
            raise ValueError(f"profile: hidden ({self.hidden}) must be a multiple of heads ({self.heads})")
        if self.seq_len + 2 > self.max_positions:
            raise ValueError(f"profile: seq_len ({self.seq_len}) + 2 exceeds max_positions ({self.max_positions})")
        if self.vocab < 4:
            raise ValueError(f"profile: vocab must be at least 4, got {self.vocab}")

    def encoder(self) -> dict:
        """The architecture and workload, as stored under ``config`` in the file."""
        keys = ("num_layers", "hidden", "ffn", "heads", "vocab", "max_positions", "lora_rank",
                "batch_size", "seq_len", "dtype", "dropout")
        return {k: getattr(self, k) for k in keys}


# --------------------------------------------------------------------------------------
# The encoder (plain PyTorch, RoBERTa's layout)
# --------------------------------------------------------------------------------------
def _need_torch() -> None:
    if torch is None:
        raise RuntimeError("the profiler needs PyTorch, the optional extra 'profile': pip install -e \".[profile]\"")


if torch is not None:
    class LoRALinear(nn.Module):
        """A frozen linear layer plus a LoRA adapter: ``base(x) + (x A^T) B^T alpha / r``."""

        def __init__(self, base: "nn.Linear", rank: int, alpha: float) -> None:
            super().__init__()
            self.base = base
            self.lora_A = nn.Parameter(torch.empty(rank, base.in_features))
            self.lora_B = nn.Parameter(torch.zeros(base.out_features, rank))
            nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
            self.scaling = alpha / rank

        def forward(self, x):
            return self.base(x) + (x @ self.lora_A.t()) @ self.lora_B.t() * self.scaling

    class EncoderLayer(nn.Module):
        """RoBERTa's post-layer-norm encoder layer with eager attention and LoRA on query and value."""

        def __init__(self, c: ProfileConfig) -> None:
            super().__init__()
            h = c.hidden
            self.heads = c.heads
            self.query = LoRALinear(nn.Linear(h, h), c.lora_rank, 2.0 * c.lora_rank)
            self.key = nn.Linear(h, h)
            self.value = LoRALinear(nn.Linear(h, h), c.lora_rank, 2.0 * c.lora_rank)
            self.attn_out = nn.Linear(h, h)
            self.attn_norm = nn.LayerNorm(h, eps=1e-5)
            self.ffn_in = nn.Linear(h, c.ffn)
            self.ffn_out = nn.Linear(c.ffn, h)
            self.ffn_norm = nn.LayerNorm(h, eps=1e-5)
            self.dropout = nn.Dropout(c.dropout)

        def forward(self, x):
            b, s, h = x.shape
            a, d = self.heads, h // self.heads

            def split(t):
                return t.view(b, s, a, d).transpose(1, 2)

            q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
            scores = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(d))
            probs = self.dropout(torch.softmax(scores, dim=-1))
            context = (probs @ v).transpose(1, 2).reshape(b, s, h)
            x = self.attn_norm(x + self.dropout(self.attn_out(context)))
            y = self.ffn_out(torch.nn.functional.gelu(self.ffn_in(x)))
            return self.ffn_norm(x + self.dropout(y))

    class Encoder(nn.Module):
        """Embeddings, L encoder layers and RoBERTa's classification head (2 labels)."""

        def __init__(self, c: ProfileConfig) -> None:
            super().__init__()
            h = c.hidden
            self.word = nn.Embedding(c.vocab, h, padding_idx=1)
            self.position = nn.Embedding(c.max_positions, h, padding_idx=1)
            self.token_type = nn.Embedding(1, h)
            self.embed_norm = nn.LayerNorm(h, eps=1e-5)
            self.dropout = nn.Dropout(c.dropout)
            self.layers = nn.ModuleList(EncoderLayer(c) for _ in range(c.num_layers))
            self.head_dense = nn.Linear(h, h)
            self.head_out = nn.Linear(h, 2)

        def forward(self, ids):
            s = ids.shape[1]
            positions = torch.arange(2, s + 2, device=ids.device)      # RoBERTa: padding index + 1 onwards
            x = self.word(ids) + self.position(positions)[None] + self.token_type.weight[0]
            x = self.dropout(self.embed_norm(x))
            for layer in self.layers:
                x = layer(x)
            cls = self.dropout(x[:, 0])
            return self.head_out(self.dropout(torch.tanh(self.head_dense(cls))))

        def block_adapters(self, m: int) -> list:
            """Block m's LoRA parameters (m = 0..L-1, block 0 the top layer): layer L - 1 - m's query and value."""
            if not 0 <= m < len(self.layers):
                raise IndexError(f"block {m} out of range 0..{len(self.layers) - 1}")
            layer = self.layers[len(self.layers) - 1 - m]
            return [layer.query.lora_A, layer.query.lora_B, layer.value.lora_A, layer.value.lora_B]


def build_encoder(config: ProfileConfig | None = None):
    """The encoder of ``config`` with random weights, every weight frozen, in ``config.dtype``, training mode.

    Method: :class:`Encoder` seeded with ``config.seed``; frozen means
    ``requires_grad = False`` for every parameter, LoRA adapters included
    (:func:`measure_profile` enables one block's adapters at a time).
    """
    _need_torch()
    config = config or ProfileConfig()
    torch.manual_seed(config.seed)
    model = Encoder(config).to(getattr(torch, config.dtype))
    model.requires_grad_(False)
    return model.train()


# --------------------------------------------------------------------------------------
# Measurement
# --------------------------------------------------------------------------------------
def _select_block(model, m: int) -> list:
    for p in model.parameters():
        p.requires_grad_(False)
    params = model.block_adapters(m)
    for p in params:
        p.requires_grad_(True)
    return params


def _step(model, ids, labels, params) -> tuple[float, float, float, float]:
    """One forward + backward to block m's adapters: (forward, backward) wall time, then CPU time, s."""
    t0, c0 = time.perf_counter(), time.process_time()
    loss = torch.nn.functional.cross_entropy(model(ids).float(), labels)
    t1, c1 = time.perf_counter(), time.process_time()
    grads = torch.autograd.grad(loss, params)
    t2, c2 = time.perf_counter(), time.process_time()
    del grads, loss
    return t1 - t0, t2 - t1, c1 - c0, c2 - c1


def _count_nodes(root) -> int:
    seen, stack = set(), [root]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        stack.extend(next_fn for next_fn, _ in node.next_functions)
    return len(seen)


class _Quiet:
    """Sends file descriptor 2 to a temporary file (the profiler's C++ start/stop log lines)."""

    def __enter__(self):
        sys.stderr.flush()
        self._saved = os.dup(2)
        self._file = tempfile.TemporaryFile()
        os.dup2(self._file.fileno(), 2)
        return self

    def __exit__(self, *exc):
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self._file.close()
        return False


def _accounting_step(model, ids, labels, params, param_ptrs: set) -> dict:
    """The untimed step: peak tensor memory, bytes saved for backward, FLOPs and autograd nodes."""
    from torch.profiler import ProfilerActivity, profile
    from torch.utils.flop_counter import FlopCounterMode

    saved: dict[int, int] = {}

    def pack(t):
        storage = t.untyped_storage()
        if storage.data_ptr() not in param_ptrs:
            saved[storage.data_ptr()] = storage.nbytes()
        return t

    with _Quiet():
        prof = profile(activities=[ProfilerActivity.CPU], profile_memory=True)
        prof.__enter__()
    try:
        with FlopCounterMode(display=False) as flops:
            with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
                loss = torch.nn.functional.cross_entropy(model(ids).float(), labels)
            forward_flops = flops.get_total_flops()
            nodes = _count_nodes(loss.grad_fn)
            grads = torch.autograd.grad(loss, params)
            total_flops = flops.get_total_flops()
        del grads, loss
    finally:
        with _Quiet():
            prof.__exit__(None, None, None)
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    running = peak = 0
    for e in sorted(events, key=lambda e: e.start_ns()):
        running += e.nbytes()
        peak = max(peak, running)
    return {"step_peak_bytes": int(peak), "saved_activation_bytes": int(sum(saved.values())),
            "forward_flops": int(forward_flops), "executed_flops": int(total_flops), "autograd_nodes": int(nodes)}


def _machine(threads: int) -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": threads, "platform": platform.platform(),
            "python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__}


def measure_profile(config: ProfileConfig | None = None, *, name: str | None = None, progress=None) -> dict:
    """Measure every block depth of ``config`` on this CPU; the cost-model document (``deft-cost-model/1``).

    Method: the module docstring (warm-up, interleaved timed rounds, median;
    one profiled step per depth for memory and the deterministic counts).

    Parameters
    ----------
    config : ProfileConfig, optional
        Encoder, workload and schedule (default: RoBERTa-base, batch 8, seq 128, bf16).
    name : str, optional
        The profile's name (default ``encoder-L{L}-h{h}-b{b}-s{s}-{dtype}``).
    progress : callable, optional
        Called with one line of text after each measured depth and round.

    Returns
    -------
    dict
        JSON-ready; per-block arrays in block order m = 0..L-1 (block 0 = the
        top layer; ``layers_backpropagated`` = m + 1): ``latency_s``,
        ``forward_s``, ``backward_s`` (medians, s),
        ``latency_repeats_s``, ``memory_bytes``, ``step_peak_bytes``,
        ``saved_activation_bytes``, ``executed_flops``, ``forward_flops``,
        ``autograd_nodes``.
    """
    _need_torch()
    config = config or ProfileConfig()
    say = progress or (lambda line: None)
    previous_threads = torch.get_num_threads()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    threads = torch.get_num_threads()
    try:
        model = build_encoder(config)
        gen = torch.Generator().manual_seed(config.seed + 1)
        ids = torch.randint(3, config.vocab, (config.batch_size, config.seq_len), generator=gen)
        labels = torch.randint(0, 2, (config.batch_size,), generator=gen)
        tensors = list(model.parameters()) + list(model.buffers())
        param_ptrs = {t.untyped_storage().data_ptr() for t in tensors}
        weight_bytes = sum({t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in tensors}.values())
        input_bytes = ids.untyped_storage().nbytes() + labels.untyped_storage().nbytes()
        blocks = list(range(config.num_layers))       # block m backpropagates through m + 1 layers
        started = time.perf_counter()
        for m in blocks:
            params = _select_block(model, m)
            for _ in range(config.warmup):
                _step(model, ids, labels, params)
        times = {clock: ({m: [] for m in blocks}, {m: [] for m in blocks}) for clock in CLOCKS}
        for r in range(config.repeats):
            for m in (blocks if r % 2 == 0 else blocks[::-1]):
                wall_f, wall_b, cpu_f, cpu_b = _step(model, ids, labels, _select_block(model, m))
                for clock, (f, b) in (("wall", (wall_f, wall_b)), ("cpu", (cpu_f, cpu_b))):
                    times[clock][0][m].append(f)
                    times[clock][1][m].append(b)
            say(f"round {r + 1}/{config.repeats}: {time.perf_counter() - started:.1f} s")
        counts = []
        for m in blocks:
            counts.append(_accounting_step(model, ids, labels, _select_block(model, m), param_ptrs))
        say(f"memory and counts: {time.perf_counter() - started:.1f} s")
        elapsed = time.perf_counter() - started
    finally:
        torch.set_num_threads(previous_threads)
    per_clock = {}
    for clock, (fwd, bwd) in times.items():
        total = {m: [f + b for f, b in zip(fwd[m], bwd[m])] for m in blocks}
        per_clock[clock] = {"latency_s": [statistics.median(total[m]) for m in blocks],
                            "forward_s": [statistics.median(fwd[m]) for m in blocks],
                            "backward_s": [statistics.median(bwd[m]) for m in blocks],
                            "latency_repeats_s": [total[m] for m in blocks]}
    lora_per_block = len(LORA_MODULES) * 2 * config.hidden * config.lora_rank
    return {
        "format": COST_MODEL_FORMAT,
        "name": name or (f"encoder-L{config.num_layers}-h{config.hidden}-b{config.batch_size}"
                         f"-s{config.seq_len}-{config.dtype}"),
        "generator": "instances.profile",
        "profiler_version": PROFILER_VERSION,
        "date": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        "config": {**config.encoder(), "lora_modules": list(LORA_MODULES), "lora_alpha": 2 * config.lora_rank,
                   "attention": "eager", "seed": config.seed},
        "method": {"repeats": config.repeats, "warmup": config.warmup, "clock": config.clock,
                   "latency": f"median over interleaved rounds of the {CLOCKS[config.clock]}, forward + backward; "
                              f"latency_s, forward_s, backward_s hold the {config.clock} clock's, "
                              f"wall_* and cpu_* both",
                   "memory": "parameters + buffers + input + peak of torch.profiler CPU allocator events "
                             "(profile_memory=True) during one step; tensor memory only",
                   "block_order": "entry m is block m (0-based, block 0 the top layer): the layer at depth "
                                  "m + 1 from the output, backpropagation through m + 1 layers",
                   "seconds_total": round(elapsed, 3)},
        "machine": _machine(threads),
        "weight_memory_bytes": int(weight_bytes),
        "input_bytes": int(input_bytes),
        "lora_params_per_block": lora_per_block,
        "blocks": {
            "layers_backpropagated": [m + 1 for m in blocks],
            **per_clock[config.clock],
            **{f"{clock}_{key}": value for clock in CLOCKS for key, value in per_clock[clock].items()},
            "memory_bytes": [weight_bytes + input_bytes + c["step_peak_bytes"] for c in counts],
            **{key: [c[key] for c in counts] for key in ("step_peak_bytes", "saved_activation_bytes",
                                                         "forward_flops", "executed_flops", "autograd_nodes")},
        },
    }


def write_cost_model(document: dict, path: str | os.PathLike) -> Path:
    """Write a cost-model document as indented JSON (checked by loading it back) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    load_cost_model(path)
    return path


# --------------------------------------------------------------------------------------
# Measured beside analytic (Fig. 4)
# --------------------------------------------------------------------------------------
def analytic_counterpart(measured: MeasuredCostModel) -> EncoderCostModel:
    """The analytic model at the measured configuration: same architecture, batch, sequence length, weight bytes.

    The analytic activation memory (Korthikanti et al.) assumes 2-byte
    activations; for a float32 profile compare slopes allowing for about twice
    the bytes.  Its latency is on the analytic normalised device, so compare
    shapes (latency over the shallowest block's), not seconds.

    >>> cm = analytic_counterpart(load_cost_model(SHIPPED_COST_MODEL))
    >>> cm.num_layers, cm.batch_size, cm.seq_len, cm.weight_bytes
    (12, 8, 128, 2)
    """
    return EncoderCostModel(**measured.encoder_fields(), weight_bytes=DTYPES.get(measured.dtype, 2))


def fit_line(x, y) -> tuple[float, float, float]:
    """Least-squares line ``y = intercept + slope x``: (intercept, slope, R^2).

    >>> fit_line([1, 2, 3], [3.0, 5.0, 7.0])
    (1.0, 2.0, 1.0)
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    slope, intercept = np.polyfit(x, y, 1)
    residual = float(np.sum((y - (intercept + slope * x)) ** 2))
    spread = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - residual / spread if spread > 0 else 1.0
    return round(float(intercept), 12), round(float(slope), 12), round(r2, 12)


def fig4_comparison(measured: MeasuredCostModel | str | os.PathLike) -> pd.DataFrame:
    """Per block m: measured and analytic latency (and its shape) and memory, for Fig. 4.

    Columns: ``block`` (m = 0..L-1, block 0 the shallowest, as in the instance
    files); ``measured_latency_s``, ``measured_forward_s``,
    ``measured_backward_s`` (medians, s, this CPU, the file's batch and
    sequence length), ``measured_latency_fit_s`` (the non-decreasing fit the
    generator uses), ``measured_latency_over_shallowest``,
    ``analytic_latency_over_shallowest`` (the analytic model at the same
    configuration, :func:`analytic_counterpart`), ``measured_memory_gb``,
    ``analytic_memory_gb`` (GB = 1e9 bytes), ``measured_saved_activation_gb``.

    ``table.attrs`` holds the shape: for the latency, the affine fit
    t(m) = t_0 + l_m dt in the layer count l_m = m + 1 (so t_0 is the latency
    extrapolated to no layer backpropagated) of measured and analytic
    (``*_latency_intercept_s``, ``*_latency_slope_s``, ``*_latency_r2``) and
    the deepest / shallowest ratio (``*_latency_ratio``); for the memory, the
    slope in bytes per layer (``*_memory_slope_bytes``) and its R^2.  A
    latency that is linear in m
    with a positive intercept (the forward pass) is the paper's
    "semi-linear"; ``measured_latency_r2`` near 1 says the measurement
    follows it.  Plus ``name``, ``batch_size``, ``seq_len``, ``dtype``,
    ``machine``, ``date`` for the figure's caption.
    """
    if not isinstance(measured, MeasuredCostModel):
        measured = load_cost_model(measured)
    analytic = analytic_counterpart(measured)
    L = measured.num_layers
    blocks = np.arange(L)              # block m, 0-based
    layers = blocks + 1                # l_m = m + 1 layers backpropagated: the fits' abscissa
    t = np.asarray(measured.latency_s, float)
    t_a = analytic.block_compute_latency_s(L)
    mem = np.asarray(measured.memory_bytes, float)
    mem_a = analytic.block_memory_bytes(L)
    table = pd.DataFrame({
        "block": blocks,
        "measured_latency_s": t,
        "measured_forward_s": np.asarray(measured.forward_s, float),
        "measured_backward_s": np.asarray(measured.backward_s, float),
        "measured_latency_fit_s": nondecreasing_fit(t),
        "measured_latency_over_shallowest": t / t[0],
        "analytic_latency_over_shallowest": t_a / t_a[0],
        "measured_memory_gb": mem / 1e9,
        "analytic_memory_gb": mem_a / 1e9,
        "measured_saved_activation_gb": np.asarray(measured.saved_activation_bytes, float) / 1e9,
    })
    attrs = {"name": measured.name, "batch_size": measured.batch_size, "seq_len": measured.seq_len,
             "dtype": measured.dtype, "machine": measured.machine, "date": measured.date}
    for label, lat, memory in (("measured", t, mem), ("analytic", t_a, mem_a)):
        a, b, r2 = fit_line(layers, lat)
        attrs.update({f"{label}_latency_intercept_s": a, f"{label}_latency_slope_s": b, f"{label}_latency_r2": r2,
                       f"{label}_latency_ratio": float(lat[-1] / lat[0])})
        _, slope, r2m = fit_line(layers, memory) if L > 1 else (0.0, 0.0, 1.0)
        attrs.update({f"{label}_memory_slope_bytes": slope, f"{label}_memory_r2": r2m})
    table.attrs.update(attrs)
    return table


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------
#: (flag, ProfileConfig field, type, help).
PROFILE_FLAGS = (
    ("--layers", "num_layers", int, "L, encoder layers"),
    ("--hidden", "hidden", int, "h, hidden size"),
    ("--ffn", "ffn", int, "f, feed-forward width"),
    ("--heads", "heads", int, "a, attention heads"),
    ("--vocab", "vocab", int, "vocabulary size"),
    ("--max-positions", "max_positions", int, "position embeddings"),
    ("--lora-rank", "lora_rank", int, "r, LoRA rank (query and value)"),
    ("--batch-size", "batch_size", int, "b, sequences per measured batch"),
    ("--seq-len", "seq_len", int, "s, tokens per sequence"),
    ("--dtype", "dtype", str, "dtype of weights and activations"),
    ("--dropout", "dropout", float, "dropout probability"),
    ("--clock", "clock", str, "latency clock: wall, or cpu (process CPU time, needs --threads 1)"),
    ("--repeats", "repeats", int, "timed rounds per depth (the median is kept)"),
    ("--warmup", "warmup", int, "untimed runs per depth before timing"),
    ("--threads", "threads", int, "torch threads (default: PyTorch's, the cores available)"),
    ("--seed", "seed", int, "seed of weights, batch and dropout"),
)


def _parser() -> argparse.ArgumentParser:
    d = ProfileConfig()
    p = argparse.ArgumentParser(
        prog="python -m instances.profile",
        description="Measure the per-block latency and memory of LoRA fine-tuning of a transformer encoder "
                    "on this CPU and write a cost-model file for python -m instances.generate --cost-model FILE.")
    for flag, fname, typ, text in PROFILE_FLAGS:
        default = getattr(d, fname)
        p.add_argument(flag, type=typ, dest=fname, default=default,
                       choices=list(DTYPES) if fname == "dtype" else list(CLOCKS) if fname == "clock" else None,
                       help=f"{text} (default {'all cores' if default is None else default})")
    p.add_argument("--name", default=None, help="profile name (default encoder-L{L}-h{h}-b{b}-s{s}-{dtype})")
    p.add_argument("--out", default="cost-model.json", help="output file (default cost-model.json)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.add_argument("--tiny", action="store_true",
                   help="a tiny encoder in seconds, to check the set-up: " + " ".join(map(str, TINY_PRESET)) +
                        " (flags given after --tiny override it)")
    add_version(p)
    return p


#: ``--tiny``: 2 layers, hidden 64, batch 2, sequence 16 (what the tests measure).
TINY_PRESET = ("--layers", 2, "--hidden", 64, "--ffn", 256, "--heads", 4, "--vocab", 1000,
               "--max-positions", 64, "--batch-size", 2, "--seq-len", 16, "--repeats", 3, "--threads", 1)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; 0 when written, 2 on bad input or without PyTorch (one line on stderr)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--tiny" in argv:          # the preset first, so that flags the user gives win
        argv = [str(a) for a in TINY_PRESET] + argv
    args = _parser().parse_args(argv)
    try:
        config = ProfileConfig(**{fname: getattr(args, fname) for _, fname, _, _ in PROFILE_FLAGS})
        _need_torch()
        say = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
        document = measure_profile(config, name=args.name, progress=say)
        path = write_cost_model(document, args.out)
    except (ValueError, RuntimeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    table = fig4_comparison(load_cost_model(path))
    print(f"{path}: {document['name']}, batch {config.batch_size}, seq {config.seq_len}, {config.dtype}, "
          f"{document['machine']['torch_threads']} thread(s), {config.clock} clock, {document['method']['seconds_total']:.1f} s")
    print(f"{'m':>3} {'latency s':>10} {'forward s':>10} {'backward s':>10} {'memory GB':>10} {'analytic GB':>11}")
    for row in table.itertuples():
        print(f"{row.block:>3} {row.measured_latency_s:>10.4f} {row.measured_forward_s:>10.4f} "
              f"{row.measured_backward_s:>10.4f} {row.measured_memory_gb:>10.4f} {row.analytic_memory_gb:>11.4f}")
    a = table.attrs
    print(f"latency deepest/shallowest {a['measured_latency_ratio']:.2f} (analytic {a['analytic_latency_ratio']:.2f}), "
          f"affine fit R^2 {a['measured_latency_r2']:.3f}; memory slope {a['measured_memory_slope_bytes'] / 1e6:.2f} MB "
          f"per layer (analytic {a['analytic_memory_slope_bytes'] / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
