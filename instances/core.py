"""The one ``Instance`` type and the one place where instance data is validated.

An instance of the DEFT block-device matching problem (see ``docs/formulation.md``)
holds, for K devices and M parameter blocks (0-based indices):

==========================  =========  =======================================
field                       shape      meaning (unit)
==========================  =========  =======================================
``compute_latency``         (K, M)     tcp[k, m]: time for device k to compute
                                       the gradient of block m (seconds); every
                                       row non-decreasing in m (deeper blocks
                                       need a longer backpropagation)
``block_memory``            (M,)       mu_m: memory needed to compute block m's
                                       gradient (bytes), non-decreasing
``device_memory``           (K,)       cap_k: memory budget of device k (bytes)
``spectral_efficiency``     (K,)       R_k = log2(1 + SNR_k) (bit/s/Hz), > 0
``gradient_bits``           scalar or  D: size of one block's gradient (bits);
                            (M,)       or D_m, the size of block m's (G1)
``device_max_blocks``       (K,)       c_k: most blocks device k may take
                                       (an integer >= 1; default 1) (G2)
``bandwidth_hz``            scalar     B: total uplink bandwidth (Hz)
==========================  =========  =======================================

The problem family
------------------
With one D and every c_k = 1 this is the paper's model: each block goes to a
distinct device, P1 splits the band equally (B/M per block), P2 chooses the
split.  Two generalisations, each optional:

* **G1**, per-block gradient sizes: ``gradient_bits`` is a list of M numbers
  D_m.  A list of M *equal* values is normalised to the scalar D, so that such
  an instance *is* the paper's model (and is written as ``deft-instance/1``).
* **G2**, devices that take several blocks: ``device_max_blocks`` lists
  c_k >= 1.  A device holding the set S_k of blocks (|S_k| <= c_k) runs one
  forward and one backward pass down to its deepest block d_k = max(S_k): its
  computation latency is tcp[k, d_k], its memory need mu[d_k] (C3:
  mu[d_k] <= cap_k, so every block of S_k fits too), and it uploads
  U_k = sum_{m in S_k} D_m bits in U_k / (R_k B_k) seconds, with
  B_k = |S_k| B / M in P1 (the equal split per block) and a free B_k >= 0,
  sum_k B_k <= B, in P2.  The round latency is the largest
  tcp[k, d_k] + U_k / (R_k B_k) over the devices that hold a block.

:attr:`Instance.family` says which generalisations an instance uses.

File formats (JSON)
-------------------
``deft-instance/1``, the paper's model (every file of this format reads as it
always did)::

    {"format": "deft-instance/1", "name": str,
     "compute_latency": [[s, ...M], ...K], "block_memory": [bytes, ...M],
     "device_memory": [bytes, ...K], "spectral_efficiency": [bit/s/Hz, ...K],
     "gradient_bits": bits, "bandwidth_hz": Hz, "meta": {...}}

``deft-instance/2``, the family: the same fields, and

==========================  ==========================  ======================
field                       value                       unit
==========================  ==========================  ======================
``gradient_bits``           a number D, or a list of    bits
                            M numbers D_m (G1)
``device_max_blocks``       optional: a list of K       blocks
                            integers c_k in
                            [1, MAX_BLOCKS_PER_DEVICE]
                            (G2); absent = all 1
==========================  ==========================  ======================

A ``deft-instance/1`` file with a list ``gradient_bits`` or with
``device_max_blocks`` is refused (it "needs format deft-instance/2").
:meth:`Instance.to_dict` and :func:`save_instance` write ``deft-instance/1``
whenever the instance is in the paper's model (:attr:`Instance.paper_model`),
so such files round-trip byte for byte; otherwise ``deft-instance/2``, with
``device_max_blocks`` only when some c_k > 1.

Invalid data (bad JSON, duplicate keys, missing or unknown fields, wrong
shapes, strings for numbers, integers too large for a float, NaN/inf, negative
values, zero bandwidth, rows that are not non-decreasing, values outside the
accepted domain below, block counts that are not integers in
``[1, MAX_BLOCKS_PER_DEVICE]``) raises :class:`InstanceError`, whose message
names the file, the field and the index.  An instance without any feasible
assignment is *not* invalid: with all c_k = 1, ``M > K`` or a memory wall;
in general, when the devices that hold the deepest blocks cannot take them
all (``sum_k c_k < M`` for instance; with enough c_k, ``K < M`` is feasible).
Such an instance is simply infeasible and every solver reports it as such.

Accepted domain
---------------
Every value is a finite float64.  Every positive value, and every derived
quantity below, lies in ``[VALUE_MIN, VALUE_MAX] = [1e-60, 1e60]`` in its own
unit; zero is accepted only where it means something (a latency of 0 s, a
memory of 0 bytes).  These are the only limits besides the size limits
(``MAX_DEVICES``, ``MAX_BLOCKS``, ``MAX_ENTRIES``, ``MAX_FILE_BYTES``,
``MAX_BLOCKS_PER_DEVICE``).  D_m stands for D when there is one size.

================================  ========================  ===========================
quantity                          accepted                  why
================================  ========================  ===========================
``compute_latency``               0 or [1e-60, 1e60] s      summed, subtracted from
                                                            thresholds, normalised
``block_memory``                  0 or [1e-60, 1e60] bytes  summed over blocks (C3)
``device_memory``                 0 or [1e-60, 1e60] bytes  compared with those sums
``spectral_efficiency``           [1e-60, 1e60] bit/s/Hz    divides D (0: no link)
``gradient_bits``, each D_m       [1e-60, 1e60] bits        D (0: nothing to upload)
``bandwidth_hz``                  [1e-60, 1e60] Hz          divides D (0: no band)
``device_max_blocks``, each c_k   integer in [1, 10^6]      a count of blocks
D_m*M/(B*R_k), each pair          at most 1e60 s            P1 upload time of one
                                                            block (equal split)
D_m/(R_k*B), each pair            at least 1e-60 s          P2 upload time of one
                                                            block (whole band)
tcp[k,m] + D_m*M/(B*R_k)          at most 1e60 s            P1 cost of each pair
(sum_m D_m)*M/(B*R_k), each       at most 1e60 s            G2: a device's whole
device with c_k >= 2                                        upload U_k <= sum_m D_m,
                                                            at the band of one block
================================  ========================  ===========================

So every upload time and every P1 cost lies in the window too: a G2
device's P1 upload time U_k M / (|S_k| B R_k) is the mean of its blocks'
D_m M / (B R_k), and its P1 latency tcp[k, d_k] + U_k M / (|S_k| B R_k) is at
most the sum of two pair costs, 2e60 s.  The argument:
every number a method computes is a sum of at most 2M + 2 terms (costs summed
over the M blocks of an assignment, the bandwidth equation's bracket
``max_m t_m + sum_m D_m/(R_m B)``, a doubled bracket; a device's U_k is a sum
over its own blocks, so the uploads of an assignment are still M terms in
all), each term a product or quotient of at most four quantities of the
table, times counts up to M^2 (for instance the weight
``D / (R_k B (T - t))`` at a threshold T, the normalised coefficient
``D / (R_k B T)``, the bandwidth ``D / (R_k (T - t))``, the checker's
``D / ((B/M) R_k)``).  With every factor in ``[1e-60, 1e60]`` (at most
``2e60``) and ``M <= MAX_BLOCKS = 1e4``, such a number lies in
``[1e-240 / 2e12, 2e240 * 2e12]``, inside the normal floats
``[FLOAT_TINY, FLOAT_MAX] = [2.2e-308, 1.8e308]`` with 50 decades to spare:
nothing overflows to inf and nothing positive underflows to a subnormal number
or to 0.  A difference ``T - t`` of two times of the window is 0 or at least
one unit in the last place of 1e-60 (about 1e-76), normal too; at a threshold
a pair can meet (``T - t >= D/(R_k B)``: no device uploads faster than with
the whole band) its weight is at most 1 (up to rounding), so a sum of M
weights is at most about M.
A subnormal input (below ``FLOAT_TINY``) is named as such in the message.

>>> inst = Instance.from_arrays(
...     compute_latency=[[1.0, 2.0], [1.5, 1.5], [0.5, 3.0]],
...     block_memory=[1e9, 2e9], device_memory=[4e9, 1e9, 4e9],
...     spectral_efficiency=[1.0, 2.0, 4.0], gradient_bits=1e6,
...     bandwidth_hz=1e6, name="doc")
>>> inst.K, inst.M
(3, 2)
>>> inst.memory_prefix.tolist()   # blocks each device may hold: a prefix
[2, 1, 2]
>>> inst.paper_model, sorted(inst.family), inst.to_dict()["format"]
(True, [], 'deft-instance/1')

The family: per-block sizes (G1) and a device that takes both blocks (G2):

>>> fam = Instance.from_arrays(
...     compute_latency=[[1.0, 2.0], [1.5, 1.5]], block_memory=[1e9, 2e9],
...     device_memory=[4e9, 4e9], spectral_efficiency=[1.0, 2.0],
...     gradient_bits=[1e6, 5e5], bandwidth_hz=1e6, device_max_blocks=[2, 1])
>>> sorted(fam.family), fam.to_dict()["format"]
(['G1', 'G2'], 'deft-instance/2')
>>> fam.block_bits.tolist(), fam.device_max_blocks.tolist()
([1000000.0, 500000.0], [2, 1])
>>> fam.p1_cost().tolist()            # tcp + D_m M / (B R_k), one block per pair
[[3.0, 3.0], [2.5, 2.0]]
>>> Instance.from_arrays([[1.0, 2.0]], [1.0, 1.0], [1.0], [1.0], [8.0, 8.0], 1.0).gradient_bits
8.0
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

#: The paper's model (one D, one block per device); every file of it reads unchanged.
FORMAT = "deft-instance/1"
#: The problem family: per-block gradient sizes (G1), devices that take several blocks (G2).
FORMAT_V2 = "deft-instance/2"
#: Every format :func:`load_instance` reads.
FORMATS = (FORMAT, FORMAT_V2)

#: Fields of the file format, in the order they are documented.
REQUIRED_FIELDS = (
    "format",
    "name",
    "compute_latency",
    "block_memory",
    "device_memory",
    "spectral_efficiency",
    "gradient_bits",
    "bandwidth_hz",
)
OPTIONAL_FIELDS = ("meta",)
#: Optional fields of ``deft-instance/2`` only.
V2_OPTIONAL_FIELDS = ("device_max_blocks",)

#: Size limits: larger instances are refused as unusable input rather than
#: exhausting memory.  100,000 devices x 1,000 blocks is far beyond any DEFT set-up.
MAX_DEVICES = 1_000_000
MAX_BLOCKS = 10_000
MAX_ENTRIES = 100_000_000
MAX_FILE_BYTES = 2 * 1024**3
#: Largest accepted c_k (``device_max_blocks``).  Any c_k >= M means "no limit";
#: larger numbers are refused rather than clipped (they are typos, not limits).
MAX_BLOCKS_PER_DEVICE = 1_000_000

#: The smallest normal and the largest finite float64 (``np.finfo(float)``).
FLOAT_TINY = float(np.finfo(float).tiny)
FLOAT_MAX = float(np.finfo(float).max)
#: Accepted magnitude of every positive value and derived quantity, in its own
#: unit (s, bytes, bit/s/Hz, bits, Hz); see "Accepted domain" in the module docstring.
VALUE_MIN = 1e-60
VALUE_MAX = 1e60
#: Unit of each numeric field, for messages.
UNITS = {
    "compute_latency": "s",
    "block_memory": "bytes",
    "device_memory": "bytes",
    "spectral_efficiency": "bit/s/Hz",
    "gradient_bits": "bits",
    "bandwidth_hz": "Hz",
}


class InstanceError(ValueError):
    """Unusable instance data.

    Attributes
    ----------
    source : str
        The file (or ``"<arrays>"`` for data built in memory).
    field : str
        The offending field, e.g. ``"compute_latency"``.
    index : tuple of int or None
        Position inside the field, when the problem is one entry.
    problem : str
        What is wrong, in words.
    """

    def __init__(self, source: str, field: str, problem: str, index: tuple[int, ...] | None = None):
        self.source = str(source)
        self.field = field
        self.index = index
        self.problem = problem
        where = field + ("".join(f"[{i}]" for i in index) if index else "")
        super().__init__(f"{self.source}: field '{where}': {problem}")


def _first_index(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0])


def _range_text(name: str, value: float, zero_ok: bool) -> str:
    """Why ``value`` of field ``name`` is outside the accepted domain, in words."""
    unit = UNITS[name]
    accepted = f"{'0 or ' if zero_ok else ''}in [{VALUE_MIN:g}, {VALUE_MAX:g}] {unit}"
    if 0 < value < FLOAT_TINY:
        why = f"a subnormal float, below the smallest normal float {FLOAT_TINY!r}"
    elif value < VALUE_MIN:
        why = f"below the accepted minimum {VALUE_MIN:g} {unit}: quotients of such values would underflow"
    else:
        why = f"above the accepted maximum {VALUE_MAX:g} {unit}: sums and products of such values would overflow"
    return f"must be {accepted}, got {value!r} ({why})"


def _too_large_text(value: Any) -> str:
    """Message for an integer (or an integer token of a JSON text) beyond the largest float."""
    if isinstance(value, str):
        digits = len(value.lstrip("-"))
        size = f"an integer of {digits} digits"
    else:
        size = f"an integer of about 10^{math.floor(math.log10(abs(value)))}"
    return f"is too large for a float: {size} (the largest float is {FLOAT_MAX!r})"


def _too_many_blocks_text(value: Any) -> str:
    """Message for a c_k above :data:`MAX_BLOCKS_PER_DEVICE` (``value`` an int, or the token of a huge one)."""
    if isinstance(value, str):            # the token of a JSON integer (may exceed int's digit limit)
        digits = len(value.lstrip("-"))
        shown = f"an integer of {digits} digits" if digits > 20 else value
    else:
        shown = str(value) if value < 10**20 else f"an integer of about 10^{math.floor(math.log10(value))}"
    return (f"must be at most {MAX_BLOCKS_PER_DEVICE} (the largest accepted number of blocks per device; "
            f"any c_k >= M already means no limit), got {shown}")


def _json_type(value: Any) -> str:
    """The JSON name of ``value``'s type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {value!r}"
    return "an object" if isinstance(value, dict) else type(value).__name__


