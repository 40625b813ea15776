"""Which instances a method solves: the paper's model, and the family's generalisations.

An instance may leave the paper's model in two ways (``Instance.family``):

======  ==================================================================
``G1``  per-block gradient sizes: block m's gradient has D_m bits
``G2``  devices that take several blocks: device k takes up to c_k of them
======  ==================================================================

Every method solves the paper's model.  A method that also solves G1 or G2
instances says so with :func:`solves`; on an instance beyond what it solves
it returns status ``unsupported`` with a sentence naming what is missing,
instead of an answer that the mathematics behind it no longer supports
(CRUNCH's closed form, for instance, needs one gradient size and one block
per device).  :func:`solvers.run` adds the names of the methods that do
solve it.  A plugin without the declaration is called on every instance.

>>> from instances import Instance
>>> @solves("G1", name="demo", problem="P1")
... def demo(instance, time_limit=None):
...     return "solved"
>>> inst = Instance.from_arrays([[1.0]], [1.0], [1.0], [1.0], gradient_bits=1.0, bandwidth_hz=1.0,
...                             device_max_blocks=[2])
>>> res = demo(inst)
>>> res.status.value, res.message
('unsupported', 'demo does not solve instances with devices that take several blocks (G2)')
>>> sorted(demo.features)
['G1']
"""
from __future__ import annotations

import functools
from typing import Callable, Iterable

from .result import Result, Status

#: What each feature means, for messages.
FEATURES = {"G1": "per-block gradient sizes (G1)", "G2": "devices that take several blocks (G2)"}


def instance_features(instance) -> frozenset[str]:
    """The features of the family that ``instance`` uses (empty: the paper's model)."""
    return frozenset(getattr(instance, "family", frozenset()))


def missing_features(method: Callable, instance) -> frozenset[str]:
    """Features of ``instance`` that ``method`` does not solve (empty for undeclared plugins)."""
    features = getattr(method, "features", None)
    if features is None:
        return frozenset()
    return instance_features(instance) - features


def refusal_reason(method: Callable, instance) -> str | None:
    """Why ``method`` refuses ``instance`` (a sentence), or None if it solves it (undeclared plugins: None)."""
    missing = missing_features(method, instance)
    if missing:
        return refusal_text(getattr(method, "method_name", getattr(method, "__name__", "the method")), missing)
    unless = getattr(method, "unless", None)
    return None if unless is None else unless(instance)


def refusal_text(name: str, missing: Iterable[str]) -> str:
    """The sentence of a refusal for the ``missing`` features."""
    what = " and ".join(FEATURES[f] for f in sorted(missing))
    return f"{name} does not solve instances with {what}"


def refusal(name: str, problem: str, missing: Iterable[str]) -> Result:
    """The ``unsupported`` Result of method ``name`` on an instance with the ``missing`` features."""
    return Result(solver=name, problem=problem, status=Status.UNSUPPORTED, message=refusal_text(name, missing))


def solves(*features: str, name: str, problem: str, unless: Callable[..., str | None] | None = None):
    """Declare that the decorated method ``f(instance, ...)`` also solves the given features.

    The wrapper refuses (:func:`refusal_reason`) any instance using another
    feature, and any instance for which ``unless(instance)`` returns a sentence (a
    condition finer than the features, e.g. "the per-block sizes decrease"),
    before the method runs; ``wrapper.features`` is the frozenset declared,
    ``wrapper.unless`` the condition.
    """
    unknown = set(features) - set(FEATURES)
    if unknown:
        raise ValueError(f"unknown features {sorted(unknown)}; known: {sorted(FEATURES)}")
    declared = frozenset(features)

    def decorate(method: Callable) -> Callable:
        @functools.wraps(method)
        def wrapper(instance, *args, **kwargs):
            why = refusal_reason(wrapper, instance)
            if why is not None:
                return Result(solver=name, problem=problem, status=Status.UNSUPPORTED, message=why)
            return method(instance, *args, **kwargs)

        wrapper.features = declared
        wrapper.unless = unless
        wrapper.method_name = name
        return wrapper

    return decorate
