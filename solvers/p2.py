"""P2 (JBBA): joint bandwidth-and-block allocation, the registry of its methods.

=====================  ==================================================  ===========
name                   method                                              claims
=====================  ==================================================  ===========
``exact``              parametric assignment + bandwidth equation          optimal
``milp``               same, each assignment a Pyomo model solved by HiGHS optimal
``minlp``              Pyomo convex MINLP (rotated cones) solved by SCIP   optimal
``relaxation``         CVXPY convex relaxation, x in [0, 1]                lower bound
``dual-ascent``        the paper's Algorithm 3 as published                feasible
``dual-ascent-rich``   Algorithm 3 with the additions of docs/dual-ascent  feasible
``crunch+bandwidth``   CRUNCH's P1 assignment, then optimal bandwidth      feasible
``greedy-deepest``     deepest block first, local search, regrouping       feasible
``compute-aware``      benchmark, equal bandwidth (as the paper compares)  feasible
``comm-aware``         benchmark, equal bandwidth                          feasible
=====================  ==================================================  ===========

``dual-ascent`` is :func:`solvers.dual_ascent.dual_ascent`, ``dual-ascent-rich``
:func:`solvers.dual_ascent.dual_ascent_rich`, ``crunch+bandwidth``
:func:`solvers.dual_ascent.crunch_bandwidth`.  They are imported on first call, so
that importing :mod:`solvers` does not import :mod:`solvers.dual_ascent` (which
then also runs cleanly as ``python -m solvers.dual_ascent --sweep``).

>>> from solvers import REGISTRY
>>> [name for (problem, name) in REGISTRY if problem == "P2" and "dual" in name]
['dual-ascent', 'dual-ascent-rich']
"""
from __future__ import annotations


def _dual_ascent_method(function: str, name: str, doc: str):
    """A registry entry ``f(instance, time_limit=None)`` calling ``solvers.dual_ascent.<function>``."""

    def method(instance, time_limit=None):
        from . import dual_ascent

        return getattr(dual_ascent, function)(instance, time_limit=time_limit)

    method.features = frozenset()   # the paper's model only (solvers.scope)
    method.method_name = name
    method.__name__ = method.__qualname__ = function
    method.__doc__ = f"{doc} (:func:`solvers.dual_ascent.{function}` with its defaults)."
    return method


def _benchmark_method(benchmark):
    """The P2 registry entry of one of :mod:`solvers.benchmarks` (equal bandwidth, as the paper compares)."""

    def method(instance, time_limit=None):
        return benchmark(instance, time_limit, problem="P2")

    method.features = frozenset()   # the paper's model only (solvers.scope)
    method.method_name = benchmark.method_name
    method.__name__ = method.__qualname__ = benchmark.__name__
    method.__doc__ = benchmark.__doc__
    return method


def register(registry, exact, bounds) -> None:
    """Add the P2 methods to the solver registry (see :mod:`solvers`)."""
    from . import benchmarks, family_heuristics, p2_exact

    registry[("P2", "exact")] = p2_exact.exact_jbba
    registry[("P2", "milp")] = p2_exact.milp_jbba
    registry[("P2", "minlp")] = p2_exact.minlp_jbba
    registry[("P2", "relaxation")] = p2_exact.relaxation_bound
    registry[("P2", "dual-ascent")] = _dual_ascent_method("dual_ascent", "dual-ascent", "The paper's Algorithm 3 as published")
    registry[("P2", "dual-ascent-rich")] = _dual_ascent_method(
        "dual_ascent_rich", "dual-ascent-rich", "Algorithm 3 with best-nu prices, a Lemma-1 block step, Polyak steps, simplex duals")
    registry[("P2", "crunch+bandwidth")] = _dual_ascent_method(
        "crunch_bandwidth", "crunch+bandwidth", "CRUNCH's P1 assignment, then its optimal bandwidth")
    registry[("P2", "greedy-deepest")] = family_heuristics.greedy_deepest
    registry[("P2", "compute-aware")] = _benchmark_method(benchmarks.compute_aware)
    registry[("P2", "comm-aware")] = _benchmark_method(benchmarks.comm_aware)
    exact.update({"exact", "milp", "minlp"})
    bounds.add("relaxation")
