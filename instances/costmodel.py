r"""Cost model of one transformer-encoder block for device-edge cooperative fine-tuning.

The instances of this project describe RoBERTa-base fine-tuned with LoRA
(rank 8 on the query and value projections) by K devices, each computing the
gradient of one of M parameter blocks (one block per encoder layer).  This
module turns the model architecture and the workload (batch, sequence length)
into the three per-block quantities an :class:`~instances.core.Instance`
needs, on a *normalised* device (the paper's reference, a Snapdragon 8 Gen 3):

* ``t_F`` (s): forward pass of the whole model on one batch;
* ``t_B(m)`` (s): backpropagation from the output down to block m;
* ``mu_m`` (bytes): memory needed to compute block m's gradient;

plus the gradient size D (bits) and the memory of single-device fine-tuning.

Block numbering
---------------
Blocks are numbered m = 0..M-1, shallow to deep, as everywhere in the toolkit
(``docs/formulation.md``, "Indexing"): block 0 is the shallowest.  Block m
sits in the layer at depth :math:`d_m` from the output, a layer *count*
(depth 1 is the top layer, depth L the bottom one), and its gradient needs a
backpropagation through :math:`d_m` layers; :math:`d_m` is non-decreasing in m.

* M <= L (the number of layers, 12): :math:`d_m = m + 1`, one block per
  layer.  With M = L every layer is a block; with M < L only the top M layers
  carry tunable blocks.
* M > L: the M blocks span the whole model, each layer's LoRA parameters
  split among the :math:`n_j` blocks placed in the layer at depth j
  (j = 1..L, a layer count like :math:`d_m`): every layer carries
  :math:`q = \lfloor M/L \rfloor` blocks and the top :math:`M \bmod L` layers
  one more.  A block of the layer at depth j holds :math:`\lceil n_\text{block} / n_j \rceil`
  LoRA parameters (the largest share of an even split, so a block is never
  under-counted, and shares grow with depth).  The architecture and the
  workload stay those of the model, so the deepest block needs about the
  memory of M = L (11.42 GB for RoBERTa-base, less a fraction of its LoRA
  bytes) and the latency ratio stays about 1.85 (more blocks do not make the
  model deeper); the gradient D shrinks to the largest block's,
  :math:`\lceil n_\text{block} / q \rceil` x 32 bit, so the bits uploaded
  per round, M D, stay those of M = L when L divides M.  At most
  :math:`L\,n_\text{block}` blocks (one LoRA parameter each).

FLOPs (one batch of b sequences of s tokens; hidden h, FFN width f, LoRA rank r)
-----------------------------------------------------------------------------------
A multiply-add counts as 2 FLOPs.  One encoder layer's forward pass:

.. math::

    F_\text{layer} = \underbrace{8 b s h^2}_{Q,K,V,O}
                   + \underbrace{4 b s h f}_{\text{FFN}}
                   + \underbrace{4 b s^2 h}_{QK^\top,\ PV}
                   + \underbrace{4 n_\text{LoRA} b s h r}_{\text{LoRA } BAx}

(Narayanan et al. 2021 give :math:`24 b s h^2 + 4 b s^2 h` for f = 4h and no
LoRA.)  The weights are frozen, so backpropagating through a layer needs only
the gradient with respect to its input, which costs about one forward pass:
:math:`\beta F_\text{layer}` with the *backward factor* :math:`\beta` = 1
(assumed; full training needs about 2, input plus weight gradients).  At the
block's own layer the LoRA weight gradients add :math:`4 n_\text{LoRA} b s h r`,
times the block's share :math:`n_m / n_\text{block}` of its layer's LoRA
parameters (1 for M <= L).

.. math::

    F_F = L\,F_\text{layer}, \qquad
    F_B(m) = d_m\,\beta\,F_\text{layer} + 4 n_\text{LoRA} b s h r \, n_m / n_\text{block},

    t_F = F_F / \phi, \qquad t_B(m) = F_B(m) / \phi, \qquad
    \phi = \eta\,\phi_\text{peak}

with :math:`\phi` the *effective* throughput of the normalised device, a
fraction :math:`\eta` of its peak.  Embedding look-ups, layer norms, softmax
and the classification head are neglected (< 1% of the FLOPs).  The ratio of
the deepest to the shallowest block's latency is about
:math:`(L + \beta L)/(L + \beta)` = 24/13 = 1.85 for RoBERTa-base, the "nearly
twice" of the paper's Fig. 4.

Memory (bytes)
--------------
Activations kept for the backward pass of one layer, in half precision
(Korthikanti et al. 2022, eq. 2, attention and FFN with dropout masks):

.. math:: A_\text{layer} = s b h \left(34 + 5 \frac{a s}{h}\right)

with a attention heads.  To compute block m's gradient a device stores the
frozen weights (all of them: the forward pass runs the whole model), the
activations of the :math:`d_m` layers it backpropagates through (:math:`d_m = m + 1`
for M <= L; the layers below are run without keeping activations), and block
m's LoRA parameters and gradients:

.. math::

    \mu_m = W + d_m A_\text{layer} + n_m (p_\text{LoRA} + g_\text{LoRA})

with :math:`n_m` block m's LoRA parameters (:math:`n_\text{block}` for M <= L),
which is linear in m for M <= L (Fig. 4).  Single-device fine-tuning keeps the
activations of all L layers, every LoRA parameter with its gradient and the
two Adam moments:

.. math::

    \mu_\text{single} = W + L\,A_\text{layer} + L\,n_\text{block}(p_\text{LoRA} + g_\text{LoRA} + o_\text{Adam}).

With b = 32 and s = 512 this is about 11.4 GB, the paper's "nearly 12GB".
(The sequence length is not given by the paper; 512 is the maximum the LoRA
paper uses for RoBERTa-base, and it is the length at which the paper's own
"feature dimension of 12.5 million" for batch 32, b s h = 12,582,912, holds.)

Gradient size: :math:`n_\text{block} = 2 n_\text{LoRA} h r` = 24,576 LoRA
parameters per block for RoBERTa-base, times 32 bits: D = 786,432 bits.

Computation latency of device k with relative speed :math:`f_k` and I local
iterations per round (FORMULATION eq. 3):

.. math:: t^\text{cp}_{k,m} = I\,(t_F + t_B(m)) / f_k

Complexity: every function here is O(M) (O(KM) for the matrix), vectorised.

References
----------
.. [1] "Resource Management for Low-latency Cooperative Fine-tuning of
   Foundation Models at the Network Edge" (the paper), Sec. II-B and VI, Fig. 4.
.. [2] V. Korthikanti et al., "Reducing Activation Recomputation in Large
   Transformer Models", arXiv:2205.05198, 2022 (activation memory, eq. 2).
.. [3] D. Narayanan et al., "Efficient Large-Scale Language Model Training on
   GPU Clusters Using Megatron-LM", SC 2021 (FLOPs per layer).
.. [4] E. J. Hu et al., "LoRA: Low-Rank Adaptation of Large Language Models",
   ICLR 2022 (RoBERTa-base GLUE set-up: rank 8 on query and value, max length 512).
.. [5] Y. Liu et al., "RoBERTa: A Robustly Optimized BERT Pretraining
   Approach", 2019 (architecture: 12 layers, hidden 768, FFN 3072, 12 heads,
   vocabulary 50,265, 514 positions).

Examples
--------
>>> cm = EncoderCostModel()
>>> cm.lora_params_per_block, cm.gradient_bits
(24576, 786432)
>>> mu = cm.block_memory_bytes(12)
>>> bool(np.allclose(np.diff(mu), cm.activation_bytes_per_layer))   # linear in depth
True
>>> t = cm.block_compute_latency_s(12)
>>> round(float(t[-1] / t[0]), 2)                                    # deepest / shallowest
1.85
>>> round(cm.single_device_memory_bytes / 1e9, 1)                   # GB
11.4
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import numpy as np

#: Version of the cost model, written into every generated instance's ``meta``.
COST_MODEL_VERSION = "encoder-lora/1"

#: Bytes per gigabyte.  The project uses decimal GB (1e9 bytes) throughout.
GB = 1e9


@dataclass(frozen=True)
class EncoderCostModel:
    """Per-block computation and memory of LoRA fine-tuning of a transformer encoder.

    Every field has the RoBERTa-base default; fields marked *(assumed)* are
    not given by the paper (see ``docs/cost-model.md`` for why each value).

    Attributes
    ----------
    num_layers : int
        L, encoder layers (12).
    hidden : int
        h, hidden size (768).
    ffn : int
        f, feed-forward width (3072).
    heads : int
        a, attention heads (12).
    vocab : int
        Vocabulary size (50,265); only for the weight memory.
    max_positions : int
        Position embeddings (514); only for the weight memory.
    lora_rank : int
        r, LoRA rank (8).
    lora_targets : int
        n_LoRA, adapted projections per layer (2: query and value).
    batch_size : int
        b, sequences per batch (32, the paper's Fig. 4).
    seq_len : int
        s, tokens per sequence (512, *assumed*: LoRA's maximum for RoBERTa-base).
    weight_bytes : int
        Bytes per frozen weight (2: half-precision training, as in the paper).
    gradient_bits_per_param : int
        Bits per uploaded LoRA gradient entry (32, the paper).
    lora_param_bytes, lora_grad_bytes : int
        Bytes per LoRA parameter and per LoRA gradient entry kept on the device
        (4 and 4: fp32 master copy and gradient, *assumed*).
    optimizer_bytes : int
        Adam's two moments per LoRA parameter (8 bytes); single-device only,
        since in DEFT the server keeps the gradient statistics.
    peak_flops : float
        Peak throughput of the normalised device, FLOP/s (9.2e12, *assumed*:
        Snapdragon 8 Gen 3's Adreno 750 GPU, about 4.6 TFLOP/s fp32 in
        third-party spec listings, half precision at twice that rate).
    flops_efficiency : float
        eta, fraction of the peak reached by training kernels (0.25, *assumed*).
    backward_factor : float
        beta, backward FLOPs of one frozen layer per forward FLOP (1.0, *assumed*).
    """

    num_layers: int = 12
    hidden: int = 768
    ffn: int = 3072
    heads: int = 12
    vocab: int = 50265
    max_positions: int = 514
    lora_rank: int = 8
    lora_targets: int = 2
    batch_size: int = 32
    seq_len: int = 512
    weight_bytes: int = 2
    gradient_bits_per_param: int = 32
    lora_param_bytes: int = 4
    lora_grad_bytes: int = 4
    optimizer_bytes: int = 8
    peak_flops: float = 9.2e12
    flops_efficiency: float = 0.25
    backward_factor: float = 1.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"cost model: {f.name} must be a number, got {value!r}")
            if f.type == "int" and not isinstance(value, (int, np.integer)):
                raise ValueError(f"cost model: {f.name} must be an integer, got {value!r}")
            if not np.isfinite(value):
                raise ValueError(f"cost model: {f.name} must be finite, got {value!r}")
            # a zero backward factor is a legitimate edge case (equal latency for every block)
            if value < 0 or (value == 0 and f.name != "backward_factor"):
                need = "non-negative" if f.name == "backward_factor" else "positive"
                raise ValueError(f"cost model: {f.name} must be {need}, got {value!r}")
        if self.flops_efficiency > 1:
            raise ValueError(f"cost model: flops_efficiency is a fraction of the peak, got {self.flops_efficiency!r} > 1")
        if self.hidden % self.heads:
            raise ValueError(f"cost model: hidden ({self.hidden}) must be a multiple of heads ({self.heads})")

    # -- sizes ---------------------------------------------------------------------
    @property
    def lora_params_per_block(self) -> int:
        """n_block = n_LoRA * (h r + r h) tunable parameters in one block (24,576)."""
        return self.lora_targets * 2 * self.hidden * self.lora_rank

    @property
    def gradient_bits(self) -> int:
        """D, bits of one block's gradient (786,432 for RoBERTa-base)."""
        return self.lora_params_per_block * self.gradient_bits_per_param

    @property
    def layer_params(self) -> int:
        """Frozen parameters of one encoder layer (7,087,872 for RoBERTa-base)."""
        h, f = self.hidden, self.ffn
        attention = 4 * (h * h + h)          # Q, K, V, O with biases
        feed_forward = h * f + f + f * h + h
        layer_norms = 2 * 2 * h
        return attention + feed_forward + layer_norms

    @property
    def model_params(self) -> int:
        """Frozen parameters of the encoder with embeddings (about 124.6 million)."""
        embeddings = (self.vocab + self.max_positions + 1) * self.hidden + 2 * self.hidden
        return embeddings + self.num_layers * self.layer_params

    @property
    def weight_memory_bytes(self) -> int:
        """W, bytes of the frozen weights (half precision: about 249 MB)."""
        return self.model_params * self.weight_bytes

    # -- FLOPs ---------------------------------------------------------------------
    @property
    def layer_forward_flops(self) -> int:
        """F_layer: forward FLOPs of one encoder layer on one batch (LoRA included)."""
        b, s, h, f, r = self.batch_size, self.seq_len, self.hidden, self.ffn, self.lora_rank
        return 8 * b * s * h * h + 4 * b * s * h * f + 4 * b * s * s * h + self._lora_flops(b, s, h, r)

    def _lora_flops(self, b: int, s: int, h: int, r: int) -> int:
        # B(Ax) for each adapted projection: two matrix products h->r and r->h
        return self.lora_targets * 2 * (2 * b * s * h * r)

    @property
    def lora_weight_grad_flops(self) -> int:
        """FLOPs of the LoRA weight gradients of one block (dA and dB of each projection)."""
        return self._lora_flops(self.batch_size, self.seq_len, self.hidden, self.lora_rank)

    @property
    def forward_flops(self) -> int:
        """F_F: forward FLOPs of the whole model on one batch."""
        return self.num_layers * self.layer_forward_flops

    def backward_flops(self, M: int) -> np.ndarray:
        """F_B(m) for m = 0..M-1: FLOPs of the backpropagation from the output down to block m.

        .. math:: F_B(m) = d_m \\beta F_\\text{layer} + 4 n_\\text{LoRA} b s h r \\, n_m / n_\\text{block}

        with :math:`d_m` = :meth:`block_layers` and :math:`n_m` = :meth:`block_lora_params`.
        """
        depth = self.block_layers(M).astype(float)
        share = self.block_lora_params(M) / float(self.lora_params_per_block)
        return depth * (self.backward_factor * self.layer_forward_flops) + float(self.lora_weight_grad_flops) * share

    @property
    def effective_flops(self) -> float:
        """phi = eta * peak, effective FLOP/s of the normalised device."""
        return self.flops_efficiency * self.peak_flops

    # -- latency (seconds, normalised device, one iteration) ----------------------------
    @property
    def forward_latency_s(self) -> float:
        """t_F, seconds of one forward pass of the whole model on the normalised device."""
        return self.forward_flops / self.effective_flops

    def backward_latency_s(self, M: int) -> np.ndarray:
        """t_B(m) for m = 0..M-1, seconds on the normalised device."""
        return self.backward_flops(M) / self.effective_flops

    def block_compute_latency_s(self, M: int) -> np.ndarray:
        """t_F + t_B(m) for m = 0..M-1: one iteration's gradient of block m, seconds (normalised device)."""
        return (self.forward_flops + self.backward_flops(M)) / self.effective_flops

    def compute_latency_matrix(self, compute_factor, M: int, local_iterations: int = 1) -> np.ndarray:
        """tcp[k, m] = I (t_F + t_B(m)) / f_k, seconds, as a (K, M) array (vectorised).

        Parameters
        ----------
        compute_factor : (K,) array-like
            f_k > 0, speed of device k relative to the normalised device.
        M : int
            Number of blocks.
        local_iterations : int
            I, local iterations per round.

        Examples
        --------
        >>> cm = EncoderCostModel()
        >>> tcp = cm.compute_latency_matrix([1.0, 2.0], 3, local_iterations=2)
        >>> bool(np.allclose(tcp[1] * 2, tcp[0])), bool(np.allclose(tcp[0], 2 * cm.block_compute_latency_s(3)))
        (True, True)
        """
        f = np.asarray(compute_factor, dtype=float)
        if f.ndim != 1 or np.any(~np.isfinite(f)) or np.any(f <= 0):
            raise ValueError("compute_factor must be a 1-D array of positive finite numbers")
        per_block = local_iterations * self.block_compute_latency_s(M)
        return per_block[None, :] / f[:, None]

    # -- memory (bytes) ------------------------------------------------------------
    @property
    def activation_bytes_per_layer(self) -> float:
        """A_layer = s b h (34 + 5 a s / h), bytes kept per layer for backprop (half precision)."""
        s, b, h, a = self.seq_len, self.batch_size, self.hidden, self.heads
        return s * b * h * (34 + 5 * a * s / h)

    @property
    def lora_block_bytes(self) -> int:
        """Bytes of one block's LoRA parameters and gradients on a device."""
        return self.lora_params_per_block * (self.lora_param_bytes + self.lora_grad_bytes)

    def block_memory_bytes(self, M: int) -> np.ndarray:
        """mu_m for m = 0..M-1: bytes to compute block m's gradient (linear in m for M <= L).

        .. math:: \\mu_m = W + d_m A_\\text{layer} + n_m (p_\\text{LoRA} + g_\\text{LoRA})

        with :math:`d_m` = :meth:`block_layers` and :math:`n_m` = :meth:`block_lora_params`.
        """
        depth = self.block_layers(M).astype(float)
        lora = self.block_lora_params(M).astype(float) * (self.lora_param_bytes + self.lora_grad_bytes)
        return self.weight_memory_bytes + depth * self.activation_bytes_per_layer + lora

    @property
    def single_device_memory_bytes(self) -> float:
        """Bytes of fine-tuning the whole model on one device (all activations, LoRA and Adam states)."""
        lora_all = self.num_layers * self.lora_params_per_block
        per_param = self.lora_param_bytes + self.lora_grad_bytes + self.optimizer_bytes
        return self.weight_memory_bytes + self.num_layers * self.activation_bytes_per_layer + lora_all * per_param

    # -- bookkeeping ---------------------------------------------------------------
    @property
    def max_blocks(self) -> int:
        """Most blocks the model can be split into: L n_block, one LoRA parameter each."""
        return self.num_layers * self.lora_params_per_block

    def _check_blocks(self, M: int) -> int:
        if isinstance(M, bool) or not isinstance(M, (int, np.integer)) or not 1 <= M <= self.max_blocks:
            raise ValueError(f"cost model: number of blocks M must be an integer in 1..{self.max_blocks} "
                             f"(num_layers x LoRA parameters per layer), got {M!r}")
        return int(M)

    def blocks_per_layer(self, M: int) -> np.ndarray:
        """n_j for the layers at depth j = 1..L from the output (entry j - 1): how many of the M blocks sit in each.

        One block in each of the top M layers for M <= L; for M > L every layer
        carries floor(M / L) blocks and the top ``M mod L`` layers one more, so
        that shallower layers are split at least as finely as deeper ones.

        >>> EncoderCostModel().blocks_per_layer(26).tolist()
        [3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2]
        """
        M, L = self._check_blocks(M), self.num_layers
        if M <= L:
            return (np.arange(L) < M).astype(np.int64)
        q, extra = divmod(M, L)
        return q + (np.arange(L) < extra).astype(np.int64)

    def block_layers(self, M: int) -> np.ndarray:
        """d_m for m = 0..M-1: the depth of block m's layer from the output (1 = the top layer), a layer count.

        It is the number of layers block m's gradient backpropagates through;
        ``d_m = m + 1`` for M <= L.  Entry m is block m; with M = 24, blocks 0
        and 1 share the top layer:

        >>> EncoderCostModel().block_layers(24)[:5].tolist()
        [1, 1, 2, 2, 3]
        """
        per_layer = self.blocks_per_layer(M)
        return np.repeat(np.arange(1, self.num_layers + 1, dtype=np.int64), per_layer)

    def block_lora_params(self, M: int) -> np.ndarray:
        """n_m for m = 0..M-1: LoRA parameters of block m, ceil(n_block / n_{d_m}) (n_block for M <= L)."""
        per_layer = self.blocks_per_layer(M)
        share = -(-self.lora_params_per_block // per_layer[per_layer > 0])   # ceiling division
        return np.repeat(share, per_layer[per_layer > 0]).astype(np.int64)

    def block_gradient_bits(self, M: int) -> int:
        """D for M blocks: bits of the largest block's gradient (:attr:`gradient_bits` for M <= L).

        >>> cm = EncoderCostModel()
        >>> cm.block_gradient_bits(12), cm.block_gradient_bits(48), cm.block_gradient_bits(26)
        (786432, 196608, 393216)
        """
        return int(self.block_lora_params(M).max()) * self.gradient_bits_per_param

    def parameters(self) -> dict:
        """The model's parameters as a JSON-ready dict."""
        return asdict(self)

    def summary(self, M: int) -> dict:
        """Derived quantities for ``meta`` (FLOPs, seconds, bytes), JSON-ready.

        For M > L (layers split into several blocks) it also gives each block's
        layer ``block_layers`` and LoRA parameter count ``block_lora_params``.
        """
        split = {}
        if M > self.num_layers:
            split = {"block_layers": self.block_layers(M).tolist(),
                     "block_lora_params": self.block_lora_params(M).tolist()}
        return {
            "version": COST_MODEL_VERSION,
            "model_params": self.model_params,
            "lora_params_per_block": self.lora_params_per_block,
            "layer_forward_flops": self.layer_forward_flops,
            "forward_flops": self.forward_flops,
            "backward_flops": self.backward_flops(M).tolist(),
            "effective_flops_per_s": self.effective_flops,
            "forward_latency_s": self.forward_latency_s,
            "backward_latency_s": self.backward_latency_s(M).tolist(),
            "weight_memory_bytes": self.weight_memory_bytes,
            "activation_bytes_per_layer": self.activation_bytes_per_layer,
            "single_device_memory_bytes": self.single_device_memory_bytes,
            **split,
        }


# --------------------------------------------------------------------------------------
# Measured cost model (a file written by ``python -m instances.profile``)
# --------------------------------------------------------------------------------------
#: Format of a measured cost-model file.
COST_MODEL_FORMAT = "deft-cost-model/1"

#: ``cost_model_version`` of instances generated from a measured cost model.
MEASURED_COST_MODEL_VERSION = "measured/1"

_ENCODER_FIELDS = ("num_layers", "hidden", "ffn", "heads", "vocab", "max_positions", "lora_rank",
                   "batch_size", "seq_len")
_BLOCK_ARRAYS = ("latency_s", "forward_s", "backward_s", "memory_bytes", "saved_activation_bytes", "executed_flops")


def nondecreasing_fit(values) -> np.ndarray:
    """The least-squares non-decreasing sequence closest to ``values`` (pool adjacent violators).

    Used for measured latencies, whose medians can dip by timing noise while
    an instance's rows must be non-decreasing in the block depth.  O(n).

    >>> nondecreasing_fit([1.0, 3.0, 2.0, 4.0]).tolist()
    [1.0, 2.5, 2.5, 4.0]
    """
    blocks: list[list[float]] = []          # [mean, count]
    for v in np.asarray(values, dtype=float).ravel():
        blocks.append([float(v), 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            mean, count = blocks.pop()
            blocks[-1] = [(blocks[-1][0] * blocks[-1][1] + mean * count) / (blocks[-1][1] + count),
                          blocks[-1][1] + count]
    return np.concatenate([np.full(int(c), m) for m, c in blocks]) if blocks else np.zeros(0)


@dataclass(frozen=True)
class MeasuredCostModel:
    """Per-block latency and memory measured by ``python -m instances.profile`` (one block per layer).

    Every per-block tuple is in block order m = 0..L-1 (entry m is block m;
    block 0 = the top layer, backpropagation through m + 1 layers), as in
    :class:`EncoderCostModel`.

    Attributes
    ----------
    name, date, machine, torch_version, sha256 : str
        The profile's name, ISO date, a one-line machine description, the
        PyTorch version and the SHA-256 of the file it was read from.
    dtype : str
        Dtype of weights and activations during the measurement.
    num_layers, hidden, ffn, heads, vocab, max_positions, lora_rank, batch_size, seq_len : int
        The measured encoder and workload.
    latency_s, forward_s, backward_s : tuple of float
        Median wall time of one step for block m (forward + backward), and its parts, s.
    memory_bytes : tuple of float
        Peak memory of that step, bytes (weights included).
    saved_activation_bytes, executed_flops : tuple of float
        Bytes autograd saved for backward and FLOPs executed (cross-checks).
    weight_memory_bytes : float
        Parameters and buffers, bytes.
    """

    name: str
    date: str
    machine: str
    torch_version: str
    sha256: str
    dtype: str
    num_layers: int
    hidden: int
    ffn: int
    heads: int
    vocab: int
    max_positions: int
    lora_rank: int
    batch_size: int
    seq_len: int
    latency_s: tuple
    forward_s: tuple
    backward_s: tuple
    memory_bytes: tuple
    saved_activation_bytes: tuple
    executed_flops: tuple
    weight_memory_bytes: float

    def __post_init__(self) -> None:
        for name in _ENCODER_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"measured cost model: {name} must be a positive integer, got {value!r}")
        for name in _BLOCK_ARRAYS:
            raw = getattr(self, name)
            try:
                values = tuple(float(v) for v in raw)
            except (TypeError, ValueError):
                raise ValueError(f"measured cost model: {name} must be a list of numbers, got {raw!r}") from None
            if len(values) != self.num_layers:
                raise ValueError(f"measured cost model: {name} has {len(values)} entries, "
                                 f"expected one per layer ({self.num_layers})")
            bad = [i for i, v in enumerate(values) if not (math.isfinite(v) and v > 0)]
            if bad:
                raise ValueError(f"measured cost model: {name}[{bad[0]}] must be positive and finite, "
                                 f"got {values[bad[0]]!r}")
            object.__setattr__(self, name, values)
        w = self.weight_memory_bytes
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not (math.isfinite(w) and w > 0):
            raise ValueError(f"measured cost model: weight_memory_bytes must be positive, got {w!r}")
        for name in ("name", "date", "machine", "torch_version", "sha256", "dtype"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"measured cost model: {name} must be a string, got {getattr(self, name)!r}")

    @classmethod
    def from_document(cls, doc: dict, sha256: str = "") -> "MeasuredCostModel":
        """From the parsed JSON of a ``deft-cost-model/1`` file; ValueError naming the missing or bad field."""
        if not isinstance(doc, dict):
            raise ValueError("a cost-model file holds one JSON object")
        if doc.get("format") != COST_MODEL_FORMAT:
            raise ValueError(f"format must be {COST_MODEL_FORMAT!r}, got {doc.get('format')!r}")
        try:
            config, blocks, machine = doc["config"], doc["blocks"], doc["machine"]
            kwargs = {name: config[name] for name in _ENCODER_FIELDS}
            kwargs.update({name: blocks[name] for name in _BLOCK_ARRAYS})
            kwargs.update(name=doc["name"], date=doc["date"], dtype=config["dtype"],
                          weight_memory_bytes=doc["weight_memory_bytes"], torch_version=machine["torch"],
                          machine=f"{machine['cpu']}, {machine['torch_threads']} thread(s), "
                                  f"{doc.get('method', {}).get('clock', 'wall')} clock")
        except (KeyError, TypeError) as exc:
            raise ValueError(f"missing field {exc}") from None
        return cls(sha256=sha256, **kwargs)

    def encoder_fields(self) -> dict:
        """The :class:`EncoderCostModel` fields fixed by the measurement (architecture and workload)."""
        return {name: getattr(self, name) for name in _ENCODER_FIELDS}

    def _per_block(self, values, M: int) -> np.ndarray:
        layers = EncoderCostModel(**self.encoder_fields()).block_layers(M)   # d_m: block m's layer depth (1..L)
        # measured entry d - 1 is the measured block that backpropagates through d layers
        return np.asarray(values, dtype=float)[layers - 1]

    def block_compute_latency_s(self, M: int) -> np.ndarray:
        """t(m) for m = 0..M-1, s: the non-decreasing fit (:func:`nondecreasing_fit`) of the measured medians.

        For M > L a block placed in the layer at depth d_m takes that layer's latency.
        """
        return self._per_block(nondecreasing_fit(self.latency_s), M)

    def compute_latency_matrix(self, compute_factor, M: int, local_iterations: int = 1) -> np.ndarray:
        """tcp[k, m] = I t(m) / f_k, seconds, (K, M): the profiling machine is the normalised device (f = 1)."""
        f = np.asarray(compute_factor, dtype=float)
        if f.ndim != 1 or np.any(~np.isfinite(f)) or np.any(f <= 0):
            raise ValueError("compute_factor must be a 1-D array of positive finite numbers")
        return (local_iterations * self.block_compute_latency_s(M))[None, :] / f[:, None]

    def block_memory_bytes(self, M: int) -> np.ndarray:
        """mu_m for m = 0..M-1, bytes: the running maximum of the measured peaks (never below a measurement).

        For M > L a block placed in the layer at depth d_m is charged that layer's whole
        measured memory (an over-estimate by at most that layer's LoRA gradients).
        """
        return self._per_block(np.maximum.accumulate(np.asarray(self.memory_bytes, dtype=float)), M)

    def summary(self, M: int) -> dict:
        """Derived quantities for an instance's ``meta``, JSON-ready."""
        return {
            "version": MEASURED_COST_MODEL_VERSION,
            "source": self.name, "sha256": self.sha256, "date": self.date, "machine": self.machine,
            "torch": self.torch_version, "dtype": self.dtype,
            "measured_latency_s": list(self.latency_s),
            "block_compute_latency_s": self.block_compute_latency_s(M).tolist(),
            "block_memory_bytes": self.block_memory_bytes(M).tolist(),
            "weight_memory_bytes": self.weight_memory_bytes,
        }


def load_cost_model(path) -> MeasuredCostModel:
    """Read a measured cost-model file (``deft-cost-model/1``, written by ``python -m instances.profile``).

    Raises
    ------
    ValueError
        One line naming the file and what is wrong with it (also for a
        missing file or bad JSON).

    Examples
    --------
    >>> from pathlib import Path
    >>> cm = load_cost_model(Path(__file__).parent / "cost_models" / "roberta-base-cpu.costmodel")
    >>> len(cm.latency_s) == cm.num_layers == 12
    True
    >>> bool(np.all(np.diff(cm.block_compute_latency_s(12)) >= 0))
    True
    """
    import hashlib
    import json
    from pathlib import Path

    path = Path(path)
    try:
        raw = path.read_bytes()
        doc = json.loads(raw.decode("utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the cost-model file: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a JSON cost-model file: {exc}") from None
    try:
        return MeasuredCostModel.from_document(doc, sha256=hashlib.sha256(raw).hexdigest())
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
