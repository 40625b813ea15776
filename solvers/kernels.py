"""Compiled inner loops (Numba): CRUNCH's order statistics, P2's pruning, Newton's root, both dual ascents' iterations.

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
``threshold_step``
    P2's threshold test (:func:`solvers.p2_exact.lsap_oracle`): the pruning,
    the weights, and a shortest-augmenting-path LSAP, unless
    ``exchange_to_minimum`` improves the descent's current assignment to a
    minimiser and proves it one by LP duality;
``newton_offset``
    Newton's iteration of :func:`solvers.bandwidth.latency_root_s`;
``paper_iterations``
    the iterations of the paper's dual ascent
    (:func:`solvers.dual_ascent.dual_ascent`), a heuristic: the same run as its
    Python loop, with NumPy's pairwise sums written out (:func:`_pairwise_sum`);
``rich_iterations``
    the iterations of the improved dual ascent
    (:func:`solvers.dual_ascent.dual_ascent_rich`), likewise the same run as its
    Python loop (the devices it keeps, SciPy's matchings, NumPy's sums, BLAS's dot).

They are compiled once per machine (``cache=True`` writes the machine code
next to this file, or in Numba's user cache when that is read-only) and
loaded on first use, so only the processes that call them pay Numba's start
(about 0.3 s).  Every arithmetic operation is the same IEEE double operation
as in the NumPy expressions they replace (no ``fastmath``); sums run in index
order, or in NumPy's pairwise order where they stand for ``np.sum``.  The
exact methods' working arrays are allocated by the callers, so that the
benchmark's memory figures (:mod:`tracemalloc`) see them.

*The running bound* (``crunch_rows`` beyond :data:`ROUNDS_MAX_BLOCKS` blocks, ``cheapest_union``,
``_cheapest_devices``).  Each column keeps the r smallest entries seen so far
(r = M - m for CRUNCH's column m, r = M for the pruning) in a max-heap; its
top is the largest of them.  A heap's top only decreases as rows
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

_t = nb.types
_f8, _i8 = _t.float64, _t.int64


def _arr(dtype, ndim: int, readonly: bool = False):
    """A C-contiguous array type (inputs are declared read-only: writable arrays convert to them)."""
    return _t.Array(dtype, ndim, "C", readonly=readonly)


_F1, _F2, _F3 = (_arr(_f8, n, True) for n in (1, 2, 3))       # inputs
_I1 = _arr(_i8, 1, True)
_W1, _W2 = _arr(_f8, 1), _arr(_f8, 2)                          # outputs and work
_J1, _J2 = _arr(_i8, 1), _arr(_i8, 2)


def _kernel(signature):
    """Compile at import (``cache=True``: once per machine), so that no timed call pays for it.

    The batch API's loops (:func:`crunch_draws`, :func:`exact_draws`), which
    take no time limit, compile on their first call instead (also cached).
    """
    return nb.njit(signature, cache=True, nogil=True, boundscheck=False)


@_jit
def _heap_push(heap, index, first, s, v, k, track):
    """Append v (and, with ``track``, its device k) to the max-heap ``heap[first:first + s]``."""
    i = s
    heap[first + i] = v
    if track:
        index[first + i] = k
    while i > 0:
        parent = (i - 1) // 2
        if heap[first + i] > heap[first + parent]:
            heap[first + i], heap[first + parent] = heap[first + parent], heap[first + i]
            if track:
                index[first + i], index[first + parent] = index[first + parent], index[first + i]
            i = parent
        else:
            return


@_jit
def _heap_replace_top(heap, index, first, size, v, k, track):
    """Replace the top of the max-heap ``heap[first:first + size]`` by v (and, with ``track``, its device k)."""
    heap[first] = v
    if track:
        index[first] = k
    i = 0
    while True:
        child = 2 * i + 1
        if child >= size:
            return
        if child + 1 < size and heap[first + child + 1] > heap[first + child]:
            child += 1
        if heap[first + child] > heap[first + i]:
            heap[first + i], heap[first + child] = heap[first + child], heap[first + i]
            if track:
                index[first + i], index[first + child] = index[first + child], index[first + i]
            i = child
        else:
            return


@_jit
def _offer(heap, index, sizes, m, M, cap, v, k):
    """Offer ``(v, k)`` to column m's heap (``heap[m*M:]``, capacity ``cap``); 1 if it became full, else 0."""
    s = sizes[m]
    if s < cap:
        _heap_push(heap, index, m * M, s, v, k, True)
        sizes[m] = s + 1
        return 1 if s + 1 == cap else 0
    if v < heap[m * M]:
        _heap_replace_top(heap, index, m * M, cap, v, k, True)
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
    """Views of the int work array: heap devices (M^2, column m's at m*M), heap sizes (M,), rows (K,), counts (K,), out (M,)."""
    index = iwork[:M * M]
    sizes = iwork[M * M:M * M + M]
    rows = iwork[M * M + M:M * M + M + K]
    counts = iwork[M * M + M + K:M * M + M + 2 * K]
    out = iwork[M * M + M + 2 * K:M * M + 2 * M + 2 * K]
    return index, sizes, rows, counts, out


#: Up to this many blocks :func:`crunch_rows` finds T* by rounds of Hall's test (:func:`_hall_rounds`,
#: O(K M) per round, at most M rounds); beyond, by the running-bound heap scan (:func:`_scan_heaps`,
#: O(K M log M) at worst).  At K = 50, M = 12 the rounds (2 on average) take 0.9 us per instance in
#: cache, the sorted-buffer scan they replaced 2.0 us (its branches depend on the data).
ROUNDS_MAX_BLOCKS = 16


@_jit
def _keep_smallest(buf, first, r, v):
    """``buf[first:first + r]`` ascending becomes the r smallest of it and v, ascending, without a branch.

    Entry j of the result is ``min(buf[j], max(buf[j - 1], v))`` (``buf[-1] = -inf``): the old
    entry when v is above it, v where it falls in between, the shifted predecessor below.
    """
    for j in range(r - 1, 0, -1):
        below = buf[first + j - 1]
        high = below if below > v else v
        old = buf[first + j]
        buf[first + j] = old if old < high else high
    old = buf[first]
    buf[first] = old if old < v else v


@_jit
def _column_least(base, offset, prefix, m, r, buf):
    """The r-th smallest allowed entry ``base[k, m] + offset[k]`` (``m < prefix[k]``) of column m; inf if fewer.

    ``buf`` holds at least r floats of work (the r smallest so far, ascending).  O(K r).
    """
    K = base.shape[0]
    buf[:r] = np.inf
    for k in range(K):
        if m < prefix[k]:
            v = base[k, m] + offset[k]
            if v < buf[r - 1]:
                _keep_smallest(buf, 0, r, v)
    return buf[r - 1]


@_jit
def _prefix_counts(base, offset, prefix, bound, counts, held):
    """``counts[k] = n_k = #{m < prefix[k] : base[k, m] + offset[k] <= bound}`` (a prefix, rows being sorted)
    and ``held[c] = #{k : n_k >= c}``, so ``held[m + 1]`` holders of block m under ``bound`` (M + 1 ints);
    O(K M), no branch."""
    K, M = base.shape
    held[:M + 1] = 0
    for k in range(K):
        o = offset[k]
        p = prefix[k]
        c = 0
        for m in range(M):
            c += (m < p) & (base[k, m] + o <= bound)
        counts[k] = c
        held[c] += 1
    for c in range(M - 1, -1, -1):
        held[c] += held[c + 1]


@_jit
def _hall_rounds(base, offset, prefix, counts, held, buf):
    """T* = max over m of s_m, the (M-m)-th smallest of column m, by rounds of Hall's test; inf if Hall fails.

    *Hall's test at L is T* <= L.*  Rows are sorted, so ``n_k(L) > m`` iff
    ``c[k, m] <= L``: block m has ``held[m + 1] = #{k : c[k, m] <= L}`` holders,
    and ``held[m + 1] >= M - m`` iff ``s_m <= L``.  Hall's condition holds at L
    (every block m has M - m holders) iff every ``s_m <= L``.

    *Rounds.*  Start from ``L = max(s_{M-2}, s_{M-1}) <= T*`` (one and two
    smallest: cheap, and the maximum usually lies deep).  While some block m
    has too few holders, ``s_m > L``: set ``L = s_m`` (still ``<= T*``; the
    deepest such m, where the maximum usually lies).  L never decreases, so a
    block once satisfied stays so, and each round satisfies one more: at most
    M - 1 rounds, ending at ``L = T*`` with ``counts[k] = n_k(T*)`` for every
    row.  O(K M) per round.  ``buf``: M floats of work, ``held``: M + 1 ints.
    """
    K, M = base.shape
    bound = _column_least(base, offset, prefix, M - 1, 1, buf)
    if M >= 2:
        above = _column_least(base, offset, prefix, M - 2, 2, buf)
        bound = above if above > bound else bound
    while bound < np.inf:            # else some s_m = inf: block m has fewer than M - m holders, Hall fails
        _prefix_counts(base, offset, prefix, bound, counts, held)
        short = -1
        for m in range(M - 1, -1, -1):
            if held[m + 1] < M - m:
                short = m
                break
        if short < 0:
            return bound
        bound = _column_least(base, offset, prefix, short, M - short, buf)
    return np.inf


