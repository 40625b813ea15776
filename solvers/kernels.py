"""Compiled inner loops (Numba) of the fast exact methods: CRUNCH's order statistics, P2's pruning, Newton's root.

Each kernel is one loop of a method proved elsewhere, written out element by
element so that it costs one pass over the data and no per-call NumPy
overhead:

``crunch_rows``
    the closed form of :func:`solvers.bottleneck.bottleneck_rows` (T* = max over
    blocks m of the (M-m)-th smallest cost of column m, then Proposition 1's
    matching on the prefix counts);
``cheapest_union``
    the candidate test and the M-cheapest pruning of
    :func:`solvers.p2_exact.lsap_oracle` (the devices among some block's M
    cheapest at a threshold T);
``newton_offset``
    Newton's iteration of :func:`solvers.bandwidth.latency_root_s`.

They are compiled once per machine (``cache=True`` writes the machine code
next to this file, or in Numba's user cache when that is read-only) and
loaded on first use, so only the processes that call them pay Numba's start
(about 0.3 s).  Every arithmetic operation is the same IEEE double operation
as in the NumPy expressions they replace (no ``fastmath``); sums run in index
order.  The working arrays are allocated by the callers, so that the
benchmark's memory figures (:mod:`tracemalloc`) see them.

*The running bound* (``crunch_rows``, ``cheapest_union``).  Each column keeps
a max-heap of the r smallest entries seen so far (r = M - m for CRUNCH's
column m, r = M for the pruning).  A heap's top only decreases as rows
arrive, and it is at least the column's final r-th smallest, so once every
heap is full the largest top is an upper bound on every final order
statistic: an entry above it can enter no heap (it is larger than that
column's final r-th smallest), and since rows are non-decreasing no later
entry of the same row can either, so the scan of the row stops there.  The
bound starts at U (CRUNCH: the M-th smallest cost of the deepest block over
the devices that hold it, an upper bound on T*; the pruning: the M-th
smallest weight of the deepest block, see :func:`solvers.p2_exact.candidate_devices`).
"""
from __future__ import annotations

import numba as nb
import numpy as np

_jit = nb.njit(cache=True, nogil=True, boundscheck=False)


@_jit
def _sift_up(values, index, i):
    """Restore the max-heap ``values[0..i]`` after writing entry i (``index`` moves along)."""
    while i > 0:
        parent = (i - 1) // 2
        if values[i] > values[parent]:
            values[i], values[parent] = values[parent], values[i]
            index[i], index[parent] = index[parent], index[i]
            i = parent
        else:
            return


@_jit
def _sift_down(values, index, size):
    """Restore the max-heap ``values[0..size-1]`` after replacing its top (``index`` moves along)."""
    i = 0
    while True:
        child = 2 * i + 1
        if child >= size:
            return
        if child + 1 < size and values[child + 1] > values[child]:
            child += 1
        if values[child] > values[i]:
            values[i], values[child] = values[child], values[i]
            index[i], index[child] = index[child], index[i]
            i = child
        else:
            return


@_jit
def _push_value(heap, first, s, v):
    """Append v to the max-heap ``heap[first:first + s]`` (values only)."""
    i = s
    heap[first + i] = v
    while i > 0:
        parent = (i - 1) // 2
        if heap[first + i] > heap[first + parent]:
            heap[first + i], heap[first + parent] = heap[first + parent], heap[first + i]
            i = parent
        else:
            return


@_jit
def _replace_top(heap, first, size, v):
    """Replace the top of the max-heap ``heap[first:first + size]`` by v (values only)."""
    heap[first] = v
    i = 0
    while True:
        child = 2 * i + 1
        if child >= size:
            return
        if child + 1 < size and heap[first + child + 1] > heap[first + child]:
            child += 1
        if heap[first + child] > heap[first + i]:
            heap[first + i], heap[first + child] = heap[first + child], heap[first + i]
            i = child
        else:
            return


@_jit
def _offer(values, index, sizes, m, cap, v, k):
    """Offer entry ``(v, k)`` to column m's heap of capacity ``cap``; 1 if the heap became full, else 0."""
    s = sizes[m]
    if s < cap:
        values[m, s] = v
        index[m, s] = k
        _sift_up(values[m], index[m], s)
        sizes[m] = s + 1
        return 1 if s + 1 == cap else 0
    if v < values[m, 0]:
        values[m, 0] = v
        index[m, 0] = k
        _sift_down(values[m], index[m], cap)
    return 0


@_jit
def _largest_top(values, M):
    top = -np.inf
    for j in range(M):
        if values[j, 0] > top:
            top = values[j, 0]
    return top


def crunch_work(K: int, M: int) -> tuple[np.ndarray, np.ndarray]:
    """The work arrays of :func:`crunch_rows` (and :func:`cheapest_union`): (M, M) floats, M^2 + 2K + 2M ints."""
    return np.empty((M, M)), np.empty(M * M + 2 * K + 2 * M, dtype=np.int64)


