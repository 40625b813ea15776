"""Independent brute-force oracles for tiny instances (all injective maps; all maps for the family).

Deliberately naive: plain Python loops over ``itertools.permutations``, sharing
no code with the solvers except the fixed-assignment bandwidth root (P2), which
is itself cross-checked against CVXPY in the tests.

The family oracles (:func:`brute_force_family_p1`, :func:`brute_force_family_p2`)
import nothing from ``solvers``: they enumerate every map blocks -> devices
(``itertools.product``) that gives device k at most c_k blocks and fits C3
(mu[d_k] <= cap_k, d_k its deepest block), and price it by the formulas of
``instances.core`` (G1, G2) written out again here.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

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


# --------------------------------------------------------------------------------------
# The problem family (G1: per-block gradient sizes, G2: several blocks per device)
# --------------------------------------------------------------------------------------
#: Relative width at which the fixed-assignment bisection stops.
FAMILY_RTOL = 1e-12


def family_assignments(instance: Instance):
    """Yield every map (device per block, a tuple of M ints) that respects device_max_blocks and C3."""
    K, M = instance.K, instance.M
    most = [int(c) for c in instance.device_max_blocks]
    mu = [float(x) for x in instance.block_memory]
    cap = [float(x) for x in instance.device_memory]
    for devices in itertools.product(range(K), repeat=M):
        count = [0] * K
        deepest = [-1] * K
        for m, k in enumerate(devices):
            count[k] += 1
            deepest[k] = m          # blocks are visited shallow to deep
        if all(count[k] <= most[k] and (deepest[k] < 0 or mu[deepest[k]] <= cap[k]) for k in range(K)):
            yield devices


def _groups(instance: Instance, devices):
    """{device: (deepest block d_k, blocks |S_k|, bits U_k)} of the map ``devices``."""
    bits = [float(x) for x in np.asarray(instance.block_bits)]
    groups = {}
    for m, k in enumerate(devices):
        _, n, u = groups.get(k, (m, 0, 0.0))
        groups[k] = (m, n + 1, u + bits[m])
    return groups


def family_p1_latency(instance: Instance, devices) -> float:
    """P1 round latency of one map: max over devices of tcp[k, d_k] + U_k / (R_k |S_k| B / M)."""
    B, M = instance.bandwidth_hz, instance.M
    return max(float(instance.compute_latency[k, d]) + u / (float(instance.spectral_efficiency[k]) * (n * B / M))
               for k, (d, n, u) in _groups(instance, devices).items())


def family_p2_latency(instance: Instance, devices) -> float:
    """P2 round latency of one map with optimal bandwidth: the root T of sum_k U_k / (R_k (T - a_k)) = B.

    a_k = tcp[k, d_k]; bisection on T in [max a_k, max a_k + sum_k U_k / (R_k B)] (the
    upper end is feasible: every term is at most its share), until the bracket is
    FAMILY_RTOL of T wide or cannot shrink; the feasible end is returned.
    """
    B = instance.bandwidth_hz
    terms = [(float(instance.compute_latency[k, d]), u / float(instance.spectral_efficiency[k]))
             for k, (d, _, u) in _groups(instance, devices).items()]
    lo = max(a for a, _ in terms)
    hi = lo + math.fsum(c for _, c in terms) / B
    while hi - lo > FAMILY_RTOL * hi:
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        need = math.fsum(c / (mid - a) if mid > a else math.inf for a, c in terms)
        if need <= B:
            hi = mid
        else:
            lo = mid
    return hi


def _family_best(instance: Instance, latency):
    best = None
    for devices in family_assignments(instance):
        value = latency(instance, devices)
        if best is None or value < best[0]:
            best = (value, devices)
    return best


def brute_force_family_p1(instance: Instance) -> tuple[float, tuple[int, ...]] | None:
    """(optimal P1 latency in s, the first optimal map in lexicographic order), or None when no map exists.

    P1 of the family: device k with the blocks S_k gets |S_k| B / M Hz.  O(K^M M).
    """
    return _family_best(instance, family_p1_latency)


def brute_force_family_p2(instance: Instance) -> tuple[float, tuple[int, ...]] | None:
    """(optimal P2 latency in s, an optimal map), or None when no map exists: every map, optimal bandwidth."""
    return _family_best(instance, family_p2_latency)