def _is_huge_integer(x: Any) -> bool:
    """True for a Python or NumPy integer that has no float64 value (overflows)."""
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)):
        return False
    x = int(x)
    if x.bit_length() < 1024:
        return False
    try:
        float(x)
    except OverflowError:
        return True
    return False


def _huge_integer_index(value: Any) -> tuple[int, ...] | None:
    """Index of the first integer too large for a float in nested lists ``value`` (None if none)."""
    stack = [((), value)]
    while stack:
        index, item = stack.pop()
        if _is_huge_integer(item):
            return index
        if isinstance(item, (list, tuple)):
            stack.extend(((*index, i), x) for i, x in reversed(list(enumerate(item))))
    return None


def _entry(value: Any, index: tuple[int, ...] | None) -> Any:
    for i in index or ():
        value = value[i]
    return value


@dataclass(frozen=True, eq=False)
class Instance:
    """A validated DEFT matching instance (see the module docstring for fields).

    Build one with :meth:`from_arrays`, :meth:`from_dict` or :func:`load_instance`;
    all three validate here, in :meth:`__post_init__`.

    ``gradient_bits`` is a Python float when every block has one size (always
    so in the paper's model), else a read-only float array (M,) of the D_m
    (G1); :attr:`block_bits` is the (M,) array in both cases.
    ``device_max_blocks`` is a read-only int64 array (K,) of the c_k, all 1
    unless given (G2).
    """

    compute_latency: np.ndarray  # (K, M) seconds
    block_memory: np.ndarray  # (M,) bytes
    device_memory: np.ndarray  # (K,) bytes
    spectral_efficiency: np.ndarray  # (K,) bit/s/Hz
    gradient_bits: float | np.ndarray  # bits: D, or (M,) D_m (G1)
    bandwidth_hz: float  # Hz
    name: str = "unnamed"
    meta: dict = field(default_factory=dict)
    source: str = "<arrays>"
    device_max_blocks: np.ndarray | None = None  # (K,) int64 c_k (G2); None: all 1

    # -- validation: the one place -------------------------------------------------
    def __post_init__(self) -> None:
        src = self.source
        if not isinstance(self.name, str) or not self.name:
            raise InstanceError(src, "name", "must be a non-empty string")
        if not isinstance(self.meta, dict):
            raise InstanceError(src, "meta", "must be an object")
        tcp = self._array("compute_latency", self.compute_latency, ndim=2)
        K, M = tcp.shape
        if K < 1 or M < 1:
            raise InstanceError(src, "compute_latency", f"needs at least one device and one block, got shape {K}x{M}")
        if K > MAX_DEVICES or M > MAX_BLOCKS or K * M > MAX_ENTRIES:
            raise InstanceError(src, "compute_latency", f"too large: {K} devices x {M} blocks (limits {MAX_DEVICES}, {MAX_BLOCKS}, {MAX_ENTRIES} entries)")
        self._check_range("compute_latency", tcp, zero_ok=True)
        mu = self._array("block_memory", self.block_memory, ndim=1, length=M, length_of="blocks (columns of compute_latency)")
        cap = self._array("device_memory", self.device_memory, ndim=1, length=K, length_of="devices (rows of compute_latency)")
        rate = self._array("spectral_efficiency", self.spectral_efficiency, ndim=1, length=K, length_of="devices (rows of compute_latency)", positive=True)
        bits = self._gradient_bits(self.gradient_bits, M)
        band = self._scalar("bandwidth_hz", self.bandwidth_hz)
        most = self._device_max_blocks(self.device_max_blocks, K)
        if M > 1:
            bad = np.diff(tcp, axis=1) < 0
            if bad.any():
                k, m = _first_index(bad)
                raise InstanceError(src, "compute_latency", f"row {k} is not non-decreasing: entry [{m + 1}] = {float(tcp[k, m + 1])!r} < entry [{m}] = {float(tcp[k, m])!r}", (k, m + 1))
            bad = np.diff(mu) < 0
            if bad.any():
                (m,) = _first_index(bad)
                raise InstanceError(src, "block_memory", f"is not non-decreasing: {float(mu[m + 1])!r} < previous {float(mu[m])!r}", (m + 1,))
        self._check_derived(tcp, rate, bits, band, most)
        for name, value in (("compute_latency", tcp), ("block_memory", mu), ("device_memory", cap),
                            ("spectral_efficiency", rate), ("device_max_blocks", most)):
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        object.__setattr__(self, "gradient_bits", bits)
        object.__setattr__(self, "bandwidth_hz", band)

    def _array(self, name, value, ndim, length=None, length_of="", positive=False) -> np.ndarray:
        """``value`` as a float array: shape, then finite, then sign, then the accepted range."""
        try:
            arr = np.array(value, dtype=float)
        except OverflowError:
            index = _huge_integer_index(value)
            text = "holds a number too large for a float" if index is None else _too_large_text(_entry(value, index))
            raise InstanceError(self.source, name, text, index or None) from None
        except (TypeError, ValueError):
            raise InstanceError(self.source, name, "must hold only numbers, in a rectangular array") from None
        if arr.ndim != ndim:
            raise InstanceError(self.source, name, f"must be a {ndim}-dimensional array, got {arr.ndim} dimension(s)")
        if length is not None and arr.shape[0] != length:
            raise InstanceError(self.source, name, f"has {arr.shape[0]} entries but there are {length} {length_of}")
        if arr.size == 0:
            raise InstanceError(self.source, name, "is empty")
        bad = ~np.isfinite(arr)
        if bad.any():
            idx = _first_index(bad)
            raise InstanceError(self.source, name, f"must be finite, got {float(arr[idx])!r}", idx)
        bad = arr <= 0 if positive else arr < 0
        if bad.any():
            idx = _first_index(bad)
            need = "positive" if positive else "non-negative"
            raise InstanceError(self.source, name, f"must be {need}, got {float(arr[idx])!r}", idx)
        if ndim == 1:   # the caller checks compute_latency's range after its size limits
            self._check_range(name, arr, zero_ok=not positive)
        return arr

    def _check_range(self, name: str, arr: np.ndarray, zero_ok: bool) -> None:
        """Refuse the first nonzero entry of ``arr`` outside ``[VALUE_MIN, VALUE_MAX]``."""
        bad = (arr < VALUE_MIN) | (arr > VALUE_MAX)
        if zero_ok:
            bad &= arr != 0
        if bad.any():
            idx = _first_index(bad)
            raise InstanceError(self.source, name, _range_text(name, float(arr[idx]), zero_ok), idx)

    def _scalar(self, name, value) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise InstanceError(self.source, name, f"must be a number, got {type(value).__name__}")
        try:
            value = float(value)
        except OverflowError:
            raise InstanceError(self.source, name, _too_large_text(value)) from None
        if not math.isfinite(value) or value <= 0:
            raise InstanceError(self.source, name, f"must be a positive finite number, got {value!r}")
        if not VALUE_MIN <= value <= VALUE_MAX:
            raise InstanceError(self.source, name, _range_text(name, value, zero_ok=False))
        return value

    def _gradient_bits(self, value: Any, M: int) -> float | np.ndarray:
        """D as a float, or the D_m as a read-only (M,) array; M equal values give the float D.

        Checks, in order: a number or a flat list, each entry a number (not a
        boolean, string or null), M entries, finite, positive, in the accepted
        range; the first entry at fault is named.
        """
        name = "gradient_bits"
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value.item()
        if not isinstance(value, (list, tuple, np.ndarray)):
            return self._scalar(name, value)
        items = value.tolist() if isinstance(value, np.ndarray) else list(value)
        for i, x in enumerate(items):
            if isinstance(x, (list, tuple)):
                raise InstanceError(self.source, name, f"must be a number or a flat list of {M} numbers "
                                                       f"(one per block), got a nested list", (i,))
            if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
                raise InstanceError(self.source, name, f"must be a number, got {x!r}", (i,))
        if len(items) != M:
            raise InstanceError(self.source, name, f"has {len(items)} entries but there are {M} blocks "
                                                   f"(columns of compute_latency)")
        for i, x in enumerate(items):
            if _is_huge_integer(x):
                raise InstanceError(self.source, name, _too_large_text(x), (i,))
        arr = np.array(items, dtype=float)
        bad = ~np.isfinite(arr)
        if bad.any():
            idx = _first_index(bad)
            raise InstanceError(self.source, name, f"must be finite, got {float(arr[idx])!r}", idx)
        bad = arr <= 0
        if bad.any():
            idx = _first_index(bad)
            raise InstanceError(self.source, name, f"must be positive, got {float(arr[idx])!r}", idx)
        self._check_range(name, arr, zero_ok=False)
        if np.all(arr == arr[0]):
            return float(arr[0])            # one size: the paper's model
        arr.setflags(write=False)
        return arr

    def _device_max_blocks(self, value: Any, K: int) -> np.ndarray:
        """The c_k as an int64 array (K,) (all 1 for ``None``): integers in ``[1, MAX_BLOCKS_PER_DEVICE]``."""
        name = "device_max_blocks"
        if value is None:
            return np.ones(K, dtype=np.int64)
        if isinstance(value, np.ndarray) and value.ndim != 1:
            raise InstanceError(self.source, name, f"must be a list of {K} integers (one per device), "
                                                   f"got a {value.ndim}-dimensional array")
        if not isinstance(value, (list, tuple, np.ndarray)):
            raise InstanceError(self.source, name, f"must be a list of {K} integers (one per device), "
                                                   f"got {type(value).__name__}")
        items = value.tolist() if isinstance(value, np.ndarray) else list(value)
        for i, x in enumerate(items):
            if isinstance(x, bool) or not isinstance(x, (int, np.integer)):
                what = "a list" if isinstance(x, (list, tuple)) else repr(x)
                raise InstanceError(self.source, name, f"must be an integer (a number of blocks), got {what}", (i,))
        if len(items) != K:
            raise InstanceError(self.source, name, f"has {len(items)} entries but there are {K} devices "
                                                   f"(rows of compute_latency)")
        for i, x in enumerate(items):
            x = int(x)
            if x < 1:
                raise InstanceError(self.source, name, f"must be at least 1 (a device takes at least one block "
                                                       f"when it takes any), got {x}", (i,))
            if x > MAX_BLOCKS_PER_DEVICE:
                raise InstanceError(self.source, name, _too_many_blocks_text(x), (i,))
        return np.array(items, dtype=np.int64)

    def _check_derived(self, tcp: np.ndarray, rate: np.ndarray, bits: float | np.ndarray, band: float,
                       most: np.ndarray) -> None:
        """Refuse upload times and P1 costs outside the accepted domain (module docstring).

        Each quantity is computed as :attr:`upload_equal_s`, :attr:`upload_full_s`
        and :meth:`p1_cost` compute it (:attr:`block_upload_equal_s`,
        :attr:`block_upload_full_s` per block); the device (or pair) at fault is
        named.  The inputs are already in ``[VALUE_MIN, VALUE_MAX]``, so nothing
        here overflows or underflows.  O(KM).
        """
        M = tcp.shape[1]
        if isinstance(bits, float):
            upload_equal_s = bits * M / (band * rate)
            upload_full_s = bits / rate / band
            given = f"D = {bits!r} bits, B = {band!r} Hz, M = {M}"
            checks = ((upload_equal_s > VALUE_MAX, upload_equal_s, "P1 upload time D*M/(B*R_k) (band split equally)",
                       f"above the accepted maximum {VALUE_MAX:g} s"),
                      (upload_full_s < VALUE_MIN, upload_full_s, "P2 upload time D/(R_k*B) (whole band)",
                       f"below the accepted minimum {VALUE_MIN:g} s"))
            for bad, values, what, limit in checks:
                if bad.any():
                    (k,) = _first_index(bad)
                    raise InstanceError(self.source, "spectral_efficiency",
                                        f"gives a {what} of {float(values[k])!r} s, {limit} "
                                        f"(R_k = {float(rate[k])!r} bit/s/Hz, {given})", (k,))
            cost_s = tcp + upload_equal_s[:, None]
            bad = cost_s > VALUE_MAX
            if bad.any():
                k, m = _first_index(bad)
                raise InstanceError(self.source, "compute_latency",
                                    f"gives a P1 cost tcp + D*M/(B*R_k) of {float(cost_s[k, m])!r} s, above the accepted "
                                    f"maximum {VALUE_MAX:g} s (tcp = {float(tcp[k, m])!r} s, upload {float(upload_equal_s[k])!r} s)",
                                    (k, m))
            total_bits = bits * M
        else:
            upload_equal_s = bits[None, :] * M / (band * rate[:, None])
            upload_full_s = bits[None, :] / rate[:, None] / band
            checks = ((upload_equal_s > VALUE_MAX, upload_equal_s, "P1 upload time D_m*M/(B*R_k) (band split equally)",
                       f"above the accepted maximum {VALUE_MAX:g} s"),
                      (upload_full_s < VALUE_MIN, upload_full_s, "P2 upload time D_m/(R_k*B) (whole band)",
                       f"below the accepted minimum {VALUE_MIN:g} s"))
            for bad, values, what, limit in checks:
                if bad.any():
                    k, m = _first_index(bad)
                    raise InstanceError(self.source, "spectral_efficiency",
                                        f"gives block {m} a {what} of {float(values[k, m])!r} s, {limit} "
                                        f"(R_k = {float(rate[k])!r} bit/s/Hz, D_m = {float(bits[m])!r} bits, "
                                        f"B = {band!r} Hz, M = {M})", (k,))
            cost_s = tcp + upload_equal_s
            bad = cost_s > VALUE_MAX
            if bad.any():
                k, m = _first_index(bad)
                raise InstanceError(self.source, "compute_latency",
                                    f"gives a P1 cost tcp + D_m*M/(B*R_k) of {float(cost_s[k, m])!r} s, above the "
                                    f"accepted maximum {VALUE_MAX:g} s (tcp = {float(tcp[k, m])!r} s, upload "
                                    f"{float(upload_equal_s[k, m])!r} s)", (k, m))
            total_bits = math.fsum(bits.tolist())
        several = most >= 2
        if several.any():     # G2: a device may upload up to every block, U_k <= sum_m D_m
            upload_all_s = total_bits * M / (band * rate)
            bad = several & (upload_all_s > VALUE_MAX)
            if bad.any():
                (k,) = _first_index(bad)
                raise InstanceError(self.source, "device_max_blocks",
                                    f"lets device {k} take {int(most[k])} blocks, and the upload of all blocks "
                                    f"(sum_m D_m)*M/(B*R_k) is {float(upload_all_s[k])!r} s, above the accepted "
                                    f"maximum {VALUE_MAX:g} s (sum_m D_m = {total_bits!r} bits, "
                                    f"R_k = {float(rate[k])!r} bit/s/Hz, B = {band!r} Hz, M = {M})", (k,))

    # -- constructors ----------------------------------------------------------------
    @classmethod
    def from_arrays(cls, compute_latency, block_memory, device_memory, spectral_efficiency,
                    gradient_bits, bandwidth_hz, name="unnamed", meta=None, source="<arrays>",
                    device_max_blocks=None) -> "Instance":
        """Build and validate an instance from array-likes (units as in the module docstring).

        ``gradient_bits`` is a number D or M numbers D_m (G1; M equal values
        give the number); ``device_max_blocks`` is ``None`` (every c_k = 1) or
        K integers c_k >= 1 (G2).
        """
        return cls(compute_latency, block_memory, device_memory, spectral_efficiency,
                   gradient_bits, bandwidth_hz, name, dict(meta or {}), str(source), device_max_blocks)

    @classmethod
    def from_dict(cls, data: Any, source: str = "<dict>") -> "Instance":
        """Validate the JSON-level structure of ``data`` (either format) then build the instance."""
        if not isinstance(data, dict):
            raise InstanceError(source, "<top level>", f"must be a JSON object, got {type(data).__name__}")
        for key in REQUIRED_FIELDS:
            if key not in data:
                raise InstanceError(source, key, "is missing")
        fmt = data["format"] if isinstance(data["format"], str) and data["format"] in FORMATS else FORMAT
        unknown = sorted(set(data) - set(REQUIRED_FIELDS) - set(OPTIONAL_FIELDS) - set(V2_OPTIONAL_FIELDS))
        if unknown:
            raise InstanceError(source, unknown[0], f"is not a field of {fmt} (unknown fields: {', '.join(unknown)})")
        if not isinstance(data["format"], str) or data["format"] not in FORMATS:
            raise InstanceError(source, "format", f"must be {FORMAT!r} or {FORMAT_V2!r}, got {data['format']!r}")
        bits = data["gradient_bits"]
        if data["format"] == FORMAT:
            for key in V2_OPTIONAL_FIELDS:
                if key in data:
                    raise InstanceError(source, key, f"is a field of {FORMAT_V2} only: the file says {FORMAT!r}, "
                                                     f"it needs format deft-instance/2")
            if isinstance(bits, list):
                raise InstanceError(source, "gradient_bits", f"is a list (one size per block): the file says "
                                                             f"{FORMAT!r}, it needs format deft-instance/2")
        for key in ("compute_latency", "block_memory", "device_memory", "spectral_efficiency"):
            _check_json_numbers(source, key, data[key], depth=2 if key == "compute_latency" else 1)
        if isinstance(bits, list):
            _check_json_numbers(source, "gradient_bits", bits, depth=1)
        most = data.get("device_max_blocks")
        if "device_max_blocks" in data and not isinstance(most, list):
            raise InstanceError(source, "device_max_blocks", f"must be a list of integers (one per device), "
                                                             f"got {_json_type(most)}")
        meta = data.get("meta", {})
        return cls(data["compute_latency"], data["block_memory"], data["device_memory"],
                   data["spectral_efficiency"], bits, data["bandwidth_hz"],
                   data["name"], meta, str(source), most)

    def to_dict(self) -> dict:
        """The JSON-ready form (round-trips through :meth:`from_dict`).

        ``deft-instance/1`` when the instance is in the paper's model
        (:attr:`paper_model`), exactly as before the family existed; else
        ``deft-instance/2``, ``gradient_bits`` a list when the sizes differ and
        ``device_max_blocks`` present when some c_k > 1.
        """
        data = {
            "format": FORMAT if self.paper_model else FORMAT_V2,
            "name": self.name,
            "compute_latency": self.compute_latency.tolist(),
            "block_memory": self.block_memory.tolist(),
            "device_memory": self.device_memory.tolist(),
            "spectral_efficiency": self.spectral_efficiency.tolist(),
        }
        if not self.single_block:
            data["device_max_blocks"] = self.device_max_blocks.tolist()
        data["gradient_bits"] = self.gradient_bits if self.uniform_bits else self.gradient_bits.tolist()
        data["bandwidth_hz"] = self.bandwidth_hz
        data["meta"] = self.meta
        return data

    # -- derived quantities ------------------------------------------------------------
    # computed once per instance (the data are immutable), arrays read-only
    @property
    def K(self) -> int:
        """Number of devices."""
        return self.compute_latency.shape[0]

    @property
    def M(self) -> int:
        """Number of parameter blocks."""
        return self.compute_latency.shape[1]

    @property
    def uniform_bits(self) -> bool:
        """True when every block's gradient has one size D (``gradient_bits`` is a float): not G1."""
        return isinstance(self.gradient_bits, float)

    @cached_property
    def single_block(self) -> bool:
        """True when every device takes at most one block (all c_k == 1): not G2."""
        return bool(np.all(self.device_max_blocks == 1))

    @cached_property
    def paper_model(self) -> bool:
        """True for the paper's model: one D and all c_k == 1 (written as ``deft-instance/1``)."""
        return self.uniform_bits and self.single_block

    @cached_property
    def family(self) -> frozenset:
        """The generalisations in use: a subset of ``{"G1", "G2"}`` (empty: the paper's model)."""
        return frozenset(name for name, used in (("G1", not self.uniform_bits), ("G2", not self.single_block))
                         if used)

    @cached_property
    def block_bits(self) -> np.ndarray:
        """(M,) bits: D_m, the size of block m's gradient (all equal to D when :attr:`uniform_bits`); read-only."""
        if self.uniform_bits:
            bits = np.full(self.M, self.gradient_bits)
            bits.setflags(write=False)
            return bits
        return self.gradient_bits

    @cached_property
    def memory_ok(self) -> np.ndarray:
        """(K, M) bool: block m fits in device k's memory (constraint C3)."""
        return _read_only(self.block_memory[None, :] <= self.device_memory[:, None])

    @cached_property
    def memory_prefix(self) -> np.ndarray:
        """(K,) int: number of blocks 1..n_k that fit device k (a prefix, as mu is sorted)."""
        return _read_only(np.searchsorted(self.block_memory, self.device_memory, side="right"))

    def _one_size(self, name: str, instead: str) -> None:
        """Refuse a per-device quantity of one D on an instance with per-block sizes (G1)."""
        if not self.uniform_bits:
            raise ValueError(f"Instance.{name} needs one gradient size D, but instance {self.name!r} has "
                             f"per-block sizes D_m (G1, gradient_bits is a list of {self.M}); use "
                             f"Instance.{instead} ((K, M): one column per block)")

    @cached_property
    def upload_equal_s(self) -> np.ndarray:
        """(K,) seconds: upload time D / ((B/M) R_k) with the band split equally among M devices (P1).

        Raises ``ValueError`` on a G1 instance (use :attr:`block_upload_equal_s`).
        """
        self._one_size("upload_equal_s", "block_upload_equal_s")
        return _read_only(self.gradient_bits * self.M / (self.bandwidth_hz * self.spectral_efficiency))

    @cached_property
    def upload_full_s(self) -> np.ndarray:
        """(K,) seconds: upload time D / (R_k B) with the whole band (P2's shortest upload).

        Raises ``ValueError`` on a G1 instance (use :attr:`block_upload_full_s`).
        """
        self._one_size("upload_full_s", "block_upload_full_s")
        return _read_only(self.gradient_bits / self.spectral_efficiency / self.bandwidth_hz)

    @cached_property
    def comm_coef(self) -> np.ndarray:
        """(K,) bit/(bit/s/Hz) = Hz*s: D / R_k, so that upload time is comm_coef / B_k (P2).

        Raises ``ValueError`` on a G1 instance (use :attr:`block_comm_coef`).
        """
        self._one_size("comm_coef", "block_comm_coef")
        return _read_only(self.gradient_bits / self.spectral_efficiency)

    @cached_property
    def block_upload_equal_s(self) -> np.ndarray:
        """(K, M) seconds: D_m M / (B R_k), block m's upload time with its equal share B/M (P1)."""
        return _read_only(self.block_bits[None, :] * self.M / (self.bandwidth_hz * self.spectral_efficiency[:, None]))

    @cached_property
    def block_upload_full_s(self) -> np.ndarray:
        """(K, M) seconds: D_m / (R_k B), block m's upload time with the whole band."""
        return _read_only(self.block_bits[None, :] / self.spectral_efficiency[:, None] / self.bandwidth_hz)

    @cached_property
    def block_comm_coef(self) -> np.ndarray:
        """(K, M) Hz*s: D_m / R_k, so that device k uploads block m in block_comm_coef / B_k seconds.

        A G2 device holding S_k uploads in ``sum_{m in S_k} block_comm_coef[k, m] / B_k``.
        """
        return _read_only(self.block_bits[None, :] / self.spectral_efficiency[:, None])

    def p1_cost(self) -> np.ndarray:
        """(K, M) seconds: latency of block m alone on device k with its equal share; inf where C3 fails.

        ``tcp[k, m] + D_m M / (B R_k)`` (:attr:`block_upload_equal_s`).  With one
        D (and on every paper-model instance) the rows are non-decreasing
        (latency and memory both grow with depth), which is what CRUNCH relies
        on; with per-block sizes (G1) a row is non-decreasing only where D_m is.
        """
        cost = self.compute_latency + self.block_upload_equal_s
        return np.where(self.memory_ok, cost, np.inf)


