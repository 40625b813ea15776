# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Tutorial: block-device matching for device-edge cooperative fine-tuning
#
# Run it from the repository root with `python docs/tutorial.py` (about ten
# seconds), or open the same cells as a notebook, `docs/tutorial.ipynb` (kept
# in sync with this file; every `# %%` line starts a cell). The test suite runs
# both (`tests/test_tutorial.py`), and every number it prints is re-checked by an
# independent method before it is printed, so the tutorial cannot silently go
# out of date. The mathematics is in `docs/formulation.md`.
#
# **Learning goals.** After working through it you can
#
# 1. build an instance by hand and read its tables (devices, blocks, latencies);
# 2. write P1 (block allocation, equal bandwidth) as a Pyomo MILP, solve it, and
#    check the answer by brute force;
# 3. state Proposition 1 (Hall's condition on nested neighbourhoods), apply it
#    by hand, and trace CRUNCH (Algorithm 2) cut by cut;
# 4. explain why P2 (joint bandwidth and blocks, JBBA) is solved *exactly* by a
#    short sequence of assignment problems, and watch it happen;
# 5. compare the exact JBBA answer with the paper's dual ascent and say what the
#    heuristic gives up;
# 6. export a model and open it with another solver.
#
# Exercises are at the end, with an automatic checker and worked solutions.

# %%
from __future__ import annotations

import itertools
import sys
import tempfile
from pathlib import Path

try:                                   # run from a checkout without `pip install -e .`
    import instances  # noqa: F401
except ImportError:                    # pragma: no cover
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pandas as pd

from instances import Instance
from solvers import run
from solvers import p1
from solvers.bandwidth import optimal_bandwidth

pd.set_option("display.width", 120)
pd.set_option("display.precision", 4)


def same(a: float, b: float, rtol: float = 1e-9) -> bool:
    """Two latencies (s) agree to ``rtol`` relative."""
    return abs(a - b) <= rtol * max(abs(a), abs(b), 1e-12)


# %% [markdown]
# ## 1. A small instance, by hand
#
# Five phones (devices 0-4) fine-tune three parameter blocks (0 = shallowest,
# 2 = deepest). Computing a deeper block's gradient needs a longer backward
# pass, so every row of the latency matrix grows to the right, and more memory:
# 1, 2, 3 GB. Device 3 is the fastest but has only 1 GB: it hits the *memory
# wall* for blocks 1 and 2 (the paper's Fig. 3 starts by deleting such pairs).
# Each device uploads one gradient of D = 1 Mbit over a band of B = 3 MHz;
# device k's spectral efficiency R_k (bit/s/Hz) says how good its channel is.

# %%
GB = 1e9
example = Instance.from_arrays(
    compute_latency=[[4.0, 7.0, 10.0],      # device 0: slow
                     [3.0, 6.0, 9.0],       # device 1: slow, but the best channel
                     [2.0, 4.0, 5.0],       # device 2
                     [1.0, 2.0, 3.0],       # device 3: fastest, 1 GB only
                     [2.0, 4.0, 7.0]],      # device 4
    block_memory=[1 * GB, 2 * GB, 3 * GB],
    device_memory=[3 * GB, 3 * GB, 3 * GB, 1 * GB, 3 * GB],
    spectral_efficiency=[0.5, 4.0, 2.0, 1.0, 1.0],
    gradient_bits=1e6, bandwidth_hz=3e6, name="tutorial")

from validation.explain import instance_tables  # noqa: E402  (the tables of `python -m validation.explain`)

devices, blocks, latency = instance_tables(example)
print(devices, "\n")
print(latency, "\n")

# %% [markdown]
# In P1 the band is split equally among the M = 3 involved devices, B/M = 1 MHz
# each, so device k uploads in `D M / (B R_k)` seconds (column `upload_equal_s`).
# The P1 latency of block m on device k is `c[k,m] = tcp[k,m] + D M / (B R_k)`;
# pairs that break memory are `inf`:

