"""Independent brute-force oracles for tiny instances (all injective maps).

Deliberately naive: plain Python loops over ``itertools.permutations``, sharing
no code with the solvers except the fixed-assignment bandwidth root (P2), which
is itself cross-checked against CVXPY in the tests.
"""
from __future__ import annotations

import itertools
import math

from instances import Instance


def feasible_assignments(instance: Instance):
    """Yield every assignment (device per block) satisfying C1-C3."""
    K, M = instance.K, instance.M
    for devices in itertools.permutations(range(K), M):
        if all(instance.block_memory[m] <= instance.device_memory[k] for m, k in enumerate(devices)):
            yield devices


def brute_force_p1(instance: Instance) -> float | None:
    """Optimal P1 round latency (s) by enumeration, or None if infeasible."""
    D, B, M = instance.gradient_bits, instance.bandwidth_hz, instance.M
    best = None
    for devices in feasible_assignments(instance):
        value = max(float(instance.compute_latency[k, m]) + D * M / (B * float(instance.spectral_efficiency[k]))
                    for m, k in enumerate(devices))
        best = value if best is None else min(best, value)
    return best


def fixed_assignment_latency(instance: Instance, devices) -> float:
    """P2 latency of one assignment with optimal bandwidth, by plain bisection on T."""
    a = [float(instance.compute_latency[k, m]) for m, k in enumerate(devices)]
    c = [instance.gradient_bits / float(instance.spectral_efficiency[k]) for k in devices]
    B = instance.bandwidth_hz
    lo, hi = max(a), max(a) + sum(c) / B
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        need = sum(ci / (mid - ai) if mid > ai else math.inf for ai, ci in zip(a, c))
        if need <= B:
            hi = mid
        else:
            lo = mid
    return hi


def brute_force_p2(instance: Instance) -> float | None:
    """Optimal P2 round latency (s) by enumeration + optimal bandwidth, or None if infeasible."""
    best = None
    for devices in feasible_assignments(instance):
        value = fixed_assignment_latency(instance, devices)
        best = value if best is None else min(best, value)
    return best
