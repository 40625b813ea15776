"""The independent checker and the certificates on the problem family (G1: per-block sizes, G2: capacities).

Oracles: latencies computed by hand (in the comments) on tiny instances, and
enumeration of every map blocks -> devices (``tests/bruteforce.py``) on random
tiny family instances.  Claims: a certificate exists exactly for the optimal
answers where one is defined (P1 except under G1 + G2, P2 with one block per
device, infeasibility always); where none is defined the optimal claim is kept,
unproven, and said so (``solvers.certify.attach``); tampered certificates fail;
on the paper's model every verdict and value is the one of the checker before
the family existed (its formulas are written out again here).
"""
from __future__ import annotations

import io
import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest

import solvers
from instances import Instance, load_instance
from instances.tolerances import CERTIFIED_GAP_RTOL
from solvers.certify import NONE_DEFINED, attach, hall_violator, undefined_certificate
from solvers.result import Result, Status
from solvers.scope import solves
from tests.bruteforce import family_assignments, family_p1_latency, family_p2_latency
from validation.check import (check_assignment, check_bandwidth, check_certificate, check_result,
                              defined_certificate, main, p1_latency, p2_latency)
from validation.outcomes import checked_outcome
from validation.rows import result_row


def p1_band(inst: Instance, assignment) -> tuple[float, ...]:
    """P1's bandwidths: n_k B / M for the n_k blocks of device k."""
    counts = np.bincount(np.asarray(assignment), minlength=inst.K)
    return tuple((counts * inst.bandwidth_hz / inst.M).tolist())


def p2_band(inst: Instance, assignment) -> tuple[float, tuple[float, ...]]:
    """The optimal P2 latency of a map (the brute-force bisection) and bandwidths U_k / (R_k (T - a_k)) at it."""
    T = family_p2_latency(inst, assignment)
    band = [0.0] * inst.K
    for k in set(assignment):
        blocks = [m for m, j in enumerate(assignment) if j == k]
        bits = math.fsum(float(inst.block_bits[m]) for m in blocks)
        band[k] = bits / (float(inst.spectral_efficiency[k]) * (T - float(inst.compute_latency[k, max(blocks)])))
    return T, tuple(band)


def claim(inst: Instance, problem: str, assignment, status: str = "optimal") -> Result:
    """A hand-made claim that ``assignment`` (with its best bandwidth for P2) is optimal."""
    if problem == "P1":
        T, band = p1_latency(inst, assignment), p1_band(inst, assignment)
    else:
        T, band = p2_band(inst, assignment)
    return Result(solver="hand", problem=problem, status=status, objective_s=T, bound_s=T,
                  assignment=tuple(assignment), bandwidth_hz=band)


def verified(inst: Instance, res: Result, problem: str) -> bool:
    return res.certificate is not None and check_result(inst, res, problem).ok


def kept_unproven(inst: Instance, res: Result, problem: str) -> bool:
    """The policy where no certificate is defined: optimal kept, no certificate, the reason in info, check ok."""
    verdict = check_result(inst, res, problem)
    return (res.status == Status.OPTIMAL and res.certificate is None
            and res.info.get("certificate", "").startswith(NONE_DEFINED)
            and verdict.ok and verdict.valid_solution and len(verdict.notes) == 1
            and result_row("x", problem, res.solver, res, None)["certified"] is False)


# --------------------------------------------------------------------------------------
# Hand-made instances, latencies by hand
# --------------------------------------------------------------------------------------
def g2_p1() -> Instance:
    """G2, one size: K = M = 3, D = 1 bit, B = 3 Hz, R = 1, c = (2, 1, 3).

    A device with n blocks gets n B / M = n Hz for n bits: its upload takes 1 s whatever n.
    tcp: device 0 takes 0 s, device 1 1 s, device 2 3 s (every block): pair costs 1, 2, 4 s.
    """
    return Instance.from_arrays([[0.0] * 3, [1.0] * 3, [3.0] * 3], [1.0] * 3, [1.0] * 3, [1.0] * 3,
                                gradient_bits=1.0, bandwidth_hz=3.0, device_max_blocks=[2, 1, 3])


