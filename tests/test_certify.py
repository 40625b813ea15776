"""Certificates: every optimal / infeasible claim is proven by a certificate that the checker verifies.

Oracles: brute force over every assignment (tests/bruteforce.py) decides what
is optimal; the checker (validation.check, numpy only) decides whether a
certificate proves it.  A certificate must exist for every true claim and for
no false one, and a tampered certificate must fail verification.
"""
from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import solvers
from instances import Instance
from solvers.bandwidth import optimal_bandwidth
from solvers.certify import attach, dual_certificate, hall_violator
from solvers.p1 import p1_objective
from solvers.p1 import p1_bandwidth
from solvers.result import Result, Status
from instances.tolerances import CERTIFIED_GAP_RTOL
from tests.bruteforce import brute_force_p1, brute_force_p2, feasible_assignments, fixed_assignment_latency
from tests.strategies import extreme_instances, instances
from validation.check import check_certificate, check_result
from validation.compare import compare_paths

ROOT = Path(__file__).resolve().parents[1]

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

#: An instance on which SCIP once claimed a wrong optimum (K = M = 5, spread-out channels).
KEQM = {"format": "deft-instance/1", "name": "KeqM-44-1220",
        "compute_latency": [[0.6010957031311311, 0.6896224201829848, 0.8012081283347716, 1.1114098609099606, 1.1728627223913802], [0.3709604618233536, 0.4255920733052862, 0.4944564271001081, 0.6858983153646648, 0.7238240071211963], [0.6839155109807213, 0.7846410659926015, 0.9116005089103046, 1.2645450941014018, 1.334466187599549], [0.6282283932939802, 0.7207510976429011, 0.8373745011219512, 1.161578059052013, 1.225804914941024], [0.8239580224716508, 0.9453141432054585, 1.098265082003787, 1.5234789937001357, 1.6077181418564364]],  # noqa: E501
        "block_memory": [0.6264212624573612, 1.1751917005924584, 1.826624917418282, 2.7046409113474614, 2.967718962574646],  # noqa: E501
        "device_memory": [2.9718479290082716, 2.7624219493062955, 1.9612862566101773, 3.3564946766826546, 3.7233565283052413],  # noqa: E501
        "spectral_efficiency": [0.4569062451758402, 3.7451303585599513, 1.0566209130891003, 0.6542815212658014, 5.045599096698917],  # noqa: E501
        "gradient_bits": 1.0, "bandwidth_hz": 4.001963012416547}


def claim(inst: Instance, problem: str, assignment, status: str = "optimal") -> Result:
    """A hand-made claim that ``assignment`` (with its best bandwidth for P2) is optimal."""
    if problem == "P1":
        band = p1_bandwidth(inst, assignment)
        T = p1_objective(inst, assignment)
    else:
        T, band = optimal_bandwidth(inst, assignment)
    return Result(solver="hand", problem=problem, status=status, objective_s=T, bound_s=T, seconds=0.0, assignment=tuple(assignment), bandwidth_hz=tuple(band))


def verified(inst: Instance, res: Result, problem: str) -> bool:
    return res.certificate is not None and check_result(inst, res, problem).ok


# --------------------------------------------------------------------------------------
# True claims are certified, false ones are not (brute force decides)
# --------------------------------------------------------------------------------------
@FUZZ
@given(extreme_instances(max_devices=5, max_blocks=4))
def test_p1_certificate_exists_exactly_for_optimal_assignments(inst):
    best = brute_force_p1(inst)
    if best is None:
        res = attach(inst, Result(solver="hand", problem="P1", status="infeasible"))
        assert res.status == Status.INFEASIBLE and verified(inst, res, "P1"), res.message
        return
    for assignment in feasible_assignments(inst):
        res = attach(inst, claim(inst, "P1", assignment))
        optimal = p1_objective(inst, assignment) == best      # P1 optima are matrix entries: exact
        assert (res.status == Status.OPTIMAL) == optimal, (assignment, res.message)
        if optimal:
            assert verified(inst, res, "P1")
        else:
            assert res.certificate is None and "not certified" in res.message