@_jit
def _scan_heaps(base, offset, prefix, values, index, sizes, rows):
    """The running-bound scan of :func:`crunch_rows` with max-heaps: ``(T*, n)``, ``T* = inf`` if Hall fails.

    Column m's heap of its ``M - m`` smallest entries so far is ``heap[m*M : m*M + M - m]``,
    its top ``heap[m*M]``; the scanned rows go to ``rows[:n]``.
    """
    K, M = base.shape
    heap = values.reshape(M * M)
    # U: the M-th smallest deepest-block cost among the devices that hold it (a heap of capacity M)
    s = 0
    for k in range(K):
        if prefix[k] >= M:
            v = base[k, M - 1] + offset[k]
            if s < M:
                _heap_push(heap, index, 0, s, v, 0, False)
                s += 1
            elif v < heap[0]:
                _heap_replace_top(heap, index, 0, M, v, 0, False)
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
                _heap_push(heap, index, m * M, s, v, 0, False)
                sizes[m] = s + 1
                if s + 1 == cap:
                    full += 1
                changed = True
            elif v < heap[m * M]:
                _heap_replace_top(heap, index, m * M, cap, v, 0, False)
                changed = True
        if changed and full == M:
            top = _largest_top(values, M)
            if top < bound:
                bound = top
    if full < M:
        return np.inf, n             # some block m has fewer than M - m holders: Hall fails
    return _largest_top(values, M), n   # values[m, 0] = heap[m*M]


@_jit
def _ranked_last(counts, devices, n, M, start, out):
    """``out[j]`` = the device of rank n - M + j among ``devices[:n]`` ranked by ``counts[:n]`` (in 0..M),
    ties to the earlier position: :func:`solvers.bottleneck.assignment_from_counts` (a counting sort;
    ``start`` is work of M + 2 ints)."""
    start[:M + 2] = 0
    for i in range(n):
        start[counts[i] + 1] += 1
    for c in range(M + 1):
        start[c + 1] += start[c]
    for i in range(n):
        position = start[counts[i]]
        start[counts[i]] = position + 1
        if position >= n - M:
            out[position - (n - M)] = devices[i]


@_kernel(_f8(_F2, _F1, _I1, _W2, _J1))
def crunch_rows(base, offset, prefix, values, iwork):
    """CRUNCH on ``c[k, m] = base[k, m] + offset[k]`` (m < prefix[k], else inf): T*; the matching in ``iwork``.

    ``base`` (K, M) has non-decreasing rows, K >= M; ``prefix`` is clamped to
    [0, M].  Work arrays from :func:`crunch_work`; the matching is the last M
    entries of ``iwork``.  Returns ``inf`` if Hall's
    condition fails (some block m has fewer than M - m holders), else T* with
    ``out[m]`` the device of block m: the devices ranked by
    ``(n_k(T*), k)``, block j to the one of rank ``n - M + j`` among n rows
    that hold every device with ``n_k(T*) > 0``, in index order
    (:func:`solvers.bottleneck.assignment_from_counts` with its stable ties;
    the devices of count 0 rank below all others, so which of them are among
    the n changes nothing).  T* = max over m of the (M-m)-th smallest of
    column m: up to :data:`ROUNDS_MAX_BLOCKS` blocks by rounds of Hall's test
    (:func:`_hall_rounds`, n = K), beyond by the running-bound scan
    (:func:`_scan_heaps`, n the rows it scans).
    """
    K, M = base.shape
    index, sizes, rows, counts, out = _split(iwork, K, M)
    if M <= ROUNDS_MAX_BLOCKS:
        value = _hall_rounds(base, offset, prefix, counts, iwork[:M + 1], values.reshape(M * M))
        if not value < np.inf:
            return np.inf
        n = K
        for k in range(K):           # counts[k] = n_k(T*) already
            rows[k] = k
    else:
        value, n = _scan_heaps(base, offset, prefix, values, index, sizes, rows)
        if not value < np.inf:
            return np.inf
        for i in range(n):           # n_k(T*) for the scanned rows
            k = rows[i]
            o = offset[k]
            p = min(prefix[k], M)
            c = 0
            while c < p and base[k, c] + o <= value:
                c += 1
            counts[i] = c
    start = iwork[:M + 2] if M >= 2 else np.empty(M + 2, dtype=np.int64)   # the heaps' space is free now
    _ranked_last(counts, rows, n, M, start, out)   # Proposition 1's matching
    return value


#: Up to this many devices per block :func:`cheapest_union` keeps every usable device (no scan).
FEW_DEVICES_PER_BLOCK = 8


@_jit
def _usable(tcp, prefix, threshold, out):
    """``out[:n]`` = the devices (ascending) that can take block 0 by T (memory and ``tcp[k, 0] < T``); n."""
    n = 0
    for k in range(tcp.shape[0]):
        if prefix[k] >= 1 and threshold - tcp[k, 0] > 0:
            out[n] = k
            n += 1
    return n


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
    if K <= FEW_DEVICES_PER_BLOCK * M:   # few devices: every usable one
        return _usable(tcp, prefix, threshold, out)
    heap = values.reshape(M * M)     # column m's heap of its M cheapest: heap[m*M : m*M + M]
    sizes[:] = 0
    usable = 0
    for k in range(K):
        gap_last = threshold - tcp[k, M - 1]
        if prefix[k] >= M and gap_last > 0:
            _offer(heap, index, sizes, 0, M, M, unit[k] / gap_last, k)
        if prefix[k] >= 1 and threshold - tcp[k, 0] > 0:
            usable += 1
    if usable < M:                   # no assignment reaches T: those devices
        return _usable(tcp, prefix, threshold, out)
    bound = heap[0] if sizes[0] == M else np.inf
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
            if sizes[m] < M or v < heap[m * M]:
                full += _offer(heap, index, sizes, m, M, M, v, k)
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
            picked[total] = index[m * M + i]
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


@_kernel(_f8(_F1, _F1, _i8))
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
def bandwidth_root(tcp, coef, bandwidth_hz, assignment, band, max_steps):
    """:func:`solvers.bandwidth.solve_bandwidth_equation` for ``a_m = tcp[x_m, m]``, ``c_m = coef[x_m]``: T, or NaN.

    ``band[m]`` receives ``c_m / (T - a_m)`` (Hz; ``B`` when M = 1).  NaN when
    Newton does not settle (the caller then uses the Python function, whose
    fallback is Brent's method).
    """
    M = assignment.shape[0]
    a = np.empty(M)
    q = np.empty(M)
    top = -np.inf
    total = 0.0
    for m in range(M):
        a[m] = tcp[assignment[m], m]
        total += coef[assignment[m]]
        if a[m] > top:
            top = a[m]
    if M == 1:
        band[0] = bandwidth_hz
        return top + total / bandwidth_hz
    for m in range(M):
        q[m] = coef[assignment[m]] / bandwidth_hz
        a[m] = top - a[m]
    t = newton_offset(q, a, max_steps)
    if t != t:
        return np.nan
    for m in range(M):
        band[m] = coef[assignment[m]] / (t + a[m])
    return top + t


@_kernel(_f8(_F2, _F1, _I1, _i8))
def latency_root(tcp, share, assignment, max_steps):
    """T(x) of :func:`solvers.bandwidth.latency_root_s` for ``a_m = tcp[x_m, m]``, ``q_m = share[x_m]``; NaN if unsettled.

    :func:`bandwidth_root` with ``coef = share`` and B = 1 (dividing by 1 is exact: the same T).
    """
    return bandwidth_root(tcp, share, 1.0, assignment, np.empty(assignment.shape[0]), max_steps)


@_jit
def _memory_prefix(mu, cap, prefix):
    """``prefix[k] = #{m : mu[m] <= cap[k]}``: for sorted ``mu`` the binary search of
    :attr:`instances.Instance.memory_prefix` (``np.searchsorted(mu, cap, "right")``), counted without a branch."""
    M = mu.shape[0]
    for k in range(cap.shape[0]):
        c = 0
        for m in range(M):
            c += mu[m] <= cap[k]
        prefix[k] = c


@_jit
def _out_of_range(a, zero_ok, low, high):
    """``a`` outside ``[low, high]`` (0 allowed when ``zero_ok``), or NaN; no branch, so loops over it vectorise."""
    return (not a <= high) | ((a < low) & ((not zero_ok) | (a != 0.0)))


