"""Independent checker: is a returned solution feasible, and is its latency what was reported?

Written from the formulation (``docs/formulation.md``) with plain Python loops,
deliberately sharing no code with the solvers (not ``p1_objective``,
``p2_objective``, ``Instance.p1_cost``, ``Instance.memory_ok`` or the derived
upload times of :class:`~instances.Instance`): every quantity is computed here
from the raw fields (``compute_latency``, ``block_memory``, ``device_memory``,
``spectral_efficiency``, ``gradient_bits``, ``device_max_blocks``,
``bandwidth_hz``), so that a bug in a solver's own bookkeeping cannot hide
itself.

For K devices, M blocks and an assignment ``a`` (``a[m]`` = device of block m,
0-based), with S_k the blocks of device k, n_k = |S_k|, d_k = max(S_k) its
deepest block, U_k = sum_{m in S_k} D_m its upload (bits) and c_k its most
blocks (``device_max_blocks``, 1 in the paper's model), the checker verifies

.. math::

    (C1)\\;& \\text{exactly one device per block: } a \\text{ has length } M \\\\
    (C2)\\;& a_m \\in \\{0, \\dots, K-1\\},\\quad n_k \\le c_k \\\\
    (C3)\\;& \\mu_{d_k} \\le \\mathrm{cap}_k

and recomputes the round latency, over the devices that hold a block,

.. math::

    T_{P1} = \\max_k \\Big( t_{k, d_k} + \\frac{U_k}{R_k\\, n_k B / M} \\Big), \\qquad
    T_{P2} = \\max_k \\Big( t_{k, d_k} + \\frac{U_k}{B_k R_k} \\Big)

where, for P2, the returned bandwidths must satisfy ``B_k >= 0``, ``B_k > 0``
for every involved device and ``sum_k B_k <= B (1 + BANDWIDTH_RTOL)``; for P1
any returned bandwidths must be ``n_k B / M`` on every involved device.  The
recomputed latency must equal the reported ``objective_s`` to
``OBJECTIVE_RTOL``.  In the paper's model (one D, every c_k = 1) this is
``max_m t_{a_m, m} + D M / (B R_{a_m})`` (P1) and
``max_m t_{a_m, m} + D / (B_{a_m} R_{a_m})`` (P2), evaluated exactly as
before the family existed.  Every function is O(K + M), except the
certificate checks.

Certificates
------------
An ``optimal`` or ``infeasible`` result must carry a certificate (made by
:mod:`solvers.certify`; the kinds are defined there) where one is *defined*
(:func:`defined_certificate`), verified here from the instance data alone:

* ``hall`` (``{"blocks": S, "devices": N}``): N is exactly the set of devices
  that may take some block of S -- memory allowed, and for a P1 optimum also
  a pair cost ``t_km + (D_m M) / (B R_k)`` *strictly below* the recomputed
  objective -- and their capacity ``sum_{k in N} c_k`` is less than ``|S|``
  (``|N| < |S|`` in the paper's model).  Comparisons only: exact.
* ``assignment-dual`` (``{"threshold_s": T_low, "u_hz": u, "v_hz": v}``, P2
  optimum, one block per device): ``T - T_low <= CERTIFIED_GAP_RTOL * T``,
  ``v >= 0`` and, for every memory-allowed pair with ``t_km < T_low``,
  ``u_m - v_k <= D_m / (R_k (T_low - t_km))``, and ``sum u - sum v >= B``.
  Each inequality is checked with both sides moved against it by
  ``CERTIFICATE_ROUNDING_RTOL`` of the magnitudes involved, far more than the
  rounding of the few floating-point operations, so a verified inequality
  holds exactly (sums by :func:`math.fsum`, correctly rounded).

Which kind proves which claim (G1: per-block gradient sizes, G2: devices that
take several blocks):

=============  ===================  ===================  ===================  ===================
claim          paper model          G1                   G2                   G1 + G2
=============  ===================  ===================  ===================  ===================
infeasible     ``hall``             ``hall``             ``hall``, capacity   ``hall``, capacity
P1 optimal     ``hall``             ``hall``, D_m cost   ``hall``, capacity   none defined
P2 optimal     ``assignment-dual``  ``assignment-dual``  none defined         none defined
=============  ===================  ===================  ===================  ===================

Where none is defined, an ``optimal`` claim carries no certificate; the
checker then verifies the solution and its latency, and records in
:attr:`Check.notes` that the optimality is not proven (it rests on the method;
see ``docs/certificates.md``).  A certificate attached there anyway is refused.

The P1 latency is evaluated as ``t + (D_m * M) / (B * R_k)``, operation by
operation as written, so that the threshold of a ``hall`` certificate and the
latency of the solution are the same floating-point number.  Under G2 a device
whose blocks all have one size D has the P1 latency ``t_{k,d_k} + (D * M) /
(B * R_k)`` (n_k D bits at n_k B / M Hz), which is the largest cost of its
pairs: t grows with the depth, and rounding is monotone.

Command line::

    python -m validation.check INSTANCE.json SOLUTION.json

prints whether the solution is valid, its recomputed latency and its
certified gap to the optimum (computed by the toolkit's fast exact method for
the instance, whose certificate is verified here; where no certificate is
defined, the gap to that method's optimum, marked as not certified); exit 0
valid, 1 invalid, 2 unusable input.  The instance may be ``deft-instance/1``
or ``deft-instance/2``.  The solution file (``deft-solution/1``)::

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

The family: device 0 may take both blocks (G2), whose gradients differ (G1):

>>> fam = Instance.from_arrays([[1.0, 2.0], [1.5, 1.5]], [1.0, 2.0], [4.0, 4.0], [1.0, 2.0],
...     gradient_bits=[1.0, 3.0], bandwidth_hz=2.0, device_max_blocks=[2, 1])
>>> check_assignment(fam, [0, 0]), check_assignment(fam, [1, 1])
([], ['C2: device 1 holds 2 blocks (0, 1) but takes at most 1 (device_max_blocks)'])
>>> p1_latency(fam, [0, 0])       # 2 + (1 + 3) bits / (1 bit/s/Hz * 2 * 2 Hz / 2), by hand
4.0
>>> p2_latency(fam, [0, 0], [2.0, 0.0])   # 2 + 4 bits / (2 Hz * 1 bit/s/Hz)
4.0
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


#: What each generalisation of the paper's model means, for messages (written again here, not
#: imported: the checker shares no code with the methods).
FEATURE_TEXT = {"G1": "per-block gradient sizes (G1)", "G2": "devices that take several blocks (G2)"}


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
    notes : list of str
        Remarks that are not violations: an ``optimal`` claim on a problem for
        which no certificate is defined is valid but not proven
        (:func:`defined_certificate`), and says so here.
    """

    problems: list[str] = field(default_factory=list)
    objective_s: float | None = None
    notes: list[str] = field(default_factory=list)

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


