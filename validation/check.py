"""Independent checker: is a returned solution feasible, and is its latency what was reported?

Written from the formulation (``docs/formulation.md``) with plain Python loops,
deliberately sharing no code with the solvers (not ``p1_objective``,
``p2_objective``, ``Instance.p1_cost`` or ``Instance.memory_ok``), so that a bug
in a solver's own bookkeeping cannot hide itself.

For K devices, M blocks and an assignment ``a`` (``a[m]`` = device of block m,
0-based) the checker verifies

.. math::

    (C1)\\;& \\text{exactly one device per block: } a \\text{ has length } M \\\\
    (C2)\\;& a_m \\in \\{0, \\dots, K-1\\},\\quad a_m \\ne a_{m'} \\ (m \\ne m') \\\\
    (C3)\\;& \\mu_m \\le \\mathrm{cap}_{a_m}

and recomputes the round latency

.. math::

    T_{P1} = \\max_m \\Big( t_{a_m, m} + \\frac{D M}{B R_{a_m}} \\Big), \\qquad
    T_{P2} = \\max_m \\Big( t_{a_m, m} + \\frac{D}{B_{a_m} R_{a_m}} \\Big)

where, for P2, the returned bandwidths must satisfy ``B_k >= 0``, ``B_k > 0``
for every involved device and ``sum_k B_k <= B (1 + BANDWIDTH_RTOL)``.  The
recomputed latency must equal the reported ``objective_s`` to
``OBJECTIVE_RTOL``.  Every function is O(K + M), except the certificate checks.

Certificates
------------
An ``optimal`` or ``infeasible`` result must carry a certificate (made by
:mod:`solvers.certify`; the kinds are defined there), verified here from the
instance data alone:

* ``hall`` (``{"blocks": S, "devices": N}``): N is exactly the set of devices
  that may take some block of S -- memory allowed, and for a P1 optimum also
  a latency *strictly below* the recomputed objective -- and ``|N| < |S|``.
  Comparisons only: exact.
* ``assignment-dual`` (``{"threshold_s": T_low, "u_hz": u, "v_hz": v}``, P2
  optimum): ``T - T_low <= CERTIFIED_GAP_RTOL * T``, ``v >= 0`` and, for every
  memory-allowed pair with ``t_km < T_low``,
  ``u_m - v_k <= D / (R_k (T_low - t_km))``, and ``sum u - sum v >= B``.  Each
  inequality is checked with both sides moved against it by
  ``CERTIFICATE_ROUNDING_RTOL`` of the magnitudes involved, far more than the
  rounding of the few floating-point operations, so a verified inequality
  holds exactly (sums by :func:`math.fsum`, correctly rounded).

The P1 latency is evaluated as ``t + (D * M) / (B * R_k)``, operation by
operation as written, so that the threshold of a ``hall`` certificate and the
latency of the solution are the same floating-point number.

Command line::

    python -m validation.check INSTANCE.json SOLUTION.json

prints whether the solution is valid, its recomputed latency and its
certified gap to the optimum (computed by the toolkit's fast exact method,
whose certificate is verified here); exit 0 valid, 1 invalid, 2 unusable
input.  The solution file (``deft-solution/1``)::

    {"format": "deft-solution/1", "problem": "P2",
     "assignment": [device of block 0, ...],      # M entries, 0-based
     "bandwidth_hz": [Hz of device 0, ...],       # K entries, P2 only
     "objective_s": 1.23}                         # optional: checked if given

Examples
--------
>>> from instances import Instance
>>> inst = Instance.from_arrays([[1.0, 2.0], [1.5, 1.5], [0.5, 3.0]], [1.0, 2.0],
...     [4.0, 1.0, 4.0], [1.0, 2.0, 4.0], gradient_bits=1.0, bandwidth_hz=1.0)
>>> check_assignment(inst, [1, 2])
[]
>>> check_assignment(inst, [0, 0])
['C2: blocks 0 and 1 are both on device 0 (a device computes at most one block)']
>>> p1_latency(inst, [1, 2])      # max(1.5 + 2/2, 3.0 + 2/4), by hand
3.5
"""
from __future__ import annotations