# %%
cost = example.p1_cost()
print(pd.DataFrame(cost, index=pd.Index(range(5), name="device"), columns=pd.Index(range(3), name="c_s / block")))
assert np.all(np.diff(np.where(np.isfinite(cost), cost, 1e300), axis=1) >= 0)   # rows sorted: CRUNCH relies on it

# %% [markdown]
# ## 2. P1 as a Pyomo model, solved, and checked by brute force
#
# P1 is a *linear bottleneck assignment*: choose binary `x[k,m]` so that every
# block has one device (C1), every device at most one block (C2), memory fits
# (C3), and minimise the latest finishing time T (rows `latency[k]`).
# `models.p1.build_p1_milp` writes exactly that; here it is, instantiated:

# %%
from models.p1 import build_p1_milp  # noqa: E402
from solvers.pyomo_solve import solve_with_highs  # noqa: E402
from validation.explain import describe_model  # noqa: E402

model = build_p1_milp(example)
describe_model(model, sys.stdout)

# %% [markdown]
# Solve it with HiGHS (through the toolkit's wrapper `solvers.pyomo_solve`,
# which turns "infeasible" into a status instead of an exception, a known
# pitfall of Pyomo's older HiGHS interface), then read the assignment back
# from `x`:

# %%
outcome = solve_with_highs(model)
milp_assignment = tuple(int(np.argmax([model.x[k, m].value for k in model.K])) for m in model.M)
print(f"HiGHS: {outcome.status.value}, T = {model.T.value:.6g} s, block -> device {milp_assignment}")


# %% [markdown]
# Never trust one solver. With 5 devices and 3 blocks there are only
# 5 x 4 x 3 = 60 injective maps, so enumerate them all:

# %%
def brute_force(instance: Instance, latency_of) -> tuple[float, tuple[int, ...]] | None:
    """Best (latency s, assignment) over every assignment satisfying C1-C3, or None."""
    best = None
    for devices_ in itertools.permutations(range(instance.K), instance.M):      # C1, C2
        if all(instance.block_memory[m] <= instance.device_memory[k] for m, k in enumerate(devices_)):   # C3
            value = latency_of(devices_)
            if best is None or value < best[0]:
                best = (value, devices_)
    return best


def p1_latency(instance: Instance, devices_) -> float:
    """P1 round latency (s) of an assignment: slowest device with B/M Hz each."""
    D, B, M = instance.gradient_bits, instance.bandwidth_hz, instance.M
    return max(float(instance.compute_latency[k, m]) + D * M / (B * float(instance.spectral_efficiency[k]))
               for m, k in enumerate(devices_))


p1_optimum, p1_witness = brute_force(example, lambda d: p1_latency(example, d))
print(f"brute force: P1 optimum {p1_optimum} s, e.g. block -> device {p1_witness}")
assert same(model.T.value, p1_optimum, 1e-6) and same(p1_latency(example, milp_assignment), p1_optimum)

# %% [markdown]
# Brute force may report a *different* assignment with the same latency: P1
# optima need not be unique, and only the latency is compared. Keep this in
# mind for Exercise 5.

# %% [markdown]
# ## 3. CRUNCH, step by step
#
# **Proposition 1.** Fix a threshold T. Device k may take the blocks
# `0..n_k - 1` whose latency is at most T and that fit its memory: a *prefix*,
# because rows are sorted. So the devices able to take a block are nested: a
# device reaching a deep block reaches every shallower one. Hall's theorem then
# reduces to one condition per depth: *at least M - j devices must reach block
# j* (blocks j..M-1 are M - j blocks), i.e. with the counts sorted
# `n_(0) <= ... <= n_(K-1)` (0-based ranks),
#
#     n_(K-M+j) >= j + 1  for j = 0..M-1.
#
# The toolkit prints the *Hall slack* `n_(K-M+j) - (j + 1)` for j = 0..M-1;
# all >= 0 means feasible. At T = 6 s, for instance:

# %%
from solvers.bottleneck import assignment_from_counts, hall_check, hall_slack  # noqa: E402

