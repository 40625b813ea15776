"""The harness's row: one method on one instance for one problem, as written to CSV and JSON.

This module is the one home of the row schema (:data:`ROW_FIELDS`); the
harness (:mod:`validation.sweep`), its writers (:mod:`validation.writers`)
and the reports (:mod:`validation.report`) all read and write rows through it.

==============  =============================================================
key             value
==============  =============================================================
``instance``    the instance's file (or name)
``problem``     ``"P1"`` or ``"P2"`` (``"-"`` for an unusable input)
``solver``      the method's name (``"-"`` for an unusable input)
``status``      one of :class:`solvers.result.Status`
``objective_s`` round latency of the returned solution, s (null if none)
``bound_s``     a lower bound on the optimum, s (null if none)
``gap``         ``(T - T*) / T*`` against the proven optimum (null if none)
``seconds``     wall time of the method, s
``assignment``  device of each block, 0-based (null if none)
``bandwidth_hz`` bandwidth of each device, Hz (null if none)
``message``     what the method (or the harness) says
``certified``   for ``optimal`` / ``infeasible``: a certificate is attached
                (null for the other statuses)
``certificate`` the certificate (see :mod:`solvers.certify`), or null
==============  =============================================================
"""
from __future__ import annotations

import math

from solvers.result import CLAIMS, Result, Status

#: Keys of one output row, in column order.
ROW_FIELDS = ("instance", "problem", "solver", "status", "objective_s", "bound_s", "gap",
              "seconds", "assignment", "bandwidth_hz", "message", "certified", "certificate")

#: Row fields that hold lists or objects (written as JSON text in CSV).
JSON_FIELDS = ("assignment", "bandwidth_hz", "certificate")

#: Every status, in :class:`~solvers.result.Status` order.
STATUSES = tuple(s.value for s in Status)


def result_row(label: str, problem: str, solver: str, result: Result, gap: float | None) -> dict:
    """The row of one result (keys :data:`ROW_FIELDS`).

    >>> from solvers.result import Result
    >>> row = result_row("a.json", "P1", "x", Result(solver="x", problem="P1", status="feasible", objective_s=2.0, seconds=0.1, assignment=(0,), bandwidth_hz=(1.0,)), 0.5)
    >>> [row[k] for k in ("status", "objective_s", "gap", "assignment", "certified")]
    ['feasible', 2.0, 0.5, [0], None]
    """
    r = result
    return {
        "instance": label,
        "problem": problem,
        "solver": solver,
        "status": r.status.value,
        "objective_s": r.objective_s,
        "bound_s": r.bound_s,
        "gap": gap,
        "seconds": r.seconds,
        "assignment": list(r.assignment) if r.assignment is not None else None,
        "bandwidth_hz": list(r.bandwidth_hz) if r.bandwidth_hz is not None else None,
        "message": r.message,
        "certified": None if r.status not in CLAIMS else r.certificate is not None,
        "certificate": r.certificate,
    }


def unusable_row(label: str, message: str) -> dict:
    """The row of an unusable input (problem and solver ``"-"``, status ``error``)."""
    row = dict.fromkeys(ROW_FIELDS)
    row.update(instance=label, problem="-", solver="-", status=Status.ERROR.value, message=message)
    return row


def sanitize(value):
    """Non-finite floats -> None, recursively (JSON has no NaN or Infinity); numpy scalars -> Python.

    >>> sanitize({"a": [1.0, float("inf")], "b": float("nan")})
    {'a': [1.0, None], 'b': None}
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: sanitize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [sanitize(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):   # numpy scalars
        return sanitize(value.item())
    return value
