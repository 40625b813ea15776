"""Many instances of one shape in one call: P1 ``crunch`` and P2 ``exact`` for Monte-Carlo work.

Signatures
----------
``crunch_batch(compute_latency, block_memory, device_memory, spectral_efficiency, gradient_bits, bandwidth_hz)``
``exact_batch(...)`` (the same arguments)
    Arrays with a leading draw axis of length d (units as in an instance file):

    ===================== ======================== =====================
    argument              shape                    unit
    ===================== ======================== =====================
    compute_latency       (d, K, M)                s
    block_memory          (d, M) or (M,)           bytes
    device_memory         (d, K)                   bytes
    spectral_efficiency   (d, K)                   bit/s/Hz
    gradient_bits         (d,) or scalar           bit
    bandwidth_hz          (d,) or scalar           Hz
    ===================== ======================== =====================

``crunch_instances(instances)``, ``exact_instances(instances)``
    The same for a sequence of :class:`instances.Instance` of one shape (K, M).

All four return a :class:`BatchResult`: ``objective_s`` (d,), ``assignment``
(d, M), ``block_bandwidth_hz`` (d, M), the bandwidth of each block's device,
``feasible`` (d,) and ``iterations`` (d,); ``bandwidth_hz`` (d, K), the
bandwidth per device, is built from them when first read (d K floats, mostly
zeros, which the solve does not need to fill).  Draw by draw this is exactly
what one call of :func:`solvers.p1.crunch` /
:func:`solvers.p2_exact.exact_jbba` per draw returns (same objective, same
assignment, same bandwidths); an infeasible draw has ``feasible = False``,
objective ``nan``, assignment ``-1`` and bandwidths 0.  No certificate is
attached (:func:`solvers.run` does that for single calls); every draw's
answer is the one a certified single call would give.

Validation
----------
Every draw is validated as :class:`instances.Instance` validates at
construction (finite, signs, ranges ``[1e-60, 1e60]``, rows and block memory
non-decreasing, derived upload times and P1 costs in range), in the compiled
loop just before it is solved (:func:`solvers.kernels.plainly_valid`, one
pass over the draw, while its data is in cache); a draw that fails is rebuilt
as an ``Instance`` so that the same :class:`instances.InstanceError` is
raised, its source naming the draw (``"draw 17"``).  Wrong shapes raise
``ValueError`` naming the argument and the expected shape.  ``*_instances``
take already validated instances.

Method
------
*P1.*  CRUNCH's closed form (:mod:`solvers.bottleneck`): with ``c[k,m] = tcp[k,m] +
D M / (B R_k)`` (``inf`` where ``mu_m > cap_k``),

.. math:: T^* = \\max_m \\; (M-m)\\text{-th smallest of } c_{\\cdot m}
          \\quad (0\\text{-based } m),

and the assignment is Proposition 1's matching on the counts
``n_k = #{m : c[k,m] <= T*}`` (:func:`solvers.bottleneck.assignment_from_counts`,
stable ties).  One compiled loop over the draws
(:func:`solvers.kernels.crunch_draws`) runs the single call's kernel
(:func:`solvers.kernels.crunch_rows`) on each draw's arrays, with the same
upload times (the same operations as :attr:`instances.Instance.upload_equal_s`)
and memory prefixes, so every value and assignment is the single call's.
O(d K M) time at worst, O(d K + M^2) extra memory.

*P2.*  One compiled loop over the draws (:func:`solvers.kernels.exact_draws`)
runs, per draw, what :func:`solvers.p2_exact.exact_jbba` runs: CRUNCH's warm
start, then the descent of :func:`solvers.p2_exact.parametric_assignment`
with the same threshold test (:func:`solvers.kernels.threshold_step`, the
single call's oracle), the same stop rules and the same bandwidth root, so
every draw gets the single call's objective, assignment, bandwidths and
number of steps.  A draw whose Newton iteration does not settle (never seen
on generated instances) is solved by the single call's Python path, whose
fallback is Brent's method.

Examples
--------
>>> import numpy as np
>>> tcp = np.array([[[1.0, 2.0], [1.5, 1.5], [0.5, 3.0]]] * 2)
>>> out = crunch_batch(tcp, [1e9, 2e9], [[4e9, 1e9, 4e9], [4e9, 1e9, 1e9]], [[1.0, 2.0, 4.0]] * 2, 1e6, 1e6)
>>> out.objective_s.tolist(), out.assignment.tolist(), out.feasible.tolist()
([3.5, 4.0], [[1, 2], [2, 0]], [True, True])
>>> exact_batch(tcp, [1e9, 2e9], [[4e9, 1e9, 4e9], [1e9, 1e9, 1e9]], [[1.0, 2.0, 4.0]] * 2, 1e6, 1e6).feasible.tolist()
[True, False]
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Sequence

import numpy as np

from instances import Instance
from instances.core import MAX_BLOCKS, MAX_DEVICES, MAX_ENTRIES, VALUE_MAX, VALUE_MIN

from instances.tolerances import BISECTION_RTOL

from .bandwidth import NEWTON_MAX_STEPS
from .p2_exact import lsap_oracle, parametric_assignment
from .result import Status

@dataclass
class BatchResult:
    """Answers for d draws of one shape (K devices, M blocks).

    Attributes
    ----------
    objective_s : (d,) float
        Round latency of each draw's optimum, s; ``nan`` where infeasible.
    assignment : (d, M) int
        ``assignment[i, m]`` = device of block m in draw i; -1 where infeasible.
    block_bandwidth_hz : (d, M) float
        The bandwidth of block m's device, Hz (P1: the equal split B / M, a read-only view of one value per
        draw; P2: optimal); 0 where infeasible.
    feasible : (d,) bool
        False for a draw with no assignment (M > K or a memory wall).
    iterations : (d,) int
        P2: assignment steps solved per draw (as ``Result.info["iterations"]``); P1: 0.
    K : int
        Devices per draw.
    bandwidth_hz : (d, K) float
        Each device's bandwidth, Hz (``Result.bandwidth_hz`` of a single call): ``block_bandwidth_hz``
        placed at the assigned devices, 0 elsewhere; built on first access.
    """

    objective_s: np.ndarray
    assignment: np.ndarray
    block_bandwidth_hz: np.ndarray
    feasible: np.ndarray
    iterations: np.ndarray
    K: int

    @cached_property
    def bandwidth_hz(self) -> np.ndarray:
        d, M = self.assignment.shape
        dense = np.zeros((d, self.K))
        rows = np.flatnonzero(self.feasible)
        dense[rows[:, None], self.assignment[rows]] = self.block_bandwidth_hz[rows]
        return dense


# --------------------------------------------------------------------------------------
# Shapes and validation
# --------------------------------------------------------------------------------------
def _as_batch(compute_latency, block_memory, device_memory, spectral_efficiency, gradient_bits, bandwidth_hz):
    """The six arguments as float arrays of shapes (d,K,M), (d,M), (d,K), (d,K), (d,), (d,); ValueError if not."""
    tcp = np.asarray(compute_latency, dtype=float)
    if tcp.ndim != 3 or 0 in tcp.shape:
        raise ValueError(f"compute_latency must have shape (draws, K, M) with every size >= 1, got {tcp.shape}")
    d, K, M = tcp.shape

    def shaped(name, value, per_draw, trailing):
        arr = np.asarray(value, dtype=float)
        want = (d,) + trailing
        if arr.shape == trailing and not per_draw:
            return np.broadcast_to(arr, want)
        if arr.shape != want:
            shapes = f"{trailing} or {want}" if not per_draw else f"{want}"
            raise ValueError(f"{name} must have shape {shapes} for compute_latency of shape {tcp.shape}, "
                             f"got {arr.shape}")
        return arr

    mu = shaped("block_memory", block_memory, False, (M,))
    cap = shaped("device_memory", device_memory, True, (K,))
    rate = shaped("spectral_efficiency", spectral_efficiency, True, (K,))
    bits = shaped("gradient_bits", gradient_bits, False, ())
    band = shaped("bandwidth_hz", bandwidth_hz, False, ())
    return tcp, mu, cap, rate, bits, band


def _check_size(tcp) -> None:
    d, K, M = tcp.shape
    if K > MAX_DEVICES or M > MAX_BLOCKS or K * M > MAX_ENTRIES:
        raise ValueError(f"too large: {K} devices x {M} blocks per draw "
                         f"(limits {MAX_DEVICES}, {MAX_BLOCKS}, {MAX_ENTRIES} entries)")


def _solve_checked(solve, arrays, check: bool) -> np.ndarray:
    """``solve(None, check)`` on every draw, validating as it goes; the status per draw.

    With ``check``, the compiled loop leaves a draw that fails
    :func:`solvers.kernels.plainly_valid` unsolved (status 3).  Those draws,
    in order, are rebuilt as an :class:`Instance`, which raises its own
    error naming the draw; a draw it accepts (the compiled test is never
    looser, so this is only a guard) is then solved without the check.
    """
    status = solve(None, check)
    redo = np.flatnonzero(status == 3)
    for i in redo:
        _instance(*arrays, int(i))
    if redo.size:
        status[redo] = solve(redo, False)
    return status


def _instance(tcp, mu, cap, rate, bits, band, i: int) -> Instance:
    return Instance.from_arrays(tcp[i], _draw(mu, i), cap[i], rate[i], float(_draw(bits, i)), float(_draw(band, i)),
                                name=f"draw-{i}", source=f"draw {i}")


def _stack(instances: Sequence[Instance]):
    if len(instances) == 0:
        raise ValueError("no instances given")
    shape = instances[0].compute_latency.shape
    for i, inst in enumerate(instances):
        if not isinstance(inst, Instance):
            raise ValueError(f"instances[{i}] is a {type(inst).__name__}, not an Instance")
        if inst.family:
            raise ValueError(f"instances[{i}] ({inst.name}) goes beyond the paper's model "
                             f"({', '.join(sorted(inst.family))}): the batch API solves one gradient size and "
                             f"one block per device; solve it with solvers.run")
        if inst.compute_latency.shape != shape:
            raise ValueError(f"instances[{i}] has shape {inst.compute_latency.shape} (K, M); "
                             f"instances[0] has {shape}: a batch needs one shape")
    return (np.stack([i.compute_latency for i in instances]), np.stack([i.block_memory for i in instances]),
            np.stack([i.device_memory for i in instances]), np.stack([i.spectral_efficiency for i in instances]),
            np.array([i.gradient_bits for i in instances]), np.array([i.bandwidth_hz for i in instances]))


# --------------------------------------------------------------------------------------
# P1: CRUNCH's closed form over a draw axis
# --------------------------------------------------------------------------------------
def _arrays(tcp, mu, cap, rate, bits, band):
    """The six arrays as the compiled loops take them: C-contiguous float64, one row per draw, or one row
    for all when an argument was given once for every draw (``block_memory``, ``gradient_bits``,
    ``bandwidth_hz``: a broadcast, not copied d times)."""
    def shared(a):
        return a[:1] if a.strides[0] == 0 else a

    return tuple(np.ascontiguousarray(a, dtype=np.float64)
                 for a in (tcp, shared(mu), cap, rate, shared(bits), shared(band)))


def _draws(arrays, rows):
    """The arrays of the draws ``rows`` (an array shared by every draw stays as it is)."""
    return tuple(a if len(a) == 1 else a[rows] for a in arrays)


def _draw(a, i: int):
    """Draw i's row of one of :func:`_arrays`'s arrays."""
    return a[i] if len(a) > 1 else a[0]


def _crunch_arrays(tcp, mu, cap, rate, bits, band, check: bool) -> BatchResult:
    from . import kernels

    arrays = _arrays(tcp, mu, cap, rate, bits, band)
    d, K, M = arrays[0].shape
    objective = np.full(d, np.nan)
    assignment = np.full((d, M), -1, dtype=np.intp)
    values, iwork = kernels.crunch_work(K, M)

    def solve(rows, check):
        whole = rows is None
        part = arrays if whole else _draws(arrays, rows)
        n = len(part[0])
        value, x = (objective, assignment) if whole else (np.full(n, np.nan), np.full((n, M), -1, dtype=np.intp))
        status = np.empty(n, dtype=np.int64)
        kernels.crunch_draws(*part, VALUE_MIN, VALUE_MAX, check, values, iwork, np.empty(K, dtype=np.int64),
                             np.empty(K), value, x, status)
        if not whole:
            objective[rows], assignment[rows] = value, x
        return status

    feasible = _solve_checked(solve, arrays, check) == 0
    # the equal split, one value per draw ((d,) from (1,) or (d,)), seen as (d, M) without copying it M times
    block_band = np.broadcast_to(np.where(feasible, arrays[5] / M, 0.0)[:, None], (d, M))
    return BatchResult(objective, assignment, block_band, feasible, np.zeros(d, dtype=int), K)


def crunch_batch(compute_latency, block_memory, device_memory, spectral_efficiency, gradient_bits,
                 bandwidth_hz) -> BatchResult:
    """P1 optimum of every draw (see the module docstring for shapes, units and the method).

    Complexity O(d K M) time at worst, O(d K + K + M^2) extra memory beyond the inputs.
    """
    arrays = _as_batch(compute_latency, block_memory, device_memory, spectral_efficiency, gradient_bits,
                       bandwidth_hz)
    _check_size(arrays[0])
    return _crunch_arrays(*arrays, check=True)


def crunch_instances(instances: Sequence[Instance]) -> BatchResult:
    """:func:`crunch_batch` on validated instances of one shape."""
    return _crunch_arrays(*_stack(instances), check=False)


# --------------------------------------------------------------------------------------
# P2: the batch's CRUNCH as warm starts, then the descent per draw
# --------------------------------------------------------------------------------------
class _DrawView:
    """The arrays of one validated draw with the attributes of :class:`Instance` that P2's descent reads."""

    __slots__ = ("compute_latency", "block_memory", "device_memory", "spectral_efficiency", "gradient_bits",
                 "bandwidth_hz", "K", "M", "memory_prefix", "comm_coef", "upload_equal_s", "upload_full_s",
                 "block_bits", "device_max_blocks")
    # a batch holds instances of the paper's model (one gradient size, one block per device)
    family = frozenset()
    uniform_bits = single_block = paper_model = True

    def __init__(self, tcp, mu, cap, rate, bits, band):
        self.compute_latency, self.block_memory, self.device_memory = tcp, mu, cap
        self.spectral_efficiency, self.gradient_bits, self.bandwidth_hz = rate, float(bits), float(band)
        self.K, self.M = tcp.shape
        # the same operations as Instance's properties
        self.memory_prefix = np.searchsorted(mu, cap, side="right")
        self.comm_coef = self.gradient_bits / rate
        self.upload_equal_s = self.gradient_bits * self.M / (self.bandwidth_hz * rate)
        self.upload_full_s = self.gradient_bits / rate / self.bandwidth_hz
        self.block_bits = np.full(self.M, self.gradient_bits)
        self.device_max_blocks = np.ones(self.K, dtype=np.int64)