counts_at_6 = (cost <= 6.0).sum(axis=1)            # prefix length of each row under T = 6 s
print("n_k(6 s) =", counts_at_6.tolist(), " Hall slack =", hall_slack(counts_at_6, 3).tolist(),
      " feasible:", hall_check(counts_at_6, 3))
# the proof's matching: block j to the device of rank K-M+j (0-based ranks, counts ascending)
print("matching from the proof: block -> device", assignment_from_counts(counts_at_6, 3).tolist())
assert hall_check(counts_at_6, 3) == (brute_force(example, lambda d: p1_latency(example, d))[0] <= 6.0)

# %% [markdown]
# **Algorithm 2 (Cutting, RecoUNting, CHecking).** Start from the
# memory-feasible matrix; repeatedly *cut* the largest remaining entry (always
# the last one of its row, so rows stay prefixes), *recount* that row, *check*
# Proposition 1. The first cut that breaks the check removes the optimal value:
# before it, a matching used only values <= v; after it, every value < v is
# still there and no matching exists.

# %%
result = p1.crunch(example, trace=lambda line: print("  ", line))
print(f"CRUNCH: {result.objective_s} s, block -> device {result.assignment}")
assert same(result.objective_s, p1_optimum)

# %% [markdown]
# Without `trace=` the toolkit reaches the same value in closed form: the first
# cut that breaks Proposition 1 removes the largest, over the blocks i, of the
# (M-i+1)-th smallest entry of column i (one order statistic per column).
# Note the paper's two benchmarks: the *computation-aware* one gives the
# deepest block to the fastest device, device 3, and hits its memory wall (it
# reports `no_solution`: a fact about the benchmark, not the instance); the
# *communication-aware* one is feasible but slow.

# %%
for name in ("linear-search", "milp", "compute-aware", "comm-aware"):
    res = run("P1", name, example)
    print(f"  P1 {name:14s} {res.status.value:10s} {res.objective_s} s  {res.message}")
assert run("P1", "compute-aware", example).status.value == "no_solution"

# %% [markdown]
# **The proof travels with the answer.** An `optimal` result carries a
# *certificate* that anyone can check without trusting CRUNCH: a set S of
# blocks whose only devices fast enough (latency strictly below the optimum)
# are fewer than |S|. By Hall's theorem no assignment beats the optimum then.
# `validation.check` recomputes that neighbourhood itself:

# %%
from validation.check import check_result  # noqa: E402

certified = run("P1", "crunch", example)
print(f"certificate: {certified.certificate}")
blocks = certified.certificate["blocks"]
fast = sorted({k for m in blocks for k in range(example.K)
               if example.block_memory[m] <= example.device_memory[k]
               and example.compute_latency[k, m] + example.upload_equal_s[k] < certified.objective_s})
print(f"devices faster than {certified.objective_s} s for blocks {blocks}: {fast} (fewer than {len(blocks)})")
assert fast == certified.certificate["devices"] and len(fast) < len(blocks)
assert check_result(example, certified).ok

# %% [markdown]
# ## 4. P2 (JBBA): the exact oracle versus dual ascent
#
# Now the bandwidth is chosen too. **Fixed assignment first.** If device k
# computes for `a_k` seconds and gets `B_k` Hz, it finishes at
# `a_k + D / (R_k B_k)`. The best split makes every involved device finish at the
# same T (otherwise move bandwidth to the slowest), so
# `B_k = (D/R_k) / (T - a_k)` and T solves `sum_k (D/R_k) / (T - a_k) = B`,
# one monotone equation. For CRUNCH's assignment:

# %%
from validation.explain import assignment_table  # noqa: E402

T_crunch, band = optimal_bandwidth(example, result.assignment)
crunch_bw = run("P2", "crunch+bandwidth", example)
print(f"CRUNCH's assignment with optimal bandwidth: {T_crunch:.6f} s (equal split: {result.objective_s} s)")
print(assignment_table(example, crunch_bw))
assert same(crunch_bw.objective_s, T_crunch) and abs(band.sum() - example.bandwidth_hz) <= 1e-6 * example.bandwidth_hz