@FUZZ
@given(extreme_instances(max_devices=5, max_blocks=3))
def test_p2_certificate_exists_for_the_optimum_and_not_for_clearly_worse(inst):
    best = brute_force_p2(inst)
    if best is None:
        res = attach(inst, Result(solver="hand", problem="P2", status="infeasible"))
        assert res.status == Status.INFEASIBLE and verified(inst, res, "P2"), res.message
        return
    for assignment in feasible_assignments(inst):
        value = fixed_assignment_latency(inst, assignment)
        res = attach(inst, claim(inst, "P2", assignment))
        if res.status == Status.OPTIMAL:
            # a certificate proves T_low <= T*: the claim is within the certified gap of the optimum
            assert verified(inst, res, "P2")
            assert res.certificate["threshold_s"] <= best * (1 + 1e-12), (assignment, best)
        if value > best * (1 + 2 * CERTIFIED_GAP_RTOL):
            assert res.status == Status.FEASIBLE and res.certificate is None, (assignment, value, best)
    exact = solvers.run("P2", "exact", inst)
    assert exact.status == Status.OPTIMAL and verified(inst, exact, "P2"), exact.message


@FUZZ
@given(instances(max_devices=6, max_blocks=4))
def test_every_exact_method_claim_is_certified(inst):
    for problem, names in (("P1", ("crunch", "linear-search")), ("P2", ("exact",))):
        for name in names:
            res = solvers.run(problem, name, inst)
            assert res.status in (Status.OPTIMAL, Status.INFEASIBLE), (name, res.status, res.message)
            assert verified(inst, res, problem), (name, res.message)


def test_infeasible_claim_on_a_feasible_instance_becomes_an_error():
    inst = Instance.from_arrays([[1.0]], [1.0], [1.0], [1.0], 1.0, 1.0)
    res = attach(inst, Result(solver="liar", problem="P1", status="infeasible", message="no"))
    assert res.status == Status.ERROR and "claimed infeasible but not certified" in res.message


def test_m_greater_than_k_and_memory_wall():
    two_blocks = Instance.from_arrays([[1.0, 2.0]], [1.0, 1.0], [1.0], [1.0], 1.0, 1.0)
    res = solvers.run("P2", "exact", two_blocks)
    assert res.certificate == {"kind": "hall", "blocks": [0, 1], "devices": [0]}
    wall = Instance.from_arrays([[1.0, 2.0], [1.0, 2.0]], [1.0, 3.0], [2.0, 2.0], [1.0, 1.0], 1.0, 1.0)
    res = solvers.run("P1", "crunch", wall)
    assert res.certificate == {"kind": "hall", "blocks": [1], "devices": []} and verified(wall, res, "P1")


# --------------------------------------------------------------------------------------
# Tampered certificates fail
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def paper_instance():
    from instances import load_instance

    return load_instance(ROOT / "instances" / "paper" / "paper-K20-M12-s1.json")


def test_tampered_hall_certificates_fail(paper_instance):
    res = solvers.run("P1", "crunch", paper_instance)
    T = check_result(paper_instance, res).objective_s
    cert = res.certificate
    assert check_certificate(paper_instance, "P1", Status.OPTIMAL, cert, T) == []
    if cert["devices"]:
        fewer = dict(cert, devices=cert["devices"][1:])
        assert check_certificate(paper_instance, "P1", Status.OPTIMAL, fewer, T)
    more = dict(cert, devices=sorted(set(range(paper_instance.K)) - set(cert["devices"]))[:1] + cert["devices"])
    assert check_certificate(paper_instance, "P1", Status.OPTIMAL, more, T)
    # the same blocks do not prove a higher latency optimal: more devices are fast enough below it
    assert check_certificate(paper_instance, "P1", Status.OPTIMAL, cert, T * 1.5)
    assert check_certificate(paper_instance, "P1", Status.OPTIMAL, None, T) == ["status optimal but no certificate"]
    assert check_certificate(paper_instance, "P1", Status.OPTIMAL, {"kind": "hall", "blocks": [99], "devices": []}, T)