def _exact_arrays(tcp, mu, cap, rate, bits, band, check: bool) -> BatchResult:
    from . import kernels

    arrays = _arrays(tcp, mu, cap, rate, bits, band)
    d, K, M = arrays[0].shape
    out = (np.full(d, np.nan), np.full((d, M), -1, dtype=np.intp), np.zeros((d, M)), np.zeros(d, dtype=int))
    objective, assignment, block_band, iterations = out
    work = kernels.step_work(K, M)

    def solve(rows, check):
        whole = rows is None
        part = arrays if whole else _draws(arrays, rows)
        n = len(part[0])
        into = out if whole else (np.full(n, np.nan), np.full((n, M), -1, dtype=np.intp), np.zeros((n, M)),
                                  np.zeros(n, dtype=int))
        status = np.empty(n, dtype=np.int64)
        kernels.exact_draws(*part, VALUE_MIN, VALUE_MAX, check, 1.0 - BISECTION_RTOL, NEWTON_MAX_STEPS, *work,
                            *into, status)
        if not whole:
            objective[rows], assignment[rows], block_band[rows], iterations[rows] = into
        return status

    status = _solve_checked(solve, arrays, check)
    for i in np.flatnonzero(status == 2):             # Newton did not settle: this draw in Python (Brent's method)
        view = _DrawView(*(_draw(a, i) for a in arrays))
        res = parametric_assignment(view, lsap_oracle(view), "exact")
        if res.status != Status.OPTIMAL:   # unreachable without a time limit; kept as a guard
            raise RuntimeError(f"draw {i}: the descent ended with {res.status}: {res.message}")
        objective[i], assignment[i] = res.objective_s, res.assignment
        block_band[i] = np.asarray(res.bandwidth_hz)[assignment[i]]
        iterations[i] = res.info["iterations"]
    return BatchResult(objective, assignment, block_band, status != 1, iterations, K)


def exact_batch(compute_latency, block_memory, device_memory, spectral_efficiency, gradient_bits,
                bandwidth_hz) -> BatchResult:
    """P2 optimum of every draw (see the module docstring for shapes, units and the method).

    Complexity: one :func:`crunch_batch`, then per feasible draw the steps of
    :func:`solvers.p2_exact.exact_jbba` (2-5 LSAPs on at most min(K, M^2) devices).
    """
    arrays = _as_batch(compute_latency, block_memory, device_memory, spectral_efficiency, gradient_bits,
                       bandwidth_hz)
    _check_size(arrays[0])
    return _exact_arrays(*arrays, check=True)


def exact_instances(instances: Sequence[Instance]) -> BatchResult:
    """:func:`exact_batch` on validated instances of one shape."""
    return _exact_arrays(*_stack(instances), check=False)


__all__ = ["BatchResult", "crunch_batch", "crunch_instances", "exact_batch", "exact_instances"]