def test_g2_p1_by_hand():
    inst = g2_p1()
    assert inst.family == {"G2"}
    # (0, 0, 1): device 0 blocks 0, 1: 0 + 2 bits / (1 * 2 Hz) = 1 s; device 1 block 2: 1 + 1 / 1 = 2 s
    assert p1_latency(inst, [0, 0, 1]) == 2.0
    assert p1_latency(inst, [2, 2, 2]) == 4.0            # 3 + 3 bits / (1 * 3 Hz)
    assert p1_latency(inst, [0, 1, 2]) == 4.0
    assert check_assignment(inst, [1, 1, 0]) == ["C2: device 1 holds 2 blocks (0, 1) but takes at most 1 "
                                                 "(device_max_blocks)"]
    assert check_assignment(inst, [0, 0, 0]) == ["C2: device 0 holds 3 blocks (0, 1, 2) but takes at most 2 "
                                                 "(device_max_blocks)"]
    assert check_bandwidth(inst, [0, 0, 1], [2.0, 1.0, 0.0], problem="P1") == []
    assert check_bandwidth(inst, [0, 0, 1], [1.5, 1.0, 0.0], problem="P1") == [
        "P1 gives device 0, which holds 2 blocks, 2 B/M = 2 Hz, but it has 1.5 Hz"]
    # optimum 2 s: below it only device 0 (1 s) is fast enough, and it takes 2 < 3 blocks
    res = attach(inst, claim(inst, "P1", [0, 0, 1]))
    assert res.status == Status.OPTIMAL and verified(inst, res, "P1")
    assert res.certificate == {"kind": "hall", "blocks": [0, 1, 2], "devices": [0]}
    for worse in ([2, 2, 2], [0, 1, 2]):
        res = attach(inst, claim(inst, "P1", worse))
        assert res.status == Status.FEASIBLE and res.certificate is None and "not certified" in res.message
    # tampered: below 4 s devices 0 and 1 are fast enough; 2 devices < 3 blocks, but they take 3 blocks
    fake = {"kind": "hall", "blocks": [0, 1, 2], "devices": [0, 1]}
    assert check_certificate(inst, "P1", Status.OPTIMAL, fake, 4.0) == [
        "hall certificate: its 2 device(s) take up to 3 block(s) in all (device_max_blocks), for 3 block(s): "
        "not fewer"]
    good = {"kind": "hall", "blocks": [0, 1, 2], "devices": [0]}
    assert check_certificate(inst, "P1", Status.OPTIMAL, good, 2.0) == []
    assert check_certificate(inst, "P1", Status.OPTIMAL, good, 2.5)          # device 1 (2 s) is a neighbour
    assert check_certificate(inst, "P1", Status.OPTIMAL, dict(good, devices=[]), 2.0)
    assert check_certificate(inst, "P1", Status.OPTIMAL, dict(good, devices=[0, 2]), 2.0)


def test_g2_memory_of_the_deepest_block():
    # device 0 (4 bytes, c = 2) holds blocks 0 (1 byte) and 2 (5 bytes): it needs 5 bytes
    inst = Instance.from_arrays([[1.0, 1.0, 1.0]] * 2, [1.0, 2.0, 5.0], [4.0, 8.0], [1.0, 1.0], 1.0, 1.0,
                                device_max_blocks=[2, 2])
    assert check_assignment(inst, [0, 1, 0]) == [
        "C3: device 0 holds blocks (0, 2) and needs the memory of its deepest, block 2: 5 bytes, but has 4 bytes"]
    assert check_assignment(inst, [1, 0, 0]) == [
        "C3: device 0 holds blocks (1, 2) and needs the memory of its deepest, block 2: 5 bytes, but has 4 bytes"]
    assert check_assignment(inst, [0, 0, 1]) == []
    assert check_assignment(inst, [0, 1, 1]) == []


def test_g1_p1_by_hand():
    """G1, one block per device: K = M = 2, D = (1, 3) bits, B = 2 Hz, R = (1, 2), tcp = 0.

    Pair cost D_m M / (B R_k) = D_m / R_k: device 0 (1, 3) s, device 1 (0.5, 1.5) s.
    """
    inst = Instance.from_arrays([[0.0, 0.0]] * 2, [1.0, 1.0], [1.0, 1.0], [1.0, 2.0], [1.0, 3.0], 2.0)
    assert inst.family == {"G1"}
    assert p1_latency(inst, [0, 1]) == 1.5 and p1_latency(inst, [1, 0]) == 3.0
    res = attach(inst, claim(inst, "P1", [0, 1]))
    # below 1.5 s: block 1 has no device (3 and 1.5 are not below 1.5)
    assert verified(inst, res, "P1") and res.certificate == {"kind": "hall", "blocks": [1], "devices": []}
    assert attach(inst, claim(inst, "P1", [1, 0])).status == Status.FEASIBLE
    assert check_certificate(inst, "P1", Status.OPTIMAL, res.certificate, 3.0)   # device 0 takes block 1 below 3