# %% [markdown]
# **The exact method (parametric assignment).** For a threshold T, the least
# bandwidth with which *some* assignment finishes by T is a min-cost
# assignment with weights `D / (R_k (T - tcp[k,m]))`: a sum over the chosen
# pairs because each device holds at most one block. Start at `T_0` =
# CRUNCH's value above; solve the assignment; if the cheapest assignment needs
# less than the whole band it is strictly better, so move to it and repeat;
# when it needs exactly the band, stop: optimal. `validation.explain` records
# each step:

# %%
from validation.explain import parametric_iterations  # noqa: E402

exact, steps = parametric_iterations(example)
for i, step in enumerate(steps):
    print(f"  step {i + 1}: T_{i} = {step['threshold_s']:.9f} s -> cheapest assignment {step['assignment']} "
          f"needs {step['share']:.6f} of B")
print(f"exact JBBA: {exact.objective_s:.9f} s, block -> device {exact.assignment}")
print(assignment_table(example, exact))

# %% [markdown]
# Block 0 moved from device 3 (fast computer, 1 GB, R = 1) to device 1 (slow
# computer, but R = 4): its computation takes 2 s longer, yet its upload is so
# cheap that the band it frees lets the other two devices finish earlier.
# Re-check against enumeration (every assignment with its optimal bandwidth),
# against the Pyomo/HiGHS version of the same loop, and against SCIP on the
# convex MINLP (which knows nothing about assignments):

# %%
p2_optimum, p2_witness = brute_force(example, lambda d: optimal_bandwidth(example, d)[0])
print(f"brute force: P2 optimum {p2_optimum:.9f} s at {p2_witness}")
for name in ("milp", "minlp"):
    res = run("P2", name, example)
    print(f"  P2 {name:6s} {res.status.value}: {res.objective_s:.9f} s")
    assert same(res.objective_s, p2_optimum, 1e-6)
assert same(exact.objective_s, p2_optimum) and exact.assignment == p2_witness
assert (result.assignment[0], exact.assignment[0]) == (3, 1)      # the move described above

# %% [markdown]
# The P2 optimum carries a certificate too: a threshold `T_low` just below it
# and, for the assignment LP at `T_low`, dual prices `u_m` (one per block, Hz)
# and `v_k >= 0` (one per device) with `u_m - v_k <= D / (R_k (T_low - tcp[k,m]))`
# on every usable pair and `sum u - sum v >= B`. Any solution faster than
# `T_low` would need more than the whole band, so `T_low <= T* <= T`
# (`docs/certificates.md` has the two-line proof).

# %%
cert = run("P2", "exact", example).certificate
u, v = np.array(cert["u_hz"]), np.array(cert["v_hz"])
print(f"T_low = {cert['threshold_s']:.12f} s <= T* = {exact.objective_s:.12f} s; "
      f"sum u - sum v = {u.sum() - v.sum():.9g} Hz >= B = {example.bandwidth_hz:g} Hz")
assert 0 <= exact.objective_s - cert["threshold_s"] <= 1e-9 * exact.objective_s

# %% [markdown]
# **The paper's dual ascent (Algorithm 3)** relaxes the latency rows, the band
# and the involvement coupling with multipliers, solves the block step by a
# CRUNCH-pruned Hungarian matching on weights `lambda_k tcp[k,m] - nu_k`, the
# bandwidth in closed form (Lemma 1), and moves the multipliers by subgradient
# steps. Its block step minimises a weighted *sum of computation latencies*:
# the swap above, which costs 2 s of computation and pays back only through the
# bandwidth, is invisible to it. It keeps CRUNCH's assignment:

# %%
dual = run("P2", "dual-ascent", example)
relax = run("P2", "relaxation", example)
rows = [("exact (parametric assignment)", exact.objective_s, exact.bound_s),
        ("dual ascent (Algorithm 3)", dual.objective_s, dual.bound_s),
        ("CRUNCH + optimal bandwidth", crunch_bw.objective_s, None),
        ("convex relaxation (bound only)", None, relax.bound_s)]