# --------------------------------------------------------------------------------------
# The family, from the raw fields
# --------------------------------------------------------------------------------------
def _block_bits(instance: Instance) -> list[float]:
    """D_m of every block (bits), from the raw field ``gradient_bits`` (one number, or M numbers)."""
    bits = instance.gradient_bits
    if isinstance(bits, numbers.Real):
        return [float(bits)] * instance.M
    return [float(x) for x in np.asarray(bits, dtype=float).tolist()]


def _max_blocks(instance: Instance) -> list[int]:
    """c_k of every device, from the raw field ``device_max_blocks`` (all 1 when absent)."""
    most = getattr(instance, "device_max_blocks", None)
    if most is None:
        return [1] * instance.K
    return [int(c) for c in np.asarray(most).tolist()]


def family_features(instance: Instance) -> frozenset:
    """The generalisations ``instance`` uses, read from its raw fields: a subset of ``{"G1", "G2"}``.

    ``G1`` when two blocks' gradient sizes D_m differ, ``G2`` when some c_k is not 1.
    Empty: the paper's model.  O(K + M).

    >>> from instances import Instance
    >>> sorted(family_features(Instance.from_arrays([[1.0, 1.0]], [1.0, 1.0], [1.0], [1.0], [1.0, 2.0], 1.0,
    ...                                             device_max_blocks=[2])))
    ['G1', 'G2']
    """
    bits = _block_bits(instance)
    used = set()
    if any(b != bits[0] for b in bits):
        used.add("G1")
    if any(c != 1 for c in _max_blocks(instance)):
        used.add("G2")
    return frozenset(used)