def test_tampered_dual_certificates_fail(paper_instance):
    res = solvers.run("P2", "exact", paper_instance)
    T = check_result(paper_instance, res, "P2").objective_s
    cert = res.certificate
    assert check_certificate(paper_instance, "P2", Status.OPTIMAL, cert, T) == []
    raised = copy.deepcopy(cert)
    raised["u_hz"][0] *= 1 + 1e-3                      # breaks a dual row or nothing else would hold
    lowered_v = copy.deepcopy(cert)
    k = int(np.argmax(cert["v_hz"]))
    lowered_v["v_hz"][k] = cert["v_hz"][k] * 0.5 if cert["v_hz"][k] > 0 else -1.0
    high = dict(cert, threshold_s=T * (1 + 1e-12))
    far = dict(cert, threshold_s=T * (1 - 10 * CERTIFIED_GAP_RTOL))
    short = dict(cert, u_hz=cert["u_hz"][1:])
    for bad in (raised, lowered_v, high, far, short):
        assert check_certificate(paper_instance, "P2", Status.OPTIMAL, bad, T), bad.get("threshold_s")
    # the sum condition: scale u and v down (dual rows still hold) until sum u - sum v < B
    shrunk = dict(cert, u_hz=[x * 0.999 for x in cert["u_hz"]], v_hz=[x * 0.999 for x in cert["v_hz"]])
    assert any("not above the band" in line
               for line in check_certificate(paper_instance, "P2", Status.OPTIMAL, shrunk, T))


# --------------------------------------------------------------------------------------
# The instance where SCIP once claimed a wrong optimum; magnitudes
# --------------------------------------------------------------------------------------
def test_keqm_optimum_is_certified_and_near_misses_are_not():
    inst = Instance.from_dict(KEQM)
    best = brute_force_p2(inst)
    exact = solvers.run("P2", "exact", inst)
    assert math.isclose(exact.objective_s, best, rel_tol=1e-12) and verified(inst, exact, "P2")
    runners_up = sorted(fixed_assignment_latency(inst, a) for a in feasible_assignments(inst))
    near = [a for a in feasible_assignments(inst) if best < fixed_assignment_latency(inst, a) < best * 1.01]
    assert near, runners_up[:3]
    for assignment in near:                      # within 1 % of the optimum: still not certifiable
        res = attach(inst, claim(inst, "P2", assignment))
        assert res.status == Status.FEASIBLE and "not certified" in res.message


@pytest.mark.parametrize("scale_s", [1e-9, 1e-3, 1.0, 1e6, 1e12])
def test_certificates_at_every_magnitude(paper_instance, scale_s):
    d = paper_instance.to_dict()
    d["compute_latency"] = (np.array(d["compute_latency"]) * scale_s).tolist()
    d["gradient_bits"] *= scale_s                 # uploads scale with the computation
    inst = Instance.from_dict(d)
    for problem, name in (("P1", "crunch"), ("P1", "linear-search"), ("P2", "exact")):
        res = solvers.run(problem, name, inst)
        assert res.status == Status.OPTIMAL and verified(inst, res, problem), (name, res.message)


@pytest.mark.parametrize("K", [4, 5000])
def test_ties_identical_devices(K):
    """Thousands of devices tied with the matched ones must not inflate the duals v (a bug once)."""
    inst = Instance.from_arrays([[1.0, 2.0, 3.0]] * K, [1.0, 1.0, 1.0], [1.0] * K, [1.0] * K, 1.0, 1.0)
    for problem, name in (("P1", "crunch"), ("P2", "exact")):
        res = solvers.run(problem, name, inst)
        assert verified(inst, res, problem), res.message


def test_dual_certificate_for_k_equal_m_and_one_block():
    for K, M in ((1, 1), (4, 4), (6, 1)):
        rng = np.random.default_rng(K * 10 + M)
        tcp = np.sort(rng.uniform(0.5, 2.0, (K, M)), axis=1)
        inst = Instance.from_arrays(tcp, np.ones(M), np.ones(K), rng.uniform(0.5, 5.0, K), 1.0, 2.0)
        res = solvers.run("P2", "exact", inst)
        assert verified(inst, res, "P2"), (K, M, res.message)
        # a bound above the optimum cannot be certified
        assert dual_certificate(inst, res.objective_s * (1 + 1e-6)) is None


