"""The one result type returned by every method, for P1 and P2 alike."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import Enum

import numpy as np


class Status(str, Enum):
    """What a method can say about its answer."""

    OPTIMAL = "optimal"        #: proven optimal (objective == bound), with a certificate
    FEASIBLE = "feasible"      #: a valid solution, optimality not claimed (heuristics)
    INFEASIBLE = "infeasible"  #: proven: no assignment satisfies C1-C3, with a certificate
    NO_SOLUTION = "no_solution"  #: a heuristic found no solution; says nothing about the instance
    TIME_LIMIT = "time_limit"  #: stopped by the time limit; incumbent and bound if any
    ERROR = "error"            #: the method failed; ``message`` says why
    BOUND = "bound"            #: only a lower bound (relaxations); ``bound_s`` holds it
    UNSUPPORTED = "unsupported"  #: the method does not solve this kind of instance (:mod:`solvers.scope`); says nothing about it

    def __str__(self) -> str:  # print as the plain word
        return self.value


#: The statuses that are proofs about the instance, and so carry a certificate.
CLAIMS = (Status.OPTIMAL, Status.INFEASIBLE)


@dataclass(kw_only=True)
class Result:
    """Outcome of one method on one instance.

    Attributes
    ----------
    solver : str
        Method name as used on the command line (``crunch``, ``milp``, ...).
    problem : str
        ``"P1"`` (equal bandwidth) or ``"P2"`` (joint bandwidth).
    status : Status
    objective_s : float or None
        Round latency of the returned solution, seconds.
    bound_s : float or None
        Proven lower bound on the optimal round latency, seconds, where known.
    seconds : float
        Wall time of the method, seconds.
    assignment : tuple of int or None
        ``assignment[m]`` = device (0-based) computing block m (0-based).
    bandwidth_hz : tuple of float or None
        Uplink bandwidth of every device (length K, 0 for idle devices), Hz.
    message : str
        Human-readable detail (why infeasible, which limit stopped it, ...).
    info : dict
        Method-specific extras (iterations, trace, ...).
    certificate : dict or None
        For ``optimal`` and ``infeasible``: the proof, JSON-ready, that
        :mod:`validation.check` verifies without trusting the method
        (attached by :func:`solvers.certify.attach`; see there for the kinds).
    """

    solver: str
    problem: str
    status: Status
    objective_s: float | None = None
    bound_s: float | None = None
    seconds: float = 0.0
    assignment: tuple[int, ...] | None = None
    bandwidth_hz: tuple[float, ...] | None = None
    message: str = ""
    info: dict = field(default_factory=dict)
    certificate: dict | None = None

    def __post_init__(self) -> None:
        self.status = Status(self.status)
        if self.assignment is not None:
            self.assignment = tuple(map(int, self.assignment))
        if self.bandwidth_hz is not None:
            band = np.asarray(self.bandwidth_hz, dtype=float)
            # tolist() makes the same Python floats ~10x faster than a generator (K = 1e5: 1 ms, not 11)
            self.bandwidth_hz = tuple(band.tolist()) if band.ndim == 1 else tuple(float(b) for b in band)
        for name in ("objective_s", "bound_s"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, float(value))

    @property
    def has_solution(self) -> bool:
        """True when an assignment (and so an objective) is returned."""
        return self.assignment is not None


class Stopwatch:
    """Wall-clock timer with an optional deadline, for honouring ``time_limit``."""

    def __init__(self, time_limit: float | None = None):
        self.start = time.perf_counter()
        self.time_limit = time_limit

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    @property
    def remaining(self) -> float | None:
        return None if self.time_limit is None else max(self.time_limit - self.elapsed, 0.0)

    def expired(self) -> bool:
        return self.time_limit is not None and self.elapsed >= self.time_limit