def _features_text(features) -> str:
    return " and ".join(FEATURE_TEXT[f] for f in sorted(features))


def defined_certificate(instance: Instance, problem: str, status) -> tuple[str | None, str]:
    """The certificate kind that proves an ``optimal`` / ``infeasible`` claim, or None and for what none is defined.

    Returns ``(kind, "")``, or ``(None, what)`` with ``what`` naming the
    problem and the features (e.g. ``"P2 with devices that take several
    blocks (G2)"``):

    * infeasible: ``hall`` always (with capacities under G2);
    * P1 optimal: ``hall``, except under G1 and G2 together (a device's
      latency is then no function of its pairs);
    * P2 optimal: ``assignment-dual``, except under G2 (a device's bandwidth
      need is then no sum of per-pair weights).

    >>> from instances import Instance
    >>> g2 = Instance.from_arrays([[1.0, 1.0]], [1.0, 1.0], [1.0], [1.0], 1.0, 1.0, device_max_blocks=[2])
    >>> defined_certificate(g2, "P1", "optimal"), defined_certificate(g2, "P2", "optimal")
    (('hall', ''), (None, 'P2 with devices that take several blocks (G2)'))
    """
    if Status(status) == Status.INFEASIBLE:
        return "hall", ""
    features = family_features(instance)
    if problem == "P1":
        if {"G1", "G2"} <= features:
            return None, f"P1 with {_features_text(features)}"
        return "hall", ""
    if "G2" in features:
        return None, f"{problem} with {_features_text(features)}"
    return "assignment-dual", ""


def _blocks_of(assignment) -> dict[int, list[int]]:
    """{device: its blocks, shallowest first}, devices in the order they first appear."""
    held: dict[int, list[int]] = {}
    for m, k in enumerate(assignment):
        held.setdefault(int(k), []).append(m)
    return held


def _list_text(blocks: list[int], most: int = 8) -> str:
    shown = ", ".join(str(m) for m in blocks[:most])
    return f"({shown}{', ...' if len(blocks) > most else ''})"


