"""Methods for P1 (BA) and P2 (JBBA), all returning :class:`solvers.result.Result`.

``REGISTRY[(problem, name)]`` maps the command-line names to functions
``f(instance, time_limit=None) -> Result``.  ``EXACT`` lists the methods that
claim optimality (cross-checked against each other by the harness) and
``BOUNDS`` those that only give a lower bound; ``PLUGINS`` the researchers'
own methods (:mod:`solvers.plugins`, :func:`use_plugin`).
"""
from __future__ import annotations

from typing import Callable

from instances import Instance

from . import benchmarks, p1
from . import plugins as _plugins
from .result import Result, Status
from .scope import refusal_reason

SolverFn = Callable[..., Result]

REGISTRY: dict[tuple[str, str], SolverFn] = {
    ("P1", "crunch"): p1.crunch,
    ("P1", "crunch-literal"): p1.crunch_literal,
    ("P1", "crunch-capacity"): p1.crunch_capacity,
    ("P1", "linear-search"): p1.linear_search,
    ("P1", "hungarian-search"): p1.hungarian_search,
    ("P1", "milp"): p1.milp,
    ("P1", "compute-aware"): benchmarks.compute_aware,
    ("P1", "comm-aware"): benchmarks.comm_aware,
}

EXACT: dict[str, set[str]] = {"P1": {"crunch", "crunch-literal", "crunch-capacity", "linear-search",
                                     "hungarian-search", "milp"},
                              "P2": set()}
BOUNDS: dict[str, set[str]] = {"P1": set(), "P2": set()}

from .p2 import register as _register_p2  # noqa: E402 - the P2 methods join the registry

_register_p2(REGISTRY, EXACT["P2"], BOUNDS["P2"])

PROBLEMS = ("P1", "P2")

#: Methods added by installed packages (entry-point group ``deft_matching.solvers``, see
#: :mod:`solvers.plugins`), and by :func:`use_plugin`: never exact, their claims are certified.
PLUGINS: set[tuple[str, str]] = set(_plugins.register_entry_points(REGISTRY))


def use_plugin(spec: str) -> list[tuple[str, str]]:
    """Register the plugin ``module:function`` (once) for the problems it solves; its registry keys.

    A plugin that cannot be imported is registered too, as a method that only
    errs with the reason (:func:`solvers.plugins.register`).
    """
    keys = [key for key in REGISTRY if key[1] == spec]
    if not keys:
        keys = _plugins.register(REGISTRY, spec)
        PLUGINS.update(keys)
    return keys


def solvers_for(problem: str) -> list[str]:
    """Names of the methods registered for ``problem``, in registration order."""
    return [name for (p, name) in REGISTRY if p == problem]


def run(problem: str, name: str, instance: Instance, time_limit: float | None = None,
        certify: bool = True) -> Result:
    """Run one method; any exception becomes a ``status=error`` result naming it.

    With ``certify`` (the default) an ``optimal`` or ``infeasible`` claim gets
    its certificate (:func:`solvers.certify.attach`), or is withdrawn.
    """
    from .certify import attach
    from .result import Stopwatch

    sw = Stopwatch()
    try:   # a method refuses what it does not solve itself (solvers.scope): status unsupported
        result = REGISTRY[(problem, name)](instance, time_limit=time_limit)
    except Exception as exc:  # one failing method never stops the others
        return Result(solver=name, problem=problem, status=Status.ERROR, seconds=sw.elapsed,
                      message=f"{type(exc).__name__}: {exc}")
    if isinstance(result, Result) and result.status == Status.UNSUPPORTED:
        return _with_alternatives(result, problem, instance)
    return attach(instance, result, problem) if certify and isinstance(result, Result) else result


def _with_alternatives(result: Result, problem: str, instance: Instance) -> Result:
    """``result`` (a refusal) with the names of the registered methods that solve ``instance``."""
    able = [n for (p, n), f in REGISTRY.items()
            if p == problem and getattr(f, "features", None) is not None and refusal_reason(f, instance) is None]
    result.message += f"; methods for it: {', '.join(able)}" if able else "; no registered method solves it"
    return result


__all__ = ["REGISTRY", "EXACT", "BOUNDS", "PLUGINS", "PROBLEMS", "Result", "Status", "run", "solvers_for",
           "use_plugin"]
