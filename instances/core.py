"""The one ``Instance`` type and the one place where instance data is validated.

An instance of the DEFT block-device matching problem (see ``docs/formulation.md``)
holds, for K devices and M parameter blocks:

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
``gradient_bits``           scalar     D: size of one block's gradient (bits)
``bandwidth_hz``            scalar     B: total uplink bandwidth (Hz)
==========================  =========  =======================================

File format ``deft-instance/1`` (JSON)::

    {"format": "deft-instance/1", "name": str,
     "compute_latency": [[s, ...M], ...K], "block_memory": [bytes, ...M],
     "device_memory": [bytes, ...K], "spectral_efficiency": [bit/s/Hz, ...K],
     "gradient_bits": bits, "bandwidth_hz": Hz, "meta": {...}}

Invalid data (bad JSON, duplicate keys, missing or unknown fields, wrong
shapes, strings for numbers, integers too large for a float, NaN/inf, negative
values, zero bandwidth, rows that are not non-decreasing, values outside the
accepted domain below) raises :class:`InstanceError`, whose message names the
file, the field and the index.  ``M > K`` or a memory wall is *not* invalid:
such an instance is simply infeasible and every solver reports it as such.

Accepted domain
---------------
Every value is a finite float64.  Every positive value, and every derived
quantity below, lies in ``[VALUE_MIN, VALUE_MAX] = [1e-60, 1e60]`` in its own
unit; zero is accepted only where it means something (a latency of 0 s, a
memory of 0 bytes).  These are the only limits besides the size limits
(``MAX_DEVICES``, ``MAX_BLOCKS``, ``MAX_ENTRIES``, ``MAX_FILE_BYTES``).

==========================  ========================  ===========================
quantity                    accepted                  why
==========================  ========================  ===========================
``compute_latency``         0 or [1e-60, 1e60] s      summed, subtracted from
                                                      thresholds, normalised
``block_memory``            0 or [1e-60, 1e60] bytes  summed over blocks (C3)
``device_memory``           0 or [1e-60, 1e60] bytes  compared with those sums
``spectral_efficiency``     [1e-60, 1e60] bit/s/Hz    divides D (0: no link)
``gradient_bits``           [1e-60, 1e60] bits        D (0: nothing to upload)
``bandwidth_hz``            [1e-60, 1e60] Hz          divides D (0: no band)
D*M/(B*R_k), each device    at most 1e60 s            P1 upload time (equal
                                                      split)
D/(R_k*B), each device      at least 1e-60 s          P2 upload time (whole
                                                      band), = the above / M
tcp[k,m] + D*M/(B*R_k)      at most 1e60 s            P1 cost of each pair
==========================  ========================  ===========================

So every upload time and every P1 cost lies in the window too.  The argument:
every number a method computes is a sum of at most 2M + 2 terms (costs summed
over the M blocks of an assignment, the bandwidth equation's bracket
``max_m t_m + sum_m D/(R_m B)``, a doubled bracket), each term a product or
quotient of at most four quantities of the table, times counts up to M^2 (for
instance the weight ``D / (R_k B (T - t))`` at a threshold T, the normalised
coefficient ``D / (R_k B T)``, the bandwidth ``D / (R_k (T - t))``, the
checker's ``D / ((B/M) R_k)``).  With every factor in ``[1e-60, 1e60]`` and
``M <= MAX_BLOCKS = 1e4``, such a number lies in
``[1e-240 / 2e12, 1e240 * 2e12]``, inside the normal floats
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
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "deft-instance/1"

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

#: Size limits: larger instances are refused as unusable input rather than
#: exhausting memory.  100,000 devices x 1,000 blocks is far beyond any DEFT set-up.
MAX_DEVICES = 1_000_000
MAX_BLOCKS = 10_000
MAX_ENTRIES = 100_000_000
MAX_FILE_BYTES = 2 * 1024**3

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
    """

    compute_latency: np.ndarray  # (K, M) seconds
    block_memory: np.ndarray  # (M,) bytes
    device_memory: np.ndarray  # (K,) bytes
    spectral_efficiency: np.ndarray  # (K,) bit/s/Hz
    gradient_bits: float  # bits
    bandwidth_hz: float  # Hz
    name: str = "unnamed"
    meta: dict = field(default_factory=dict)
    source: str = "<arrays>"

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
        bits = self._scalar("gradient_bits", self.gradient_bits)
        band = self._scalar("bandwidth_hz", self.bandwidth_hz)
        if M > 1:
            bad = np.diff(tcp, axis=1) < 0
            if bad.any():
                k, m = _first_index(bad)
                raise InstanceError(src, "compute_latency", f"row {k} is not non-decreasing: entry [{m + 1}] = {float(tcp[k, m + 1])!r} < entry [{m}] = {float(tcp[k, m])!r}", (k, m + 1))
            bad = np.diff(mu) < 0
            if bad.any():
                (m,) = _first_index(bad)
                raise InstanceError(src, "block_memory", f"is not non-decreasing: {float(mu[m + 1])!r} < previous {float(mu[m])!r}", (m + 1,))
        self._check_derived(tcp, rate, bits, band)
        for name, value in (("compute_latency", tcp), ("block_memory", mu), ("device_memory", cap), ("spectral_efficiency", rate)):
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

    def _check_derived(self, tcp: np.ndarray, rate: np.ndarray, bits: float, band: float) -> None:
        """Refuse upload times and P1 costs outside the accepted domain (module docstring).

        Each quantity is computed as :attr:`upload_equal_s`, :attr:`upload_full_s`
        and :meth:`p1_cost` compute it; the device (or pair) at fault is named.
        The inputs are already in ``[VALUE_MIN, VALUE_MAX]``, so nothing here
        overflows or underflows.  O(KM).
        """
        M = tcp.shape[1]
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

    # -- constructors ----------------------------------------------------------------
    @classmethod
    def from_arrays(cls, compute_latency, block_memory, device_memory, spectral_efficiency,
                    gradient_bits, bandwidth_hz, name="unnamed", meta=None, source="<arrays>") -> "Instance":
        """Build and validate an instance from array-likes (units as in the module docstring)."""
        return cls(compute_latency, block_memory, device_memory, spectral_efficiency,
                   gradient_bits, bandwidth_hz, name, dict(meta or {}), str(source))

    @classmethod
    def from_dict(cls, data: Any, source: str = "<dict>") -> "Instance":
        """Validate the JSON-level structure of ``data`` then build the instance."""
        if not isinstance(data, dict):
            raise InstanceError(source, "<top level>", f"must be a JSON object, got {type(data).__name__}")
        for key in REQUIRED_FIELDS:
            if key not in data:
                raise InstanceError(source, key, "is missing")
        unknown = sorted(set(data) - set(REQUIRED_FIELDS) - set(OPTIONAL_FIELDS))
        if unknown:
            raise InstanceError(source, unknown[0], f"is not a field of {FORMAT} (unknown fields: {', '.join(unknown)})")
        if data["format"] != FORMAT:
            raise InstanceError(source, "format", f"must be {FORMAT!r}, got {data['format']!r}")
        for key in ("compute_latency", "block_memory", "device_memory", "spectral_efficiency"):
            _check_json_numbers(source, key, data[key], depth=2 if key == "compute_latency" else 1)
        meta = data.get("meta", {})
        return cls(data["compute_latency"], data["block_memory"], data["device_memory"],
                   data["spectral_efficiency"], data["gradient_bits"], data["bandwidth_hz"],
                   data["name"], meta, str(source))

    def to_dict(self) -> dict:
        """The JSON-ready ``deft-instance/1`` form (round-trips through :meth:`from_dict`)."""
        return {
            "format": FORMAT,
            "name": self.name,
            "compute_latency": self.compute_latency.tolist(),
            "block_memory": self.block_memory.tolist(),
            "device_memory": self.device_memory.tolist(),
            "spectral_efficiency": self.spectral_efficiency.tolist(),
            "gradient_bits": self.gradient_bits,
            "bandwidth_hz": self.bandwidth_hz,
            "meta": self.meta,
        }

    # -- derived quantities ------------------------------------------------------------
    @property
    def K(self) -> int:
        """Number of devices."""
        return self.compute_latency.shape[0]

    @property
    def M(self) -> int:
        """Number of parameter blocks."""
        return self.compute_latency.shape[1]

    @property
    def memory_ok(self) -> np.ndarray:
        """(K, M) bool: block m fits in device k's memory (constraint C3)."""
        return self.block_memory[None, :] <= self.device_memory[:, None]

    @property
    def memory_prefix(self) -> np.ndarray:
        """(K,) int: number of blocks 1..n_k that fit device k (a prefix, as mu is sorted)."""
        return np.searchsorted(self.block_memory, self.device_memory, side="right")

    @property
    def upload_equal_s(self) -> np.ndarray:
        """(K,) seconds: upload time D / ((B/M) R_k) with the band split equally among M devices (P1)."""
        return self.gradient_bits * self.M / (self.bandwidth_hz * self.spectral_efficiency)

    @property
    def upload_full_s(self) -> np.ndarray:
        """(K,) seconds: upload time D / (R_k B) with the whole band (P2's shortest upload)."""
        return self.gradient_bits / self.spectral_efficiency / self.bandwidth_hz

    @property
    def comm_coef(self) -> np.ndarray:
        """(K,) bit/(bit/s/Hz) = Hz*s: D / R_k, so that upload time is comm_coef / B_k (P2)."""
        return self.gradient_bits / self.spectral_efficiency

    def p1_cost(self) -> np.ndarray:
        """(K, M) seconds: latency of block m on device k with equal bandwidth; inf where C3 fails.

        Rows are non-decreasing (latency and memory both grow with depth), which
        is what CRUNCH relies on.
        """
        cost = self.compute_latency + self.upload_equal_s[:, None]
        return np.where(self.memory_ok, cost, np.inf)


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
    """Read and validate one ``deft-instance/1`` JSON file.

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
    """Write ``instance`` as ``deft-instance/1`` JSON (compact rows, one per line)."""
    data = instance.to_dict()
    rows = ",\n    ".join(json.dumps(r) for r in data.pop("compute_latency"))
    body = json.dumps(data, indent=2)
    # put the (large) latency matrix after "name", one device per line, for readability
    head, rest = body.split('\n  "block_memory"', 1)
    text = f'{head}\n  "compute_latency": [\n    {rows}\n  ],\n  "block_memory"{rest}\n'
    Path(path).write_text(text, encoding="utf-8")