def test_g1_p2_by_hand():
    """G1, one block per device: K = M = 2, tcp = 0, D = (1, 2) bits, R = 1, B = 3 Hz.

    Either map: (1 + 2) bits / T = 3 Hz, T = 1 s, with 1 and 2 Hz.
    """
    inst = Instance.from_arrays([[0.0, 0.0]] * 2, [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 2.0], 3.0)
    assert p2_latency(inst, [0, 1], [1.0, 2.0]) == 1.0
    assert p2_latency(inst, [1, 0], [2.0, 1.0]) == 1.0
    res = attach(inst, Result(solver="hand", problem="P2", status="optimal", objective_s=1.0,
                              assignment=(0, 1), bandwidth_hz=(1.0, 2.0)))
    assert res.status == Status.OPTIMAL and verified(inst, res, "P2"), res.message
    cert = res.certificate
    assert cert["kind"] == "assignment-dual" and 1.0 - cert["threshold_s"] <= CERTIFIED_GAP_RTOL
    raised = dict(cert, u_hz=[cert["u_hz"][0] * 1.01, cert["u_hz"][1]])
    far = dict(cert, threshold_s=1.0 - 10 * CERTIFIED_GAP_RTOL)
    short = dict(cert, u_hz=[x * 0.99 for x in cert["u_hz"]])
    for bad in (raised, far, short):
        assert check_certificate(inst, "P2", Status.OPTIMAL, bad, 1.0), bad
    # the weights are per block: with the first block's size for both (1 bit), the sum is short of B
    paper = Instance.from_arrays([[0.0, 0.0]] * 2, [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], 1.0, 3.0)
    assert check_certificate(paper, "P2", Status.OPTIMAL, cert, 1.0)


def test_g2_p2_none_defined_by_hand():
    """G2: one device (c = 2) takes both blocks: 2 s (its deepest) + 2 bits / (1 Hz * 1) = 4 s."""
    inst = Instance.from_arrays([[1.0, 2.0]], [1.0, 1.0], [1.0], [1.0], 1.0, 1.0, device_max_blocks=[2])
    assert p2_latency(inst, [0, 0], [1.0]) == 4.0
    res = attach(inst, Result(solver="hand", problem="P2", status="optimal", objective_s=4.0,
                              assignment=(0, 0), bandwidth_hz=(1.0,)))
    assert kept_unproven(inst, res, "P2")
    assert res.info["certificate"] == "none defined for P2 with devices that take several blocks (G2)"
    assert "not certified" in res.message
    assert attach(inst, res) is res and res.message.count("not certified") == 1          # idempotent
    assert undefined_certificate(inst, "P2") == res.info["certificate"]
    assert defined_certificate(inst, "P2", Status.OPTIMAL) == (None, "P2 with devices that take several blocks (G2)")
    # a certificate where none is defined is refused, and a missing one is no proof either
    fake = {"kind": "assignment-dual", "threshold_s": 4.0, "u_hz": [1.0, 1.0], "v_hz": [0.0]}
    assert check_certificate(inst, "P2", Status.OPTIMAL, fake, 4.0)
    assert check_certificate(inst, "P2", Status.OPTIMAL, None, 4.0)
    with_fake = Result(solver="hand", problem="P2", status="optimal", objective_s=4.0, assignment=(0, 0),
                       bandwidth_hz=(1.0,), certificate=fake)
    assert not check_result(inst, with_fake).ok
    # the harness's outcome: a valid solution, not certified
    outcome = checked_outcome("P2", "hand", inst, Result(solver="hand", problem="P2", status="optimal",
                                                         objective_s=4.0, assignment=(0, 0), bandwidth_hz=(1.0,)),
                              "g2")
    assert outcome.check.ok and outcome.result.status == Status.OPTIMAL and outcome.result.certificate is None
    # an invalid solution is still withdrawn (wrong objective: the checker fails it)
    wrong = attach(inst, Result(solver="hand", problem="P2", status="optimal", objective_s=3.0,
                                assignment=(0, 0), bandwidth_hz=(1.0,)))
    assert not check_result(inst, wrong).ok


