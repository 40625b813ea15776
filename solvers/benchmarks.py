"""The paper's two benchmarks (Sec. VI-A4), for P1 and P2 alike: equal bandwidth, memory ignored when choosing.

Each ranks the devices by one quality, gives the deepest block to the best
device, the next deepest to the next, and so on; the band is split equally,
as the paper compares them.  They ignore memory, so they may hit the memory
wall and then report ``no_solution`` (a fact about the benchmark, not the
instance); with ``M > K`` they report ``infeasible`` (a proof).
"""
from __future__ import annotations

import numpy as np

from instances import Instance

from .p1 import p1_infeasible, p1_solution
from .result import Result, Status, Stopwatch
from .scope import instance_features, refusal


def _benchmark(name: str, instance: Instance, order: np.ndarray, what: str, problem: str) -> Result:
    """Give the deepest block to the best device of ``order``, the next deepest to the next, ..."""
    sw = Stopwatch()
    if instance_features(instance):   # one block per device and one gradient size, as the paper's benchmarks
        return refusal(name, problem, instance_features(instance))
    M = instance.M
    if M > instance.K:
        return p1_infeasible(name, sw, instance, problem=problem)
    chosen = order[:M]
    assignment = chosen[::-1].copy()   # block M-1 (deepest) -> chosen[0] (best)
    fits = instance.memory_ok[assignment, np.arange(M)]
    if not fits.all():
        m = int(np.argmin(fits))
        k = int(assignment[m])
        return Result(solver=name, problem=problem, status=Status.NO_SOLUTION, seconds=sw.elapsed,
                      message=f"the benchmark hit the memory wall: block {m} ({instance.block_memory[m]:.4g} "
                              f"bytes) on device {k} ({instance.device_memory[k]:.4g} bytes), chosen by {what}")
    return p1_solution(name, instance, assignment, sw, Status.FEASIBLE, problem=problem,
                     message="equal bandwidth (benchmark)")


def compute_aware(instance: Instance, time_limit: float | None = None, problem: str = "P1") -> Result:
    """Computation-aware benchmark (Sec. VI-A4): the M fastest devices, deepest blocks to the fastest.

    Speed is measured by the device's latency for the deepest block,
    ``tcp[k, M-1]`` (proportional to 1/f_k in the paper's model); ties go to
    the lower index.  Memory is ignored when choosing, then checked.
    Complexity: O(K log K) (one sort of the devices).
    """
    order = np.lexsort((np.arange(instance.K), instance.compute_latency[:, -1]))
    return _benchmark("compute-aware", instance, order, "computation speed", problem)


def comm_aware(instance: Instance, time_limit: float | None = None, problem: str = "P1") -> Result:
    """Communication-aware benchmark (Sec. VI-A4): the M best channels, deepest blocks to the best.

    Channel quality is the spectral efficiency R_k; ties go to the lower index.
    Complexity: O(K log K) (one sort of the devices).
    """
    order = np.lexsort((np.arange(instance.K), -instance.spectral_efficiency))
    return _benchmark("comm-aware", instance, order, "channel quality", problem)


compute_aware.features = comm_aware.features = frozenset()   # the paper's model only (solvers.scope)
compute_aware.method_name, comm_aware.method_name = "compute-aware", "comm-aware"
