"""The compiled kernels (solvers.kernels) against independent references.

* ``lsap_rows`` against SciPy's ``linear_sum_assignment`` (ties, forbidden
  pairs, magnitudes from 1e-12 to 1e12, infeasible matrices);
* ``newton_offset`` against Brent's method (SciPy's ``brentq``) on the same equation;
* ``exchange_to_minimum`` (improving exchanges, then the duality proof that
  an assignment is a min-cost one) against SciPy: every assignment it proves
  costs the minimum, from SciPy's own it needs no exchange, and from any
  start on finite integer costs it reaches a proved minimum;
* ``threshold_step`` against a dense LSAP on every device's weights
  (:func:`models.p2.assignment_weights`), with and without an incumbent to prove;
* the kernels' inputs in any memory layout (Fortran-ordered, strided) give
  the same answers as C-ordered ones;
* the batch's Python fallback (a draw whose Newton iteration does not settle)
  gives the single calls' answers.

CRUNCH's kernel is checked against the definition in ``tests/test_bench.py``
and against the literal walk and brute force in ``tests/test_p1.py``.
"""
from __future__ import annotations

import math

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq, linear_sum_assignment

import solvers
from instances import Instance
from instances.generate import generate_instance
from models.p2 import assignment_weights
from solvers import batch, kernels
from tests.strategies import instances


@st.composite
def cost_matrices(draw):
    rows = draw(st.integers(1, 7))
    cols = draw(st.integers(rows, 11))
    scale = draw(st.sampled_from([1e-12, 1.0, 1e12]))
    kind = draw(st.sampled_from(["ties", "floats", "forbidden"]))
    entries = st.integers(0, 3) if kind == "ties" else st.floats(0.0, 1.0)
    cost = np.array(draw(st.lists(st.lists(entries, min_size=cols, max_size=cols), min_size=rows, max_size=rows)),
                    dtype=float) * scale
    if kind == "forbidden":
        mask = np.array(draw(st.lists(st.lists(st.booleans(), min_size=cols, max_size=cols),
                                      min_size=rows, max_size=rows)))
        cost[mask] = np.inf
    return cost


@settings(max_examples=250, deadline=None)
@given(cost_matrices())
def test_lsap_rows_matches_scipy(cost):
    col4row = np.empty(cost.shape[0], dtype=np.int64)
    total = kernels.lsap_rows(cost, col4row)
    try:
        rows, cols = linear_sum_assignment(cost)
        expected = math.fsum(cost[rows, cols].tolist())
    except ValueError:                       # SciPy: no finite assignment
        expected = math.inf
    if expected == math.inf:
        assert total == math.inf
        return
    assert len(set(col4row.tolist())) == cost.shape[0]                     # distinct columns
    assert total == sum(cost[i, col4row[i]] for i in range(cost.shape[0]))  # the total of the returned assignment
    assert math.isclose(total, expected, rel_tol=1e-12, abs_tol=0.0)


def _least_total(cost):
    """SciPy's minimum total of ``cost`` (inf when no finite assignment exists)."""
    try:
        rows, cols = linear_sum_assignment(cost)
    except ValueError:
        return math.inf
    return math.fsum(cost[rows, cols].tolist())


@settings(max_examples=300, deadline=None)
@given(cost_matrices(), st.randoms(use_true_random=False), st.sampled_from([0, 10**9]))
def test_exchange_to_minimum_ends_at_minima(cost, rnd, budget):
    """Whatever the start, an assignment ``exchange_to_minimum`` proves costs SciPy's minimum (ties,
    forbidden pairs, magnitudes); with no budget it only proves, and only a start that is a minimum."""
    r, c = cost.shape
    least = _least_total(cost)
    pos = np.array(rnd.sample(range(c), r), dtype=np.int64)
    if least < math.inf and rnd.random() < 0.3:          # sometimes SciPy's own argmin
        rows, cols = linear_sum_assignment(cost)
        pos[rows] = cols
    start = pos.copy()
    start_total = math.fsum(cost[np.arange(r), start].tolist())
    proved = kernels.exchange_to_minimum(cost, pos, np.empty(c + 6 * r, dtype=np.int64), np.empty(r), budget)
    assert sorted(set(pos.tolist())) == sorted(pos.tolist())          # distinct columns
    total = math.fsum(cost[np.arange(r), pos].tolist())
    if proved:
        assert least < math.inf and math.isclose(total, least, rel_tol=1e-12, abs_tol=0.0)
        if budget == 0:
            assert np.array_equal(pos, start)
    elif start_total < math.inf:
        assert total <= start_total                      # never worse than the start


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 6).flatmap(lambda r: st.tuples(st.just(r), st.integers(r, 10))).flatmap(
    lambda shape: st.lists(st.lists(st.one_of(st.integers(0, 4), st.just(None)), min_size=shape[1],
                                    max_size=shape[1]), min_size=shape[0], max_size=shape[0])),
       st.randoms(use_true_random=False))
