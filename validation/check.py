"""Independent checker: is a returned solution feasible, and is its latency what was reported?

Written from the formulation (``docs``/FORMULATION.md) with plain Python loops,
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
``OBJECTIVE_RTOL``.  Every function is O(K + M).

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

import math
import numbers
from dataclasses import dataclass, field

from instances import Instance
from solvers.result import Result, Status
from solvers.tolerances import BANDWIDTH_RTOL, BOUND_RTOL, OBJECTIVE_RTOL, close


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
        upload_s = D / ((B / M) * float(instance.spectral_efficiency[k]))
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
    objective (beyond ``BOUND_RTOL``).  O(K + M).

    Examples
    --------
    >>> from instances import Instance
    >>> from solvers.result import Result
    >>> inst = Instance.from_arrays([[1.0], [2.0]], [1.0], [1.0, 1.0], [1.0, 1.0], 1.0, 1.0)
    >>> check_result(inst, Result("x", "P2", "feasible", 2.0, None, 0.0, (0,), (1.0, 0.0))).ok
    True
    >>> check_result(inst, Result("x", "P2", "feasible", 1.5, None, 0.0, (0,), (1.0, 0.0))).problems
    ['reported objective 1.5 s but the solution gives 2 s']
    """
    problem = problem or result.problem
    out = Check()
    status = result.status
    has_assignment = result.assignment is not None
    if status in (Status.OPTIMAL, Status.FEASIBLE) and not has_assignment:
        out.problems.append(f"status {status.value} but no assignment returned")
    if status in (Status.INFEASIBLE, Status.ERROR, Status.BOUND) and has_assignment:
        out.problems.append(f"status {status.value} but an assignment is returned")
    if status == Status.BOUND and not _finite(result.bound_s):
        out.problems.append(f"status bound but the bound is {result.bound_s!r}")
    if result.bound_s is not None and not math.isfinite(result.bound_s):
        out.problems.append(f"lower bound is {result.bound_s!r}, not finite")
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
    if not out.problems:
        out.objective_s = recomputed_s
    return out


__all__ = ["Check", "check_assignment", "check_bandwidth", "check_result", "p1_latency", "p2_latency"]