def test_hall_violator_general_graph():
    # not prefix rows: blocks 0 and 2 only on device 2
    allowed = np.array([[False, True, False], [False, True, False], [True, False, True]])
    assert hall_violator(allowed).tolist() == [0, 2]
    assert hall_violator(np.eye(3, dtype=bool)) is None


# --------------------------------------------------------------------------------------
# The harness and the command line
# --------------------------------------------------------------------------------------
def test_every_claim_on_the_shipped_corpus_is_certified():
    report = compare_paths([ROOT / "instances"], solvers=["crunch", "linear-search", "exact", "milp"],
                           time_limit=60)
    claims = [r for r in report.rows if r["status"] in ("optimal", "infeasible")]
    # where the family defines no certificate (docs/certificates.md, section 3) the claim says so
    assert claims and all(r["certified"] or "no certificate is defined for" in r["message"] for r in claims), \
        [r for r in claims if not r["certified"]]
    assert report.issues == []
    table = report.method_table().set_index(["problem", "solver"])
    assert (table["uncertified"] == 0).all()


def run_check(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "validation.check", *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)


def test_check_cli(tmp_path, paper_instance):
    path = ROOT / "instances" / "paper" / "paper-K20-M12-s1.json"
    best = solvers.run("P2", "exact", paper_instance)
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"format": "deft-solution/1", "problem": "P2", "assignment": list(best.assignment),
                                "bandwidth_hz": list(best.bandwidth_hz), "objective_s": best.objective_s}))
    out = run_check(path, good)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "solution: valid" in out.stdout and "assignment-dual certificate verified" in out.stdout
    gap = float(out.stdout.split("certified gap: (T - T_low) / T_low <= ")[1].split()[0])
    assert 0 <= gap <= 2 * CERTIFIED_GAP_RTOL
    # another method's assignment as a P1 solution: valid, with its gap
    p1 = tmp_path / "p1.json"
    p1.write_text(json.dumps({"problem": "P1", "assignment": list(best.assignment)}))
    out = run_check(path, p1)
    assert out.returncode == 0 and "hall certificate verified" in out.stdout, out.stdout + out.stderr
    gap = float(out.stdout.split("<= ")[-1].split()[0])
    expected = (p1_objective(paper_instance, best.assignment)
                / solvers.run("P1", "crunch", paper_instance).objective_s - 1)
    assert math.isclose(gap, expected, rel_tol=1e-5, abs_tol=1e-12), (gap, expected)
    # invalid: two blocks on one device
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"problem": "P1", "assignment": [0] * paper_instance.M}))
    out = run_check(path, bad)
    assert out.returncode == 1 and "INVALID" in out.stdout and "C2" in out.stdout
    # unusable: one line naming the file and the field
    junk = tmp_path / "junk.json"
    junk.write_text(json.dumps({"problem": "P3", "assignment": []}))
    out = run_check(path, junk)
    assert out.returncode == 2 and out.stderr.strip() == f"{junk}: field 'problem' must be \"P1\" or \"P2\", got 'P3'"
    out = run_check(tmp_path / "missing.json", good)
    assert out.returncode == 2 and "missing.json" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_a_wrong_scip_optimum_is_withdrawn_not_reported():
    """Uploads 1e-7 of the computation: SCIP 'proves' 1e7 + 2 s, the optimum is 1e7 + 1.5 s.

    Whatever SCIP says, the row is either a certified optimum equal to the true one, or
    the claim is withdrawn with the solution kept.
    """
    inst = Instance.from_arrays([[1e7, 1e7]] * 4 + [[1e7, 2e7]], [1.0, 1.0], [1.0] * 5, [1.0, 1.0, 1.0, 1.0, 2.0],
                                1.0, 1.0)
    best = brute_force_p2(inst)
    assert math.isclose(best, 1e7 + 1.5, rel_tol=1e-12)
    res = solvers.run("P2", "minlp", inst, time_limit=20)
    if res.status == Status.OPTIMAL:
        assert verified(inst, res, "P2") and math.isclose(res.objective_s, best, rel_tol=CERTIFIED_GAP_RTOL)
    else:
        assert res.status in (Status.FEASIBLE, Status.TIME_LIMIT) and res.certificate is None
        assert res.objective_s >= best * (1 - 1e-12)
