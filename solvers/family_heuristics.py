r"""P2 (JBBA) on the problem family: feasibility, fast latencies, and the ``greedy-deepest`` heuristic.

The family (:mod:`instances.core`): block m's gradient has D_m bits (G1), and
device k may take up to c_k blocks (G2).  A device holding the set S_k computes
down to its deepest block ``d_k = max S_k`` (latency ``a_k = tcp[k, d_k]``,
memory ``mu[d_k] <= cap_k``) and uploads ``U_k = sum_{m in S_k} D_m`` bits; with
the optimal bandwidth (:func:`solvers.bandwidth.optimal_bandwidth`) the round
latency T(x) is the root of ``sum_k U_k / (R_k (T - a_k)) = B``.

Feasibility (Hall's theorem with capacities)
--------------------------------------------
Block m may go to device k iff ``m < p_k`` (``p_k`` the memory prefix: mu is
non-decreasing, so a device that fits its deepest block fits every shallower
one, and C3 on the deepest block is C3 on every block).  Copy device k c_k
times: an assignment is a matching of the blocks into the copies, which exists
iff every set S of blocks has at least |S| copies in its neighbourhood (Hall).
Neighbourhoods are nested (``N(j) = {k : p_k > j}`` shrinks as j grows), so the
worst S with shallowest block j is ``{j, ..., M-1}``, and an assignment exists iff

.. math:: \mathrm{room}(j) = \sum_{k:\, p_k > j} \min(c_k, M - j) \;\ge\; M - j
          \qquad (j = 0, \dots, M-1)

(``min(c_k, M - j)``: a device never takes more of those blocks than there
are; the test is the same with ``c_k``).  With every c_k = 1 this is
Proposition 1.  :func:`capacity_hall_violation` returns a violated j, the proof
behind every ``infeasible`` of this module.

*Any deepest-first greedy succeeds.*  Place the blocks from the deepest
(M-1) to the shallowest, each on any device with memory and a free place.
When block j is placed, the M-1-j deeper blocks occupy places of devices in
``N(j+1) ⊆ N(j)``, so ``N(j)`` still has ``room(j) - (M-1-j) >= 1`` free places
(Hall).  So the greedy below never gets stuck on a feasible instance, whatever
it chooses; and since a device's first block is its deepest, ``a_k`` is fixed
when the device is first used and later blocks only add bits.

The heuristic ``greedy-deepest``
--------------------------------
1. *Greedy.*  Blocks deepest first; each goes to the device (with memory and a
   free place) that minimises the optimal-bandwidth latency of the blocks
   placed so far: either a device already used (it holds a deeper block, so no
   extra computation, only bits) or a new device.  Among new devices only the
   Pareto front of ``(tcp[k, m], D_m / (R_k B))`` can be best (the root grows
   with both), so only it is evaluated.  Ties: the lower latency, then a device
   already used, then the lower index.
2. *Local search.*  Best-improvement moves (one block to another device with
   memory and a free place; new devices again only on the Pareto front) and
   swaps (two blocks of two devices, memory permitting), and when neither
   improves, ejection chains (a block to a full device, which passes one of
   its blocks on to a third device), while the latency drops by more than
   rounding (``SEARCH_RTOL``), at most ``max_passes`` passes.
3. *Regrouping.*  With the block sets of the used devices fixed, a device
   takes at most one set, so reassigning the sets is a parametric assignment
   problem as in :mod:`solvers.p2_exact`: LSAPs at the current latency until
   none costs less than the band (:func:`_regroup`; it finds, e.g., rotations
   of four blocks that no move, swap or chain reaches).  Steps 2 and 3
   alternate until neither improves.
4. The optimal bandwidth of the final assignment.

It claims nothing: status ``feasible``; ``infeasible`` only with the Hall
violator above.  All candidate latencies of a step are roots of the same
equation, found together by a vectorised Newton iteration
(:func:`candidate_roots`, the iteration of :func:`solvers.bandwidth.latency_root_s`).

Complexity: greedy O(M (K + P n)) with P the Pareto front and n <= M the
devices used; a local-search pass O(M (n + P) n + M^2 n).
"""
from __future__ import annotations

import functools
import math

import numpy as np

from instances import Instance

from .bandwidth import device_terms, optimal_bandwidth, solve_bandwidth_equation
from .result import Result, Status, Stopwatch
from .scope import solves