@_jit
def plainly_valid(tcp, mu, cap, rate, bits, band, low, high):
    """True when one draw passes every check :class:`instances.Instance` makes at construction.

    Every value in ``[low, high]`` = ``[VALUE_MIN,
    VALUE_MAX]`` (latencies, memories also 0), rows of ``tcp`` and ``mu``
    non-decreasing, the upload times ``D M / (B R_k)`` at most ``high`` and
    ``D / R_k / B`` at least ``low`` (the operations of
    :attr:`instances.Instance.upload_equal_s` and ``upload_full_s``), and each
    row's largest P1 cost, its last entry plus the first, at most ``high``.
    Any NaN fails a comparison, hence the check.  False does not say which
    check fails: the caller builds that draw's ``Instance``, which names it.
    The scalars, memories and rates come first, so that no division meets a
    rate or a band of 0; the range test of the latencies is one flat loop
    (it vectorises), their order one loop per row.
    """
    K, M = tcp.shape
    bad = _out_of_range(bits, False, low, high) | _out_of_range(band, False, low, high)
    for m in range(M):
        bad |= _out_of_range(mu[m], True, low, high)
    for m in range(1, M):
        bad |= mu[m] < mu[m - 1]
    for k in range(K):
        bad |= _out_of_range(cap[k], True, low, high) | _out_of_range(rate[k], False, low, high)
    if bad:
        return False                 # before dividing by a rate or a band of 0
    flat = tcp.reshape(K * M)
    for j in range(K * M):
        bad |= _out_of_range(flat[j], True, low, high)
    for k in range(K):
        for m in range(1, M):
            bad |= tcp[k, m] < tcp[k, m - 1]
    for k in range(K):
        upload_equal = bits * M / (band * rate[k])
        bad |= (not upload_equal <= high) | (not bits / rate[k] / band >= low)
        bad |= not tcp[k, M - 1] + upload_equal <= high
    return not bad


@_jit
def _shared(a, i):
    """Draw i's row of ``a``: ``a[i]``, or ``a[0]`` when one row serves every draw (``len(a) == 1``)."""
    return a[i] if a.shape[0] > 1 else a[0]


@_jit
def crunch_draws(tcp, mu, cap, rate, bits, band, low, high, check, values, iwork, prefix, upload,
                 objective, assignment, status):
    """:func:`crunch_rows` on each draw i of a batch: ``c = tcp[i] + D M / (B R)``, prefix from mu and cap.

    ``tcp`` (d, K, M) s, ``mu`` (d, M) and ``cap`` (d, K) bytes, ``rate``
    (d, K) bit/s/Hz, ``bits`` (d,) bit, ``band`` (d,) Hz (``mu``, ``bits``
    and ``band`` may have one row for every draw, :func:`_shared`); ``prefix`` (K,)
    int and ``upload`` (K,) work.  With ``check``, a draw that fails
    :func:`plainly_valid` (limits ``low``, ``high``) gets ``status[i] = 3``
    and is not solved.  Otherwise ``status[i]`` = 0 with ``objective[i]`` =
    T* and ``assignment[i]`` the matching, or 1 when Hall fails (also for
    M > K).  The upload times are :attr:`instances.Instance.upload_equal_s`'s
    operations, the memory prefix :func:`_memory_prefix`.
    """
    d, K, M = tcp.shape
    for i in range(d):
        mu_i, D, B = _shared(mu, i), _shared(bits, i), _shared(band, i)
        if check and not plainly_valid(tcp[i], mu_i, cap[i], rate[i], D, B, low, high):
            status[i] = 3
            continue
        status[i] = 1
        if M > K:
            continue
        for k in range(K):
            upload[k] = D * M / (B * rate[i, k])
        _memory_prefix(mu_i, cap[i], prefix)
        value = crunch_rows(tcp[i], upload, prefix, values, iwork)
        if value < np.inf:
            status[i] = 0
            objective[i] = value
            assignment[i, :] = iwork[iwork.shape[0] - M:]


@_jit
def lsap_rows(cost, col4row):
    """Minimum-cost assignment of every row of ``cost`` (r x c, r <= c) to distinct columns; its total, or inf.

    Shortest augmenting paths with dual potentials (Dijkstra on reduced costs,
    one augmentation per row; the method of [Crouse 2016] that SciPy's
    ``linear_sum_assignment`` also uses), O(r^2 c).  ``inf`` entries are
    forbidden pairs; the total is ``inf`` when no assignment avoids them.
    ``col4row[i]`` receives row i's column.  The total is summed in row order.
    """
    nr, nc = cost.shape
    u = np.zeros(nr)
    v = np.zeros(nc)
    row4col = np.full(nc, -1, dtype=np.int64)
    shortest = np.empty(nc)
    path = np.empty(nc, dtype=np.int64)
    remaining = np.empty(nc, dtype=np.int64)
    seen_row = np.zeros(nr, dtype=np.bool_)
    seen_col = np.zeros(nc, dtype=np.bool_)
    col4row[:] = -1
    for current in range(nr):
        for j in range(nc):
            shortest[j] = np.inf
            path[j] = -1
            seen_col[j] = False
            remaining[j] = nc - 1 - j
        seen_row[:] = False
        left = nc
        least = 0.0                   # length of the shortest path found so far
        i = current
        sink = -1
        while sink == -1:             # Dijkstra from the current row over reduced costs
            seen_row[i] = True
            lowest = np.inf
            at = -1
            for it in range(left):
                j = remaining[it]
                r = least + cost[i, j] - u[i] - v[j]
                if r < shortest[j]:
                    path[j] = i
                    shortest[j] = r
                if shortest[j] < lowest or (shortest[j] == lowest and row4col[j] == -1):
                    lowest = shortest[j]
                    at = it
            if lowest == np.inf:      # no column reachable: no assignment of all rows
                return np.inf
            least = lowest
            j = remaining[at]
            if row4col[j] == -1:
                sink = j
            else:
                i = row4col[j]
            seen_col[j] = True
            left -= 1
            remaining[at] = remaining[left]
        u[current] += least           # potentials stay feasible and tight on the matched pairs
        for i in range(nr):
            if seen_row[i] and i != current:
                u[i] += least - shortest[col4row[i]]
        for j in range(nc):
            if seen_col[j]:
                v[j] -= least - shortest[j]
        j = sink                      # augment along the path
        while True:
            i = path[j]
            row4col[j] = i
            j, col4row[i] = col4row[i], j
            if i == current:
                break
    total = 0.0
    for i in range(nr):
        total += cost[i, col4row[i]]
    return total


#: The work :func:`threshold_step` lets :func:`exchange_to_minimum` spend before it runs the LSAP instead:
#: this many entry reads per weight.  At K = 50, M = 12 (about 65 column updates per Dijkstra search of
#: the LSAP, 70 searches) the exchanges then prove 99% of the steps, with 6 searches on average; at
#: M = 384 a step that is hundreds of exchanges from its optimum gives up after about 10 ms.
EXCHANGE_WORK = 30


@_jit
def exchange_to_minimum(cost, pos, ints, dist, budget):
    """Move ``pos`` (row m's column) to a minimum-cost assignment of ``cost`` (r x c, r <= c) and prove it one.

    True when ``pos`` is, on return, a minimum proved by LP duality; False
    when no proof came within ``budget`` entry reads (``pos`` is then some
    assignment, not worse).  The first search, which proves or refutes the
    start, always runs to its end; ``budget = 0`` only tests the start.  The dual of the assignment (every row one
    column, every column at most one row) is ``max sum u + sum v`` with
    ``u_m + v_j <= cost[m, j]`` and ``v <= 0``.  Take ``v = 0`` on the free
    columns, ``v_{pos[m]} = -p_m`` and ``u_m = a_m + p_m`` with
    ``a_m = cost[m, pos[m]]``: the dual objective is ``sum a_m``, the
    assignment's cost, so it is a minimum as soon as some ``p >= 0`` is dual
    feasible, i.e.

        p_m <= s_m = min over free j of cost[m, j] - a_m,
        p_m <= p_q + cost[m, pos[q]] - a_m    for every row q.

    The largest such p are shortest distances in the exchange graph: row m
    takes row q's column and q moves on, until a row takes a free column.
    They come from Bellman-Ford from ``p = s``, with a queue of the rows whose
    p fell (each popped row relaxes every row's inequality through it; a row
    goes to the front when its p is below the front's): none left queued
    means every inequality holds, the proof.  p only decreases, and each p is
    the length of a chain of moves whose number is kept, so the search stops
    at a value below 0 (that chain, ending at a free column, is an improving
    exchange) or at a chain of r moves (it repeats a row; the repeated part
    is a cycle whose p fell as it closed, a negative one).  The exchange
    found (a row's move to a free column when some s_m < 0; else the chain,
    or the cycle on it) is applied when it lowers the cost as computed, and
    the search restarts; otherwise, or on a row with no finite free column
    (an infinite p hides cycles), False.  The cost strictly falls, so it
    ends.  Floating point: the inequalities hold as computed, so the
    assignment is a minimum up to the rounding of those sums.  Work:
    O(r c) per search to start and O(r) per pop.  ``ints`` holds c + 6r
    ints, ``dist`` r floats (work arrays).
    """
    nr, nc = cost.shape
    used = ints[:nc]
    queue = ints[nc:nc + nr]                  # a ring of the rows to relax through
    queued = ints[nc + nr:nc + 2 * nr]
    moves = ints[nc + 2 * nr:nc + 3 * nr]     # moves on the chain that gave dist[m]
    pred = ints[nc + 3 * nr:nc + 4 * nr]      # the row whose column m takes on it (-1: a free column)
    free_at = ints[nc + 4 * nr:nc + 5 * nr]   # m's cheapest free column
    seen = ints[nc + 5 * nr:nc + 6 * nr]
    work = 0
    searches = 0
    while True:
        used[:] = 0
        for m in range(nr):
            used[pos[m]] = 1
        total = 0.0
        gain, mover = 0.0, -1
        for m in range(nr):
            a = cost[m, pos[m]]
            if not a < np.inf:
                return False
            total += a
            least, at = np.inf, -1
            for j in range(nc):
                if used[j] == 0:
                    r = cost[m, j] - a
                    if r < least:
                        least, at = r, j
            if not least < np.inf:           # no free column reachable: no proof
                return False
            dist[m] = least
            free_at[m] = at
            if least < gain:
                gain, mover = least, m
        work += nr * nc
        found = -1
        if mover < 0:
            for m in range(nr):
                queue[m] = m
                queued[m] = 1
                moves[m] = 0
                pred[m] = -1
            head, size = 0, nr
            while size > 0 and found < 0:
                if searches > 0 and work > budget:      # the first search, the start's proof, always ends
                    return False
                q = queue[head]
                head = head + 1 if head + 1 < nr else 0
                size -= 1
                queued[q] = 0
                col, dq, longer = pos[q], dist[q], moves[q] + 1
                work += nr
                for m in range(nr):
                    r = dq + (cost[m, col] - cost[m, pos[m]])
                    if r < dist[m]:
                        dist[m] = r
                        moves[m] = longer
                        pred[m] = q
                        if r < 0.0 or longer >= nr:     # an improving chain, or a negative cycle
                            found = m
                            break
                        if queued[m] == 0:
                            if size > 0 and r < dist[queue[head]]:
                                head = head - 1 if head > 0 else nr - 1
                                queue[head] = m
                            else:
                                tail = head + size
                                queue[tail if tail < nr else tail - nr] = m
                            queued[m] = 1
                            size += 1
            if found < 0:
                return True
        searches += 1
        if work > budget:
            return False
        if mover >= 0:                        # a row's move to its cheapest free column
            pos[mover] = free_at[mover]
        else:
            seen[:] = 0
            v = found
            while v >= 0 and seen[v] == 0:    # follow the chain until it ends or repeats a row
                seen[v] = 1
                v = pred[v]
            if v < 0:                         # a chain: each row takes the next one's column, the last a free one
                v = found
                while pred[v] >= 0:
                    pos[v] = pos[pred[v]]
                    v = pred[v]
                pos[v] = free_at[v]
            else:                             # a cycle through v: each row takes the next one's column
                first = pos[v]
                u = v
                while pred[u] != v:
                    pos[u] = pos[pred[u]]
                    u = pred[u]
                pos[u] = first
        lower = 0.0
        for m in range(nr):
            lower += cost[m, pos[m]]
        if not lower < total:
            return False