table = pd.DataFrame(rows, columns=["method", "latency_s", "lower_bound_s"]).set_index("method")
table["gap_%"] = 100 * (table["latency_s"] / p2_optimum - 1)
print(table)
print(f"dual ascent stopped after {dual.info['iterations']} iterations; best assignment from: {dual.info['best_from']}")
assert dual.objective_s >= p2_optimum * (1 - 1e-9) and dual.bound_s <= p2_optimum * (1 + 1e-9)
# the text above says dual ascent keeps CRUNCH's assignment; if Algorithm 3 is improved, update the text
assert dual.assignment == result.assignment, "dual ascent changed: update section 4 of the tutorial"
assert relax.bound_s <= p2_optimum * (1 + 1e-9)

# %%
print(f"So: the exact optimum is {p2_optimum:.4f} s; dual ascent returns {dual.objective_s:.4f} s "
      f"({100 * (dual.objective_s / p2_optimum - 1):.2f} % above) with a lower bound of {dual.bound_s:.2f} s;\n"
      f"the convex relaxation (x in [0, 1]) bounds the optimum from below at {relax.bound_s:.4f} s.")

# %% [markdown]
# On larger random instances the gap of dual ascent is a few percent (see
# `docs/formulation.md`; measure it yourself with `python -m validation.compare`).
#
# ## 5. Open the models elsewhere
#
# `validation.explain.write_model` (or `python -m validation.explain FILE
# --write-model PATH`) exports P1 as LP/MPS and P2 as GAMS or AMPL NL. Any
# solver that reads these formats gets the same optimum: here HiGHS reads the
# LP, and SCIP the NL file (the P2 model is scaled: multiply its objective by
# `time_scale_s`).

# %%
import highspy  # noqa: E402
import pyscipopt  # noqa: E402

from validation.explain import build_model, time_scale_s, write_model  # noqa: E402

with tempfile.TemporaryDirectory() as tmp:
    lp = write_model(example, "P1", Path(tmp) / "tutorial_p1.lp")
    highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    highs.readModel(str(lp))
    highs.run()
    print(f"HiGHS on {lp.name}: {highs.getInfo().objective_function_value:.9g} s")
    assert same(highs.getInfo().objective_function_value, p1_optimum, 1e-6)

    nl = write_model(example, "P2", Path(tmp) / "tutorial_p2.nl")
    scip = pyscipopt.Model()
    scip.hideOutput()
    scip.readProblem(str(nl))
    scip.setParam("numerics/feastol", 1e-9)
    scip.optimize()
    scale = time_scale_s(build_model(example, "P2"))
    print(f"SCIP on {nl.name}: tau = {scip.getObjVal():.9g}, x {scale:.6g} s = {scip.getObjVal() * scale:.9g} s")
    assert same(scip.getObjVal() * scale, p2_optimum, 1e-6)

# %% [markdown]
# ## 6. Beyond the paper: when the structure disappears
#
# The paper fixes two things that real deployments do not: every block's
# gradient has the same size, and every device takes at most one block. The
# format `deft-instance/2` lifts both (`docs/formulation.md`, "When the
# structure disappears"): `gradient_bits` may be a list of M sizes D_m (G1:
# LoRA ranks that differ per layer), and `device_max_blocks` gives device k a
# capacity c_k (G2). A device holding several blocks runs *one* backward pass,
# down to its deepest block d_k, and uploads the sum U_k of their gradients:
# its latency is `tcp[k, d_k] + U_k / (R_k B_k)`, with `B_k = |S_k| B / M` in
# P1 (the band split per block).
#
# Keep only devices 1 and 2 of the example and let each take two blocks: two
# phones and three blocks, infeasible in the paper's model, feasible here.

# %%
pair = Instance.from_arrays(example.compute_latency[[1, 2]], example.block_memory, example.device_memory[[1, 2]],
                            example.spectral_efficiency[[1, 2]], example.gradient_bits, example.bandwidth_hz,
                            name="two-phones", device_max_blocks=[2, 2])