def _read_only(arr: np.ndarray) -> np.ndarray:
    """``arr``, made read-only: a cached derived quantity must not be changed by its users."""
    arr.setflags(write=False)
    return arr


def _check_json_numbers(source: str, name: str, value: Any, depth: int) -> None:
    """Reject strings, booleans, nulls and ragged rows with a message naming the index."""
    if not isinstance(value, list):
        raise InstanceError(source, name, f"must be a list, got {type(value).__name__}")
    if not value:
        raise InstanceError(source, name, "is empty")
    if depth == 2:
        width = None
        for i, row in enumerate(value):
            if not isinstance(row, list):
                raise InstanceError(source, name, f"row must be a list, got {type(row).__name__}", (i,))
            if width is None:
                width = len(row)
            elif len(row) != width:
                raise InstanceError(source, name, f"ragged rows: row {i} has {len(row)} entries, row 0 has {width}", (i,))
            for j, x in enumerate(row):
                if isinstance(x, bool) or not isinstance(x, (int, float)):
                    raise InstanceError(source, name, f"must be a number, got {x!r}", (i, j))
    else:
        for i, x in enumerate(value):
            if isinstance(x, bool) or not isinstance(x, (int, float)):
                raise InstanceError(source, name, f"must be a number, got {x!r}", (i,))