def step_work(K: int, M: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Work arrays of :func:`threshold_step`: :func:`crunch_work`'s, the weights' buffer (and M more), the
    LSAP's columns and :func:`exchange_to_minimum`'s ints."""
    values, iwork = crunch_work(K, M)
    kept = min(K, max(M * M, FEW_DEVICES_PER_BLOCK * M))      # the most devices cheapest_union keeps
    return (values, iwork, np.empty(M * kept + M), np.empty(M, dtype=np.int64),
            np.empty(kept + 6 * M, dtype=np.int64))


@_kernel(_f8(_F2, _F1, _F2, _I1, _f8, _W2, _J1, _W1, _J1, _J1, _J1, _I1))
def threshold_step(tcp, unit, share, prefix, threshold, values, iwork, wbuf, col4row, proof, assignment,
                   incumbent):
    """One threshold test of P2's descent: W(T) = min over assignments of the summed weights, and an argmin.

    :func:`cheapest_union` (the devices that matter), the weights of those
    devices (:func:`threshold_weights_rows`, ``share`` (K, 1) or (K, M)) and
    :func:`lsap_rows` on them.  When ``incumbent`` (M,) is given (empty:
    none) and uses only kept devices, :func:`exchange_to_minimum` first
    improves it to an argmin and proves it one, within
    ``EXCHANGE_WORK * M * n`` entry reads; the LSAP runs only when that
    fails.  The descent's incumbent is usually optimal or a few exchanges
    from an optimum (its last step, at ``T = T(x)``, asks exactly whether x
    is one).  Returns W(T) (``inf`` when no assignment reaches T; the sum
    in block order) with ``assignment[m]`` the device of block m.
    """
    K, M = tcp.shape
    n = cheapest_union(tcp, unit, prefix, threshold, values, iwork)
    if n < M:
        return np.inf
    rows = iwork[M * M + M:M * M + M + n]
    w = wbuf[:M * n].reshape((M, n))
    threshold_weights_rows(tcp, share, prefix, threshold, rows, n, w)
    if incumbent.shape[0] == M:
        known = True
        for m in range(M):
            at = np.searchsorted(rows, incumbent[m])
            if at < n and rows[at] == incumbent[m]:
                col4row[m] = at
            else:
                known = False                  # a device outside the kept ones: no proof on these weights
                break
        if known and exchange_to_minimum(w, col4row, proof, wbuf[wbuf.shape[0] - M:], EXCHANGE_WORK * M * n):
            total = 0.0
            for m in range(M):
                assignment[m] = rows[col4row[m]]
                total += w[m, col4row[m]]
            return total
    total = lsap_rows(w, col4row)
    if total < np.inf:
        for m in range(M):
            assignment[m] = rows[col4row[m]]
    return total


@_jit
def exact_draws(tcp, mu, cap, rate, bits, band_hz, low, high, check, stop_share, max_steps, values, iwork, wbuf,
                col4row, proof, objective, assignment, block_band, iterations, status):
    """P2's exact descent on each draw of a batch (paper model), all in compiled code.

    Per draw i: the memory prefix and CRUNCH's warm start (:func:`crunch_rows`
    on ``tcp + D M / (B R)``), ``T = T(x)`` (:func:`latency_root`), then the
    steps of :func:`solvers.p2_exact._descend`: :func:`threshold_step` at T;
    stop when W(T) is ``inf`` or ``>= stop_share``, or when the argmin's
    ``T(x')`` is not below T; else move.  Finally the bandwidths
    (:func:`bandwidth_root`): ``block_band[i, m]`` Hz, that of block m's
    device ``assignment[i, m]``.  ``status[i]``: 0 solved, 1 infeasible (Hall
    fails, also for M > K), 2 Newton did not settle (the caller solves that
    draw in Python), 3 not solved: with ``check``, the draw failed
    :func:`plainly_valid` (limits ``low``, ``high``).
    ``values``, ``iwork``, ``wbuf``, ``col4row``, ``proof``: :func:`step_work`'s arrays.
    """
    d, K, M = tcp.shape
    prefix = np.empty(K, dtype=np.int64)
    upload = np.empty(K)
    coef = np.empty(K)
    share = np.empty((K, 1))
    unit = np.empty(K)
    x = np.empty(M, dtype=np.int64)
    candidate = np.empty(M, dtype=np.int64)
    band = np.empty(M)
    for i in range(d):
        mu_i, D, B = _shared(mu, i), _shared(bits, i), _shared(band_hz, i)
        if check and not plainly_valid(tcp[i], mu_i, cap[i], rate[i], D, B, low, high):
            status[i] = 3
            continue
        status[i] = 1
        if M > K:
            continue
        _memory_prefix(mu_i, cap[i], prefix)
        for k in range(K):
            upload[k] = D * M / (B * rate[i, k])      # as Instance.upload_equal_s
            coef[k] = D / rate[i, k]                  # as Instance.comm_coef
            unit[k] = coef[k] / B
            share[k, 0] = unit[k]
        value = crunch_rows(tcp[i], upload, prefix, values, iwork)
        if not value < np.inf:
            status[i] = 1
            continue
        x[:] = iwork[iwork.shape[0] - M:]
        T = latency_root(tcp[i], unit, x, max_steps)
        if T != T:
            status[i] = 2
            continue
        steps = 0
        unsettled = False
        while True:
            total = threshold_step(tcp[i], unit, share, prefix, T, values, iwork, wbuf, col4row, proof,
                                   candidate, x)
            steps += 1
            if not total < np.inf or total >= stop_share:
                break
            T_new = latency_root(tcp[i], unit, candidate, max_steps)
            if T_new != T_new:
                unsettled = True
                break
            if not T_new < T:
                break
            x[:] = candidate
            T = T_new
        if unsettled:
            status[i] = 2
            continue
        final = bandwidth_root(tcp[i], coef, B, x, band, max_steps)
        if final != final:
            status[i] = 2
            continue
        status[i] = 0
        objective[i] = final
        iterations[i] = steps
        for m in range(M):
            assignment[i, m] = x[m]
            block_band[i, m] = band[m]



# --------------------------------------------------------------------------------------
# The paper's dual ascent (Algorithm 3): whole iterations
# --------------------------------------------------------------------------------------
@_jit
def _pairwise_sum(a, n):
    """``float(np.sum(a[:n]))`` to the last bit: NumPy's pairwise summation (8 accumulators, halves above 128)."""
    if n < 8:
        total = 0.0
        for i in range(n):
            total += a[i]
        return total
    if n <= 128:
        r0, r1, r2, r3, r4, r5, r6, r7 = a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]
        i = 8
        while i < n - (n % 8):
            r0 += a[i]
            r1 += a[i + 1]
            r2 += a[i + 2]
            r3 += a[i + 3]
            r4 += a[i + 4]
            r5 += a[i + 5]
            r6 += a[i + 6]
            r7 += a[i + 7]
            i += 8
        total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        while i < n:
            total += a[i]
            i += 1
        return total
    half = n // 2
    half -= half % 8
    return _pairwise_sum(a, half) + _pairwise_sum(a[half:], n - half)