def test_exchange_to_minimum_proves_minima(entries, rnd):
    """Integer costs (exact arithmetic, many ties; None = forbidden): from SciPy's argmin the proof needs
    no exchange, and from any start with every row's free columns finite it reaches a proved minimum."""
    cost = np.array([[math.inf if e is None else float(e) for e in row] for row in entries])
    r, c = cost.shape
    if _least_total(cost) == math.inf:
        return
    rows, cols = linear_sum_assignment(cost)
    pos = np.empty(r, dtype=np.int64)
    pos[rows] = cols
    free = np.setdiff1d(np.arange(c), pos)
    if free.size == 0 or not np.all(np.isfinite(cost[:, free]).any(axis=1)):
        return                                          # the proof needs a finite free column per row
    ints, dist = np.empty(c + 6 * r, dtype=np.int64), np.empty(r)
    assert kernels.exchange_to_minimum(cost, pos, ints, dist, 0)
    if np.isfinite(cost).all() and c > r:               # any start: every free column is finite
        start = np.array(rnd.sample(range(c), r), dtype=np.int64)
        assert kernels.exchange_to_minimum(cost, start, ints, dist, 10**9)
        assert math.fsum(cost[np.arange(r), start].tolist()) == _least_total(cost)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(1e-9, 1e3), st.floats(0.0, 1e3)), min_size=1, max_size=12))
@example([(2.0, 2.0), (1e-9, 0.0)])        # a root of 4.5e-5 at slope 1: found by a random run
def test_newton_offset_is_the_root(terms):
    """Newton's root equals Brent's to 1e-12 relative, or to what floating point allows at that root.

    h is evaluated with an absolute error of a few ulps of its terms' sum (1 at the root), so
    a root is determined only to about that error divided by the slope |h'|: a small root on a
    slope near 1 (a device with a tiny share beside a large one) is known to 1e-16 absolute,
    not to 1e-12 relative.
    """
    share = np.array([q for q, _ in terms])
    gap = np.array([g for _, g in terms])
    gap -= gap.min()                                  # some device is the slowest: gap 0
    t = kernels.newton_offset(share, gap, 100)
    assert t == t and t >= 0.0
    h = lambda x: math.fsum((share / (x + gap)).tolist()) - 1.0   # noqa: E731
    lo = float((share - gap).max())                   # h(lo) >= 0: its own term is at least 1
    hi = lo + float(share.sum())                      # h(hi) <= 0: every term at most share_k / sum(share)
    root = brentq(h, lo, hi, xtol=1e-300, rtol=1e-15) if h(lo) > 0 and h(hi) < 0 else (lo if h(lo) <= 0 else hi)
    slope = math.fsum((share / (root + gap) ** 2).tolist())                  # |h'(root)|
    assert abs(t - root) <= 1e-12 * root + 8 * len(terms) * 2.3e-16 / slope


@settings(max_examples=150, deadline=None)
@given(instances(max_devices=40, max_blocks=4, min_devices=4), st.floats(0.01, 12.0),
       st.sampled_from(["none", "random", "argmin"]), st.randoms(use_true_random=False))
def test_threshold_step_is_the_dense_assignment(instance, extra, incumbent, rnd):
    """The pruned, compiled threshold test costs what a dense LSAP over every device costs, whatever
    incumbent it is asked to prove (none, any distinct devices, or a min-cost assignment)."""
    T = float(instance.compute_latency.min()) + extra
    K, M = instance.K, instance.M
    unit = instance.comm_coef / instance.bandwidth_hz
    assignment = np.empty(M, dtype=np.int64)
    known = np.empty(0, dtype=np.int64)
    if incumbent == "random":
        known = np.array(rnd.sample(range(K), M), dtype=np.int64)
    elif incumbent == "argmin" and np.isfinite(_least_total(assignment_weights(instance, T).T)):
        devices, blocks = linear_sum_assignment(assignment_weights(instance, T))
        known = np.empty(M, dtype=np.int64)
        known[blocks] = devices
    total = kernels.threshold_step(instance.compute_latency, unit, np.ascontiguousarray(unit[:, None]),
                                   instance.memory_prefix, T, *kernels.step_work(K, M), assignment, known)
    w = assignment_weights(instance, T)
    try:
        devices, blocks = linear_sum_assignment(w)
        dense = math.fsum(w[devices, blocks].tolist())
    except ValueError:
        dense = math.inf
    if dense == math.inf:
        assert total == math.inf
    else:
        assert math.isclose(total, dense, rel_tol=1e-12)
        assert len(set(assignment.tolist())) == M
        assert math.isclose(math.fsum(w[assignment, np.arange(M)].tolist()), dense, rel_tol=1e-12)


def test_any_memory_layout():
    """Fortran-ordered and strided arrays reach the kernels as C-ordered copies: the same answers."""
    inst = generate_instance(60, 8, seed=3)
    fortran = Instance.from_arrays(np.asfortranarray(inst.compute_latency), inst.block_memory[::-1][::-1],
                                   inst.device_memory, np.repeat(inst.spectral_efficiency, 2)[::2],
                                   gradient_bits=inst.gradient_bits, bandwidth_hz=inst.bandwidth_hz)
    for problem, method in (("P1", "crunch"), ("P2", "exact")):
        a, b = solvers.run(problem, method, inst), solvers.run(problem, method, fortran)
        assert (a.status, a.objective_s, a.assignment) == (b.status, b.objective_s, b.assignment)


def test_batch_falls_back_to_python_when_newton_does_not_settle(monkeypatch):
    """With no Newton step allowed every draw takes the Python path: the single calls' answers still."""
    insts = [generate_instance(30, 6, seed=s) for s in range(6)]
    monkeypatch.setattr(batch, "NEWTON_MAX_STEPS", 0)
    out = batch.exact_instances(insts)
    for i, inst in enumerate(insts):
        res = solvers.run("P2", "exact", inst, certify=False)
        assert out.objective_s[i] == res.objective_s and tuple(out.assignment[i].tolist()) == res.assignment
        assert out.iterations[i] == res.info["iterations"]