print("features beyond the paper:", sorted(pair.family))
print("crunch:", run("P1", "crunch", pair).message)    # Proposition 1 counts one block per device
pair_p1 = run("P1", "crunch-capacity", pair)
print(f"crunch-capacity: {pair_p1.status}, {pair_p1.objective_s:.6g} s, block -> device {pair_p1.assignment}, "
      f"certificate {pair_p1.certificate['kind']}")


# %% [markdown]
# Brute force again, now over every map block -> device that respects the
# capacities and the memory of each device's deepest block:

# %%
def family_maps(instance: Instance):
    """Every map block -> device with at most c_k blocks on device k and its deepest block in memory."""
    for devices_ in itertools.product(range(instance.K), repeat=instance.M):
        held = {k: [m for m, d in enumerate(devices_) if d == k] for k in set(devices_)}
        if all(len(ms) <= instance.device_max_blocks[k] and instance.block_memory[max(ms)] <= instance.device_memory[k]
               for k, ms in held.items()):
            yield devices_, held


def family_p1_latency(instance: Instance, held: dict) -> float:
    """P1 round latency (s): device k computes down to max(S_k) and uploads sum D_m with |S_k| B / M Hz."""
    return max(float(instance.compute_latency[k, max(ms)])
               + float(instance.block_bits[ms].sum()) / (float(instance.spectral_efficiency[k])
                                                          * len(ms) * instance.bandwidth_hz / instance.M)
               for k, ms in held.items())


pair_best = min((family_p1_latency(pair, held), devices_) for devices_, held in family_maps(pair))
print(f"brute force: {pair_best[0]:.6g} s, e.g. {pair_best[1]}")
assert same(pair_p1.objective_s, pair_best[0])

# %% [markdown]
# In P2 the weight argument of section 4 breaks: at a threshold T device k
# needs the share `U_k / (R_k B (T - tcp[k, d_k]))`, where *all* its blocks'
# bits are divided by a gap set by its *deepest* block, so the cost of an
# assignment is no longer a sum over independent pairs and the threshold test
# is no longer an assignment problem. `exact` refuses; `milp` keeps the
# descent on T but makes each threshold test a MILP (HiGHS), and `minlp` solves
# the whole MINLP (SCIP). No certificate is defined here: the claim says so,
# and the two solvers check each other.

# %%
print("exact:", run("P2", "exact", pair).message)
pair_p2 = run("P2", "milp", pair)
print(f"milp: {pair_p2.status}, {pair_p2.objective_s:.6g} s, block -> device {pair_p2.assignment}; "
      f"{pair_p2.info.get('certificate')}")
pair_p2_best = min(optimal_bandwidth(pair, devices_)[0] for devices_, _ in family_maps(pair))
print(f"brute force (optimal bandwidth of every map): {pair_p2_best:.6g} s")
assert same(pair_p2.objective_s, pair_p2_best, 1e-6)
assert same(run("P2", "minlp", pair).objective_s, pair_p2_best, 1e-6)