@_jit
def _kth_least(values, n, r, heap):
    """The r-th least of ``values[:n]`` (r <= n), by a max-heap of capacity r."""
    s = 0
    for i in range(n):
        v = values[i]
        if s < r:
            _heap_push(heap, heap.view(np.int64), 0, s, v, 0, False)
            s += 1
        elif v < heap[0]:
            _heap_replace_top(heap, heap.view(np.int64), 0, r, v, 0, False)
    return heap[0]


@_jit
def _stable_least(values, n, r, heap, take):
    """``take[:r]`` = the positions of the r least of ``values[:n]``, ties to the lower position, ascending
    (the first r of a stable argsort, sorted).  Needs r <= n."""
    cut = _kth_least(values, n, r, heap)
    below = 0
    for i in range(n):
        if values[i] < cut:
            below += 1
    ties = r - below
    c = 0
    for i in range(n):
        v = values[i]
        if v < cut or (v == cut and ties > 0):
            if v == cut:
                ties -= 1
            take[c] = i
            c += 1
    return c


@_jit
def _pruned(w, v):
    """A weight of the block step's pruned matrix: w, or inf above v."""
    return w if w <= v else np.inf


@_jit
def _cheapest_devices(weights, rows, n, v, M, heap, sizes, counts, out):
    """The devices (ascending) among ``rows[:n]`` holding some block's M least weights, ties to the lower
    device (the first M of a stable sort per block), the weights above v counted as inf; their number.

    Needs M <= n and rows of ``weights`` non-decreasing.  Each block's M-th least
    (the cut) comes from the running-bound scan of the module docstring; then the
    entries below the cut are counted, and the rows are marked in order: those
    below a block's cut, and its first ties at the cut until it has M.
    """
    sizes[:M] = 0
    full = 0
    bound = np.inf
    for i in range(n):
        k = rows[i]
        changed = False
        for m in range(M):
            w = _pruned(weights[k, m], v)
            if w > bound:            # sorted row: no later entry enters a heap
                break
            s = sizes[m]
            if s < M:
                _heap_push(heap, heap.view(np.int64), m * M, s, w, 0, False)
                sizes[m] = s + 1
                if s + 1 == M:
                    full += 1
                changed = True
            elif w < heap[m * M]:
                _heap_replace_top(heap, heap.view(np.int64), m * M, M, w, 0, False)
                changed = True
        if changed and full == M:
            top = _largest_top(heap.reshape((M, M)), M)
            if top < bound:
                bound = top
    top = _largest_top(heap.reshape((M, M)), M)     # the largest cut
    counts[:M] = 0
    for i in range(n):                                # entries below each block's cut
        k = rows[i]
        for m in range(M):
            w = _pruned(weights[k, m], v)
            if w > top:
                break
            if w < heap[m * M]:
                counts[m] += 1
    for m in range(M):
        counts[m] = M - counts[m]                     # ties each block still takes at its cut
    c = 0
    for i in range(n):
        k = rows[i]
        mark = False
        for m in range(M):
            w = _pruned(weights[k, m], v)
            if w > top:
                break
            cut = heap[m * M]
            if w < cut:
                mark = True
            elif w == cut and counts[m] > 0:
                counts[m] -= 1
                mark = True
        if mark:
            out[c] = k
            c += 1
    return c


@_jit
def _matching(weights, rows, n, v, M, cost, col4row, x):
    """SciPy's LSAP on the (M, n) matrix ``weights[rows[:n]].T`` with the entries above v set to inf;
    ``x[m]`` = block m's device; returns the sum of ``weights[x[m], m]`` in NumPy's order."""
    c = cost[:M * n].reshape((M, n))
    for i in range(n):
        k = rows[i]
        for m in range(M):
            c[m, i] = _pruned(weights[k, m], v)
    lsap_rows(c, col4row)
    picked = np.empty(M)
    for m in range(M):
        x[m] = rows[col4row[m]]
        picked[m] = weights[x[m], m]
    return _pairwise_sum(picked, M)


@_jit
def _exceeds(tcp_s, comm_coef, limit_hz, x, t_s):
    """:meth:`solvers.dual_ascent._Latencies._exceeds`: x's latency provably above ``t_s`` (s)."""
    need = 0.0
    for m in range(x.shape[0]):
        gap = t_s - tcp_s[x[m], m]
        if gap <= 0.0:
            return True
        need += comm_coef[x[m]] / gap
    return need > limit_hz


@_kernel(_i8(_F2, _F1, _I1, _F2, _F1, _f8, _f8, _F1, _i8, _i8, _W1, _W1, _W1, _J1, _J1, _J2, _i8, _F1))
def paper_iterations(tcp, coef, prefix, tcp_s, comm_coef, bandwidth_hz, tau_s, alphas, first, last,
                     lam, nu, fstate, istate, best_x, history, max_steps, constants):
    """Iterations ``first..last`` of :func:`solvers.dual_ascent.dual_ascent` (the paper's Algorithm 3), in place.

    The same operations, in the same order, as the Python loop (see that
    function and the module docstring for the method): the weights
    ``lam_k tcp_km - nu_k`` (``inf`` for ``m >= prefix[k]``), their bottleneck
    value (:func:`crunch_rows` on ``lam tcp`` offset by ``-nu``), the pruned
    matching on the devices with a pair left (every block's M cheapest of
    them, ties to the lower device, when more than 4M are), Lemma 1 (the M
    least prices, ties to the lower device), the latency test of the
    incumbent, the exact block term when the bound may rise, and the
    projected step with the given step lengths ``alphas[i - 1]``.  Sums are
    NumPy's (:func:`_pairwise_sum`); the LSAP is SciPy's (:func:`lsap_rows`).

    State, read and written: ``lam``, ``nu`` (K,); ``fstate`` = (eta, best,
    best_bound); ``istate`` = (best_iteration, bound_iteration or -1, last
    iteration run); ``best_x`` (M,).  ``history[i - 1]`` receives iteration
    i's block step.  ``constants`` = (skip tolerance of the latency test,
    EXACT_RTOL, ABS_FLOOR_S, ROUNDING_RTOL, eta floor, upload cap).  Returns 0
    when iteration ``last`` ended with a step, 1 when the bound met the
    incumbent, 2 at a zero subgradient, 3 when Newton did not settle (the
    caller re-runs in Python).
    """
    K, M = tcp.shape
    skip_rtol, exact_rtol, abs_floor, rounding_rtol, eta_floor, upload_cap = (
        constants[0], constants[1], constants[2], constants[3], constants[4], constants[5])
    large = K > 4 * M
    product = np.empty((K, M))
    neg_nu = np.empty(K)
    weights = np.empty((K, M))
    values, iwork = np.empty((M, M)), np.empty(M * M + 2 * K + 2 * M, dtype=np.int64)
    rows = np.empty(K, dtype=np.int64)
    sub = np.empty(K, dtype=np.int64)
    heap = np.empty(M)
    heaps = np.empty(M * M)
    sizes = np.empty(M, dtype=np.int64)
    counts = np.empty(M, dtype=np.int64)
    cost = np.empty(M * K)
    col4row = np.empty(M, dtype=np.int64)
    x = np.empty(M, dtype=np.int64)
    y = np.empty(M, dtype=np.int64)
    band = np.empty(M)
    per_device = np.empty(K)
    on = np.empty(M, dtype=np.int64)
    chosen = np.empty(M)
    on_share = np.empty(M)
    g_lam = np.empty(K)
    g_nu = np.empty(K)
    allrows = np.arange(K)
    eta, best, best_bound = fstate[0], fstate[1], fstate[2]
    best_iteration, bound_iteration = istate[0], istate[1]
    code = 0
    it = first - 1
    for it in range(first, last + 1):
        t_ub = best
        lam_sum = _pairwise_sum(lam, K)
        t_i = t_ub if lam_sum >= 1.0 else 0.0
        # the weights, and their bottleneck value (rows sorted: lam >= 0)
        for k in range(K):
            neg_nu[k] = -nu[k]
            for m in range(M):
                p = lam[k] * tcp[k, m]
                product[k, m] = p
                weights[k, m] = p - nu[k] if m < prefix[k] else np.inf
        v = crunch_rows(product, neg_nu, prefix, values, iwork)
        # the paper's block step: the matching on the pairs at or under v
        n = 0
        for k in range(K):
            if weights[k, 0] <= v:
                rows[n] = k
                n += 1
        if n > 4 * M:
            n = _cheapest_devices(weights, rows, n, v, M, heaps, sizes, counts, sub)
            rows[:n] = sub[:n]
        pruned_sum = _matching(weights, rows, n, v, M, cost, col4row, x)
        history[it - 1, :] = x
        # Lemma 1: the M least prices (ties to the lower device), their sum in ascending order
        for k in range(K):
            per_device[k] = 2.0 * np.sqrt(lam[k] * eta * coef[k]) + nu[k]
        _stable_least(per_device, K, M, heap, on)
        for j in range(M):
            chosen[j] = per_device[on[j]]
        z_term = _pairwise_sum(np.sort(chosen), M)
        for j in range(M):
            on_share[j] = np.sqrt(lam[on[j]] * coef[on[j]] / eta)
        # this iterate's x with its optimal bandwidth (skipped when it provably loses)
        value = np.inf
        if not (t_ub < np.inf and _exceeds(tcp_s, comm_coef, bandwidth_hz * (1.0 + skip_rtol), x,
                                           t_ub * tau_s * (1.0 + skip_rtol))):
            root = bandwidth_root(tcp_s, comm_coef, bandwidth_hz, x, band, max_steps)
            if root != root:
                code = 3
                break
            value = root / tau_s
        if value < best:
            best = value
            best_x[:] = x
            best_iteration = it
        # the dual bound, when it may rise
        y_lam = 1.0 - lam_sum
        t_term = t_ub * (y_lam if y_lam < 0.0 else 0.0)
        if t_term + pruned_sum + z_term - eta > best_bound:
            if large:
                n = _cheapest_devices(weights, allrows, K, np.inf, M, heaps, sizes, counts, sub)
                block_term = _matching(weights, sub, n, np.inf, M, cost, col4row, y)
            else:
                block_term = _matching(weights, allrows, K, np.inf, M, cost, col4row, y)
            g = t_term + block_term + z_term - eta
            g -= rounding_rtol * (abs(t_term) + abs(block_term) + abs(z_term) + eta)
            if g > best_bound:
                best_bound = g
                bound_iteration = it
        scale = max(abs(best_bound), abs(best), abs_floor)
        if best_bound >= best or abs(best_bound - best) <= exact_rtol * scale:
            code = 1
            break
        # eq. (16): the projected subgradient step
        for k in range(K):
            g_lam[k] = -t_i
            g_nu[k] = 0.0
        for m in range(M):
            g_lam[x[m]] += tcp[x[m], m]
        cap = upload_cap * t_ub
        for j in range(M):
            upload = coef[on[j]] / on_share[j] if on_share[j] > 0 else cap
            g_lam[on[j]] += upload if (upload <= cap or upload != upload) else cap   # np.minimum
            g_nu[on[j]] = 1.0
        for m in range(M):
            g_nu[x[m]] -= 1.0
        g_eta = _pairwise_sum(on_share, M) - 1.0
        moves = (t_i != 0.0 and K > 2 * M) or g_eta != 0.0
        for k in range(K):
            if g_lam[k] != 0.0 or g_nu[k] != 0.0:
                moves = True
        if not moves:
            code = 2
            break
        alpha = alphas[it - 1]
        for k in range(K):
            step = lam[k] + alpha * g_lam[k]
            lam[k] = step if (step >= 0.0 or step != step) else 0.0     # np.maximum(step, 0.0)
            nu[k] = nu[k] + alpha * g_nu[k]
        step = eta + alpha * g_eta
        eta = eta_floor if eta_floor > step else step
    fstate[0], fstate[1], fstate[2] = eta, best, best_bound
    istate[0], istate[1], istate[2] = best_iteration, bound_iteration, it
    return code


