"""Bring your own method: a researcher's function, run and judged like a built-in one.

A *plugin* is any callable ``f(instance, time_limit)`` that returns either a
:class:`~solvers.result.Result` or a mapping::

    {"assignment": [device of block 0, ...]}                          # P1
    {"assignment": [...], "bandwidth_hz": [Hz of device 0, ...]}      # P2

(blocks and devices 0-based, ``bandwidth_hz`` one entry per device, 0 for idle
ones; ``{"assignment": None}`` when the method found no solution).  :func:`as_method` wraps it into a method of the registry: the wrapper
times the call, turns a mapping into a ``feasible`` result whose objective is
recomputed from the answer (P1: the band split equally), or ``no_solution``
for ``{"assignment": None}``, and turns anything
else into an ``error`` result naming what came back.  The harness then checks
the answer independently and reports its gap like any other method's.

Two ways to register one:

* on the command line, ``--solvers mypkg.mymodule:my_method`` (a spec
  ``module:attribute``; the method's name is the spec);
* as an entry point of the group :data:`ENTRY_POINT_GROUP` in the plugin's
  package metadata, e.g. in its ``pyproject.toml``::

      [project.entry-points."deft_matching.solvers"]
      my-greedy = "mypkg.mymodule:my_method"

A callable may say which problems it solves with an attribute
``problems = ("P1",)`` (default: both).  A plugin that cannot be imported is
still registered: every run of it is an ``error`` result saying why, so a
broken plugin gives error rows and never stops a sweep.

>>> from instances import Instance
>>> inst = Instance.from_arrays([[1.0, 2.0], [1.5, 1.5], [0.5, 3.0]], [1.0, 2.0],
...     [4.0, 1.0, 4.0], [1.0, 2.0, 4.0], gradient_bits=1.0, bandwidth_hz=1.0)
>>> method = as_method(lambda inst, time_limit=None: {"assignment": [1, 2]}, "mine", "P1")
>>> res = method(inst)
>>> res.status.value, res.objective_s, res.assignment
('feasible', 3.5, (1, 2))
"""
from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Callable

import numpy as np

from .result import Result, Status, Stopwatch

#: The entry-point group through which installed packages register methods.
ENTRY_POINT_GROUP = "deft_matching.solvers"

PROBLEMS = ("P1", "P2")


def is_spec(name: str) -> bool:
    """True for a plugin spec ``module:attribute`` (built-in names have no colon).

    >>> is_spec("mypkg.greedy:solve"), is_spec("crunch")
    (True, False)
    """
    return ":" in name


def load(spec: str) -> Callable:
    """The callable named by ``module:attribute`` (``attribute`` may be dotted).

    Raises
    ------
    ImportError
        With one line naming the spec and what failed.
    """
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ImportError(f"plugin {spec!r}: expected 'module:function'")
    try:
        obj = importlib.import_module(module_name)
    except Exception as exc:   # noqa: BLE001 - any failure of the plugin's import is its own
        raise ImportError(f"plugin {spec!r}: cannot import {module_name!r}: {type(exc).__name__}: {exc}") from None
    for part in attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ImportError(f"plugin {spec!r}: module {module_name!r} has no {attribute!r}") from None
    if not callable(obj):
        raise ImportError(f"plugin {spec!r}: {attribute!r} is a {type(obj).__name__}, not a callable")
    return obj


def problems_of(fn: Callable) -> tuple[str, ...]:
    """The problems ``fn`` declares (attribute ``problems``), default both."""
    declared = getattr(fn, "problems", PROBLEMS)
    if isinstance(declared, str):
        declared = (declared,)
    return tuple(p for p in PROBLEMS if p in tuple(declared))


def as_method(fn: Callable, name: str, problem: str) -> Callable[..., Result]:
    """Wrap a plugin into a method ``f(instance, time_limit=None) -> Result`` of the registry."""

    def method(instance, time_limit=None) -> Result:
        sw = Stopwatch(time_limit)
        out = fn(instance, time_limit)
        seconds = sw.elapsed
        if isinstance(out, Result):
            out.solver, out.problem = name, problem
            out.seconds = out.seconds or seconds
            return out
        if isinstance(out, Mapping):
            return _from_mapping(out, instance, name, problem, seconds)
        return Result(solver=name, problem=problem, status=Status.ERROR, seconds=seconds,
                      message=f"returned {type(out).__name__}, not a Result or a mapping with 'assignment'")

    method.__name__ = f"plugin_{name}"
    method.__qualname__ = method.__name__
    method.plugin = fn
    return method