# %% [markdown]
# ## 7. Exercises
#
# Put your answers into `YOUR_ANSWERS` (leave `None` to skip) and re-run: the
# checker compares them with values computed *independently* (brute force),
# without printing those values. Worked solutions are at the very end.
#
# 1. **Proposition 1 by hand.** With K = 5 devices and M = 3 blocks, which of
#    the count vectors `A = [1, 1, 3, 0, 2]`, `B = [3, 1, 1, 0, 0]`,
#    `C = [2, 2, 2, 0, 1]` admit a full matching? Answer: a tuple of three
#    booleans.
# 2. **A memory upgrade.** Device 3 of the example gets 3 GB. What is the new
#    P1 optimum, in seconds?
# 3. **Counting cuts.** Without running CRUNCH: how many cuts does Algorithm 2
#    make on the upgraded instance of Exercise 2 (the breaking one included)?
#    Hint: no two entries of its `c` at or above the optimum are equal.
# 4. **Bandwidth by hand.** Two devices compute for 1 s and 2 s, both have
#    `D / R_k = 1 Hz s`, and B = 2 Hz. What is the round latency with the
#    optimal split, in seconds? (A quadratic equation.)
# 5. **P1 versus P2.** Compared with CRUNCH's P1 assignment, the P2 optimum
#    of the example moves one block to another device. Which? Answer: the pair
#    `(block, new device)`. Then find a second P1-optimal assignment of the
#    example (P1 optima need not be unique) and compute its P2 latency.
# 6. **Adapters of different ranks.** Give block 0 of the example a rank-4
#    adapter and the others rank 1: `gradient_bits = [4e6, 1e6, 1e6]` (one
#    block per device still). What is the new P1 optimum, in seconds? And may
#    `crunch` solve it (True/False)? Answer: `(seconds, bool)`.

# %%
YOUR_ANSWERS: dict[int, object] = {1: None, 2: None, 3: None, 4: None, 5: None, 6: None}


def _truth() -> dict[int, object]:
    """Every answer, by independent means (brute force), not by the method the exercise teaches."""
    def has_matching(counts, M=3):
        return any(all(m < counts[k] for m, k in enumerate(d)) for d in itertools.permutations(range(len(counts)), M))

    upgraded = Instance.from_arrays(example.compute_latency, example.block_memory,
                                    [3 * GB, 3 * GB, 3 * GB, 3 * GB, 3 * GB], example.spectral_efficiency,
                                    example.gradient_bits, example.bandwidth_hz)
    cuts_traced: list[str] = []
    p1.crunch(upgraded, trace=cuts_traced.append)
    two = Instance.from_arrays([[1.0, 1.0], [2.0, 2.0]], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], 1.0, 2.0)
    moved = [(m, p2_witness[m]) for m in range(example.M) if p2_witness[m] != result.assignment[m]]
    ranked = Instance.from_arrays(example.compute_latency, example.block_memory, example.device_memory,
                                  example.spectral_efficiency, [4e6, 1e6, 1e6], example.bandwidth_hz)
    ranked_best = min(family_p1_latency(ranked, held) for _, held in family_maps(ranked))
    sizes_sorted = bool(np.all(np.diff(ranked.block_bits) >= 0))       # CRUNCH needs sorted rows of c
    return {1: tuple(has_matching(c) for c in ([1, 1, 3, 0, 2], [3, 1, 1, 0, 0], [2, 2, 2, 0, 1])),
            2: brute_force(upgraded, lambda d: p1_latency(upgraded, d))[0],
            3: sum(line.startswith("step") for line in cuts_traced),    # run it and count the cuts
            4: optimal_bandwidth(two, [0, 1])[0],
            5: moved[0] if len(moved) == 1 else tuple(moved),
            6: (ranked_best, sizes_sorted)}


def check_answers(answers: dict[int, object]) -> dict[int, bool | None]:
    """``True``/``False`` per exercise (``None`` if not answered); prints a verdict, never the answer."""
    truth = _truth()
    verdicts: dict[int, bool | None] = {}
    for key in sorted(truth):
        given, expected = answers.get(key), truth[key]
        if given is None:
            verdicts[key] = None
        elif isinstance(expected, float):
            verdicts[key] = isinstance(given, (int, float)) and same(float(given), expected, 1e-6)
        elif isinstance(expected, tuple) and isinstance(given, (tuple, list)) and len(given) == len(expected):
            verdicts[key] = all(isinstance(g, (int, float)) and same(float(g), e, 1e-6) if isinstance(e, float)
                                else g == e for g, e in zip(given, expected))
        else:
            verdicts[key] = given == expected
        print(f"  exercise {key}: {'not answered' if verdicts[key] is None else 'correct' if verdicts[key] else 'not yet'}")
    return verdicts


print("your answers:")
check_answers(YOUR_ANSWERS)