@_jit
def _split(iwork, K, M):
    """Views of the int work array: heap devices (M, M), heap sizes (M,), rows (K,), counts (K,), out (M,)."""
    index = iwork[:M * M].reshape((M, M))
    sizes = iwork[M * M:M * M + M]
    rows = iwork[M * M + M:M * M + M + K]
    counts = iwork[M * M + M + K:M * M + M + 2 * K]
    out = iwork[M * M + M + 2 * K:M * M + 2 * M + 2 * K]
    return index, sizes, rows, counts, out


@_jit
def crunch_rows(base, offset, prefix, values, iwork):
    """CRUNCH on ``c[k, m] = base[k, m] + offset[k]`` (m < prefix[k], else inf): T*; the matching in ``iwork``.

    ``base`` (K, M) has non-decreasing rows, K >= M; ``prefix`` is clamped to
    [0, M].  Work arrays from :func:`crunch_work`; the matching is the last M
    entries of ``iwork``.  Returns ``inf`` if Hall's
    condition fails (some block m has fewer than M - m holders), else T* with
    ``out[m]`` the device of block m: the devices ranked by
    ``(n_k(T*), k)``, block j to the one of rank ``n - M + j`` among the n
    scanned rows (:func:`solvers.bottleneck.assignment_from_counts` with its
    stable ties).
    """
    K, M = base.shape
    index, sizes, rows, counts, out = _split(iwork, K, M)
    heap = values.reshape(M * M)     # column m's heap: heap[m*M : m*M + M - m], its top heap[m*M]
    # U: the M-th smallest deepest-block cost among the devices that hold it (a heap of capacity M)
    s = 0
    for k in range(K):
        if prefix[k] >= M:
            v = base[k, M - 1] + offset[k]
            if s < M:
                _push_value(heap, 0, s, v)
                s += 1
            elif v < heap[0]:
                _replace_top(heap, 0, M, v)
    bound = heap[0] if s == M else np.inf
    sizes[:] = 0
    full = 0
    n = 0
    for k in range(K):
        p = min(max(prefix[k], 0), M)
        o = offset[k]
        if p < 1 or not base[k, 0] + o <= bound:
            continue                 # n_k(T*) = 0: never matched
        rows[n] = k
        n += 1
        changed = False
        for m in range(p):
            v = base[k, m] + o
            if v > bound:            # sorted row: no later entry enters a heap
                break
            s = sizes[m]
            cap = M - m
            if s < cap:
                _push_value(heap, m * M, s, v)
                sizes[m] = s + 1
                if s + 1 == cap:
                    full += 1
                changed = True
            elif v < heap[m * M]:
                _replace_top(heap, m * M, cap, v)
                changed = True
        if changed and full == M:
            top = -np.inf
            for j in range(M):
                if heap[j * M] > top:
                    top = heap[j * M]
            if top < bound:
                bound = top
    if full < M:
        return np.inf                # some block m has fewer than M - m holders: Hall fails
    value = _largest_top(values, M)  # values[j, 0] = heap[j*M]  # T* = max over m of the (M-m)-th smallest of column m
    # n_k(T*) for the scanned rows, then the stable order by count (a counting sort): its last M
    start = np.zeros(M + 2, dtype=np.int64)
    for i in range(n):
        k = rows[i]
        o = offset[k]
        p = min(prefix[k], M)
        c = 0
        while c < p and base[k, c] + o <= value:
            c += 1
        counts[i] = c
        start[c + 1] += 1
    for c in range(M + 1):
        start[c + 1] += start[c]
    first = n - M
    for i in range(n):
        c = counts[i]
        position = start[c]
        start[c] = position + 1
        if position >= first:
            out[position - first] = rows[i]
    return value


#: Up to this many devices per block :func:`cheapest_union` keeps every usable device (no scan).
FEW_DEVICES_PER_BLOCK = 8