import argparse
import json
import math
import numbers
import sys
from dataclasses import dataclass, field

import numpy as np

from instances import Instance, InstanceError, load_instance
from instances.cli import add_version
from solvers.result import Result, Status
from instances.tolerances import (BANDWIDTH_RTOL, BOUND_RTOL, CERTIFICATE_ROUNDING_RTOL, CERTIFIED_GAP_RTOL,
                                OBJECTIVE_RTOL, close)


@dataclass
class Check:
    """Verdict of the checker on one result.

    Attributes
    ----------
    problems : list of str
        One line per violation found (empty when the result is consistent).
    objective_s : float or None
        Latency recomputed from the returned assignment (and bandwidths), seconds;
        None when there is no assignment or it is invalid.
    """

    problems: list[str] = field(default_factory=list)
    objective_s: float | None = None

    @property
    def ok(self) -> bool:
        """True when no violation was found."""
        return not self.problems

    @property
    def valid_solution(self) -> bool:
        """True when the result carries a solution that passed every check."""
        return self.ok and self.objective_s is not None


def _is_index(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_assignment(instance: Instance, assignment) -> list[str]:
    """Violations of C1-C3 by ``assignment`` (empty list when feasible).

    Parameters
    ----------
    instance : Instance
    assignment : sequence of int
        ``assignment[m]`` = device (0-based) computing block m.

    Returns
    -------
    list of str
        One line per violation, naming the constraint, the block and the device.

    Notes
    -----
    O(K + M) time.
    """
    K, M = instance.K, instance.M
    if assignment is None:
        return ["no assignment returned"]
    try:
        entries = list(assignment)
    except TypeError:
        return [f"assignment is not a sequence: {assignment!r}"]
    if len(entries) != M:
        return [f"C1: assignment has {len(entries)} entries, but there are M = {M} blocks "
                f"(each block needs exactly one device)"]
    problems = []
    for m, k in enumerate(entries):
        if not _is_index(k):
            problems.append(f"C2: block {m} is given to {k!r}, not a device index")
        elif not 0 <= k < K:
            problems.append(f"C2: block {m} is given to device {k}, out of range 0..{K - 1}")
    if problems:
        return problems
    first_block_of = {}
    for m, k in enumerate(entries):
        if k in first_block_of:
            problems.append(f"C2: blocks {first_block_of[k]} and {m} are both on device {k} "
                            f"(a device computes at most one block)")
        else:
            first_block_of[k] = m
    for m, k in enumerate(entries):
        need_bytes = float(instance.block_memory[m])
        have_bytes = float(instance.device_memory[k])
        if need_bytes > have_bytes:
            problems.append(f"C3: block {m} needs {need_bytes:.6g} bytes but device {k} "
                            f"has {have_bytes:.6g} bytes")
    return problems


def p1_latency(instance: Instance, assignment) -> float:
    """P1 round latency (s) of a feasible assignment, the band split equally among the M devices.

    .. math:: T = \\max_m \\big( t_{a_m, m} + D M / (B R_{a_m}) \\big)

    O(M).  The assignment must have passed :func:`check_assignment`.
    """
    M = instance.M
    D, B = float(instance.gradient_bits), float(instance.bandwidth_hz)
    worst_s = -math.inf
    for m, k in enumerate(assignment):
        compute_s = float(instance.compute_latency[k, m])
        upload_s = (D * M) / (B * float(instance.spectral_efficiency[k]))
        worst_s = max(worst_s, compute_s + upload_s)
    return worst_s


def check_bandwidth(instance: Instance, assignment, bandwidth_hz) -> list[str]:
    """Violations of the bandwidth rules by ``bandwidth_hz`` (a K-vector, Hz).

    ``B_k`` finite and ``>= 0`` for every device, ``> 0`` for every device of
    ``assignment``, and ``sum_k B_k <= B (1 + BANDWIDTH_RTOL)``.  O(K + M).

    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0], [1.0]], [1.0], [1.0, 1.0], [1.0, 1.0], 1.0, 2.0)
    >>> check_bandwidth(inst, [0], [2.0, 0.0])
    []
    >>> check_bandwidth(inst, [0], [1.5, 1.0])
    ['bandwidths sum to 2.5 Hz, more than the budget B = 2 Hz']
    """
    K = instance.K
    if bandwidth_hz is None:
        return ["no bandwidths returned"]
    try:
        values = [float(b) for b in bandwidth_hz]
    except (TypeError, ValueError):
        return [f"bandwidths are not a sequence of numbers: {bandwidth_hz!r}"]
    if len(values) != K:
        return [f"bandwidth vector has {len(values)} entries, but there are K = {K} devices"]
    problems = []
    for k, b in enumerate(values):
        if not math.isfinite(b):
            problems.append(f"bandwidth of device {k} is {b!r}, not finite")
        elif b < 0:
            problems.append(f"bandwidth of device {k} is negative: {b!r} Hz")
    for m, k in enumerate(assignment):
        if math.isfinite(values[k]) and values[k] <= 0:
            problems.append(f"device {k} computes block {m} but has bandwidth {values[k]!r} Hz (must be > 0)")
    if problems:
        return problems
    total_hz = 0.0
    for b in values:
        total_hz += b
    budget_hz = float(instance.bandwidth_hz)
    if total_hz > budget_hz * (1.0 + BANDWIDTH_RTOL):
        problems.append(f"bandwidths sum to {total_hz:.10g} Hz, more than the budget B = {budget_hz:.10g} Hz")
    return problems


def p2_latency(instance: Instance, assignment, bandwidth_hz) -> float:
    """P2 round latency (s) of a feasible assignment with the given bandwidths (Hz).

    .. math:: T = \\max_m \\big( t_{a_m, m} + D / (B_{a_m} R_{a_m}) \\big)

    O(M).  The inputs must have passed :func:`check_assignment` and :func:`check_bandwidth`.
    """
    D = float(instance.gradient_bits)
    worst_s = -math.inf
    for m, k in enumerate(assignment):
        compute_s = float(instance.compute_latency[k, m])
        upload_s = D / (float(bandwidth_hz[k]) * float(instance.spectral_efficiency[k]))
        worst_s = max(worst_s, compute_s + upload_s)
    return worst_s


def _index_list(value, size: int, what: str) -> tuple[list[int] | None, str]:
    """``value`` as a list of distinct indices in 0..size-1, or None and what is wrong."""
    if not isinstance(value, list) or not all(_is_index(i) for i in value):
        return None, f"{what} must be a list of indices"
    if any(not 0 <= i < size for i in value):
        return None, f"{what} has an index out of range 0..{size - 1}"
    if len(set(value)) != len(value):
        return None, f"{what} lists an index twice"
    return list(value), ""


def _number_array(value, size: int, what: str) -> tuple[np.ndarray | None, str]:
    """``value`` as a float array of length ``size`` with finite entries, or None and what is wrong."""
    if (not isinstance(value, list) or len(value) != size
            or not all(isinstance(x, numbers.Real) and not isinstance(x, bool) for x in value)):
        return None, f"{what} must be a list of {size} numbers"
    arr = np.array(value, dtype=float)
    if not np.all(np.isfinite(arr)):
        return None, f"{what} has a non-finite entry"
    return arr, ""


def check_hall(instance: Instance, certificate: dict, below_s: float | None = None) -> list[str]:
    """Verify a ``hall`` certificate: its devices are exactly the neighbourhood of its blocks, and fewer.

    A device is a neighbour of block m when ``mu_m <= cap_k`` and, if
    ``below_s`` is given (a P1 optimum), ``t_km + (D M) / (B R_k) < below_s``.
    Comparisons only (exact); O(K |S|).

    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.0, 2.0]], [1.0, 3.0], [2.0, 2.0], [1.0, 1.0], 1.0, 1.0)
    >>> check_hall(inst, {"kind": "hall", "blocks": [1], "devices": []})
    []
    >>> check_hall(inst, {"kind": "hall", "blocks": [0, 1], "devices": [0, 1]})
    ['hall certificate: 2 device(s) for 2 block(s), not fewer']
    """
    K, M = instance.K, instance.M
    blocks, why = _index_list(certificate.get("blocks"), M, "hall certificate: blocks")
    if blocks is None:
        return [why]
    devices, why = _index_list(certificate.get("devices"), K, "hall certificate: devices")
    if devices is None:
        return [why]
    if not blocks:
        return ["hall certificate: no blocks"]
    mu = np.asarray(instance.block_memory, dtype=float)[blocks]
    cap = np.asarray(instance.device_memory, dtype=float)
    near = mu[None, :] <= cap[:, None]                                     # (K, |S|)
    if below_s is not None:
        D, B = float(instance.gradient_bits), float(instance.bandwidth_hz)
        upload_s = (D * M) / (B * np.asarray(instance.spectral_efficiency, dtype=float))
        latency_s = np.asarray(instance.compute_latency, dtype=float)[:, blocks] + upload_s[:, None]
        near &= latency_s < below_s
    neighbours = set(np.flatnonzero(near.any(axis=1)).tolist())
    problems = []
    if neighbours != set(devices):
        missing, extra = sorted(neighbours - set(devices)), sorted(set(devices) - neighbours)
        problems.append(f"hall certificate: devices are not the neighbourhood of its blocks "
                        f"(missing {missing[:5]}, not neighbours {extra[:5]})")
    if len(neighbours) >= len(blocks):
        problems.append(f"hall certificate: {len(neighbours)} device(s) for {len(blocks)} block(s), not fewer")
    return problems


def check_assignment_dual(instance: Instance, certificate: dict, objective_s: float) -> list[str]:
    """Verify an ``assignment-dual`` certificate: no P2 solution is faster than its threshold.

    Checks ``T_low <= T``, ``T - T_low <= CERTIFIED_GAP_RTOL * T``, ``v >= 0``,
    ``u_m - v_k <= D / (R_k (T_low - t_km))`` for every memory-allowed pair
    with ``t_km < T_low``, and ``sum u - sum v >= B``, each with the rounding
    allowance of the module docstring.  O(KM).

    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0]], [1.0], [1.0], [1.0], gradient_bits=1.0, bandwidth_hz=1.0)
    >>> # T* = 1 s + 1 bit / 1 Hz = 2 s; at T_low = 2 (1 - 5e-10) s the device needs 1 / (T_low - 1) Hz
    >>> check_assignment_dual(inst, {"kind": "assignment-dual", "threshold_s": 2.0 * (1 - 5e-10),
    ...                              "u_hz": [1.0 + 5e-10], "v_hz": [0.0]}, 2.0)
    []
    >>> check_assignment_dual(inst, {"kind": "assignment-dual", "threshold_s": 1.9,
    ...                              "u_hz": [1.0], "v_hz": [0.0]}, 2.0)[0][:47]
    'assignment-dual certificate: threshold 1.9 s is'
    """
    K, M = instance.K, instance.M
    c = CERTIFICATE_ROUNDING_RTOL
    low_s = certificate.get("threshold_s")
    if not isinstance(low_s, numbers.Real) or isinstance(low_s, bool) or not math.isfinite(low_s):
        return ["assignment-dual certificate: threshold_s must be a finite number"]
    low_s = float(low_s)
    if not low_s <= objective_s or objective_s - low_s > CERTIFIED_GAP_RTOL * abs(objective_s):
        return [f"assignment-dual certificate: threshold {low_s!r} s is not within {CERTIFIED_GAP_RTOL:g} "
                f"(relative) below the solution's {objective_s!r} s"]
    u, why = _number_array(certificate.get("u_hz"), M, "assignment-dual certificate: u_hz")
    if u is None:
        return [why]
    v, why = _number_array(certificate.get("v_hz"), K, "assignment-dual certificate: v_hz")
    if v is None:
        return [why]
    if np.any(v < 0):
        return [f"assignment-dual certificate: v_hz[{int(np.argmax(v < 0))}] is negative"]
    D, B = float(instance.gradient_bits), float(instance.bandwidth_hz)
    tcp = np.asarray(instance.compute_latency, dtype=float)
    rate = np.asarray(instance.spectral_efficiency, dtype=float)
    pairs = (np.asarray(instance.block_memory, dtype=float)[None, :]
             <= np.asarray(instance.device_memory, dtype=float)[:, None]) & (tcp < low_s)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        need_hz = D / (rate[:, None] * (low_s - tcp))              # least bandwidth to finish by T_low
        lhs = u[None, :] - v[:, None] + c * (np.abs(u)[None, :] + v[:, None])
        broken = pairs & ~(lhs <= need_hz * (1.0 - c))
    if broken.any():
        k, m = (int(i) for i in np.argwhere(broken)[0])
        return [f"assignment-dual certificate: u[{m}] - v[{k}] = {u[m] - v[k]!r} Hz exceeds the "
                f"least bandwidth {need_hz[k, m]!r} Hz of device {k} for block {m} by {low_s!r} s"]
    total_hz = math.fsum(u.tolist() + (-v).tolist())
    allowance_hz = c * (math.fsum(np.abs(u).tolist()) + math.fsum(v.tolist()))
    if not total_hz - allowance_hz >= B:
        return [f"assignment-dual certificate: sum u - sum v = {total_hz!r} Hz is not above "
                f"the band B = {B!r} Hz"]
    return []


def check_certificate(instance: Instance, problem: str, status: Status, certificate,
                      objective_s: float | None) -> list[str]:
    """Violations of the certificate of an ``optimal`` / ``infeasible`` claim (empty when it proves it).

    ``objective_s`` is the latency recomputed by this module from the returned
    solution (for ``optimal``).
    """
    if certificate is None:
        return [f"status {status.value} but no certificate"]
    if not isinstance(certificate, dict):
        return [f"certificate must be an object, got {type(certificate).__name__}"]
    kind = certificate.get("kind")
    if status == Status.INFEASIBLE:
        if kind != "hall":
            return [f"an infeasible claim needs a hall certificate, got kind {kind!r}"]
        return check_hall(instance, certificate)
    if objective_s is None:
        return ["an optimal claim needs a valid solution to certify"]
    if problem == "P1":
        if kind != "hall":
            return [f"a P1 optimum needs a hall certificate, got kind {kind!r}"]
        return check_hall(instance, certificate, below_s=objective_s)
    if kind != "assignment-dual":
        return [f"a P2 optimum needs an assignment-dual certificate, got kind {kind!r}"]
    return check_assignment_dual(instance, certificate, objective_s)


def _finite(value) -> bool:
    return value is not None and math.isfinite(value)


def check_result(instance: Instance, result: Result, problem: str | None = None) -> Check:
    """Check one method's result against the formulation, independently of the method.

    Parameters
    ----------
    instance : Instance
    result : Result
    problem : {"P1", "P2"}, optional
        The problem the result answers (default: ``result.problem``).

    Returns
    -------
    Check
        Violations found, and the recomputed latency when the solution is valid.

    Notes
    -----
    Any returned assignment is checked, whatever the status (a ``time_limit``
    incumbent must be feasible too).  A result claiming ``optimal`` or
    ``feasible`` must carry an assignment and a finite objective.  For P1, any
    returned bandwidths must be the equal split B/M on the involved devices.
    A reported ``bound_s`` must be finite and not above the result's own
    objective (beyond ``BOUND_RTOL``).  An ``optimal`` or ``infeasible``
    claim must carry a certificate that :func:`check_certificate` verifies.
    O(K + M) plus the certificate check (O(KM) at most).

    Examples
    --------
    >>> from instances import Instance
    >>> from solvers.result import Result
    >>> inst = Instance.from_arrays([[1.0], [2.0]], [1.0], [1.0, 1.0], [1.0, 1.0], 1.0, 1.0)
    >>> check_result(inst, Result(solver="x", problem="P2", status="feasible", objective_s=2.0, assignment=(0,), bandwidth_hz=(1.0, 0.0))).ok
    True
    >>> check_result(inst, Result(solver="x", problem="P2", status="feasible", objective_s=1.5, assignment=(0,), bandwidth_hz=(1.0, 0.0))).problems
    ['reported objective 1.5 s but the solution gives 2 s']
    """
    problem = problem or result.problem
    out = Check()
    status = result.status
    has_assignment = result.assignment is not None
    if status in (Status.OPTIMAL, Status.FEASIBLE) and not has_assignment:
        out.problems.append(f"status {status.value} but no assignment returned")
    if status in (Status.INFEASIBLE, Status.ERROR, Status.BOUND, Status.NO_SOLUTION) and has_assignment:
        out.problems.append(f"status {status.value} but an assignment is returned")
    if status == Status.BOUND and not _finite(result.bound_s):
        out.problems.append(f"status bound but the bound is {result.bound_s!r}")
    if result.bound_s is not None and not math.isfinite(result.bound_s):
        out.problems.append(f"lower bound is {result.bound_s!r}, not finite")
    if status == Status.INFEASIBLE:
        out.problems.extend(check_certificate(instance, problem, status, result.certificate, None))
    if not has_assignment:
        return out
    if not _finite(result.objective_s):
        out.problems.append(f"an assignment is returned but the objective is {result.objective_s!r}")
    violations = check_assignment(instance, result.assignment)
    if violations:
        out.problems.extend(violations)
        return out
    assignment = list(result.assignment)
    if problem == "P1":
        if result.bandwidth_hz is not None:
            bad = check_bandwidth(instance, assignment, result.bandwidth_hz)
            share_hz = float(instance.bandwidth_hz) / instance.M
            if not bad:
                for k in sorted(set(assignment)):
                    if not close(float(result.bandwidth_hz[k]), share_hz, BANDWIDTH_RTOL):
                        bad.append(f"P1 gives every involved device B/M = {share_hz:.10g} Hz, "
                                   f"but device {k} has {float(result.bandwidth_hz[k]):.10g} Hz")
            out.problems.extend(bad)
        recomputed_s = p1_latency(instance, assignment)
    elif problem == "P2":
        bad = check_bandwidth(instance, assignment, result.bandwidth_hz)
        if bad:
            out.problems.extend(bad)
            return out
        recomputed_s = p2_latency(instance, assignment, list(result.bandwidth_hz))
    else:
        out.problems.append(f"unknown problem {problem!r}")
        return out
    if not math.isfinite(recomputed_s):   # e.g. a bandwidth so small that D / (B_k R_k) overflows
        out.problems.append(f"the solution's latency is {recomputed_s!r}, not finite")
        return out
    if _finite(result.objective_s) and not close(result.objective_s, recomputed_s, OBJECTIVE_RTOL):
        out.problems.append(f"reported objective {result.objective_s:.10g} s but the solution gives {recomputed_s:.10g} s")
    if (_finite(result.bound_s) and result.bound_s > recomputed_s
            and not close(result.bound_s, recomputed_s, BOUND_RTOL)):
        out.problems.append(f"lower bound {result.bound_s:.10g} s is above its own solution's {recomputed_s:.10g} s")
    if status == Status.OPTIMAL and not out.problems:
        out.problems.extend(check_certificate(instance, problem, status, result.certificate, recomputed_s))
    if not out.problems:
        out.objective_s = recomputed_s
    return out


# --------------------------------------------------------------------------------------
# Command line: check a researcher's own solution
# --------------------------------------------------------------------------------------
SOLUTION_FORMAT = "deft-solution/1"

EXIT_VALID, EXIT_INVALID, EXIT_UNUSABLE = 0, 1, 2


class SolutionError(ValueError):
    """An unusable solution file; the message names the file and the field."""


def load_solution(path: str) -> dict:
    """Read a ``deft-solution/1`` file (see the module docstring); SolutionError if unusable."""
    try:
        with open(path, encoding="utf-8") as stream:
            data = json.load(stream)
    except OSError as exc:
        raise SolutionError(f"{path}: cannot be read: {exc.strerror}") from None
    except (ValueError, RecursionError) as exc:
        raise SolutionError(f"{path}: invalid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise SolutionError(f"{path}: must be a JSON object")
    unknown = sorted(set(data) - {"format", "problem", "assignment", "bandwidth_hz", "objective_s", "solver"})
    if unknown:
        raise SolutionError(f"{path}: field '{unknown[0]}' is not a field of {SOLUTION_FORMAT}")
    if data.get("format", SOLUTION_FORMAT) != SOLUTION_FORMAT:
        raise SolutionError(f"{path}: field 'format' must be {SOLUTION_FORMAT!r}")
    if data.get("problem") not in ("P1", "P2"):
        raise SolutionError(f"{path}: field 'problem' must be \"P1\" or \"P2\", got {data.get('problem')!r}")
    if not isinstance(data.get("assignment"), list):
        raise SolutionError(f"{path}: field 'assignment' must be a list of device indices")
    if data["problem"] == "P2" and not isinstance(data.get("bandwidth_hz"), list):
        raise SolutionError(f"{path}: field 'bandwidth_hz' must be a list of K bandwidths (Hz) for P2")
    objective = data.get("objective_s")
    if objective is not None and (isinstance(objective, bool) or not isinstance(objective, numbers.Real)):
        raise SolutionError(f"{path}: field 'objective_s' must be a number")
    return data


def main(argv: list[str] | None = None, stdout=None, stderr=None) -> int:
    """``python -m validation.check INSTANCE SOLUTION``: validity, latency, certified gap (see module doc)."""
    stdout = sys.stdout if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    parser = argparse.ArgumentParser(
        prog="python -m validation.check",
        description="Check a solution of a DEFT instance independently: feasibility (C1-C3, bandwidth), "
                    "its round latency, and its certified gap to the optimum.",
        epilog=f"solution file ({SOLUTION_FORMAT}): {{\"problem\": \"P1\"|\"P2\", \"assignment\": [...], "
               "\"bandwidth_hz\": [...] (P2), \"objective_s\": optional}; exit status: 0 valid, 1 invalid, "
               "2 unusable input")
    add_version(parser)
    parser.add_argument("instance", metavar="INSTANCE.json")
    parser.add_argument("solution", metavar="SOLUTION.json")
    args = parser.parse_args(argv)
    try:
        instance = load_instance(args.instance)
        data = load_solution(args.solution)
    except (InstanceError, SolutionError) as exc:
        print(str(exc), file=stderr)
        return EXIT_UNUSABLE
    problem, assignment = data["problem"], data["assignment"]
    problems = check_assignment(instance, assignment)
    if not problems and problem == "P2":
        problems = check_bandwidth(instance, assignment, data["bandwidth_hz"])
    latency_s = None
    if not problems:
        latency_s = (p1_latency(instance, assignment) if problem == "P1"
                     else p2_latency(instance, assignment, [float(b) for b in data["bandwidth_hz"]]))
        claimed_s = data.get("objective_s")
        if not math.isfinite(latency_s):
            problems.append(f"the solution's latency is {latency_s!r}, not finite")
        elif claimed_s is not None and not close(float(claimed_s), latency_s, OBJECTIVE_RTOL):
            problems.append(f"objective_s {float(claimed_s):.10g} s but the solution gives {latency_s:.10g} s")
    print(f"instance: {args.instance} (K = {instance.K}, M = {instance.M}), problem {problem}", file=stdout)
    if problems:
        print("solution: INVALID", file=stdout)
        for line in problems:
            print(f"  - {line}", file=stdout)
        return EXIT_INVALID
    print(f"solution: valid, round latency T = {latency_s:.10g} s", file=stdout)
    # the optimum, by the toolkit's fast exact method; its certificate is verified here
    import solvers

    best = solvers.run(problem, "crunch" if problem == "P1" else "exact", instance)
    best_check = check_result(instance, best, problem)
    if best.status != Status.OPTIMAL or not best_check.valid_solution:
        print(f"optimum: not certified ({best.status.value}: {best.message})", file=stdout)
        return EXIT_VALID
    lower_s = (best_check.objective_s if problem == "P1"
               else float(best.certificate["threshold_s"]))
    gap = (latency_s - lower_s) / lower_s if lower_s > 0 else 0.0
    kind = best.certificate["kind"]
    print(f"optimum: T* = {best_check.objective_s:.10g} s (certified lower bound {lower_s:.10g} s, "
          f"{kind} certificate verified)", file=stdout)
    print(f"certified gap: (T - T_low) / T_low <= {max(gap, 0.0):.6e}", file=stdout)
    return EXIT_VALID


__all__ = ["Check", "check_assignment", "check_assignment_dual", "check_bandwidth", "check_certificate",
           "check_hall", "check_result", "load_solution", "main", "p1_latency", "p2_latency"]


if __name__ == "__main__":
    sys.exit(main())