def test_g1g2_p1_none_defined_by_hand():
    """G1 + G2: c = (2, 1), D = (1, 3) bits, B = 2 Hz, R = 1, tcp = ((1, 2), (5, 5)).

    (0, 0): device 0 holds 4 bits at 2 * 2 / 2 = 2 Hz: 2 + 4 / 2 = 4 s.
    (0, 1): max(1 + 1 / 1, 5 + 3 / 1) = 8 s.  (1, 0): max(5 + 1, 2 + 3) = 6 s.  (1, 1): C2.
    """
    inst = Instance.from_arrays([[1.0, 2.0], [5.0, 5.0]], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 3.0], 2.0,
                                device_max_blocks=[2, 1])
    assert inst.family == {"G1", "G2"}
    assert [p1_latency(inst, a) for a in ([0, 0], [0, 1], [1, 0])] == [4.0, 8.0, 6.0]
    assert check_assignment(inst, [1, 1])
    res = attach(inst, claim(inst, "P1", [0, 0]))
    assert kept_unproven(inst, res, "P1")
    assert res.info["certificate"] == ("none defined for P1 with per-block gradient sizes (G1) and devices "
                                       "that take several blocks (G2)")
    # the policy keeps any valid optimal claim there: it rests on the method (and the harness's cross-check)
    assert kept_unproven(inst, attach(inst, claim(inst, "P1", [1, 0])), "P1")
    assert check_certificate(inst, "P1", Status.OPTIMAL, {"kind": "hall", "blocks": [1], "devices": []}, 4.0)
    # P2 under G1 + G2: none defined either; infeasibility is still certified (below)
    assert undefined_certificate(inst, "P2").startswith(NONE_DEFINED)


def test_g2_infeasible_by_hand():
    """Every block needs 2 bytes; devices 0 and 1 have them and take one block each; device 2 has 1 byte."""
    inst = Instance.from_arrays([[1.0, 2.0, 2.0]] * 3, [2.0, 2.0, 2.0], [2.0, 2.0, 1.0], [1.0] * 3, 1.0, 1.0,
                                device_max_blocks=[1, 1, 5])
    assert not list(family_assignments(inst))
    res = attach(inst, Result(solver="hand", problem="P1", status="infeasible"))
    assert res.status == Status.INFEASIBLE and verified(inst, res, "P1")
    assert res.certificate == {"kind": "hall", "blocks": [0, 1, 2], "devices": [0, 1]}
    for bad in ({"kind": "hall", "blocks": [0, 1, 2], "devices": [0]},            # a device dropped
                {"kind": "hall", "blocks": [0, 1, 2], "devices": [0, 1, 2]},      # not a neighbour added
                {"kind": "hall", "blocks": [0, 1], "devices": [0, 1]}):           # 2 blocks, capacity 2
        assert check_certificate(inst, "P2", Status.INFEASIBLE, bad, None), bad
    # K = 1 < M = 2 but c = 2: feasible, so an infeasible claim is false
    two = Instance.from_arrays([[1.0, 2.0]], [1.0, 1.0], [1.0], [1.0], 1.0, 1.0, device_max_blocks=[2])
    res = attach(two, Result(solver="liar", problem="P2", status="infeasible"))
    assert res.status == Status.ERROR and "claimed infeasible but not certified" in res.message
    assert check_certificate(two, "P1", Status.INFEASIBLE, {"kind": "hall", "blocks": [0, 1], "devices": [0]}, None)


# --------------------------------------------------------------------------------------
# Random tiny family instances against enumeration
# --------------------------------------------------------------------------------------
def random_instance(seed: int, features: frozenset) -> Instance:
    """K, M <= 3 (or K^M <= 64), small values with many ties; the features asked for where M allows."""
    rng = np.random.default_rng(seed)
    K, M = (int(rng.integers(1, 4)), int(rng.integers(1, 4))) if seed % 5 else ((2, 4) if seed % 2 else (4, 3))
    tcp = np.sort(rng.choice([0.0, 0.5, 1.0, 1.5, 2.0, 3.0], size=(K, M)), axis=1)
    mu = np.sort(rng.choice([1.0, 2.0, 3.0], size=M))
    cap = rng.choice([1.0, 2.0, 3.0, 3.0, 3.0], size=K)
    rate = rng.choice([0.5, 1.0, 2.0, 4.0], size=K)
    bits = 1.0
    if "G1" in features and M >= 2:
        bits = rng.choice([1.0, 2.0, 3.0], size=M)
        if np.all(bits == bits[0]):
            bits[0] += 1.0
        bits = bits.tolist()
    most = None
    if "G2" in features:
        most = rng.integers(1, 4, size=K)
        most[rng.integers(K)] = 2 + int(rng.integers(2))
        most = most.tolist()
    return Instance.from_arrays(tcp, mu, cap, rate, bits, float(rng.choice([1.0, 2.0, 3.0])),
                                device_max_blocks=most)