@_jit
def cheapest_union(tcp, unit, prefix, threshold, values, iwork):
    """Devices among some block's M cheapest at T under ``v[k, m] = unit[k] / (T - tcp[k, m])``; their count n.

    Allowed pairs: ``tcp[k, m] < T`` and ``m < prefix[k]`` (prefix in [0, M]).
    The devices, sorted, are the first n entries of the rows view of ``iwork``
    (:func:`crunch_work`'s arrays; ``iwork[M*M + M:][:n]``).  With at most
    :data:`FEW_DEVICES_PER_BLOCK` M devices every device that can take block 0
    by T is returned: the scan would cost more than it saves the LSAP.  With
    fewer than M devices able to take block 0 the returned count is below M
    (no assignment reaches T) and those devices are returned.
    """
    K, M = tcp.shape
    index, sizes, out, _, _ = _split(iwork, K, M)
    sizes[:] = 0
    usable = 0
    for k in range(K):
        gap_last = threshold - tcp[k, M - 1]
        if prefix[k] >= M and gap_last > 0:
            _offer(values, index, sizes, 0, M, unit[k] / gap_last, k)
        if prefix[k] >= 1 and threshold - tcp[k, 0] > 0:
            usable += 1
    if usable < M or K <= FEW_DEVICES_PER_BLOCK * M:   # none reaches T; or few devices: every usable one
        n = 0
        for k in range(K):
            if prefix[k] >= 1 and threshold - tcp[k, 0] > 0:
                out[n] = k
                n += 1
        return n
    bound = values[0, 0] if sizes[0] == M else np.inf
    sizes[:] = 0
    full = 0
    for k in range(K):
        p = min(prefix[k], M)
        changed = False
        for m in range(p):
            gap = threshold - tcp[k, m]
            if not gap > 0:
                break                # sorted row: later blocks are slower still
            v = unit[k] / gap
            if v > bound:
                break
            if sizes[m] < M or v < values[m, 0]:
                full += _offer(values, index, sizes, m, M, v, k)
                changed = True
        if changed and full == M:
            top = _largest_top(values, M)
            if top < bound:
                bound = top
    # the union of the heaps' devices, sorted and without repeats
    picked = np.empty(M * M, dtype=np.int64)
    total = 0
    for m in range(M):
        for i in range(sizes[m]):
            picked[total] = index[m, i]
            total += 1
    picked = np.sort(picked[:total])
    n = 0
    for i in range(total):
        if n == 0 or picked[i] != out[n - 1]:
            out[n] = picked[i]
            n += 1
    return n


@_jit
def threshold_weights_rows(tcp, share, prefix, threshold, rows, n, out):
    """``out[m, i] = w[rows[i], m]`` for i < n: :func:`models.costs.threshold_weights` on those rows, transposed.

    ``w[k, m] = share[k, j] / (T - tcp[k, m])`` with ``j = m`` when ``share``
    has M columns (G1: ``D_m / (R_k B)``) and ``j = 0`` when it has one;
    ``inf`` unless ``tcp[k, m] < T`` and ``m < prefix[k]``.
    """
    M = tcp.shape[1]
    per_block = share.shape[1] > 1
    for i in range(n):
        k = rows[i]
        p = min(prefix[k], M)
        for m in range(M):
            gap = threshold - tcp[k, m]
            if m < p and gap > 0:
                out[m, i] = share[k, m if per_block else 0] / gap
            else:
                out[m, i] = np.inf


@_jit
def latency_root(tcp, share, assignment, max_steps):
    """T(x) of :func:`solvers.bandwidth.latency_root_s` for ``a_m = tcp[x_m, m]``, ``q_m = share[x_m]``; NaN if unsettled."""
    M = assignment.shape[0]
    a = np.empty(M)
    q = np.empty(M)
    top = -np.inf
    for m in range(M):
        a[m] = tcp[assignment[m], m]
        q[m] = share[assignment[m]]
        if a[m] > top:
            top = a[m]
    for m in range(M):
        a[m] = top - a[m]                # the gaps
    return top + newton_offset(q, a, max_steps)


@_jit
def newton_offset(share, gap, max_steps):
    """The root t >= 0 of ``sum_k share_k / (t + gap_k) = 1`` by Newton from the left; NaN if unsettled."""
    n = share.shape[0]
    t = -np.inf
    for k in range(n):
        if share[k] - gap[k] > t:
            t = share[k] - gap[k]
    for _ in range(max_steps):
        h = 0.0
        slope = 0.0
        for k in range(n):
            ratio = share[k] / (t + gap[k])
            h += ratio
            slope += ratio / (t + gap[k])
        h -= 1.0
        if h <= 0.0:
            return t
        step = h / slope
        if not t + step > t:
            return t
        t += step
    return np.nan


@_jit
def crunch_draws(tcp, upload, mu, cap, values, iwork, prefix, objective, assignment):
    """:func:`crunch_rows` on each draw i of a batch: ``c = tcp[i] + upload[i][:, None]``, prefix from mu and cap.

    ``tcp`` (d, K, M), ``upload`` (d, K) s, ``mu`` (d, M) sorted and ``cap`` (d, K)
    bytes; ``prefix`` (K,) int work.  Writes ``objective[i]`` (inf where Hall
    fails) and ``assignment[i]`` (the matching).  The memory prefix is
    ``#{m : mu[i, m] <= cap[i, k]}`` (a binary search, as
    :attr:`instances.Instance.memory_prefix`).
    """
    d, K, M = tcp.shape
    for i in range(d):
        for k in range(K):
            lo, hi = 0, M
            while lo < hi:
                mid = (lo + hi) // 2
                if mu[i, mid] <= cap[i, k]:
                    lo = mid + 1
                else:
                    hi = mid
            prefix[k] = lo
        objective[i] = crunch_rows(tcp[i], upload[i], prefix, values, iwork)
        if objective[i] < np.inf:
            assignment[i, :] = iwork[iwork.shape[0] - M:]