# --------------------------------------------------------------------------------------
# The improved dual ascent: whole iterations
# --------------------------------------------------------------------------------------
@_jit
def _least_sorted(values, n, r, out, at, seeds, mark, stamp):
    """``out[:r]`` = the r least of ``values[:n]`` (r <= n), ascending, ``at[:r]`` their positions.

    Insertion into a sorted buffer, scanning first the r positions ``seeds[:r]`` (marked ``stamp`` in
    ``mark``; none when ``seeds`` is empty): given the positions of a similar row's r least in
    ascending order, the buffer fills nearly sorted and most later values fail its first test.  The
    values found do not depend on the scan order.
    """
    count = 0
    for j in range(seeds.shape[0]):
        i = seeds[j]
        mark[i] = stamp
        count = _insert(values[i], i, out, at, count, r)
    for i in range(n):
        if seeds.shape[0] and mark[i] == stamp:
            continue
        if count < r or values[i] < out[r - 1]:
            count = _insert(values[i], i, out, at, count, r)


@_jit
def _insert(v, i, out, at, count, r):
    """Insert v (position i) into the ascending ``out[:count]``, keeping at most r; the new count."""
    if count < r:
        q = count
        count += 1
    else:
        q = r - 1
    while q > 0 and out[q - 1] > v:
        out[q] = out[q - 1]
        at[q] = at[q - 1]
        q -= 1
    out[q] = v
    at[q] = i
    return count


@_jit
def _rich_fill(sub, P, devices, n, tcp, prefix, scale, shift):
    """``sub[p, m, i]`` = ``scale[p, k] tcp[k, m] + shift[p, k]`` for ``k = devices[i]`` and p < P, inf where
    block m does not fit in device k's memory."""
    M = tcp.shape[1]
    for i in range(n):
        k = devices[i]
        pk = min(prefix[k], M)
        for p in range(P):
            a, b = scale[p, k], shift[p, k]
            for m in range(pk):
                sub[p, m, i] = a * tcp[k, m] + b
            for m in range(pk, M):
                sub[p, m, i] = np.inf


@_jit
def _sub_matching(sub, picked, n, v, devices, cost, col4row, x):
    """SciPy's LSAP on the (M, n) matrix ``sub[:, picked[:n]]`` with the entries above v set to inf.

    ``x[m]`` receives block m's device (``devices[picked[j]]``); returns the sum of the chosen
    entries in NumPy's order, or inf when no assignment avoids the inf entries (where SciPy raises).
    """
    M = sub.shape[0]
    c = cost[:M * n].reshape((M, n))
    for m in range(M):
        for j in range(n):
            c[m, j] = _pruned(sub[m, picked[j]], v)
    if not lsap_rows(c, col4row) < np.inf:
        return np.inf
    chosen = np.empty(M)
    for m in range(M):
        j = picked[col4row[m]]
        x[m] = devices[j]
        chosen[m] = sub[m, j]
    return _pairwise_sum(chosen, M)


@_jit
def _remember(x, store, table, count):
    """Add the assignment x to the set ``store[:count]`` (open addressing: ``table`` holds row numbers,
    -1 where empty, its size a power of two above the set's); the new count, ``count`` if x was there."""
    M = x.shape[0]
    mask = table.shape[0] - 1
    h = 1469598103934665603
    for m in range(M):                     # FNV-1a over the devices (int64 products wrap)
        h = (h ^ x[m]) * 1099511628211
    slot = (h ^ (h >> 29)) & mask
    while table[slot] >= 0:
        row = table[slot]
        same = True
        for m in range(M):
            if store[row, m] != x[m]:
                same = False
                break
        if same:
            return count
        slot = (slot + 1) & mask
    store[count, :] = x
    table[slot] = count
    return count + 1


@_jit
def _sort_moved(v, order, moving, merged, work):
    """``merged`` = a permutation sorting v ascending, given ``order`` sorting it but for the devices
    marked ``moving`` (the others keep their order in v).

    The moving devices are sorted by insertion, then merged with the others in ``order``'s
    sequence; ties in v are ordered arbitrarily (equal values: the same sorted sequence).
    """
    K = v.shape[0]
    n = 0
    for k in range(K):                     # the moving devices, by insertion
        if moving[k]:
            q = n
            while q > 0 and v[work[q - 1]] > v[k]:
                work[q] = work[q - 1]
                q -= 1
            work[q] = k
            n += 1
    j = 0
    c = 0
    for i in range(K):
        k = order[i]
        if moving[k]:
            continue
        while j < n and v[work[j]] < v[k]:
            merged[c] = work[j]
            c += 1
            j += 1
        merged[c] = k
        c += 1
    while j < n:
        merged[c] = work[j]
        c += 1
        j += 1


@_jit
def _simplex_projection(v, order, out):
    """``out`` = :func:`solvers.dual_ascent.project_simplex` of v (running sum left to right over v in
    descending order, ``order`` a permutation sorting v ascending); False (``out`` untouched) when the
    sum is not finite."""
    K = v.shape[0]
    total = 0.0
    rho = -1
    css = 0.0
    for i in range(K):                     # v in descending order
        ui = v[order[K - 1 - i]]
        total += ui
        if ui - (total - 1.0) / (i + 1) > 0.0:
            rho = i
            css = total - 1.0
    if rho < 0 or not np.isfinite(total):
        return False
    shift = css / (rho + 1)
    for k in range(K):
        d = v[k] - shift
        out[k] = d if (d > 0.0 or d != d) else 0.0          # np.maximum(d, 0.0)
    return True


@_kernel(_f8(_F1))
def self_dot(a):
    """``a @ a`` as :func:`rich_iterations` computes it: BLAS's ``ddot`` (Numba calls SciPy's BLAS)."""
    return np.dot(a, a)


