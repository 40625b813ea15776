r"""Random DEFT instances from the cost model, and the command line that writes them.

An instance draws, for K devices (numpy ``Generator`` seeded with ``seed``,
in this order):

* relative computing factors :math:`f_k \sim U[f_\min, f_\max]` *(assumed range)*;
* memory budgets :math:`\mathrm{cap}_k \sim U[\mathrm{lo}, \mathrm{hi}]` GB *(assumed range)*;
* Rayleigh fading powers :math:`|h_k|^2 \sim \mathrm{Exp}(1)`, i.i.d.

and sets

.. math::

    t^\text{cp}_{k,m} = I\,(t_F + t_B(m)) / f_k, \qquad
    R_k = \log_2\!\left(1 + \mathrm{SNR}_\text{tx}\, G\, |h_k|^2\right)

with :math:`t_F, t_B(m)` and the block memory :math:`\mu_m` from
:class:`instances.costmodel.EncoderCostModel`, the transmit SNR 10 dB (the
paper) and a fixed average path-loss gain :math:`G = 10^{-\mathrm{PL}/10}`, the
same for every device *(assumed; the paper's channels are i.i.d. Rayleigh
with one stripped path-loss value, so no distance model is used)*.  D comes
from the LoRA parameter count (786,432 bits) and B = 100 MHz (the paper).

Blocks beyond the model's layers (M > L, e.g. M = 24, 48 or 96 with the
12-layer default) split every layer's LoRA parameters among several blocks
(:class:`~instances.costmodel.EncoderCostModel`, "Block numbering"): the
model, its workload and so the deepest block's memory (11.42 GB) stay those
of RoBERTa-base, which is what fits the memory range of phones; only the
blocks get finer (D = the largest block's gradient, 196,608 bits at M = 48).
A deeper model is asked for with ``--layers`` (``num_layers``), one block per
layer, whose deepest block needs proportionally more memory.

Feasibility
-----------
An instance is *feasible* when every block can be given to its own device
with enough memory: K >= M and Hall's condition on the memory prefixes
(Proposition 1: for every m, at least M - m + 1 devices hold block m).  With
``--max-blocks`` a device counts c_k times: the devices that hold block m
take at least M - m + 1 blocks in all (so sum_k c_k >= M); the fix for too
few places is ``--max-blocks ceil(M/K)``.  The
generator never returns or writes an infeasible instance unless asked to: it
raises :class:`InfeasibleRequest` (the command line prints one line and exits
2) naming the option that makes the request feasible, ``-K M`` for M > K, or
for a memory wall ``--memory-gb LO HI`` with LO >= the deepest block's
memory (rounded up to 0.01 GB), which makes every seed feasible.  With
``allow_infeasible=True`` (``--allow-infeasible``) the draw is returned or
written as it is, and the command line says how many of the written
instances are infeasible.  (The corpus's ``infeasible/`` folder is built with
``allow_infeasible=True``: infeasible by design.)

Per-block ranks and devices that take several blocks (``deft-instance/2``)
-------------------------------------------------------------------------
Two options draw instances of the problem family (``instances.core``, G1 and
G2); without them the output is the paper's model, byte for byte as before.

``--ranks SPEC`` (``block_ranks``) gives each block its own LoRA rank r_m, so
block m's gradient has D_m = D * r_m / r bits, where D is today's gradient
size (the cost model's, or ``--gradient-bits``) and r the default rank
(``--lora-rank``, 8): the default rank gives today's D.  SPEC is

* ``R0,R1,...`` -- the M ranks, one per block (block 0 first);
* ``LO:HI`` -- each r_m drawn uniformly from the integers LO..HI;
* ``R`` -- one rank for every block (one size D * R / r: no G1).

Only the gradient sizes follow the ranks: the computation latency and the
memory stay the cost model's at rank r (LoRA's share of both is small).

``--max-blocks SPEC`` (``device_max_blocks``) lets device k take up to c_k
blocks (one forward and one backward pass down to its deepest block, all of
its blocks uploaded); SPEC is ``C`` (every device), ``LO:HI`` (each c_k drawn
uniformly from LO..HI) or ``C0,C1,...`` (the K values).  With it, M > K may
be feasible.

Drawn ranks and block counts come from the same generator, after the device
draws (ranks first, then block counts), so the devices of a seed do not
change; the values used are in ``meta["draws"]`` (``block_rank``,
``device_max_blocks``)::

    python -m instances.generate -K 4 -M 4 --ranks 8,8,4,2 --out g1.json
    python -m instances.generate -K 3 -M 5 --max-blocks 1:3 --seed 2 --out g2.json

Every assumed value is a named default of :class:`ScenarioParams` (one place),
and every value used, the seed, the generator version and the cost model's
derived numbers are written into the instance's ``meta``.  Same seed and
parameters give the identical instance (and file, byte for byte).

Command line (``python -m instances.generate --help`` lists every flag)::

    python -m instances.generate -K 20 -M 12 --seed 1 --count 3 --out some/dir
    python -m instances.generate -K 20 --path-loss-db 25 --out one.json
    python -m instances.generate -K 100 -M 48 --out deep/   # layers split into 4 blocks each
    python -m instances.generate -K 20 --memory-gb 4 11 --allow-infeasible --count 5
    python -m instances.generate --corpus            # rewrite the shipped corpus
    python -m instances.generate -K 20 --memory-gb 0.5 1.5 \
        --cost-model instances/cost_models/roberta-base-cpu.costmodel   # measured t(m) and mu_m

With ``--cost-model FILE`` (a ``deft-cost-model/1`` file of
``python -m instances.profile``) the measured per-block latency (its
non-decreasing least-squares fit) and memory replace the analytic ones,
tcp[k, m] = I t(m) / f_k with the profiling machine as the normalised device;
the compute factors, budgets and channels are drawn as usual, and the flags
of the model, the workload and the throughput are refused (the file fixes
them).

Complexity: O(KM) time and memory, vectorised (K = 100,000 takes well under a
second, mostly in validation); the feasibility check is O(K + M).

Examples
--------
>>> inst = generate_instance(20, 12, seed=1)
>>> inst.K, inst.M, inst.gradient_bits, inst.bandwidth_hz
(20, 12, 786432.0, 100000000.0)
>>> again = generate_instance(20, 12, seed=1)
>>> bool((inst.compute_latency == again.compute_latency).all())    # seeded: identical
True
>>> f = np.array(inst.meta["draws"]["compute_factor"])           # re-derive tcp from meta
>>> t = np.array(inst.meta["cost_model"]["forward_latency_s"]) + inst.meta["cost_model"]["backward_latency_s"]
>>> bool(np.allclose(inst.compute_latency, t[None, :] / f[:, None]))
True
>>> generate_instance(100, 48, seed=1).gradient_bits                # 12 layers, 4 blocks each
196608.0
>>> generate_instance(8, 12, seed=2)
Traceback (most recent call last):
...
instances.generate.InfeasibleRequest: infeasible, M = 12 blocks need 12 distinct devices but K = 8; use -K 12 (K >= M)
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np

from .core import MAX_BLOCKS_PER_DEVICE, Instance, InstanceError, save_instance
from .cli import add_version
from .costmodel import (COST_MODEL_VERSION, GB, MEASURED_COST_MODEL_VERSION, EncoderCostModel, MeasuredCostModel,
                        load_cost_model)

#: Bumped whenever the same seed and parameters would give a different instance.
GENERATOR_VERSION = "1"

FADING_MODELS = ("rayleigh", "none")

#: Smallest fading power used: Exp(1) can return exactly 0, which would give a
#: spectral efficiency of 0 (a device that can never upload); clipping changes
#: the distribution only with probability 1e-12.
MIN_FADING_POWER = 1e-12


@dataclass(frozen=True)
class ScenarioParams:
    """Every parameter of a random scenario, with its default (one place).

    Values marked *(assumed)* are not given by the paper (its text lost them);
    ``docs/cost-model.md`` says why each was chosen; ``docs/reproduction.md``
    gives the calibration against the paper's latency ratios
    (``python -m validation.reproduce``) that set the compute-factor range.

    Attributes
    ----------
    model : EncoderCostModel
        Architecture, workload (batch, sequence length) and device throughput.
    local_iterations : int
        I, local iterations per round (1, *assumed*: the paper keeps the
        centralised hyper-parameters, so one round = one optimiser step).
    compute_factor_min, compute_factor_max : float
        Range of the relative computing factor f_k (0.4 .. 1.6, *assumed*; calibrated
        so that the latency ratios land near the paper's, see ``docs/reproduction.md``).
    memory_min_gb, memory_max_gb : float
        Range of the memory budget cap_k in GB = 1e9 bytes (8 .. 20, *assumed*).
    snr_db : float
        Transmit SNR p_k / N_0 in dB (10, the paper).
    path_loss_db : float
        Average path loss in dB, the same for every device (20, *assumed*).
    fading : str
        ``"rayleigh"`` (|h|^2 ~ Exp(1), the paper) or ``"none"`` (|h|^2 = 1, for ties).
    bandwidth_mhz : float
        B, total uplink bandwidth in MHz (100, the paper).
    gradient_bits : float or None
        D in bits; ``None`` takes the cost model's LoRA count x 32 bit (786,432).
    measured_cost_model : MeasuredCostModel or None
        A measured profile (``python -m instances.profile``, ``--cost-model FILE``):
        when given, its latencies t(m) and memories mu_m replace the analytic
        ones (tcp[k, m] = I t(m) / f_k); ``model`` then carries the measured
        architecture and workload (for D and the block layout) and must agree
        with it.  A dict of its fields is accepted (as written in ``meta``).
    block_ranks : str or None
        Per-block LoRA ranks (``--ranks``, module docstring): ``"R0,R1,..."``
        (M values), ``"LO:HI"`` (drawn) or ``"R"``; D_m = D r_m / r.  An int or
        a list of ints is accepted and written as that text.  ``None``: one D.
    device_max_blocks : str or None
        Most blocks per device (``--max-blocks``): ``"C"``, ``"LO:HI"``
        (drawn) or ``"C0,C1,..."`` (K values); an int or a list is accepted.
        ``None``: one block per device (the paper).
    """

    model: EncoderCostModel = field(default_factory=EncoderCostModel)
    local_iterations: int = 1
    compute_factor_min: float = 0.4
    compute_factor_max: float = 1.6
    memory_min_gb: float = 8.0
    memory_max_gb: float = 20.0
    snr_db: float = 10.0
    path_loss_db: float = 20.0
    fading: str = "rayleigh"
    bandwidth_mhz: float = 100.0
    gradient_bits: float | None = None
    measured_cost_model: MeasuredCostModel | None = None
    block_ranks: str | None = None
    device_max_blocks: str | None = None

    def __post_init__(self) -> None:
        for name, limit in (("block_ranks", None), ("device_max_blocks", MAX_BLOCKS_PER_DEVICE)):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _normal_spec(name, value, limit))
        if not isinstance(self.model, EncoderCostModel):
            raise ValueError(f"model must be an EncoderCostModel, got {type(self.model).__name__}")
        measured = self.measured_cost_model
        if isinstance(measured, dict):
            try:
                measured = MeasuredCostModel(**measured)
            except TypeError as exc:
                raise ValueError(f"measured_cost_model: {exc}") from None
            object.__setattr__(self, "measured_cost_model", measured)
        if measured is not None:
            if not isinstance(measured, MeasuredCostModel):
                raise ValueError(f"measured_cost_model must be a MeasuredCostModel, got {type(measured).__name__}")
            differ = [f"{k} = {getattr(self.model, k)} (the file: {v})"
                      for k, v in measured.encoder_fields().items() if getattr(self.model, k) != v]
            if differ:
                raise ValueError(f"the measured cost model {measured.name!r} fixes the architecture and workload; "
                                 f"differs: {', '.join(differ)}")
        if isinstance(self.local_iterations, bool) or not isinstance(self.local_iterations, (int, np.integer)) \
                or self.local_iterations < 1:
            raise ValueError(f"local_iterations must be a positive integer, got {self.local_iterations!r}")
        for name in ("compute_factor_min", "compute_factor_max", "memory_min_gb", "memory_max_gb",
                     "bandwidth_mhz", "snr_db", "path_loss_db"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        for name in ("compute_factor_min", "memory_min_gb", "bandwidth_mhz"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        if self.compute_factor_max < self.compute_factor_min:
            raise ValueError(f"compute factor range is empty: max {self.compute_factor_max!r} < min {self.compute_factor_min!r}")
        if self.memory_max_gb < self.memory_min_gb:
            raise ValueError(f"memory range is empty: max {self.memory_max_gb!r} GB < min {self.memory_min_gb!r} GB")
        if self.fading not in FADING_MODELS:
            raise ValueError(f"fading must be one of {', '.join(FADING_MODELS)}, got {self.fading!r}")
        if self.gradient_bits is not None and (isinstance(self.gradient_bits, bool)
                                               or not isinstance(self.gradient_bits, (int, float))
                                               or not math.isfinite(self.gradient_bits) or self.gradient_bits <= 0):
            raise ValueError(f"gradient_bits must be a positive number, got {self.gradient_bits!r}")

    @classmethod
    def with_overrides(cls, base: "ScenarioParams | None" = None, **overrides) -> "ScenarioParams":
        """``base`` (default: the defaults) with fields of it *or of its cost model* replaced by name.

        >>> p = ScenarioParams.with_overrides(batch_size=16, path_loss_db=25.0)
        >>> p.model.batch_size, p.path_loss_db
        (16, 25.0)
        """
        base = base or cls()
        own = {f.name for f in fields(cls)} - {"model"}
        model_fields = {f.name for f in fields(EncoderCostModel)}
        unknown = sorted(set(overrides) - own - model_fields)
        if unknown:
            raise ValueError(f"unknown scenario parameter(s): {', '.join(unknown)}")
        measured = overrides.get("measured_cost_model")
        if isinstance(measured, dict):
            try:
                measured = MeasuredCostModel(**measured)
            except TypeError as exc:
                raise ValueError(f"measured_cost_model: {exc}") from None
            overrides = {**overrides, "measured_cost_model": measured}
        if isinstance(measured, MeasuredCostModel):   # the measured architecture and workload, unless given
            overrides = {**measured.encoder_fields(), **overrides}
        model = replace(base.model, **{k: v for k, v in overrides.items() if k in model_fields})
        return replace(base, model=model, **{k: v for k, v in overrides.items() if k in own})

    def flat(self) -> dict:
        """All values (the cost model's included, flattened) as a JSON-ready dict."""
        data = asdict(self)
        data.update(data.pop("model"))
        for name in ("block_ranks", "device_max_blocks"):   # absent unless used: paper instances stay as they were
            if data[name] is None:
                del data[name]
        if data["measured_cost_model"] is None:      # absent unless used: analytic instances stay as they were
            del data["measured_cost_model"]
        else:
            data["measured_cost_model"] = {k: list(v) if isinstance(v, tuple) else v
                                           for k, v in data["measured_cost_model"].items()}
        return data

    @property
    def cost(self) -> "EncoderCostModel | MeasuredCostModel":
        """The model that gives tcp and mu: the measured one when given, else the analytic :attr:`model`."""
        return self.measured_cost_model if self.measured_cost_model is not None else self.model

    @property
    def effective_gradient_bits(self) -> float:
        """D in bits for one block per layer: the explicit value, or the cost model's."""
        return float(self.gradient_bits if self.gradient_bits is not None else self.model.gradient_bits)

    def gradient_bits_for(self, M: int) -> float:
        """D in bits for M blocks: the explicit value, or the cost model's largest block's gradient."""
        if self.gradient_bits is not None:
            return float(self.gradient_bits)
        return float(self.model.block_gradient_bits(M))


def parse_spec(text: str) -> tuple[str, tuple[int, ...]]:
    """The kind and integers of a ``--ranks`` / ``--max-blocks`` SPEC: ``("range", (LO, HI))`` or ``("list", values)``.

    >>> parse_spec("4:16"), parse_spec("8,8,4"), parse_spec("2")
    (('range', (4, 16)), ('list', (8, 8, 4)), ('list', (2,)))
    """
    text = text.replace(" ", "")
    try:
        if ":" in text:
            lo, hi = text.split(":")
            return "range", (int(lo), int(hi))
        return "list", tuple(int(t) for t in text.split(","))
    except ValueError:
        raise ValueError(f"{text!r} is not LO:HI or a comma-separated list of whole numbers") from None


def _normal_spec(name: str, value, limit: int | None) -> str:
    """``value`` (text, int or list of ints) as the canonical SPEC text, checked: whole numbers >= 1 (<= limit)."""
    flag = {"block_ranks": "--ranks", "device_max_blocks": "--max-blocks"}[name]
    if isinstance(value, (bool, float)) or not isinstance(value, (str, int, np.integer, list, tuple)):
        raise ValueError(f"{name} ({flag}) must be LO:HI, a whole number or a list of them, got {value!r}")
    if isinstance(value, (int, np.integer)):
        value = [value]
    if isinstance(value, (list, tuple)):
        if not value or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in value):
            raise ValueError(f"{name} ({flag}) must hold whole numbers, got {value!r}")
        value = ",".join(str(int(v)) for v in value)
    try:
        kind, numbers = parse_spec(value)
    except ValueError as exc:
        raise ValueError(f"{name} ({flag}): {exc}") from None
    if kind == "range" and numbers[1] < numbers[0]:
        raise ValueError(f"{name} ({flag}) range is empty: {numbers[1]} < {numbers[0]}")
    low = min(numbers)
    if low < 1:
        raise ValueError(f"{name} ({flag}) values must be at least 1, got {low}")
    if limit is not None and max(numbers) > limit:
        raise ValueError(f"{name} ({flag}) values must be at most {limit}, got {max(numbers)}")
    return f"{numbers[0]}:{numbers[1]}" if kind == "range" else ",".join(map(str, numbers))


def _spec_values(name: str, spec: str | None, count: int, what: str, rng: np.random.Generator) -> np.ndarray | None:
    """The ``count`` integers of SPEC (drawn from ``rng`` for LO:HI, one value repeated), or None."""
    if spec is None:
        return None
    kind, numbers = parse_spec(spec)
    if kind == "range":
        return rng.integers(numbers[0], numbers[1] + 1, size=count).astype(np.int64)
    if len(numbers) == 1:
        return np.full(count, numbers[0], dtype=np.int64)
    if len(numbers) != count:
        flag = {"block_ranks": "--ranks", "device_max_blocks": "--max-blocks"}[name]
        raise ValueError(f"{flag} {spec} gives {len(numbers)} values but there are {count} {what}")
    return np.array(numbers, dtype=np.int64)


class InfeasibleRequest(ValueError):
    """The requested instance has no assignment of all blocks; the message names the option that fixes it."""


def _round_up_gb(value_bytes: float) -> float:
    """``value_bytes`` in GB rounded up to 0.01 GB, never below the exact value."""
    gb = math.ceil(value_bytes / GB * 100.0) / 100.0
    while gb * GB < value_bytes:
        gb = round(gb + 0.01, 2)
    return gb


def infeasibility_reason(K: int, M: int, block_memory: np.ndarray, device_memory: np.ndarray,
                         params: ScenarioParams, device_max_blocks: np.ndarray | None = None) -> str | None:
    """Why no assignment of all M blocks to distinct devices fits memory, with the fix; ``None`` if one does.

    Method: Hall's condition for nested neighbourhoods (Proposition 1): with
    n_k the number of blocks (a prefix, as mu is sorted) device k holds, an
    assignment exists iff K >= M and, for every block m, at least M - m + 1
    devices hold block m.  The deepest violated block is named.  O(K + M).
    With ``device_max_blocks`` (c_k, G2) a device counts c_k times (Hall's
    condition for a b-matching): sum_k c_k >= M and, for every block m, the
    devices that hold it take at least M - m + 1 blocks in all.

    Parameters
    ----------
    K, M : int
        Devices and blocks.
    block_memory, device_memory : array
        mu_m (M,) and cap_k (K,), bytes; mu non-decreasing.
    params : ScenarioParams
        The scenario, for the memory range and the fix.

    Returns
    -------
    str or None
        One line: the reason and the option that makes every seed feasible.

    Examples
    --------
    >>> p = ScenarioParams()
    >>> print(infeasibility_reason(2, 2, np.array([1e9, 3e9]), np.array([2e9, 2e9]), p))
    memory wall, block 2 of 2 needs 3.000 GB and at least 1 device that holds it, 0 of K = 2 budgets drawn from U[8, 20] GB do; use --memory-gb 3 20 (memory_min_gb >= 3 GB: every device holds every block)
    >>> infeasibility_reason(2, 2, np.array([1e9, 3e9]), np.array([2e9, 4e9]), p) is None
    True
    """
    if device_max_blocks is not None and (params.device_max_blocks is not None
                                          or np.any(np.asarray(device_max_blocks) != 1)):
        return _capacity_reason(K, M, block_memory, device_memory, params, np.asarray(device_max_blocks))
    if M > K:
        return f"M = {M} blocks need {M} distinct devices but K = {K}; use -K {M} (K >= M)"
    counts = np.searchsorted(np.asarray(block_memory), np.asarray(device_memory), side="right")
    # holding[m-1] = devices that hold block m (and so every shallower one)
    holding = K - np.cumsum(np.bincount(np.minimum(counts, M), minlength=M + 1))[:M]
    short = np.flatnonzero(holding < M - np.arange(M))
    if short.size == 0:
        return None
    m = int(short[-1]) + 1
    low_gb = _round_up_gb(float(block_memory[-1]))
    high_gb = max(params.memory_max_gb, low_gb)
    return (f"memory wall, block {m} of {M} needs {block_memory[m - 1] / GB:.3f} GB and at least "
            f"{M - m + 1} device{'s' if M - m + 1 > 1 else ''} that hold{'' if M - m + 1 > 1 else 's'} it, "
            f"{int(holding[m - 1])} of K = {K} budgets drawn from "
            f"U[{params.memory_min_gb:g}, {params.memory_max_gb:g}] GB do; use --memory-gb {low_gb:g} {high_gb:g} "
            f"(memory_min_gb >= {low_gb:g} GB: every device holds every block)")


def _places_reason(K: int, M: int, places: int, spec: str) -> str:
    """M blocks but at most ``places`` of them fit on the K devices (``--max-blocks spec``), with the fix."""
    return (f"M = {M} blocks but the K = {K} devices take at most {places} (--max-blocks {spec}); "
            f"use --max-blocks {math.ceil(M / K)} (K x max blocks >= M)")


def _capacity_reason(K: int, M: int, block_memory: np.ndarray, device_memory: np.ndarray,
                     params: ScenarioParams, most: np.ndarray) -> str | None:
    """:func:`infeasibility_reason` for devices that take up to c_k blocks (Hall's condition, c_k copies each)."""
    weight = np.minimum(most, M)
    spec = params.device_max_blocks or ",".join(map(str, most.tolist()))
    if int(weight.sum()) < M:
        return _places_reason(K, M, int(weight.sum()), spec)
    counts = np.searchsorted(np.asarray(block_memory), np.asarray(device_memory), side="right")
    # room[m-1] = blocks the devices that hold block m (and so every shallower one) can take
    per_count = np.bincount(np.minimum(counts, M), weights=weight, minlength=M + 1)
    room = (weight.sum() - np.cumsum(per_count)[:M]).astype(np.int64)
    short = np.flatnonzero(room < M - np.arange(M))
    if short.size == 0:
        return None
    m = int(short[-1]) + 1
    holders = int(np.count_nonzero(counts >= m))
    low_gb = _round_up_gb(float(block_memory[-1]))
    high_gb = max(params.memory_max_gb, low_gb)
    return (f"memory wall, block {m} of {M} needs {block_memory[m - 1] / GB:.3f} GB and room for "
            f"{M - m + 1} block{'s' if M - m + 1 > 1 else ''} on the devices that hold it, the {holders} of K = {K} "
            f"budgets drawn from U[{params.memory_min_gb:g}, {params.memory_max_gb:g}] GB that do take at most "
            f"{int(room[m - 1])}; use --memory-gb {low_gb:g} {high_gb:g} "
            f"(memory_min_gb >= {low_gb:g} GB: every device holds every block)")


def draw_devices(K: int, params: ScenarioParams, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Draw the per-device randomness, in a fixed order: f_k, cap_k (GB), |h_k|^2.

    The fading draw happens even with ``fading="none"``, so that the other
    draws of a seed do not depend on the fading model.
    """
    compute_factor = rng.uniform(params.compute_factor_min, params.compute_factor_max, size=K)
    memory_gb = rng.uniform(params.memory_min_gb, params.memory_max_gb, size=K)
    fading_power = rng.standard_exponential(size=K)
    if params.fading == "none":
        fading_power = np.ones(K)
    return {"compute_factor": compute_factor, "memory_gb": memory_gb,
            "channel_gain": np.maximum(fading_power, MIN_FADING_POWER)}


def spectral_efficiency(channel_gain: np.ndarray, snr_db: float, path_loss_db: float) -> np.ndarray:
    """R_k = log2(1 + SNR_tx * 10^(-PL/10) * |h_k|^2), bit/s/Hz (log1p keeps tiny values positive).

    >>> spectral_efficiency(np.array([1.0]), snr_db=10.0, path_loss_db=10.0).tolist()   # log2(2)
    [1.0]
    """
    receive_snr = 10.0 ** ((snr_db - path_loss_db) / 10.0) * np.asarray(channel_gain, dtype=float)
    return np.log1p(receive_snr) / math.log(2.0)


def generate_arrays(K: int, M: int = 12, seed: int = 0, params: ScenarioParams | None = None, *,
                    allow_infeasible: bool = False) -> dict:
    """The instance's arrays and the draws behind them, without building an :class:`Instance`.

    Returns a dict with ``compute_latency`` (K, M) s, ``block_memory`` (M,) bytes,
    ``device_memory`` (K,) bytes, ``spectral_efficiency`` (K,) bit/s/Hz,
    ``gradient_bits`` (a float, or (M,) bits with ``block_ranks``),
    ``bandwidth_hz``, ``device_max_blocks`` (``None``, or (K,) ints with
    ``device_max_blocks``), ``draws`` (the random values; ``block_rank`` and
    ``device_max_blocks`` too when asked for) and ``infeasible`` (``None``, or
    the reason of :func:`infeasibility_reason`).
    Raises :class:`InfeasibleRequest` on an infeasible draw unless ``allow_infeasible``.
    Vectorised: O(KM).
    """
    params = params or ScenarioParams()
    for label, value in (("K (devices)", K), ("M (blocks)", M), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"{label} must be an integer, got {value!r}")
    if K < 1 or M < 1:
        raise ValueError(f"need at least one device and one block, got K={K}, M={M}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    if M > params.model.max_blocks:
        raise ValueError(f"M = {M} blocks exceeds the model's {params.model.max_blocks} LoRA parameters "
                         f"(one per block at least); raise --layers or --lora-rank")
    if params.block_ranks is not None:          # the length of a list of ranks, before any draw
        _spec_values("block_ranks", params.block_ranks, M, "blocks (-M)", np.random.default_rng(0))
    if params.device_max_blocks is None:
        if M > K and not allow_infeasible:
            raise InfeasibleRequest(f"infeasible, {infeasibility_reason(K, M, None, None, params)}")
    else:
        kind, numbers = parse_spec(params.device_max_blocks)
        if kind == "list" and len(numbers) > 1:
            _spec_values("device_max_blocks", params.device_max_blocks, K, "devices (-K)", np.random.default_rng(0))
            places = sum(min(c, M) for c in numbers)
        else:
            places = K * min(numbers[-1], M)       # the most any draw can give
        if places < M and not allow_infeasible:
            raise InfeasibleRequest(f"infeasible, {_places_reason(K, M, places, params.device_max_blocks)}")
    rng = np.random.default_rng(seed)
    draws = draw_devices(K, params, rng)
    ranks = _spec_values("block_ranks", params.block_ranks, M, "blocks (-M)", rng)
    most = _spec_values("device_max_blocks", params.device_max_blocks, K, "devices (-K)", rng)
    block_memory = params.cost.block_memory_bytes(M)
    device_memory = draws["memory_gb"] * GB
    reason = infeasibility_reason(K, M, block_memory, device_memory, params, most)
    if reason is not None and not allow_infeasible:
        raise InfeasibleRequest(f"seed {seed}: infeasible, {reason}")
    bits = params.gradient_bits_for(M)
    if ranks is not None:       # D_m = D r_m / r: the default rank gives today's D exactly
        bits = bits * (ranks / params.model.lora_rank)
        draws["block_rank"] = ranks
    if most is not None:
        draws["device_max_blocks"] = most
    return {
        "compute_latency": params.cost.compute_latency_matrix(draws["compute_factor"], M, params.local_iterations),
        "block_memory": block_memory,
        "device_memory": device_memory,
        "spectral_efficiency": spectral_efficiency(draws["channel_gain"], params.snr_db, params.path_loss_db),
        "gradient_bits": bits,
        "bandwidth_hz": params.bandwidth_mhz * 1e6,
        "device_max_blocks": most,
        "draws": draws,
        "infeasible": reason,
    }


def generate_instance(K: int, M: int = 12, seed: int = 0, params: ScenarioParams | None = None, *,
                      name: str | None = None, extra_meta: dict | None = None, allow_infeasible: bool = False,
                      **overrides) -> Instance:
    """A random instance of K devices and M blocks from the cost model, feasible unless allowed otherwise.

    Method: draw the devices (module docstring), build the cost model's
    arrays for M blocks (M > L splits layers into several blocks), then check
    feasibility by Hall's condition on the memory prefixes
    (:func:`infeasibility_reason`).

    Parameters
    ----------
    K, M : int
        Devices and blocks (1 <= M <= L n_block; M > L splits layers, see the module docstring).
    seed : int
        Seed of ``numpy.random.default_rng``; same seed and parameters, same instance.
    params : ScenarioParams, optional
        The scenario (defaults: :class:`ScenarioParams`).
    name : str, optional
        Instance name (default ``deft-K{K}-M{M}-s{seed}``).
    extra_meta : dict, optional
        Added to ``meta`` (e.g. the corpus entry's description).
    allow_infeasible : bool
        Return an infeasible draw instead of raising :class:`InfeasibleRequest`.
    **overrides
        Any field of :class:`ScenarioParams` or :class:`~instances.costmodel.EncoderCostModel`
        by name, e.g. ``path_loss_db=25.0`` or ``batch_size=16``.

    Returns
    -------
    Instance
        Validated; ``meta`` holds the generator version, seed, every parameter,
        the cost model's derived numbers and the draws f_k and |h_k|^2.

    Raises
    ------
    InfeasibleRequest
        When no assignment exists (M > K, or a memory wall) and ``allow_infeasible``
        is false; the one-line message names the option that makes it feasible.
    ValueError
        On a bad parameter, with a message naming it.

    Examples
    --------
    >>> inst = generate_instance(5, 3, seed=7, compute_factor_min=1.0, compute_factor_max=1.0)
    >>> bool(np.all(inst.compute_latency == inst.compute_latency[0]))   # identical speeds: tied rows
    True
    >>> inst.meta["scenario"]["compute_factor_max"], inst.meta["seed"]
    (1.0, 7)
    >>> generate_instance(20, 12, seed=1, memory_min_gb=4.0, memory_max_gb=11.0)
    Traceback (most recent call last):
    ...
    instances.generate.InfeasibleRequest: seed 1: infeasible, memory wall, block 12 of 12 needs 11.422 GB and at least 1 device that holds it, 0 of K = 20 budgets drawn from U[4, 11] GB do; use --memory-gb 11.43 11.43 (memory_min_gb >= 11.43 GB: every device holds every block)
    >>> generate_instance(20, 12, seed=1, memory_min_gb=4.0, memory_max_gb=11.0, allow_infeasible=True).K
    20
    """
    params = ScenarioParams.with_overrides(params, **overrides)
    arrays = generate_arrays(K, M, seed, params, allow_infeasible=allow_infeasible)
    draws = arrays.pop("draws")
    arrays.pop("infeasible")
    meta = {
        "generator": "instances.generate",
        "generator_version": GENERATOR_VERSION,
        "cost_model_version": (COST_MODEL_VERSION if params.measured_cost_model is None
                               else MEASURED_COST_MODEL_VERSION),
        "seed": int(seed),
        "devices": int(K),
        "blocks": int(M),
        "scenario": params.flat(),
        "gradient_bits_source": "explicit" if params.gradient_bits is not None else "lora-count",
        "cost_model": params.cost.summary(M),
        "draws": {"compute_factor": draws["compute_factor"].tolist(),
                  "channel_gain": draws["channel_gain"].tolist()},
    }
    for key in ("block_rank", "device_max_blocks"):    # only with --ranks / --max-blocks
        if key in draws:
            meta["draws"][key] = draws[key].tolist()
    meta.update(extra_meta or {})
    return Instance.from_arrays(**arrays, name=name or f"deft-K{K}-M{M}-s{seed}", meta=meta)


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------
#: (flag, ScenarioParams / EncoderCostModel field, type, help). Defaults come from the dataclasses.
SCENARIO_FLAGS = (
    ("--local-iterations", "local_iterations", int, "I, local iterations per round (assumed)"),
    ("--batch-size", "batch_size", int, "b, sequences per batch"),
    ("--seq-len", "seq_len", int, "s, tokens per sequence (assumed)"),
    ("--layers", "num_layers", int, "L, encoder layers (M > L splits every layer into several blocks)"),
    ("--hidden", "hidden", int, "h, hidden size"),
    ("--ffn", "ffn", int, "f, feed-forward width"),
    ("--heads", "heads", int, "a, attention heads"),
    ("--lora-rank", "lora_rank", int, "r, LoRA rank"),
    ("--peak-tflops", None, float, "peak throughput of the normalised device, TFLOP/s (assumed)"),
    ("--efficiency", "flops_efficiency", float, "fraction of the peak reached (assumed)"),
    ("--backward-factor", "backward_factor", float, "backward FLOPs per forward FLOP of a frozen layer (assumed)"),
    ("--snr-db", "snr_db", float, "transmit SNR, dB"),
    ("--path-loss-db", "path_loss_db", float, "average path loss, dB, same for all devices (assumed)"),
    ("--fading", "fading", str, "fading model: rayleigh or none"),
    ("--bandwidth-mhz", "bandwidth_mhz", float, "total uplink bandwidth B, MHz"),
    ("--gradient-bits", "gradient_bits", float, "D, bits per block gradient (default: LoRA count x 32)"),
)


def _parser() -> argparse.ArgumentParser:
    defaults = ScenarioParams()
    flat = defaults.flat()
    p = argparse.ArgumentParser(
        prog="python -m instances.generate",
        description="Write random DEFT instances (deft-instance/1 JSON; deft-instance/2 with --ranks or "
                    "--max-blocks) from the RoBERTa-base cost model. "
                    "Values marked 'assumed' are not given by the paper; see docs/cost-model.md.")
    p.add_argument("-K", "--devices", type=int, default=20, help="K, devices (default 20)")
    p.add_argument("-M", "--blocks", type=int, default=12, help="M, parameter blocks (default 12; needs K >= M, "
                                                                       "or enough --max-blocks)")
    p.add_argument("--seed", type=int, default=0, help="seed of the first instance (default 0)")
    p.add_argument("--count", type=int, default=1, help="instances to write, seeds seed..seed+count-1 (default 1)")
    p.add_argument("--name", default=None, help="instance name (default deft-K{K}-M{M}-s{seed}; with --count, name-s{seed})")
    p.add_argument("--out", default=None,
                   help="output: a .json file (one instance), '-' for stdout, or a directory "
                        "(default: current directory; with --corpus, the instances package)")
    p.add_argument("--corpus", action="store_true",
                   help="write the shipped corpus (paper/, tiny/, edge/, infeasible/) deterministically")
    add_version(p)
    p.add_argument("--allow-infeasible", action="store_true",
                   help="write infeasible draws too (M > K, memory wall) and say how many were written; "
                        "without it such a request is refused with the option that makes it feasible")
    p.add_argument("--cost-model", metavar="FILE", default=None,
                   help="a measured cost-model file (python -m instances.profile; shipped: "
                        "instances/cost_models/roberta-base-cpu.costmodel): its per-block latencies and memories "
                        "replace the analytic FLOP model's; the compute factors and memory budgets still apply, "
                        "the model, workload and throughput flags do not")
    g = p.add_argument_group("scenario (defaults: ScenarioParams / EncoderCostModel)")
    for flag, fname, typ, text in SCENARIO_FLAGS:
        if fname is None:   # --peak-tflops, stored in FLOP/s
            default = defaults.model.peak_flops / 1e12
            g.add_argument(flag, type=typ, default=None, help=f"{text} (default {default:g})")
        else:
            shown = "" if flat[fname] is None else f" (default {flat[fname]})"
            choices = FADING_MODELS if fname == "fading" else None
            g.add_argument(flag, type=typ, default=None, dest=fname, choices=choices, help=text + shown)
    g.add_argument("--compute-factor", type=float, nargs=2, metavar=("MIN", "MAX"), default=None,
                   help=f"f_k ~ U[MIN, MAX] (assumed; default {defaults.compute_factor_min:g} "
                        f"{defaults.compute_factor_max:g})")
    g.add_argument("--memory-gb", type=float, nargs=2, metavar=("LO", "HI"), default=None,
                   help=f"cap_k ~ U[LO, HI] GB (assumed; default {defaults.memory_min_gb:g} {defaults.memory_max_gb:g})")
    f = p.add_argument_group("problem family (deft-instance/2; default: the paper's model)")
    f.add_argument("--ranks", metavar="SPEC", dest="block_ranks", default=None,
                   help="per-block LoRA ranks r_m, so that block m's gradient has D * r_m / r bits (r = --lora-rank): "
                        "R0,R1,... (M values), LO:HI (each drawn from LO..HI) or R (every block)")
    f.add_argument("--max-blocks", metavar="SPEC", dest="device_max_blocks", default=None,
                   help="most blocks per device c_k: C (every device), LO:HI (each drawn from LO..HI) or "
                        "C0,C1,... (K values); with it M > K may be feasible")
    return p


def _overrides(args: argparse.Namespace) -> dict:
    out = {}
    for flag, fname, _, _ in SCENARIO_FLAGS:
        if fname is None:
            if args.peak_tflops is not None:
                out["peak_flops"] = args.peak_tflops * 1e12
        elif getattr(args, fname) is not None:
            out[fname] = getattr(args, fname)
    if args.compute_factor is not None:
        out["compute_factor_min"], out["compute_factor_max"] = args.compute_factor
    if args.memory_gb is not None:
        out["memory_min_gb"], out["memory_max_gb"] = args.memory_gb
    for name in ("block_ranks", "device_max_blocks"):
        if getattr(args, name) is not None:
            out[name] = getattr(args, name)
    if args.cost_model is not None:
        model_fields = {f.name for f in fields(EncoderCostModel)}
        fixed = [flag for flag, fname, _, _ in SCENARIO_FLAGS
                 if (fname is None and args.peak_tflops is not None)
                 or (fname in model_fields and getattr(args, fname) is not None)]
        if fixed:
            raise ValueError(f"{', '.join(fixed)} cannot be combined with --cost-model: the measured file "
                             f"fixes the model, its workload and the latencies")
        out["measured_cost_model"] = load_cost_model(args.cost_model)
    return out


def write_instances(K: int, M: int, seed: int, count: int, out: str | None, name: str | None,
                    params: ScenarioParams, *, allow_infeasible: bool = False) -> tuple[list[str], int]:
    """Generate ``count`` instances (seeds seed, seed+1, ...) and write them.

    Every instance is generated (and checked) before the first is written, so
    a refused request writes nothing.

    Returns
    -------
    (list of str, int)
        The paths written (``["<stdout>"]`` for ``out="-"``) and how many of
        the instances are infeasible (0 unless ``allow_infeasible``).
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    if out is not None and out != "-" and out.endswith(".json") and count != 1:
        raise ValueError(f"--out {out} is one file but --count is {count}; give a directory")
    instances, infeasible = [], 0
    for s in range(seed, seed + count):
        label = (f"{name}-s{s}" if count > 1 else name) if name else None
        inst = generate_instance(K, M, s, params, name=label, allow_infeasible=allow_infeasible)
        if allow_infeasible:
            most = inst.device_max_blocks if params.device_max_blocks is not None else None
            infeasible += infeasibility_reason(K, M, inst.block_memory, inst.device_memory, params, most) is not None
        instances.append(inst)
    if out == "-":
        for inst in instances:
            sys.stdout.write(json.dumps(inst.to_dict()) + "\n")
        return ["<stdout>"], infeasible
    if out is not None and out.endswith(".json"):
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        save_instance(instances[0], out)
        return [out], infeasible
    folder = Path(out if out is not None else ".")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for inst in instances:
        path = folder / f"{inst.name}.json"
        save_instance(inst, path)
        written.append(str(path))
    return written, infeasible


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status.

    0 when written; 2 on bad input or an infeasible request (without
    ``--allow-infeasible``), with a one-line message on stderr.  With
    ``--allow-infeasible`` a last line on stderr says how many of the written
    instances are infeasible.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    infeasible = None
    try:
        if args.corpus:
            if args.cost_model is not None:
                raise ValueError("--cost-model does not apply to --corpus (the shipped corpus uses the analytic model)")
            from .corpus import build_corpus
            root = Path(args.out) if args.out else Path(__file__).resolve().parent
            written = [str(p) for p in build_corpus(root)]
        else:
            params = ScenarioParams.with_overrides(None, **_overrides(args))
            written, infeasible = write_instances(args.devices, args.blocks, args.seed, args.count, args.out,
                                                  args.name, params, allow_infeasible=args.allow_infeasible)
    except (ValueError, InstanceError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.out != "-":
        for path in written:
            print(path)
    if args.allow_infeasible and infeasible is not None:
        print(f"{infeasible} of {args.count} instances written are infeasible", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