def _from_mapping(out: Mapping, instance, name: str, problem: str, seconds: float) -> Result:
    """A ``feasible`` result from ``{"assignment": ..., "bandwidth_hz": ...}``, objective recomputed."""
    from .bandwidth import p2_objective
    from .p1 import p1_bandwidth, p1_objective

    def error(why: str) -> Result:
        return Result(solver=name, problem=problem, status=Status.ERROR, seconds=seconds, message=f"returned a mapping but {why}")

    unknown = sorted(set(out) - {"assignment", "bandwidth_hz"})
    if unknown:
        return error(f"with unknown key(s) {unknown}: expected 'assignment' (and 'bandwidth_hz' for P2)")
    if out.get("assignment", ...) is None:
        return Result(solver=name, problem=problem, status=Status.NO_SOLUTION, seconds=seconds, message="the plugin found no solution")
    try:
        assignment = np.asarray(out.get("assignment"))
        if assignment.shape != (instance.M,) or not np.issubdtype(assignment.dtype, np.integer):
            return error(f"'assignment' is not a list of M = {instance.M} device indices")
        if assignment.min() < 0 or assignment.max() >= instance.K:
            return error(f"'assignment' has a device index out of range 0..{instance.K - 1}")
        if problem == "P1":
            band = p1_bandwidth(instance, assignment)
            objective = p1_objective(instance, assignment)
        else:
            if "bandwidth_hz" not in out:
                return error("it has no 'bandwidth_hz' (P2 chooses the bandwidths)")
            band = np.asarray(out["bandwidth_hz"], dtype=float)
            if band.shape != (instance.K,):
                return error(f"'bandwidth_hz' is not a list of K = {instance.K} numbers")
            objective = p2_objective(instance, assignment, band)
    except (TypeError, ValueError) as exc:
        return error(f"it cannot be read: {type(exc).__name__}: {exc}")
    return Result(solver=name, problem=problem, status=Status.FEASIBLE, objective_s=objective, bound_s=None, seconds=seconds, assignment=tuple(assignment.tolist()),
                  bandwidth_hz=tuple(band.tolist()), message="plugin")


def broken(name: str, problem: str, why: str) -> Callable[..., Result]:
    """A method that only reports why the plugin ``name`` could not be loaded."""

    def method(instance, time_limit=None) -> Result:
        return Result(solver=name, problem=problem, status=Status.ERROR, message=why)

    return method


def register(registry: dict, spec: str, fn: Callable | None = None, problems=None) -> list[tuple[str, str]]:
    """Register a plugin under the name ``spec`` for each problem it solves; the keys added.

    ``fn`` defaults to :func:`load` of ``spec``; a plugin that fails to load is
    registered as :func:`broken` for ``problems`` (default both).
    """
    try:
        fn = load(spec) if fn is None else fn
    except ImportError as exc:
        keys = [(p, spec) for p in (problems or PROBLEMS)]
        for key in keys:
            registry[key] = broken(spec, key[0], str(exc))
        return keys
    keys = [(p, spec) for p in (problems or problems_of(fn))]
    for key in keys:
        registry[key] = as_method(fn, spec, key[0])
    return keys


def register_entry_points(registry: dict) -> list[tuple[str, str]]:
    """Register every method of the entry-point group :data:`ENTRY_POINT_GROUP`; the keys added."""
    from importlib.metadata import entry_points

    added = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            fn = ep.load()
        except Exception as exc:   # noqa: BLE001 - a broken plugin gives error rows, never a crash
            why = f"plugin {ep.name!r} ({ep.value}) cannot be loaded: {type(exc).__name__}: {exc}"
            for problem in PROBLEMS:
                registry[(problem, ep.name)] = broken(ep.name, problem, why)
                added.append((problem, ep.name))
            continue
        added += register(registry, ep.name, fn)
    return added


__all__ = ["ENTRY_POINT_GROUP", "as_method", "is_spec", "load", "problems_of", "register", "register_entry_points"]