#: Relative decrease of the latency below which the local search stops (rounding only).
SEARCH_RTOL = 1e-12

#: Newton steps allowed in :func:`candidate_roots` (it settles in 4-8).
NEWTON_MAX_STEPS = 100


# --------------------------------------------------------------------------------------
# Feasibility
# --------------------------------------------------------------------------------------
def capacity_room(instance: Instance) -> np.ndarray:
    r"""(M,) int: ``room[j]`` = places the devices that fit block j offer to blocks j..M-1.

    .. math:: \mathrm{room}(j) = \sum_{k:\, p_k > j} \min(c_k, M - j).

    O(K M).

    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0, 2.0, 3.0]] * 2, [1.0, 1.0, 2.0], [2.0, 1.0], [1.0, 1.0],
    ...                             gradient_bits=1.0, bandwidth_hz=1.0, device_max_blocks=[2, 3])
    >>> capacity_room(inst).tolist()          # device 1 fits blocks 0, 1 only
    [5, 4, 1]
    """
    M = instance.M
    prefix = instance.memory_prefix
    most = np.asarray(instance.device_max_blocks, dtype=np.int64)
    room = np.empty(M, dtype=np.int64)
    for j in range(M):
        room[j] = int(np.minimum(most[prefix > j], M - j).sum())
    return room


def capacity_hall_violation(instance: Instance) -> int | None:
    """The deepest block j whose set ``{j..M-1}`` violates Hall's condition with capacities, or None.

    None iff some assignment satisfies C1 (every block placed), C2 (at most c_k
    blocks on device k) and C3 (memory of the deepest block); see the module
    docstring.  O(K M).

    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0, 2.0, 3.0]] * 2, [1.0, 2.0, 2.0], [2.0, 1.0], [1.0, 1.0],
    ...                             gradient_bits=1.0, bandwidth_hz=1.0, device_max_blocks=[1, 3])
    >>> capacity_hall_violation(inst)         # blocks 1, 2 need 2 places; only device 0 (1 place) fits them
    1
    """
    need = instance.M - np.arange(instance.M)
    short = np.flatnonzero(capacity_room(instance) < need)
    return int(short[-1]) if short.size else None


def family_infeasibility_reason(instance: Instance) -> str | None:
    """One sentence proving that no assignment exists (Hall with capacities), or None if one does."""
    j = capacity_hall_violation(instance)
    if j is None:
        return None
    M = instance.M
    room = int(capacity_room(instance)[j])
    holders = int(np.count_nonzero(instance.memory_prefix > j))
    if j == 0:
        return (f"the K = {instance.K} devices take at most {room} of the M = {M} blocks "
                f"(sum_k min(c_k, M) < M)")
    return (f"memory wall: blocks {j}..{M - 1} ({M - j} blocks) fit only on {holders} device(s), "
            f"which take at most {room} of them")


# --------------------------------------------------------------------------------------
# Latencies
# --------------------------------------------------------------------------------------
def candidate_roots(a_s: np.ndarray, share: np.ndarray) -> np.ndarray:
    r"""Roots T of ``sum_j share[i, j] / (T - a_s[i, j]) = 1``, one per row i (s).

    The iteration of :func:`solvers.bandwidth.latency_root_s` (Newton from the
    left in the offset ``t = T - max_j a``), run on every row at once.  Unused
    entries are ``a = -inf, share = 0`` (they add nothing).  A row whose Newton
    does not settle gets Brent's root (:func:`solvers.bandwidth.solve_bandwidth_equation`).

    >>> T = candidate_roots(np.array([[1.0, 2.0], [1.0, -np.inf]]), np.array([[1.0, 1.0], [1.0, 0.0]]))
    >>> bool(abs(T[0] - (5.0 + 5.0 ** 0.5) / 2.0) < 1e-15 * T[0]), float(T[1])
    (True, 2.0)
    """
    top = a_s.max(axis=1)
    with np.errstate(invalid="ignore"):
        gap = top[:, None] - a_s                      # inf on unused entries
    t = (share - gap).max(axis=1)
    active = np.ones(t.size, dtype=bool)
    for _ in range(NEWTON_MAX_STEPS):
        rows = np.flatnonzero(active)
        if rows.size == 0:
            break
        denominator = t[rows, None] + gap[rows]
        ratio = share[rows] / denominator
        h = ratio.sum(axis=1) - 1.0
        step = h / (ratio / denominator).sum(axis=1)
        moved = (h > 0.0) & (t[rows] + step > t[rows])
        t[rows[moved]] += step[moved]
        active[rows[~moved]] = False
    for i in np.flatnonzero(active):                 # did not settle: Brent
        used = share[i] > 0
        t[i] = solve_bandwidth_equation(a_s[i, used], share[i, used], 1.0)[0] - top[i]
    return top + t