# --------------------------------------------------------------------------------------
# Solutions
# --------------------------------------------------------------------------------------
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
    C2: device k holds at most c_k blocks (``device_max_blocks``; one in the
    paper's model).  C3: the memory need of the device's deepest block fits
    (with one block per device: that block's).  O(K + M) time.
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
    most = _max_blocks(instance)
    if all(c == 1 for c in most):          # the paper's C2 and C3, pair by pair
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
    held = sorted(_blocks_of(entries).items())
    for k, blocks in held:
        if len(blocks) > most[k]:
            problems.append(f"C2: device {k} holds {len(blocks)} blocks {_list_text(blocks)} but takes at most "
                            f"{most[k]} (device_max_blocks)")
    for k, blocks in held:
        deepest = max(blocks)
        need_bytes = float(instance.block_memory[deepest])
        have_bytes = float(instance.device_memory[k])
        if need_bytes > have_bytes:
            if len(blocks) == 1:
                problems.append(f"C3: block {deepest} needs {need_bytes:.6g} bytes but device {k} "
                                f"has {have_bytes:.6g} bytes")
            else:
                problems.append(f"C3: device {k} holds blocks {_list_text(blocks)} and needs the memory of its "
                                f"deepest, block {deepest}: {need_bytes:.6g} bytes, but has {have_bytes:.6g} bytes")
    return problems


def p1_latency(instance: Instance, assignment) -> float:
    """P1 round latency (s) of a feasible assignment, each device given n_k B / M for its n_k blocks.

    .. math:: T = \\max_k \\big( t_{k, d_k} + U_k / (R_k\\, n_k B / M) \\big)

    computed as ``t + (D_bar * M) / (B * R_k)`` with ``D_bar = U_k / n_k`` the
    mean size of the device's blocks; when they all have one size D, D_bar is
    D itself (no rounding), so in the paper's model this is
    ``max_m t_{a_m,m} + (D * M) / (B * R_{a_m})`` exactly as before, and under
    G2 with one size each device's latency is its largest pair cost.
    O(M).  The assignment must have passed :func:`check_assignment`.
    """
    M = instance.M
    B = float(instance.bandwidth_hz)
    bits = _block_bits(instance)
    worst_s = -math.inf
    for k, blocks in _blocks_of(assignment).items():
        sizes = [bits[m] for m in blocks]
        if all(x == sizes[0] for x in sizes):
            share_bits = sizes[0]                       # n_k D bits at n_k B / M Hz: D M / (B R_k)
        else:
            share_bits = math.fsum(sizes) / len(sizes)  # U_k / (R_k n_k B / M) = (U_k / n_k) M / (B R_k)
        compute_s = float(instance.compute_latency[k, max(blocks)])
        upload_s = (share_bits * M) / (B * float(instance.spectral_efficiency[k]))
        worst_s = max(worst_s, compute_s + upload_s)
    return worst_s


def check_bandwidth(instance: Instance, assignment, bandwidth_hz, problem: str = "P2") -> list[str]:
    """Violations of the bandwidth rules by ``bandwidth_hz`` (a K-vector, Hz).

    ``B_k`` finite and ``>= 0`` for every device, ``> 0`` for every device of
    ``assignment``, and ``sum_k B_k <= B (1 + BANDWIDTH_RTOL)``.  For
    ``problem="P1"`` also the equal split: every involved device has
    ``n_k B / M`` (B/M in the paper's model) to ``BANDWIDTH_RTOL``.  O(K + M).

    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0], [1.0]], [1.0], [1.0, 1.0], [1.0, 1.0], 1.0, 2.0)
    >>> check_bandwidth(inst, [0], [2.0, 0.0])
    []
    >>> check_bandwidth(inst, [0], [1.5, 1.0])
    ['bandwidths sum to 2.5 Hz, more than the budget B = 2 Hz']
    >>> fam = Instance.from_arrays([[1.0, 1.0]] * 2, [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], 1.0, 2.0,
    ...                            device_max_blocks=[2, 1])
    >>> check_bandwidth(fam, [0, 0], [1.0, 1.0], problem="P1")
    ['P1 gives device 0, which holds 2 blocks, 2 B/M = 2 Hz, but it has 1 Hz']
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
    named = set()
    for m, k in enumerate(assignment):
        if math.isfinite(values[k]) and values[k] <= 0 and k not in named:
            named.add(k)
            problems.append(f"device {k} computes block {m} but has bandwidth {values[k]!r} Hz (must be > 0)")
    if problems:
        return problems
    total_hz = 0.0
    for b in values:
        total_hz += b
    budget_hz = float(instance.bandwidth_hz)
    if total_hz > budget_hz * (1.0 + BANDWIDTH_RTOL):
        problems.append(f"bandwidths sum to {total_hz:.10g} Hz, more than the budget B = {budget_hz:.10g} Hz")
    if problem == "P1" and not problems:
        M = instance.M
        for k, blocks in sorted(_blocks_of(assignment).items()):
            n = len(blocks)
            share_hz = n * budget_hz / M           # n = 1: B / M, exactly
            if not close(values[k], share_hz, BANDWIDTH_RTOL):
                if n == 1:
                    problems.append(f"P1 gives every involved device B/M = {share_hz:.10g} Hz, "
                                    f"but device {k} has {values[k]:.10g} Hz")
                else:
                    problems.append(f"P1 gives device {k}, which holds {n} blocks, {n} B/M = {share_hz:.10g} Hz, "
                                    f"but it has {values[k]:.10g} Hz")
    return problems


def p2_latency(instance: Instance, assignment, bandwidth_hz) -> float:
    """P2 round latency (s) of a feasible assignment with the given bandwidths (Hz).

    .. math:: T = \\max_k \\big( t_{k, d_k} + U_k / (B_k R_k) \\big), \\qquad U_k = \\textstyle\\sum_{m \\in S_k} D_m

    (``max_m t_{a_m, m} + D / (B_{a_m} R_{a_m})`` in the paper's model, as
    before; U_k by :func:`math.fsum`, exact for one block).  O(M).  The inputs
    must have passed :func:`check_assignment` and :func:`check_bandwidth`.
    """
    bits = _block_bits(instance)
    worst_s = -math.inf
    for k, blocks in _blocks_of(assignment).items():
        upload_bits = math.fsum(bits[m] for m in blocks)
        compute_s = float(instance.compute_latency[k, max(blocks)])
        upload_s = upload_bits / (float(bandwidth_hz[k]) * float(instance.spectral_efficiency[k]))
        worst_s = max(worst_s, compute_s + upload_s)
    return worst_s


# --------------------------------------------------------------------------------------
# Certificates
# --------------------------------------------------------------------------------------
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
    """Verify a ``hall`` certificate: its devices are exactly the neighbourhood of its blocks, and take fewer.

    A device is a neighbour of block m when ``mu_m <= cap_k`` and, if
    ``below_s`` is given (a P1 optimum), ``t_km + (D_m M) / (B R_k) < below_s``.
    The neighbours must take fewer than ``|S|`` blocks in all:
    ``sum_{k in N} c_k < |S|`` (``|N| < |S|`` in the paper's model), so no
    assignment gives every block of S a device (Hall's theorem, for
    b-matchings under G2).  Comparisons and integer sums only (exact); O(K |S|).

    Why this proves the claims under G2: a device that holds S_k must fit its
    deepest block, hence (``mu`` non-decreasing) every block of S_k, and for
    P1 with one gradient size its latency is its largest pair cost (``t``
    non-decreasing, rounding monotone); so any assignment (faster than
    ``below_s``) uses only neighbour pairs, at most c_k per device.  Both
    orders are therefore checked here under G2.  Under G1 and G2 together no
    P1 certificate is defined (refused).

    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.0, 2.0]], [1.0, 3.0], [2.0, 2.0], [1.0, 1.0], 1.0, 1.0)
    >>> check_hall(inst, {"kind": "hall", "blocks": [1], "devices": []})
    []
    >>> check_hall(inst, {"kind": "hall", "blocks": [0, 1], "devices": [0, 1]})
    ['hall certificate: 2 device(s) for 2 block(s), not fewer']
    >>> g2 = Instance.from_arrays([[1.0, 2.0, 2.0]] * 2, [1.0, 1.0, 1.0], [2.0, 2.0], [1.0, 1.0], 1.0, 1.0,
    ...                           device_max_blocks=[1, 2])
    >>> check_hall(g2, {"kind": "hall", "blocks": [0, 1, 2], "devices": [0, 1]})
    ['hall certificate: its 2 device(s) take up to 3 block(s) in all (device_max_blocks), for 3 block(s): not fewer']
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
    most = _max_blocks(instance)
    several = any(c != 1 for c in most)
    mu_all = np.asarray(instance.block_memory, dtype=float)
    tcp = np.asarray(instance.compute_latency, dtype=float)
    if several:
        if not np.all(mu_all[1:] >= mu_all[:-1]):
            return ["hall certificate: with devices that take several blocks (G2) it needs block_memory "
                    "non-decreasing in the depth, which it is not"]
        if below_s is not None:
            if "G1" in family_features(instance):
                return ["hall certificate: none is defined for a P1 optimum with per-block gradient sizes (G1) and "
                        "devices that take several blocks (G2)"]
            if not np.all(tcp[:, 1:] >= tcp[:, :-1]):
                return ["hall certificate: with devices that take several blocks (G2) it needs compute_latency "
                        "non-decreasing along every row, which it is not"]
    mu = mu_all[blocks]
    cap = np.asarray(instance.device_memory, dtype=float)
    near = mu[None, :] <= cap[:, None]                                     # (K, |S|)
    if below_s is not None:
        B = float(instance.bandwidth_hz)
        bits = np.array(_block_bits(instance), dtype=float)[blocks]
        rate = np.asarray(instance.spectral_efficiency, dtype=float)
        upload_s = (bits[None, :] * M) / (B * rate[:, None])              # (D_m * M) / (B * R_k), as in p1_latency
        latency_s = tcp[:, blocks] + upload_s
        near &= latency_s < below_s
    neighbours = set(np.flatnonzero(near.any(axis=1)).tolist())
    problems = []
    if neighbours != set(devices):
        missing, extra = sorted(neighbours - set(devices)), sorted(set(devices) - neighbours)
        problems.append(f"hall certificate: devices are not the neighbourhood of its blocks "
                        f"(missing {missing[:5]}, not neighbours {extra[:5]})")
    if not several:
        if len(neighbours) >= len(blocks):
            problems.append(f"hall certificate: {len(neighbours)} device(s) for {len(blocks)} block(s), not fewer")
    else:
        capacity = sum(most[k] for k in neighbours)
        if capacity >= len(blocks):
            problems.append(f"hall certificate: its {len(neighbours)} device(s) take up to {capacity} block(s) in all "
                            f"(device_max_blocks), for {len(blocks)} block(s): not fewer")
    return problems


