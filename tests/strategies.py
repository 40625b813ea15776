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


#: Decimal exponents of the latencies drawn by :func:`extreme_instances`: 1e-9 s to 1e12 s.
EXTREME_EXPONENTS = (-9, 12)


@st.composite
def extreme_instances(draw, max_devices: int = 6, max_blocks: int = 4, allow_infeasible: bool = True,
                      near_ties: bool = True):
    """Adversarial valid instances for differential fuzzing.

    * latencies from 1e-9 s to 1e12 s: one magnitude for the whole instance or
      one per device type (so a single instance may span 21 decades), upload
      times ``D / (B R_k)`` of their own magnitude, zero latencies now and then;
    * duplicated devices: devices are copies of 1..K "types" (same latency
      row, memory and channel), the hardest case for tie-breaking;
    * ties inside rows and between devices (mantissas from a small grid);
    * shapes ``M = 1``, ``M = K``, any ``M < K`` and, when ``allow_infeasible``,
      ``M > K`` and memory walls (no device holds the deepest block);
    * near ties, when ``near_ties``: one device's row raised, from some block
      on, by 1e-3 to 1e-12 of its magnitude (``meta["near_tie"]`` holds the
      relative size), which separates optima from runners-up by less than a
      solver's absolute tolerance.
    """
    lo_exp, hi_exp = EXTREME_EXPONENTS
    # "any" (1 < M < K where possible) is drawn most often; the edge shapes about 1 in 8 each
    shapes = ["any"] * 4 + ["one", "square"] + (["over", "wall"] if allow_infeasible else [])
    shape = draw(st.sampled_from(shapes))
    if shape == "square":
        K = M = draw(st.integers(1, min(max_devices, max_blocks)))
    elif shape == "over" and max_blocks >= 2:
        K = draw(st.integers(1, min(max_devices, max_blocks - 1)))
        M = draw(st.integers(K + 1, max_blocks))
    else:
        K = draw(st.integers(1 if shape != "any" else min(3, max_devices), max_devices))
        top = min(K - 1, max_blocks)
        M = 1 if shape == "one" or top < 2 else draw(st.integers(2, top))

    n_types = draw(st.integers(1, K))
    device_type = [draw(st.integers(0, n_types - 1)) for _ in range(K)]
    device_type[: n_types] = range(n_types)   # every type is used at least once
    spread = draw(st.booleans())               # one magnitude per type, or one for all
    common_exp = draw(st.integers(lo_exp, hi_exp - 1))
    grid = draw(st.booleans())
    # zero latencies and zero steps (ties inside a row) are on the grid, but not its first choice,
    # so that shrinking does not make most instances all-zero
    mantissa = st.sampled_from([1.0, 2.0, 2.5, 3.0, 1.0, 0.0]) if grid else st.floats(1.0, 9.99)
    step = st.sampled_from([0.5, 1.0, 0.0, 0.0]) if grid else st.floats(0.0, 3.0)

    # memory: a non-decreasing block profile, scaled to bytes
    mem_scale = 10.0 ** draw(st.integers(0, 10))
    mu = (np.cumsum(draw(st.lists(st.integers(0, 2), min_size=M, max_size=M))) + 1.0) * mem_scale
    wall = shape == "wall"

    rows, caps, rates = [], [], []
    for _ in range(n_types):
        exp = draw(st.integers(lo_exp, hi_exp - 1)) if spread else common_exp
        scale = 10.0 ** exp
        first = draw(mantissa)
        incr = draw(st.lists(step, min_size=M - 1, max_size=M - 1))
        rows.append(np.concatenate([[first], first + np.cumsum(incr)]) * scale)
        if wall:
            caps.append(draw(st.sampled_from([0.0] + [float(v) for v in mu if v < mu[-1]])))
        else:
            caps.append(draw(st.sampled_from([float(v) for v in mu] + [float(mu[-1]) * 10])))
        rates.append(draw(st.sampled_from([0.5, 1.0, 2.0])) if grid else draw(st.floats(0.01, 20.0)))
    if not wall and allow_infeasible is False:
        caps = [max(c, float(mu[-1])) for c in caps]
    if not wall and max(caps) < mu[-1] and draw(st.booleans()):
        caps[0] = float(mu[-1])   # usually keep the deepest block placeable

    bandwidth_hz = 10.0 ** draw(st.integers(0, 9))
    upload_s = 10.0 ** draw(st.integers(lo_exp, hi_exp - 1))   # D / (B R) for R = 1
    gradient_bits = upload_s * bandwidth_hz
    tcp = np.array([rows[t] for t in device_type])
    cap = np.array([caps[t] for t in device_type])
    rate = np.array([rates[t] for t in device_type])
    meta = {}
    if near_ties and K >= 2 and draw(st.integers(0, 3)) == 0:   # about one instance in four
        k, m = draw(st.integers(0, K - 1)), draw(st.integers(0, M - 1))
        relative = 10.0 ** -draw(st.integers(3, 12))
        tcp[k, m:] += max(float(tcp[k, m]), 10.0 ** lo_exp) * relative
        meta["near_tie"] = relative
    return Instance.from_arrays(tcp, mu, cap, rate, gradient_bits, bandwidth_hz, name="extreme", meta=meta)