def _reject_constant(token: str):
    # Python's json accepts NaN/Infinity, which JSON does not: refuse them here.
    raise ValueError(f"non-standard JSON number {token}")


def load_instance(path: str | os.PathLike) -> Instance:
    """Read and validate one ``deft-instance/1`` or ``deft-instance/2`` JSON file.

    Raises
    ------
    InstanceError
        Naming the file, the field and the index of the first problem found.
    """
    path = Path(path)
    src = str(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InstanceError(src, "<file>", f"cannot be read: {exc.strerror}") from None
    if size > MAX_FILE_BYTES:
        raise InstanceError(src, "<file>", f"too large: {size} bytes (limit {MAX_FILE_BYTES})")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InstanceError(src, "<file>", f"cannot be read as UTF-8 text: {exc}") from None
    hooks = _JsonHooks()
    try:
        data = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=hooks.object_from_pairs,
                          parse_int=hooks.integer)
    except json.JSONDecodeError as exc:
        raise InstanceError(src, "<json>", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise InstanceError(src, "<json>", "invalid JSON: nested too deeply") from None
    except ValueError as exc:
        field, index = _locate_constant(text)
        raise InstanceError(src, field, f"invalid JSON: {exc} (JSON has no NaN or Infinity)", index) from None
    if hooks.suspect:
        _refuse_marked(src, data)
    return Instance.from_dict(data, source=src)


class _DuplicateKeys(dict):
    """A JSON object that repeats a key: ``repeated`` is the first repeated key, ``count`` its count."""

    repeated: str = ""
    count: int = 0


class _HugeInteger(str):
    """The token of a JSON integer too large for a float (kept as text: it may exceed int's digit limit)."""


class _JsonHooks:
    """``json.loads`` hooks that mark duplicate keys and huge integers instead of losing them.

    Python's ``json`` keeps the last value of a repeated key and turns integers
    into exact ints (or fails beyond 4300 digits); both are marked here, and
    :func:`_refuse_marked` then names the first mark in document order.
    """

    def __init__(self) -> None:
        self.suspect = False

    def object_from_pairs(self, pairs: list[tuple[str, Any]]) -> dict:
        obj = dict(pairs)
        if len(obj) == len(pairs):
            return obj
        self.suspect = True
        seen: dict[str, int] = {}
        for key, _ in pairs:
            seen[key] = seen.get(key, 0) + 1
        marked = _DuplicateKeys(obj)
        marked.repeated = next(key for key, _ in pairs if seen[key] > 1)
        marked.count = seen[marked.repeated]
        return marked

    def integer(self, token: str) -> int | _HugeInteger:
        # 10^309 > FLOAT_MAX: longer tokens are never floats (and may exceed int's digit limit)
        if len(token.lstrip("-")) > 309 or _is_huge_integer(int(token)):
            self.suspect = True
            return _HugeInteger(token)
        return int(token)


def _refuse_marked(source: str, data: Any) -> None:
    """Raise for the first duplicate key or huge integer marked by :class:`_JsonHooks` (document order)."""
    stack: list[tuple[tuple, Any]] = [((), data)]
    while stack:            # iterative: the document may be nested deeply
        path, value = stack.pop()
        if isinstance(value, _DuplicateKeys):
            key = value.repeated
            field, index = _field_and_index(data, path)
            where = "the top-level object" if not path else f"the object '{field}{''.join(f'[{i}]' for i in index or ())}'"
            field, index = _field_and_index(data, path + (key,))
            raise InstanceError(source, field, f"duplicate key {key!r}: it appears {value.count} times in {where} "
                                               "(JSON keys must be unique; the last value would silently win)", index)
        if isinstance(value, _HugeInteger):
            field, index = _field_and_index(data, path)
            if field == "device_max_blocks":      # a count, never a float: say its limit
                raise InstanceError(source, field, _too_many_blocks_text(str(value)), index)
            raise InstanceError(source, field, _too_large_text(str(value)), index)
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        stack.extend((path + (key,), item) for key, item in reversed(list(items)))


def _field_and_index(data: Any, path: tuple) -> tuple[str, tuple | None]:
    """(field, index) naming the value at ``path`` inside the parsed document ``data``."""
    if not isinstance(data, dict) or not path:
        return "<top level>", path or None
    return str(path[0]), path[1:] or None


class _Constant(str):
    """Marks where a NaN/Infinity token was, so that the error can name its field."""


def _locate_constant(text: str) -> tuple[str, tuple | None]:
    """(field, index) of the first NaN/Infinity token of ``text``, for the error message."""

    def path_to(value, path):
        if isinstance(value, _Constant):
            return path
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for key, item in items:
            found = path_to(item, path + (key,))
            if found is not None:
                return found
        return None

    try:
        data = json.loads(text, parse_constant=_Constant, parse_int=_JsonHooks().integer)
        path = path_to(data, ()) or ()
    except (ValueError, RecursionError):
        return "<json>", None
    return _field_and_index(data, path)


def save_instance(instance: Instance, path: str | os.PathLike) -> None:
    """Write ``instance`` as JSON (compact rows, one per line): ``deft-instance/1`` in the paper's model, else ``/2``.

    The format and fields are those of :meth:`Instance.to_dict`.
    """
    data = instance.to_dict()
    rows = ",\n    ".join(json.dumps(r) for r in data.pop("compute_latency"))
    body = json.dumps(data, indent=2)
    # put the (large) latency matrix after "name", one device per line, for readability
    head, rest = body.split('\n  "block_memory"', 1)
    text = f'{head}\n  "compute_latency": [\n    {rows}\n  ],\n  "block_memory"{rest}\n'
    Path(path).write_text(text, encoding="utf-8")