def check_assignment_dual(instance: Instance, certificate: dict, objective_s: float) -> list[str]:
    """Verify an ``assignment-dual`` certificate: no P2 solution is faster than its threshold.

    Checks ``T_low <= T``, ``T - T_low <= CERTIFIED_GAP_RTOL * T``, ``v >= 0``,
    ``u_m - v_k <= D_m / (R_k (T_low - t_km))`` for every memory-allowed pair
    with ``t_km < T_low``, and ``sum u - sum v >= B``, each with the rounding
    allowance of the module docstring.  Defined with one block per device
    (the paper's model and G1); refused under G2.  O(KM).

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
    if any(k != 1 for k in _max_blocks(instance)):
        return ["assignment-dual certificate: none is defined with devices that take several blocks (G2)"]
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
    B = float(instance.bandwidth_hz)
    bits = np.array(_block_bits(instance), dtype=float)
    tcp = np.asarray(instance.compute_latency, dtype=float)
    rate = np.asarray(instance.spectral_efficiency, dtype=float)
    pairs = (np.asarray(instance.block_memory, dtype=float)[None, :]
             <= np.asarray(instance.device_memory, dtype=float)[:, None]) & (tcp < low_s)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        need_hz = bits[None, :] / (rate[:, None] * (low_s - tcp))  # least bandwidth to finish by T_low
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
    solution (for ``optimal``).  Where no certificate is defined
    (:func:`defined_certificate`) nothing proves the claim: a missing
    certificate is reported with the reason, and an attached one is refused
    (:func:`check_result` accepts such an ``optimal`` claim unproven, with a
    note).
    """
    status = Status(status)
    kind_needed, what = defined_certificate(instance, problem, status)
    if certificate is None:
        if kind_needed is None:
            return [f"status {status.value} but no certificate (none is defined for {what})"]
        return [f"status {status.value} but no certificate"]
    if not isinstance(certificate, dict):
        return [f"certificate must be an object, got {type(certificate).__name__}"]
    kind = certificate.get("kind")
    if kind_needed is None:
        return [f"no certificate is defined for an optimum of {what}, but the claim carries one of kind {kind!r}"]
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
    returned bandwidths must be the equal split ``n_k B / M`` on the involved
    devices.  A reported ``bound_s`` must be finite and not above the result's
    own objective (beyond ``BOUND_RTOL``).  An ``optimal`` or ``infeasible``
    claim must carry a certificate that :func:`check_certificate` verifies;
    where none is defined (:func:`defined_certificate`), an ``optimal`` claim
    without one is accepted as a valid solution, *not* proven, and
    :attr:`Check.notes` says so.  O(K + M) plus the certificate check (O(KM)
    at most).

    Examples
    --------
    >>> from instances import Instance
    >>> from solvers.result import Result
    >>> inst = Instance.from_arrays([[1.0], [2.0]], [1.0], [1.0, 1.0], [1.0, 1.0], 1.0, 1.0)
    >>> check_result(inst, Result(solver="x", problem="P2", status="feasible", objective_s=2.0, assignment=(0,), bandwidth_hz=(1.0, 0.0))).ok
    True
    >>> check_result(inst, Result(solver="x", problem="P2", status="feasible", objective_s=1.5, assignment=(0,), bandwidth_hz=(1.0, 0.0))).problems
    ['reported objective 1.5 s but the solution gives 2 s']
    >>> g2 = Instance.from_arrays([[1.0, 2.0]], [1.0, 1.0], [1.0], [1.0], 1.0, 1.0, device_max_blocks=[2])
    >>> verdict = check_result(g2, Result(solver="x", problem="P2", status="optimal", objective_s=4.0,
    ...                                   assignment=(0, 0), bandwidth_hz=(1.0,)))   # 2 s + 2 bits / 1 Hz
    >>> verdict.ok, verdict.objective_s, verdict.notes
    (True, 4.0, ['optimal claim not proven: no certificate is defined for P2 with devices that take several blocks (G2); it rests on the method'])
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
            out.problems.extend(check_bandwidth(instance, assignment, result.bandwidth_hz, problem="P1"))
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
        kind_needed, what = defined_certificate(instance, problem, status)
        if kind_needed is None and result.certificate is None:
            out.notes.append(f"optimal claim not proven: no certificate is defined for {what}; it rests on the method")
        else:
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
    features = family_features(instance)
    shape = f"K = {instance.K}, M = {instance.M}" + (f", {' + '.join(sorted(features))}" if features else "")
    print(f"instance: {args.instance} ({shape}), problem {problem}", file=stdout)
    if problems:
        print("solution: INVALID", file=stdout)
        for line in problems:
            print(f"  - {line}", file=stdout)
        return EXIT_INVALID
    print(f"solution: valid, round latency T = {latency_s:.10g} s", file=stdout)
    # the optimum, by the toolkit's fast exact method for the instance; its certificate is verified here
    import solvers

    best = _optimum(solvers, problem, instance)
    if best is None:
        print(f"optimum: not computed (no registered exact method solves {problem} on instances with "
              f"{_features_text(family_features(instance))})", file=stdout)
        return EXIT_VALID
    best_check = check_result(instance, best, problem)
    if best.status != Status.OPTIMAL or not best_check.valid_solution:
        print(f"optimum: not certified ({best.status.value}: {best.message})", file=stdout)
        return EXIT_VALID
    if best.certificate is None:          # none defined (check_result accepted it): the method's word only
        _, what = defined_certificate(instance, problem, Status.OPTIMAL)
        optimum_s = best_check.objective_s
        gap = (latency_s - optimum_s) / optimum_s if optimum_s > 0 else 0.0
        print(f"optimum: T* = {optimum_s:.10g} s by {best.solver}, not certified (no certificate is defined "
              f"for {what}; it rests on the method)", file=stdout)
        print(f"gap to that optimum, not certified: (T - T*) / T* = {max(gap, 0.0):.6e}", file=stdout)
        return EXIT_VALID
    lower_s = (best_check.objective_s if problem == "P1"
               else float(best.certificate["threshold_s"]))
    gap = (latency_s - lower_s) / lower_s if lower_s > 0 else 0.0
    kind = best.certificate["kind"]
    print(f"optimum: T* = {best_check.objective_s:.10g} s (certified lower bound {lower_s:.10g} s, "
          f"{kind} certificate verified)", file=stdout)
    print(f"certified gap: (T - T_low) / T_low <= {max(gap, 0.0):.6e}", file=stdout)
    return EXIT_VALID