CASES = [(seed, frozenset(f)) for f in ((), ("G1",), ("G2",), ("G1", "G2")) for seed in range(30)]


@pytest.mark.parametrize("seed, features", CASES)
def test_certificates_exist_exactly_for_the_optimal_answers(seed, features):
    inst = random_instance(seed, features)
    feasible = list(family_assignments(inst))
    # the checker accepts exactly the maps the enumeration calls feasible
    for devices in itertools.product(range(inst.K), repeat=inst.M):
        assert (check_assignment(inst, devices) == []) == (devices in feasible), devices
    if not feasible:
        for problem in ("P1", "P2"):
            res = attach(inst, Result(solver="hand", problem=problem, status="infeasible"))
            assert res.status == Status.INFEASIBLE and verified(inst, res, problem), res.message
        return
    res = attach(inst, Result(solver="hand", problem="P1", status="infeasible"))
    assert res.status == Status.ERROR

    # P1: the checker's latency is the brute force's; a certificate exactly for the optimal maps
    values = {a: p1_latency(inst, a) for a in feasible}
    for a, value in values.items():
        assert math.isclose(value, family_p1_latency(inst, a), rel_tol=1e-12), a
    best = min(values.values())
    none_p1 = undefined_certificate(inst, "P1")
    assert (none_p1 is not None) == ({"G1", "G2"} <= inst.family)
    for a, value in values.items():
        res = attach(inst, claim(inst, "P1", a))
        if none_p1 is not None:
            assert kept_unproven(inst, res, "P1"), (a, res.message)
        elif value == best:                       # P1 latencies are pair costs: exact
            assert res.status == Status.OPTIMAL and verified(inst, res, "P1"), (a, res.message)
        else:
            assert res.status == Status.FEASIBLE and res.certificate is None and "not certified" in res.message

    # P2: certified within the certified gap of the optimum, never clearly worse; none defined under G2
    values = {a: p2_band(inst, a) for a in feasible}
    best = min(T for T, _ in values.values())
    none_p2 = undefined_certificate(inst, "P2")
    assert (none_p2 is not None) == ("G2" in inst.family)
    for a, (T, band) in values.items():
        assert math.isclose(p2_latency(inst, a, band), T, rel_tol=1e-11), a
        res = attach(inst, claim(inst, "P2", a))
        if none_p2 is not None:
            assert kept_unproven(inst, res, "P2"), (a, res.message)
            continue
        if T <= best:
            assert res.status == Status.OPTIMAL, (a, T, best, res.message)
        if res.status == Status.OPTIMAL:
            assert verified(inst, res, "P2") and res.certificate["threshold_s"] <= best * (1 + 1e-12)
        if T > best * (1 + 2 * CERTIFIED_GAP_RTOL):
            assert res.status == Status.FEASIBLE and res.certificate is None, (a, T, best)


def test_capacity_hall_violator_on_general_graphs():
    """hall_violator with capacities (prefix rows and not) against enumeration of b-matchings."""
    rng = np.random.default_rng(7)
    for _ in range(300):
        K, M = int(rng.integers(1, 4)), int(rng.integers(1, 5))
        allowed = rng.random((K, M)) < 0.6
        capacity = rng.integers(1, 4, size=K)
        exists = any(all(allowed[k, m] for m, k in enumerate(devices))
                     and all(devices.count(k) <= capacity[k] for k in range(K))
                     for devices in itertools.product(range(K), repeat=M))
        blocks = hall_violator(allowed, capacity)
        assert (blocks is None) == exists, (allowed, capacity)
        if blocks is not None:
            near = np.flatnonzero(allowed[:, blocks].any(axis=1))
            assert capacity[near].sum() < len(blocks)