def family_latency_s(instance: Instance, assignment) -> float:
    """T(x) (s) of ``assignment`` on any instance of the family: the root of the bandwidth equation.

    Newton (:func:`candidate_roots`) on :func:`solvers.bandwidth.device_terms`;
    the same root as :func:`solvers.bandwidth.optimal_bandwidth` to a few ulps.  O(M).

    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.0, 3.0]], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0],
    ...                             gradient_bits=[1.0, 2.0], bandwidth_hz=1.0, device_max_blocks=[2, 1])
    >>> family_latency_s(inst, [0, 0])          # 2 s + 3 bits at 1 Hz
    5.0
    """
    _, a_s, coef = device_terms(instance, assignment)
    return float(candidate_roots(a_s[None, :], (coef / instance.bandwidth_hz)[None, :])[0])


def family_needed_share(instance: Instance, assignment, threshold_s: float) -> float:
    r"""N_x(T) / B: the least share of the band with which ``assignment`` finishes by T (inf if it cannot).

    .. math:: \sum_k \frac{U_k}{R_k B (T - a_k)} \quad (a_k < T \text{ for every involved } k).

    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.0, 3.0]], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0],
    ...                             gradient_bits=[1.0, 2.0], bandwidth_hz=1.0, device_max_blocks=[2, 1])
    >>> family_needed_share(inst, [0, 0], 5.0), family_needed_share(inst, [0, 0], 2.0)
    (1.0, inf)
    """
    _, a_s, coef = device_terms(instance, assignment)
    gap = threshold_s - a_s
    if np.any(gap <= 0):
        return math.inf
    return math.fsum((coef / instance.bandwidth_hz / gap).tolist())