# %% [markdown]
# ---
# ## Worked solutions (spoilers below)
#
# Each solution uses the method the exercise teaches; the checker then
# confirms it against brute force.
#
# 1. Sort and test `n_(K-M+j) >= j + 1` for j = 0..M-1 (0-based ranks), i.e. the
#    3rd, 4th and 5th smallest counts must be at least 1, 2, 3. A: sorted [0, 1, 1, 2, 3] -> 1, 2, 3: yes.
#    B: [0, 0, 1, 1, 3] -> the 4th is 1 < 2: only one device reaches block 1
#    (0-based), but blocks 1 and 2 need two. C: [0, 1, 2, 2, 2] -> the 5th is
#    2 < 3: nobody reaches the deepest block.
# 2. Device 3's row becomes `[2, 3, 4]` s (upload 1 s); CRUNCH on the new matrix.
# 3. Every entry larger than the optimum (4.5 s, Exercise 2) is cut and passes
#    the check, then the optimum itself is cut and fails: (number of finite
#    entries > 4.5) + 1 = 8 + 1.
# 4. `1/(T-1) + 1/(T-2) = 2`  <=>  `2T^2 - 8T + 7 = 0`, larger root
#    `T = 2 + sqrt(2)/2`.
# 5. Compare the two assignments: block 0 goes from device 3 to device 1 (the
#    best channel); see section 4. For the second part: with T = 5.5 s block 0
#    may go to device 1 (3.25 s) or device 3 (2 s), so `(1, 4, 2)` is P1-optimal
#    too, and it *is* the P2 optimum. CRUNCH's tie-break (lowest rank) picked
#    the other one: P1 optimality says nothing about which tie is good for P2,
#    which is why the exact method must search beyond P1's answer.
# 6. The sizes now *decrease* with depth (4 Mbit, then 1 Mbit), so the rows of
#    `c[k,m] = tcp[k,m] + D_m M / (B R_k)` need not be sorted and Proposition 1
#    no longer applies: `crunch` refuses (status `unsupported`). P1 is still a
#    bottleneck assignment on that c, so the threshold search `linear-search`
#    (a bipartite matching per threshold) solves it.

# %%
SOLUTIONS: dict[int, object] = {}
SOLUTIONS[1] = tuple(bool(np.all(np.sort(n)[5 - 3:] >= np.arange(1, 4)))
                     for n in (np.array([1, 1, 3, 0, 2]), np.array([3, 1, 1, 0, 0]), np.array([2, 2, 2, 0, 1])))
upgraded_example = Instance.from_arrays(example.compute_latency, example.block_memory, [3 * GB] * 5,
                                        example.spectral_efficiency, example.gradient_bits, example.bandwidth_hz)
SOLUTIONS[2] = p1.crunch(upgraded_example).objective_s
upgraded_cost = upgraded_example.p1_cost()
SOLUTIONS[3] = int(np.sum(upgraded_cost[np.isfinite(upgraded_cost)] > SOLUTIONS[2])) + 1
SOLUTIONS[4] = 2 + 2 ** 0.5 / 2
SOLUTIONS[5] = next((m, int(exact.assignment[m])) for m in range(example.M) if exact.assignment[m] != result.assignment[m])
ranked_example = Instance.from_arrays(example.compute_latency, example.block_memory, example.device_memory,
                                      example.spectral_efficiency, [4e6, 1e6, 1e6], example.bandwidth_hz)
SOLUTIONS[6] = (run("P1", "linear-search", ranked_example).objective_s,
                run("P1", "crunch", ranked_example).status.value != "unsupported")
assert same(p1_latency(example, (1, 4, 2)), p1_optimum)                      # the second P1 optimum ...
assert same(optimal_bandwidth(example, (1, 4, 2))[0], p2_optimum)              # ... is P2-optimal
print("worked solutions:", {k: (round(v, 6) if isinstance(v, float) else v) for k, v in SOLUTIONS.items()})
verdicts = check_answers(SOLUTIONS)
assert all(verdicts.values()), verdicts
print("tutorial finished: every number above was re-checked independently")