# --------------------------------------------------------------------------------------
# The paper's model: the checker's verdicts and values as before the family
# --------------------------------------------------------------------------------------
def old_check_assignment(inst: Instance, entries) -> list[str]:
    """The paper-model C2 and C3 of the checker before the family (valid indices given)."""
    problems, first = [], {}
    for m, k in enumerate(entries):
        if k in first:
            problems.append(f"C2: blocks {first[k]} and {m} are both on device {k} "
                            f"(a device computes at most one block)")
        else:
            first[k] = m
    for m, k in enumerate(entries):
        need, have = float(inst.block_memory[m]), float(inst.device_memory[k])
        if need > have:
            problems.append(f"C3: block {m} needs {need:.6g} bytes but device {k} has {have:.6g} bytes")
    return problems


@pytest.mark.parametrize("seed", range(12))
def test_paper_model_values_unchanged(seed):
    inst = random_instance(seed, frozenset())
    assert inst.paper_model
    D, B, M = float(inst.gradient_bits), float(inst.bandwidth_hz), inst.M
    for devices in itertools.product(range(inst.K), repeat=M):
        assert check_assignment(inst, devices) == old_check_assignment(inst, devices)
        if check_assignment(inst, devices):
            continue
        old_p1 = max(float(inst.compute_latency[k, m]) + (D * M) / (B * float(inst.spectral_efficiency[k]))
                     for m, k in enumerate(devices))
        assert p1_latency(inst, devices) == old_p1                       # the same float, bit for bit
        band = [0.0] * inst.K
        for m, k in enumerate(devices):
            band[k] = B / M * (1 + (m % 2) * 0.5) / 1.5
        old_p2 = max(float(inst.compute_latency[k, m]) + D / (band[k] * float(inst.spectral_efficiency[k]))
                     for m, k in enumerate(devices))
        assert p2_latency(inst, devices, band) == old_p2
        assert check_bandwidth(inst, devices, p1_band(inst, devices), problem="P1") == []
        uneven = list(p1_band(inst, devices))
        uneven[devices[0]] *= 0.5
        assert check_bandwidth(inst, devices, uneven, problem="P1") == [
            f"P1 gives every involved device B/M = {B / M:.10g} Hz, but device {devices[0]} has "
            f"{uneven[devices[0]]:.10g} Hz"]


def test_paper_model_messages_unchanged():
    inst = Instance.from_arrays([[1.0, 2.0], [1.5, 1.5], [0.5, 3.0]], [1.0, 2.0], [4.0, 1.0, 4.0],
                                [1.0, 2.0, 4.0], 1.0, 1.0)
    res = Result(solver="x", problem="P1", status="optimal", objective_s=3.5, assignment=(1, 2))
    assert check_result(inst, res).problems == ["status optimal but no certificate"]
    assert check_certificate(inst, "P1", Status.OPTIMAL, {"kind": "hall", "blocks": [0, 1], "devices": [0, 1, 2]},
                             3.5)[-1] == "hall certificate: 3 device(s) for 2 block(s), not fewer"
    assert defined_certificate(inst, "P1", Status.OPTIMAL) == ("hall", "")
    assert defined_certificate(inst, "P2", Status.OPTIMAL) == ("assignment-dual", "")
    certified = solvers.run("P1", "crunch", inst)
    assert certified.certificate == {"kind": "hall", "blocks": [1], "devices": []} and "certificate" not in certified.info


# --------------------------------------------------------------------------------------
# The command line on deft-instance/2 files
# --------------------------------------------------------------------------------------
def run_main(*args) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in args], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def fake_exact(monkeypatch, problem: str, inst: Instance, best, features):
    """Register ``fake`` as the only exact method of ``problem``: it claims the map ``best`` optimal."""
    @solves(*features, name="fake", problem=problem)
    def fake(instance, time_limit=None):
        res = claim(instance, problem, best)
        res.solver = "fake"
        return res

    monkeypatch.setitem(solvers.REGISTRY, (problem, "fake"), fake)
    monkeypatch.setitem(solvers.EXACT, problem, {"fake"})