@_kernel(_i8(_F2, _F1, _I1, _F2, _F1, _f8, _f8, _i8, _i8, _I1, _f8, _W1, _W1, _W1, _J1, _J1, _J1, _J1, _J2, _J1,
             _i8, _F1))
def rich_iterations(tcp, coef, prefix, tcp_s, comm_coef, bandwidth_hz, tau_s, first, last, options, step,
                    lam, nu, fstate, istate, best_x, kept, order, store, table, max_steps, constants):
    """Iterations ``first..last`` of :func:`solvers.dual_ascent.dual_ascent_rich`, in place.

    The same operations, in the same order, as its Python loop (see that
    function for the method): the weight matrices at nu, at the best nu and
    (with the rich recovery) of the Lemma-1 bandwidth costs, with their order
    statistics and the devices the loop's :class:`solvers.dual_ascent._BlockTerms`
    keeps (at K > 4M: each block's M-th and 2M-th least weights over the
    devices kept before, widened by the tie margin, give the devices kept now;
    the matchings run on those within the margin of each block's M cheapest,
    and devices 0..M-1), so that every matching sees SciPy's very matrix; the
    paper's block step (pruned matching at nu), Lemma 1's involvement (the M
    least prices, ties to the lower device), the dual value at the best nu with
    the exact matching, the pruned matching at the best nu and CRUNCH under
    Lemma 1's bands (``bandwidth_block_step``: where every cost is finite and
    K > 4M, the loop's prefix counts under the cost matrix's bottleneck value
    and Proposition 1's matching of them, else :func:`crunch_rows`); each new
    candidate's optimal-bandwidth latency (skipped when it provably exceeds
    the incumbent), the stopping tests and the projected step (Polyak or
    diminishing; simplex projection or orthant).  Sums are NumPy's
    (:func:`_pairwise_sum`); dot products are BLAS's ``ddot``, as NumPy's
    (Numba calls SciPy's BLAS); the LSAP is SciPy's (:func:`lsap_rows`).
    Order statistics are read off sorted buffers (:func:`_least_sorted`), the
    simplex projection's sort off the previous order (:func:`_sort_moved`):
    the same values as NumPy's sorts.

    ``options`` = (simplex, polyak, rich recovery, patience, halving period)
    and ``step`` (theta_0, or alpha_0 of the diminishing rule).  State, read
    and written: ``lam``, ``nu`` (K,); ``fstate`` = (eta, best, best_bound,
    theta); ``istate`` = (best_iteration, bound_iteration or -1, last
    iteration run, best_from (0 CRUNCH, 1 paper step, 2 Lagrangian, 3 pruned
    Lagrangian, 4 Lemma-1 bandwidth), stall, since_bound, number of kept
    devices or -1 before the first iteration, number of distinct assignments
    evaluated, 1 when ``store`` was enlarged and ``table`` is to be refilled
    from it); ``best_x`` (M,); ``kept[:n]`` the kept devices; ``order`` a
    permutation sorting ``lam`` ascending (for the simplex projection); ``store`` and
    ``table`` the set of the assignments evaluated (:func:`_remember`; an
    empty set first receives ``best_x``, iteration 0's assignment).  An
    assignment evaluated before cannot beat the incumbent (its latency was
    at least the incumbent of then, which never rises), so only new ones are
    evaluated.  ``constants`` = (skip tolerance of the latency test,
    EXACT_RTOL, ABS_FLOOR_S, STALL_RTOL, eta floor, upload cap, tie margin,
    the upload above which the bandwidth step is CRUNCH's on finite costs).
    Returns 0 when iteration ``last`` ended with a step, 1 when the bound met
    the incumbent, 2 at stagnation, 3 when the Python loop must decide
    (Newton does not settle, a dual or a sum is not finite, or a matching is
    infeasible, where SciPy raises): the caller re-runs in Python; 4 when
    ``store`` has no room for another iteration's four candidates (the
    iterations before it ran): the caller enlarges it and goes on.
    """
    K, M = tcp.shape
    simplex, polyak, rich = options[0] != 0, options[1] != 0, options[2] != 0
    patience, halve_after = options[3], options[4]
    skip_rtol, exact_rtol, abs_floor, stall_rtol, eta_floor, upload_cap, tie_rtol, huge_upload = (
        constants[0], constants[1], constants[2], constants[3], constants[4], constants[5], constants[6],
        constants[7])
    P = 3 if rich else 2
    large = K > 4 * M
    spreads = np.array([0.0, 0.0, -1.0])    # spread of each matrix's weights below 0 (-1: no matching)
    two_root = np.empty(K)
    share = np.empty(K)
    upload = np.empty(K)
    per_device = np.empty(K)
    scale = np.empty((P, K))
    shift = np.empty((P, K))
    offset = np.empty(K)
    reach = np.empty(K, dtype=np.int64)
    values, iwork = np.empty((M, M)), np.empty(M * M + 2 * K + 2 * M, dtype=np.int64)
    sub = np.empty((P, M, K))
    devices = np.arange(K)
    every_device = np.arange(K)
    keep = np.empty(K, dtype=np.bool_)
    least = np.empty(2 * M)                  # a row's least weights, ascending (or Lemma 1's heap)
    at = np.empty((M + 1, 2 * M), dtype=np.int64)   # positions of each row's least (a seed for the next)
    mark = np.full(K, -1, dtype=np.int64)
    stamp = 0
    top = np.empty((P, M))
    second = np.empty((P, M))
    flag = np.empty(K, dtype=np.bool_)
    masked = np.empty((K, M))                # tcp, inf where the block does not fit
    for k in range(K):
        for m in range(M):
            masked[k, m] = tcp[k, m] if m < prefix[k] else np.inf
    last_inf = np.empty(P, dtype=np.int64)
    cut = np.empty((3, M))
    bottleneck = np.empty(3)
    start = np.empty(M + 2, dtype=np.int64)
    picked = np.empty((2, K), dtype=np.int64)
    counts = np.empty(2, dtype=np.int64)
    cost = np.empty(M * K)
    col4row = np.empty(M, dtype=np.int64)
    candidates = np.empty((4, M), dtype=np.int64)
    on = np.empty(M, dtype=np.int64)
    band = np.empty(M)
    latency = np.empty(K)
    banded_share = np.empty(K)
    g_lam = np.empty(K)
    g_nu = np.empty(K)
    moved = np.empty(K)
    moving = np.empty(K, dtype=np.bool_)
    merged = np.empty(K, dtype=np.int64)
    sorting = np.empty(K, dtype=np.int64)
    eta, best, best_bound, theta = fstate[0], fstate[1], fstate[2], fstate[3]
    best_iteration, bound_iteration, best_from = istate[0], istate[1], istate[3]
    stall, since_bound, n_kept, distinct = istate[4], istate[5], istate[6], istate[7]
    if istate[8]:                            # a larger store: its rows go into the fresh table
        for row in range(distinct):
            _remember(store[row], store, table, row)
        istate[8] = 0
    if distinct == 0:
        distinct = _remember(best_x, store, table, 0)
    code = 0
    it = first - 1
    for it in range(first, last + 1):
        if distinct + 4 > store.shape[0]:    # no room for this iteration's candidates
            it -= 1
            code = 4
            break
        # Lemma 1's square roots, shared by its prices, the best nu and its bands (finite duals only)
        finite = eta < np.inf
        every_band = True
        top_nu = -np.inf
        for k in range(K):
            if not (np.isfinite(lam[k]) and np.isfinite(nu[k])):
                finite = False
            two_root[k] = 2.0 * np.sqrt(lam[k] * eta * coef[k])
            if not two_root[k] < np.inf:     # Lemma 1's value at the best nu is then not 0
                finite = False
            share[k] = np.sqrt(lam[k] * coef[k] / eta)
            if not share[k] > 0.0:
                every_band = False
            per_device[k] = two_root[k] + nu[k]
            if nu[k] > top_nu:
                top_nu = nu[k]
        if not finite:
            code = 3
            break
        # the weight matrices: entry (k, m) is scale[p, k] t_km + shift[p, k] (a - b is a + (-b), 1 t is t):
        # p = 0: lam_k t_km - nu_k; p = 1: lam_k t_km - nu*_k with nu*_k = -2 sqrt(lam_k eta c_k) the best nu;
        # p = 2: t_km + c_k / b_k under Lemma 1's bands when all are positive, else matrix 1 (a placeholder)
        banded = rich and every_band
        counting = banded and large          # (the loop's shortcut, when every upload is below huge_upload)
        for k in range(K):
            scale[0, k], shift[0, k] = lam[k], -nu[k]
            scale[1, k], shift[1, k] = lam[k], two_root[k]
            if banded:
                upload[k] = coef[k] / share[k]
                scale[2, k], shift[2, k] = 1.0, upload[k]
                if not upload[k] < huge_upload:
                    counting = False
            elif rich:
                scale[2, k], shift[2, k] = lam[k], two_root[k]
        spreads[0] = top_nu if top_nu > 0.0 else 0.0
        # the devices to look at, and every block's order statistics over them
        n = K
        if large:
            if n_kept >= 0:
                n = n_kept
                devices[:n] = kept[:n]
            _rich_fill(sub, P, devices, n, tcp, prefix, scale, shift)
            for p in range(P):
                for m in range(M):
                    _least_sorted(sub[p, m], n, 2 * M, least, at[m + 1], at[m, :2 * M if m else 0], mark,
                                  stamp)
                    stamp += 1
                    top[p, m] = least[M - 1]
                    second[p, m] = least[2 * M - 1]
                margin = 0.0
                if spreads[p] >= 0.0:
                    size = abs(top[p, 0])
                    for m in range(1, M):
                        size = max(size, abs(top[p, m]))
                    margin = tie_rtol * (size + spreads[p])
                last_inf[p] = -1
                for m in range(M):
                    top[p, m] = top[p, m] + margin
                    if top[p, m] == np.inf:
                        last_inf[p] = m
            flag[:n] = False
            for p in range(P):               # each block's 2M least among the devices kept before
                for m in range(M):
                    for i in range(n):
                        flag[i] |= sub[p, m, i] <= second[p, m]
            keep[:] = False
            for i in range(n):
                keep[devices[i]] = flag[i]
            keep[:M] = True
            for k in range(K):               # some weight at or under its block's threshold
                if keep[k]:
                    continue
                pk = min(prefix[k], M)
                hit = False
                for p in range(P):
                    if last_inf[p] >= pk:     # an inf weight under an inf threshold
                        hit = True
                if not hit:                  # (no branch per entry: beyond pk, inf or NaN fail the test)
                    for p in range(P):
                        a, b = scale[p, k], shift[p, k]
                        for m in range(M):
                            hit |= a * masked[k, m] + b <= top[p, m]
                keep[k] = hit
            n = 0
            for k in range(K):
                if keep[k]:
                    kept[n] = k
                    n += 1
            n_kept = n
            devices[:n] = kept[:n]
        filled = 3 if counting else 2
        _rich_fill(sub, filled, devices, n, tcp, prefix, scale, shift)
        for p in range(filled):              # bottleneck values; the M-th least weights
            bottleneck[p] = -np.inf
            for m in range(M):
                _least_sorted(sub[p, m], n, M, least, at[m + 1, :M], at[m, :M if m else 0], mark, stamp)
                stamp += 1
                cut[p, m] = least[M - 1]
                bottleneck[p] = max(bottleneck[p], least[M - 1 - m])
            if p == 2:
                break
            counts[p] = 0
            if large:                        # the matchings' devices: within the margin, and 0..M-1
                size = abs(cut[p, 0])
                for m in range(1, M):
                    size = max(size, abs(cut[p, m]))
                margin = tie_rtol * (size + spreads[p])
                for i in range(n):
                    flag[i] = i < M
                for m in range(M):
                    bound = cut[p, m] + margin
                    for i in range(n):
                        flag[i] |= sub[p, m, i] <= bound
                for i in range(n):
                    if flag[i]:
                        picked[p, counts[p]] = i
                        counts[p] += 1
            else:
                for i in range(n):
                    picked[p, i] = i
                counts[p] = n
        # the block steps: the paper's at nu, the exact (for the bound) and the pruned one at nu*
        if not _sub_matching(sub[0], picked[0], counts[0], bottleneck[0], devices, cost, col4row,
                             candidates[0]) < np.inf:
            code = 3
            break
        block_term = _sub_matching(sub[1], picked[1], counts[1], np.inf, devices, cost, col4row, candidates[1])
        if not block_term < np.inf:
            code = 3
            break
        n_candidates = 1
        if rich:
            if not _sub_matching(sub[1], picked[1], counts[1], bottleneck[1], devices, cost, col4row,
                                 candidates[2]) < np.inf:
                code = 3
                break
            n_candidates = 3
            # CRUNCH under Lemma 1's bands (bandwidth_block_step)
            if counting:                     # every cost finite: the prefix counts under matrix 2's
                for k in range(K):           # bottleneck value, and Proposition 1's matching of them
                    pk = min(prefix[k], M)
                    c = 0
                    while c < pk and tcp[k, c] + upload[k] <= bottleneck[2]:
                        c += 1
                    reach[k] = c
                _ranked_last(reach, every_device, K, M, start, candidates[3])
                n_candidates = 4
            else:                            # on the devices with a band, their pairs of finite cost
                for k in range(K):
                    pk = min(prefix[k], M)
                    reach[k] = 0
                    offset[k] = 0.0
                    if share[k] > 0.0 and pk > 0:
                        u = coef[k] / share[k]
                        if u < np.inf:
                            while pk > 0 and not tcp[k, pk - 1] + u < np.inf:
                                pk -= 1
                            reach[k] = pk
                            offset[k] = u
                if crunch_rows(tcp, offset, reach, values, iwork) < np.inf:   # (inf: Hall fails)
                    candidates[3, :] = iwork[iwork.shape[0] - M:]
                    n_candidates = 4
        # Lemma 1 at nu: the M least prices, ties to the lower device
        _stable_least(per_device, K, M, least, on)
        # the dual value at the best nu (Lemma 1's term is 0 there) and the bound
        y_lam = 1.0 - _pairwise_sum(lam, K)
        t_term = best * (y_lam if y_lam < 0.0 else 0.0)
        z_term = 0.0
        dual_value = t_term + block_term + z_term - eta
        improved = False
        if dual_value > best_bound + stall_rtol * abs(best):
            improved = True
            since_bound = 0
        else:
            since_bound += 1
        if dual_value > best_bound:
            best_bound = dual_value
            bound_iteration = it
        # primal recovery: each new candidate with its optimal bandwidth (skipped when it provably loses)
        for c in range(n_candidates):
            x = candidates[c]
            grown = _remember(x, store, table, distinct)
            value = np.inf
            if grown > distinct:
                distinct = grown
                if not (best < np.inf and _exceeds(tcp_s, comm_coef, bandwidth_hz * (1.0 + skip_rtol), x,
                                                   best * tau_s * (1.0 + skip_rtol))):
                    root = bandwidth_root(tcp_s, comm_coef, bandwidth_hz, x, band, max_steps)
                    if root != root:
                        code = 3
                        break
                    value = root / tau_s
            if value < best * (1.0 - stall_rtol):
                improved = True
            if value < best:
                best = value
                best_x[:] = x
                best_iteration = it
                best_from = c + 1
        if code:
            break
        magnitude = max(abs(best_bound), abs(best), abs_floor)
        if best_bound >= best or abs(best_bound - best) <= exact_rtol * magnitude:
            code = 1
            break
        stall = 0 if improved else stall + 1
        if stall >= patience:
            code = 2
            break
        # subgradients (eq. 16) on the constraint violations of the paper's iterate
        for k in range(K):
            latency[k] = 0.0
            banded_share[k] = 0.0
            g_nu[k] = 0.0
        x = candidates[0]
        for m in range(M):
            latency[x[m]] = tcp[x[m], m]
        cap = upload_cap * best
        for j in range(M):
            k = on[j]
            u = coef[k] / share[k] if share[k] > 0.0 else np.inf
            latency[k] += u if (u <= cap or u != u) else cap          # np.minimum
            banded_share[k] = share[k]
            g_nu[k] = 1.0
        for m in range(M):
            g_nu[x[m]] -= 1.0
        if simplex:
            mean = _pairwise_sum(latency, K) / K
            for k in range(K):
                g_lam[k] = latency[k] - mean
        else:
            for k in range(K):
                g_lam[k] = latency[k] - best
        g_eta = _pairwise_sum(banded_share, K) - 1.0
        if polyak:
            if since_bound >= halve_after:
                theta = 0.5 * theta
                since_bound = 0
            norm2 = np.dot(g_lam, g_lam) + g_eta * g_eta + np.dot(g_nu, g_nu)
            alpha = theta * (best - dual_value) / norm2 if norm2 > 0.0 else 0.0
        else:
            alpha = step / np.sqrt(it)
        for k in range(K):
            moved[k] = lam[k] + alpha * g_lam[k]
        if simplex:
            # off the paper's devices and Lemma 1's, lam_k moves by the same alpha (0 - mean): their
            # order stays, so only up to 2M devices need sorting into ``order`` (which sorts lam)
            moving[:] = False
            for m in range(M):
                moving[x[m]] = True
                moving[on[m]] = True
            _sort_moved(moved, order, moving, merged, sorting)
            if not _simplex_projection(moved, merged, lam):
                code = 3
                break
            order[:] = merged
        else:
            for k in range(K):
                d = moved[k]
                lam[k] = d if (d > 0.0 or d != d) else 0.0            # np.maximum(d, 0.0)
        moved_eta = eta + alpha * g_eta
        eta = eta_floor if eta_floor > moved_eta else moved_eta
        for k in range(K):
            nu[k] = nu[k] + alpha * g_nu[k]
    fstate[0], fstate[1], fstate[2], fstate[3] = eta, best, best_bound, theta
    istate[0], istate[1], istate[2], istate[3] = best_iteration, bound_iteration, it, best_from
    istate[4], istate[5], istate[6], istate[7] = stall, since_bound, n_kept, distinct
    return code