#: Exact methods tried for the command line's optimum, fastest first (then any other exact method).
PREFERRED_EXACT = {"P1": ("crunch", "linear-search", "hungarian-search", "crunch-literal", "milp"),
                   "P2": ("exact", "milp", "minlp")}


def _optimum(solvers, problem: str, instance: Instance) -> Result | None:
    """The certified (or, where none is defined, claimed) optimum by the first exact method that solves
    ``instance`` (:data:`PREFERRED_EXACT`), or None when no registered exact method does.

    A method that declares the instance's features may still refuse it when it runs (status
    ``unsupported``, e.g. CRUNCH on block sizes that decrease with depth): the next one is tried.
    """
    from solvers.scope import missing_features

    exact = solvers.EXACT.get(problem, set())
    names = [n for n in PREFERRED_EXACT.get(problem, ()) if n in exact]
    names += sorted(set(exact) - set(names))
    for name in names:
        method = solvers.REGISTRY.get((problem, name))
        if method is None or missing_features(method, instance):
            continue
        result = solvers.run(problem, name, instance)
        if result.status != Status.UNSUPPORTED:
            return result
    return None


__all__ = ["Check", "check_assignment", "check_assignment_dual", "check_bandwidth", "check_certificate",
           "check_hall", "check_result", "defined_certificate", "family_features", "load_solution", "main",
           "p1_latency", "p2_latency"]


if __name__ == "__main__":
    sys.exit(main())
