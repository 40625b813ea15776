"""Hypothesis strategies for random DEFT instances, ties and infeasible ones included."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from instances import Instance


@st.composite
def instances(draw, max_devices: int = 6, max_blocks: int = 4, allow_infeasible: bool = True,
              min_devices: int = 1):
    """Random valid instances.

    Values are drawn from a small grid (so equal latencies, i.e. ties, are
    common) or as floats; memory budgets may create a memory wall; M may exceed
    K when ``allow_infeasible``.
    """
    K = draw(st.integers(min_devices, max_devices))
    M = draw(st.integers(1, max_blocks if allow_infeasible else min(max_blocks, K)))
    grid = draw(st.booleans())
    if grid:   # small integers: many ties
        steps = draw(st.lists(st.lists(st.integers(0, 3), min_size=M, max_size=M), min_size=K, max_size=K))
        first = draw(st.lists(st.integers(1, 4), min_size=K, max_size=K))
        tcp = np.array(first, float)[:, None] + np.cumsum(np.array(steps, float), axis=1) - np.array(steps, float)[:, :1]
    else:
        base = draw(st.lists(st.floats(0.01, 10.0), min_size=K, max_size=K))
        incr = draw(st.lists(st.lists(st.floats(0.0, 5.0), min_size=M, max_size=M), min_size=K, max_size=K))
        tcp = np.array(base)[:, None] + np.cumsum(np.array(incr), axis=1)
    mu = np.cumsum(draw(st.lists(st.integers(0, 3), min_size=M, max_size=M))).astype(float) + 1.0
    tight = draw(st.booleans()) if allow_infeasible else False
    top = mu[-1] if not tight else mu[-1] - 1.0
    if allow_infeasible:
        cap = draw(st.lists(st.floats(0.5, float(mu[-1]) + 1.0), min_size=K, max_size=K))
        if not tight:
            cap[draw(st.integers(0, K - 1))] = float(mu[-1])  # at least one device fits the deepest block
        cap = np.minimum(np.array(cap), top + 1.0) if tight else np.array(cap)
    else:
        cap = np.full(K, float(mu[-1]))
    if draw(st.booleans()):
        rate = draw(st.lists(st.sampled_from([0.5, 1.0, 2.0]), min_size=K, max_size=K))
    else:
        rate = draw(st.lists(st.floats(0.05, 8.0), min_size=K, max_size=K))
    bits = draw(st.sampled_from([1.0, 10.0, 1e3]))
    band = draw(st.sampled_from([1.0, 10.0, 1e3, 1e4]))
    return Instance.from_arrays(tcp, mu, cap, rate, bits, band, name="hypothesis")