def write(tmp_path, name: str, data: dict):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_check_cli_on_family_files(tmp_path, monkeypatch):
    inst = g2_p1()
    path = write(tmp_path, "g2.json", inst.to_dict())
    assert json.loads(path.read_text())["format"] == "deft-instance/2"
    fake_exact(monkeypatch, "P1", inst, [0, 0, 1], ("G2",))
    sol = write(tmp_path, "sol.json", {"problem": "P1", "assignment": [2, 2, 2], "objective_s": 4.0})
    code, out, _ = run_main(path, sol)
    assert code == 0, out
    assert "(K = 3, M = 3, G2), problem P1" in out and "solution: valid, round latency T = 4 s" in out
    assert "optimum: T* = 2 s" in out and "hall certificate verified" in out
    assert "certified gap: (T - T_low) / T_low <= 1.000000e+00" in out
    bad = write(tmp_path, "bad.json", {"problem": "P1", "assignment": [1, 1, 0]})
    code, out, _ = run_main(path, bad)
    assert code == 1 and "INVALID" in out and "C2: device 1 holds 2 blocks (0, 1) but takes at most 1" in out
    # P2 under G2: the optimum is the method's word, said so
    two = Instance.from_arrays([[1.0, 2.0], [1.0, 1.0]], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], 1.0, 1.0,
                               device_max_blocks=[2, 1])
    path2 = write(tmp_path, "g2p2.json", two.to_dict())
    # (0, 1): two devices at 1 s, 1 bit each: 2 bits / (T - 1) = 1 Hz, T = 3 s (the optimum: (1, 0) gives
    # (5 + sqrt 5) / 2 s, (0, 0) 2 + 2 bits / 1 Hz = 4 s)
    fake_exact(monkeypatch, "P2", two, [0, 1], ("G2",))
    T, band = p2_band(two, [0, 0])
    sol2 = write(tmp_path, "sol2.json", {"problem": "P2", "assignment": [0, 0], "bandwidth_hz": list(band)})
    code, out, _ = run_main(path2, sol2)
    assert code == 0, out
    assert "not certified (no certificate is defined for P2 with devices that take several blocks (G2)" in out
    assert "optimum: T* = 3 s by fake" in out
    gap = float(out.split("gap to that optimum, not certified: (T - T*) / T* = ")[1].split()[0])
    assert math.isclose(gap, 1 / 3, rel_tol=1e-6)
    # a method that declares G2 but refuses the instance when it runs: the next exact method is used
    @solves("G2", name="a-refuser", problem="P2")
    def refuser(instance, time_limit=None):
        return Result(solver="a-refuser", problem="P2", status="unsupported", message="not this one")

    monkeypatch.setitem(solvers.REGISTRY, ("P2", "a-refuser"), refuser)
    monkeypatch.setitem(solvers.EXACT, "P2", {"a-refuser", "fake"})
    code, out, _ = run_main(path2, sol2)
    assert code == 0 and "optimum: T* = 3 s by fake" in out, out
    # no exact method for the instance: said so
    monkeypatch.setitem(solvers.EXACT, "P2", set())
    code, out, _ = run_main(path2, sol2)
    assert code == 0 and "optimum: not computed (no registered exact method solves P2" in out


# --------------------------------------------------------------------------------------
# The shipped family corpus: its brute-force optima are certified where a certificate is defined
# --------------------------------------------------------------------------------------
FAMILY_FILES = sorted((Path(__file__).resolve().parents[1] / "instances" / "family").glob("*.json"))


@pytest.mark.skipif(not FAMILY_FILES, reason="no instances/family corpus")
@pytest.mark.parametrize("path", FAMILY_FILES, ids=lambda p: p.name)
def test_corpus_optima_are_certified_where_defined(path):
    inst = load_instance(path)
    meta = inst.meta
    if "optimum_p1_s" not in meta:
        pytest.skip("no brute-force optimum in meta (too large)")
    for problem in ("P1", "P2"):
        best_s, best = meta[f"optimum_{problem.lower()}_s"], meta[f"optimum_{problem.lower()}_assignment"]
        if best is None:
            res = attach(inst, Result(solver="hand", problem=problem, status="infeasible"))
            assert res.status == Status.INFEASIBLE and verified(inst, res, problem), res.message
            continue
        res = attach(inst, claim(inst, problem, best))
        assert math.isclose(res.objective_s, best_s, rel_tol=1e-9)
        if undefined_certificate(inst, problem) is None:
            assert res.status == Status.OPTIMAL and verified(inst, res, problem), (problem, res.message)
        else:
            assert kept_unproven(inst, res, problem), (problem, res.message)