# --------------------------------------------------------------------------------------
# The greedy and the local search
# --------------------------------------------------------------------------------------
def pareto_devices(latency_s: np.ndarray, upload_s: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Rows not dominated in ``(latency, upload)`` (both smaller is better); one row per point, lowest index.

    >>> pareto_devices(np.array([1.0, 2.0, 1.0, 3.0]), np.array([3.0, 1.0, 3.0, 0.5]), np.arange(4)).tolist()
    [0, 1, 3]
    """
    if rows.size == 0:
        return rows
    order = np.lexsort((rows, upload_s[rows], latency_s[rows]))
    best = np.minimum.accumulate(upload_s[rows][order])
    keep = np.ones(order.size, dtype=bool)
    keep[1:] = upload_s[rows][order][1:] < best[:-1]
    return np.sort(rows[order[keep]])


class _State:
    """An assignment (possibly partial: -1 = not placed) with per-device terms, for the heuristic."""

    def __init__(self, instance: Instance):
        self.tcp = instance.compute_latency
        self.q = instance.block_upload_full_s                  # (K, M): D_m / (R_k B), s
        self.prefix = instance.memory_prefix
        self.most = np.asarray(instance.device_max_blocks, dtype=np.int64)
        self.K, self.M = instance.K, instance.M
        self.assignment = np.full(self.M, -1, dtype=int)
        self.blocks: list[list[int]] = [[] for _ in range(self.K)]

    def terms(self, k: int, blocks) -> tuple[float, float]:
        """(a_k, share_k) of device k holding ``blocks`` (non-empty)."""
        return float(self.tcp[k, max(blocks)]), math.fsum(float(self.q[k, m]) for m in blocks)

    def used(self) -> list[int]:
        return [k for k in range(self.K) if self.blocks[k]]

    def place(self, m: int, k: int) -> None:
        old = self.assignment[m]
        if old >= 0:
            self.blocks[old].remove(m)
        self.assignment[m] = k
        self.blocks[k].append(m)


def _rows(base: dict[int, tuple[float, float]], changes: list[dict[int, tuple[float, float] | None]]):
    """Candidate term matrices: ``base`` (device -> terms) with each ``changes`` applied (None removes).

    A change touches at most three devices, at most two of them new, so each row
    has ``len(base) + 2`` entries; unused ones are ``(-inf, 0)``.
    """
    position = {k: i for i, k in enumerate(base)}
    n = len(base)
    first_a = np.full(n + 2, -np.inf)
    first_share = np.zeros(n + 2)
    first_a[:n] = [v[0] for v in base.values()]
    first_share[:n] = [v[1] for v in base.values()]
    a_s = np.tile(first_a, (len(changes), 1))
    share = np.tile(first_share, (len(changes), 1))
    for i, change in enumerate(changes):
        extra = n
        for k, value in change.items():
            j = position.get(k)
            if j is None:
                j, extra = extra, extra + 1
            if value is None:
                a_s[i, j], share[i, j] = -np.inf, 0.0
            else:
                a_s[i, j], share[i, j] = value
    return a_s, share


def _greedy(state: _State, sw: Stopwatch | None) -> None:
    """Place every block, deepest first (module docstring, step 1)."""
    tcp, q, prefix, most = state.tcp, state.q, state.prefix, state.most
    count = np.zeros(state.K, dtype=np.int64)
    base: dict[int, tuple[float, float]] = {}
    for m in range(state.M - 1, -1, -1):
        merge = [k for k in sorted(base) if count[k] < most[k]]          # prefix_k > d_k > m: memory fits
        idle = np.flatnonzero((count == 0) & (prefix > m))
        fresh = pareto_devices(tcp[:, m], q[:, m], idle).tolist()
        candidates = merge + fresh
        if not candidates:
            raise RuntimeError(f"no device can take block {m}: the instance violates Hall's condition")
        changes = [{k: (base[k][0], base[k][1] + float(q[k, m]))} for k in merge]
        changes += [{k: (float(tcp[k, m]), float(q[k, m]))} for k in fresh]
        T = candidate_roots(*_rows(base, changes))
        # least latency; then a device already used; then the lowest index
        key = [(float(T[i]), 0 if i < len(merge) else 1, candidates[i]) for i in range(len(candidates))]
        best = min(range(len(candidates)), key=key.__getitem__)
        k = candidates[best]
        state.place(m, k)
        count[k] += 1
        base[k] = state.terms(k, state.blocks[k])


#: Most candidates of one ejection-chain round (:func:`_chains`); beyond it the round is skipped.
MAX_CHAIN_CANDIDATES = 50_000


def _without(state: _State, k: int, m: int):
    """Terms of device k without block m (None if it then holds nothing)."""
    rest = [b for b in state.blocks[k] if b != m]
    return state.terms(k, rest) if rest else None


def _chains(state: _State, idle_mask: np.ndarray) -> tuple[list, list]:
    """Ejection chains: block m1 (on i) moves to a *full* device j, which passes one of its blocks m2 to l.

    ``l`` is another used device with a free place, or a new device (Pareto
    front for m2); ``l = i`` is a swap, already tried.  Empty lists when there
    would be more than :data:`MAX_CHAIN_CANDIDATES`.
    """
    tcp, q, prefix, most = state.tcp, state.q, state.prefix, state.most
    used = state.used()
    full = [j for j in used if len(state.blocks[j]) >= most[j]]
    fresh = {m: pareto_devices(tcp[:, m], q[:, m], np.flatnonzero(idle_mask & (prefix > m))).tolist()
             for m in range(state.M)}
    estimate = state.M * sum(len(state.blocks[j]) for j in full) * (len(used) + max(map(len, fresh.values()), default=0))
    if estimate > MAX_CHAIN_CANDIDATES:
        return [], []
    changes, moves = [], []
    for m1 in range(state.M):
        i = int(state.assignment[m1])
        left = _without(state, i, m1)
        for j in full:
            if j == i or m1 >= prefix[j]:
                continue
            for m2 in state.blocks[j]:
                middle = state.terms(j, [b for b in state.blocks[j] if b != m2] + [m1])
                targets = [l for l in used if l not in (i, j) and len(state.blocks[l]) < most[l] and m2 < prefix[l]]
                for l in targets:
                    changes.append({i: left, j: middle, l: state.terms(l, state.blocks[l] + [m2])})
                    moves.append(("chain", m1, j, m2, l))
                for l in fresh[m2]:
                    changes.append({i: left, j: middle, l: (float(tcp[l, m2]), float(q[l, m2]))})
                    moves.append(("chain", m1, j, m2, l))
    return changes, moves


def _local_search(state: _State, sw: Stopwatch | None, max_passes: int) -> int:
    """Best-improvement moves, swaps and ejection chains (module docstring, step 2); returns the passes that improved.

    Chains (:func:`_chains`) are tried only when no move or swap improves.
    """
    tcp, q, prefix, most = state.tcp, state.q, state.prefix, state.most
    improved = 0
    for _ in range(max_passes):
        if sw is not None and sw.expired():
            break
        used = state.used()
        base = {k: state.terms(k, state.blocks[k]) for k in used}
        current = float(candidate_roots(*_rows(base, [{}]))[0])
        changes, moves = [], []
        without = functools.partial(_without, state)

        idle_mask = np.array([not state.blocks[k] for k in range(state.K)])
        for m in range(state.M):
            i = int(state.assignment[m])
            left = without(i, m)
            for j in used:
                if j != i and len(state.blocks[j]) < most[j] and m < prefix[j]:
                    changes.append({i: left, j: state.terms(j, state.blocks[j] + [m])})
                    moves.append(("move", m, j))
            fresh = pareto_devices(tcp[:, m], q[:, m], np.flatnonzero(idle_mask & (prefix > m)))
            for j in fresh.tolist():
                changes.append({i: left, j: (float(tcp[j, m]), float(q[j, m]))})
                moves.append(("move", m, j))
        for m1 in range(state.M):
            i = int(state.assignment[m1])
            for m2 in range(m1 + 1, state.M):
                j = int(state.assignment[m2])
                if i == j or m2 >= prefix[i] or m1 >= prefix[j]:
                    continue
                blocks_i = [b for b in state.blocks[i] if b != m1] + [m2]
                blocks_j = [b for b in state.blocks[j] if b != m2] + [m1]
                changes.append({i: state.terms(i, blocks_i), j: state.terms(j, blocks_j)})
                moves.append(("swap", m1, m2))
        T = candidate_roots(*_rows(base, changes)) if changes else np.array([np.inf])
        best = int(np.argmin(T))
        if not T[best] < current * (1.0 - SEARCH_RTOL):
            changes, moves = _chains(state, idle_mask)
            if not changes:
                break
            T = candidate_roots(*_rows(base, changes))
            best = int(np.argmin(T))
            if not T[best] < current * (1.0 - SEARCH_RTOL):
                break
        kind, *what = moves[best]
        if kind == "move":
            state.place(what[0], what[1])
        elif kind == "swap":
            i, j = int(state.assignment[what[0]]), int(state.assignment[what[1]])
            state.place(what[0], j)
            state.place(what[1], i)
        else:
            m1, j, m2, l = what
            state.place(m2, l)
            state.place(m1, j)
        improved += 1
    return improved


def _regroup(state: _State, instance: Instance, max_rounds: int) -> int:
    """Reassign whole groups (the block sets of the used devices) to devices, exactly, by parametric LSAPs.

    With the groups fixed, a device takes at most one group, so at the current
    latency T the least share is a min-cost assignment of groups to devices
    (weights ``U_g / (R_k B (T - tcp[k, d_g]))``, inf where the group does not
    fit c_k, the memory or T), as in :mod:`solvers.p2_exact`; a cost below 1
    gives a strictly faster assignment.  Each group keeps its G cheapest devices
    (G the number of groups: the exchange argument of :mod:`solvers.p2_exact`).
    Returns the rounds that improved.
    """
    from scipy.optimize import linear_sum_assignment

    tcp, most, prefix = state.tcp, state.most, state.prefix
    unit = 1.0 / instance.spectral_efficiency / instance.bandwidth_hz       # s per bit with the whole band
    bits = instance.block_bits
    improved = 0
    for _ in range(max_rounds):
        used = state.used()
        groups = [sorted(state.blocks[k]) for k in used]
        base = {k: state.terms(k, state.blocks[k]) for k in used}
        T = float(candidate_roots(*_rows(base, [{}]))[0])
        deepest = np.array([g[-1] for g in groups])
        size = np.array([len(g) for g in groups])
        total = np.array([math.fsum(float(bits[m]) for m in g) for g in groups])
        gap = T - tcp[:, deepest].T                                          # (G, K)
        fits = (gap > 0) & (size[:, None] <= most[None, :]) & (deepest[:, None] < prefix[None, :])
        with np.errstate(divide="ignore", invalid="ignore"):
            w = np.where(fits, total[:, None] * unit[None, :] / gap, np.inf)
        G = len(groups)
        cols = np.arange(instance.K)
        if instance.K > G * G:
            cols = np.unique(np.argpartition(w, G - 1, axis=1)[:, :G])
        try:
            rows, picked = linear_sum_assignment(w[:, cols])
        except ValueError:
            break
        if not math.fsum(w[rows, cols[picked]].tolist()) < 1.0 - SEARCH_RTOL:
            break
        target = {int(g): int(cols[c]) for g, c in zip(rows, picked)}
        new = state.assignment.copy()
        for g, k in target.items():
            new[groups[g]] = k
        new_T = family_latency_s(instance, new)
        if not new_T < T * (1.0 - SEARCH_RTOL):
            break
        for g, k in target.items():
            for m in groups[g]:
                state.assignment[m] = k
        state.blocks = [[] for _ in range(state.K)]
        for m, k in enumerate(state.assignment.tolist()):
            state.blocks[k].append(m)
        improved += 1
    return improved


def greedy_deepest_assignment(instance: Instance, improve: bool = True, stopwatch: Stopwatch | None = None,
                              max_passes: int | None = None) -> np.ndarray | None:
    """The heuristic's assignment (device per block), or None when the instance has none (Hall).

    ``improve`` runs the local search after the greedy (at most ``max_passes``
    passes, default ``4 M``, and only while ``stopwatch`` has time left).  The
    result always satisfies C1-C3 of the family (capacities and memory).

    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.0, 3.0]], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0],
    ...                             gradient_bits=[1.0, 2.0], bandwidth_hz=1.0, device_max_blocks=[2, 1])
    >>> greedy_deepest_assignment(inst).tolist()   # apart: T = 3 + sqrt(3) s, below 5 s on device 0 alone
    [1, 0]
    """
    if capacity_hall_violation(instance) is not None:
        return None
    state = _State(instance)
    _greedy(state, stopwatch)
    if improve:
        passes = 4 * instance.M if max_passes is None else max_passes
        for _ in range(passes):
            changed = _local_search(state, stopwatch, passes)
            changed += _regroup(state, instance, passes)
            if not changed or (stopwatch is not None and stopwatch.expired()):
                break
    return state.assignment.copy()


@solves("G1", "G2", name="greedy-deepest", problem="P2")
def greedy_deepest(instance: Instance, time_limit: float | None = None) -> Result:
    """P2 heuristic for the whole family: greedy by deepest block, local search, optimal bandwidth.

    Status ``feasible`` (never claims optimality, ``bound_s`` None),
    ``infeasible`` with the Hall violator of :func:`capacity_hall_violation` as
    the reason, ``no_solution`` only if the greedy fails (it cannot on a feasible
    instance, module docstring).  The time limit stops the local search; the
    greedy itself always runs to the end (O(M (K + P n))).

    >>> from instances import Instance
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.0, 3.0]], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0],
    ...                             gradient_bits=[1.0, 2.0], bandwidth_hz=1.0, device_max_blocks=[2, 1])
    >>> res = greedy_deepest(inst)
    >>> res.status.value, res.assignment, round(res.objective_s, 6)
    ('feasible', (1, 0), 4.732051)
    >>> from solvers.p2_exact import milp_jbba                    # re-check: never below the exact optimum
    >>> res.objective_s >= milp_jbba(inst).objective_s * (1 - 1e-9)
    True
    """
    solver = "greedy-deepest"
    sw = Stopwatch(time_limit)
    reason = family_infeasibility_reason(instance)
    if reason is not None:
        return Result(solver=solver, problem="P2", status=Status.INFEASIBLE, seconds=sw.elapsed, message=reason)
    try:
        assignment = greedy_deepest_assignment(instance, improve=True, stopwatch=sw)
    except RuntimeError as exc:          # cannot happen on a feasible instance (module docstring)
        return Result(solver=solver, problem="P2", status=Status.NO_SOLUTION, seconds=sw.elapsed, message=str(exc))
    T, band = optimal_bandwidth(instance, assignment)
    return Result(solver=solver, problem="P2", status=Status.FEASIBLE, objective_s=T, bound_s=None,
                  seconds=sw.elapsed, assignment=tuple(assignment.tolist()), bandwidth_hz=band,
                  message="greedy by deepest block, local search, optimal bandwidth")
