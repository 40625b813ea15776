"""``python -m validation.explain FILE [--problem P1|P2] [--write-model PATH]``

A teaching view of one instance: the data as tables, the instantiated model
constraint by constraint, the CRUNCH trace with the Hall counts at every check,
and the optimal assignment with each device's computation / upload split.  For
P2 it also shows each device's bandwidth, the iterations of the exact
parametric assignment (:func:`solvers.p2_exact.exact_jbba`) and, for
comparison, the paper's dual ascent and CRUNCH + bandwidth.

``--write-model PATH`` exports the Pyomo model so it can be opened in any
solver: LP for P1 (a MILP), GAMS (``.gms``) or AMPL NL (``.nl``) for P2 (a
convex MINLP), chosen by the file suffix.  The P2 model is scaled (time in
units of ``time_scale_s``, bandwidth as a share of B): the round latency in
seconds is the objective times ``time_scale_s``, which is printed, and written
as a comment into ``.gms`` and ``.lp`` files (``.nl`` has no comments; its
``.row``/``.col`` companion files carry the component names).

Other tools (the compare harness) can call :func:`write_model` and
:func:`explain` directly.

References
----------
.. [1] "Resource Management for Low-latency Cooperative Fine-tuning of Foundation
   Models at the Network Edge" (Proposition 1, Algorithm 2, Sec. V).
.. [2] ``docs/formulation.md`` (the mathematics) and ``docs/tutorial.py``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd

from instances import Instance, InstanceError, load_instance
from instances.cli import add_version
from solvers.certify import attach

from .check import check_result

#: Above this many variables the model is summarised (two rows per constraint) instead of printed in full.
MAX_PRINTED_VARIABLES = 200
#: A CRUNCH trace longer than this many lines keeps its first and last lines only (K M cuts at most).
MAX_TRACE_LINES = 60

#: File suffixes :func:`write_model` accepts, per problem (Pyomo picks the writer from the suffix).
MODEL_FORMATS = {"P1": (".lp", ".mps", ".gms", ".nl"), "P2": (".gms", ".nl")}


# --------------------------------------------------------------------------------------
# Tables and models
# --------------------------------------------------------------------------------------
def instance_tables(instance: Instance) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Devices, blocks and the computation-latency matrix as DataFrames (units in column names).

    The device table shows ``n_k^mem``, the number of blocks (a prefix
    ``0..n-1``, as ``mu`` is non-decreasing) that fit device k's memory, and its
    upload time with the equal split of P1:

    .. math:: n^{mem}_k = |\\{m : \\mu_m \\le \\mathrm{cap}_k\\}|, \\qquad
              t^{up}_k = \\frac{D M}{B R_k}.

    Beyond the paper's model the device table adds ``max_blocks`` (c_k, G2)
    and, with per-block sizes (G1), the block table gives ``gradient_bits``
    (D_m) instead of the devices' one upload time.  O(K M).

    Examples
    --------
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.0, 4.0]], [1.0, 2.0], [2.0, 1.0],
    ...                             [1.0, 2.0], gradient_bits=1.0, bandwidth_hz=2.0)
    >>> devices, blocks, latency = instance_tables(inst)
    >>> devices["blocks_that_fit"].tolist(), devices["upload_equal_s"].tolist()   # 1*2/(2*R_k)
    ([2, 1], [1.0, 0.5])
    >>> latency.shape == (inst.K, inst.M)
    True
    """
    devices = {"memory_GB": instance.device_memory / 1e9, "blocks_that_fit": instance.memory_prefix}
    if not instance.single_block:                       # G2: a capacity per device
        devices["max_blocks"] = instance.device_max_blocks
    devices["R_bit_per_s_Hz"] = instance.spectral_efficiency
    if instance.uniform_bits:                           # G1: the upload depends on the block (blocks table)
        devices["upload_equal_s"] = instance.upload_equal_s
    devices = pd.DataFrame(devices, index=pd.Index(range(instance.K), name="device"))
    blocks = {"memory_GB": instance.block_memory / 1e9}
    if not instance.uniform_bits:
        blocks["gradient_bits"] = instance.block_bits
    blocks = pd.DataFrame(blocks, index=pd.Index(range(instance.M), name="block"))
    latency = pd.DataFrame(instance.compute_latency, index=pd.Index(range(instance.K), name="device"),
                           columns=pd.Index(range(instance.M), name="tcp_s / block"))
    return devices, blocks, latency


def build_model(instance: Instance, problem: str):
    """The Pyomo model of ``problem`` for ``instance``.

    ``"P1"``: :func:`models.p1.build_p1_milp` (MILP, objective in seconds);
    ``"P2"``: :func:`models.p2.build_p2_minlp` (convex MINLP, scaled: the
    latency in seconds is the objective times ``model.time_scale_s``).
    O(K M) components.

    Examples
    --------
    >>> import pyomo.environ as pyo
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.0, 4.0]], [1.0, 1.0], [1.0, 1.0],
    ...                             [1.0, 1.0], gradient_bits=1.0, bandwidth_hz=2.0)
    >>> [c.name for c in build_model(inst, "P2").component_objects(pyo.Constraint)][-2:]
    ['bandwidth', 'latency_cone']
    """
    if problem == "P1":
        from models.p1 import build_p1_milp

        return build_p1_milp(instance)
    if problem == "P2":
        from models.p2 import build_p2_minlp

        return build_p2_minlp(instance)
    raise ValueError(f"problem must be 'P1' or 'P2', got {problem!r}")


def time_scale_s(model) -> float:
    """Seconds per time unit of ``model``: ``time_scale_s`` for the scaled P2 MINLP, 1 for P1."""
    import pyomo.environ as pyo

    scale = getattr(model, "time_scale_s", None)
    return 1.0 if scale is None else float(pyo.value(scale))


def write_model(instance: Instance, problem: str, path: str | Path) -> Path:
    """Export the model of ``problem`` to ``path``; the format follows the suffix.

    P1: ``.lp`` or ``.mps`` (also ``.gms``, ``.nl``); P2: ``.gms`` or ``.nl``
    (:data:`MODEL_FORMATS`).  Names are kept (symbolic labels): ``x[k,m]``,
    ``C1[m]``, ... in LP and NL (NL puts them in the companion ``.row`` and
    ``.col`` files), mangled to ``x_k_m_``, ``C1_m_`` in GAMS.  The time scale
    of the P2 model is written as a comment into ``.gms`` and ``.lp`` files.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ValueError
        For an unknown problem or a suffix the problem cannot be written as.
    OSError
        If the file cannot be written.

    Examples
    --------
    >>> import tempfile, highspy
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.0, 4.0]], [1.0, 1.0], [1.0, 1.0],
    ...                             [1.0, 1.0], gradient_bits=1.0, bandwidth_hz=2.0)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = write_model(inst, "P1", Path(tmp) / "p1.lp")
    ...     h = highspy.Highs(); _ = h.setOptionValue("output_flag", False)
    ...     _ = h.readModel(str(path)); _ = h.run()
    ...     value = h.getInfo().objective_function_value
    >>> from solvers.p1 import crunch
    >>> abs(value - crunch(inst).objective_s) < 1e-9    # the LP, read back, has CRUNCH's optimum
    True
    """
    if problem not in MODEL_FORMATS:
        raise ValueError(f"problem must be 'P1' or 'P2', got {problem!r}")
    path = Path(path)
    suffix = path.suffix.lower()
    allowed = MODEL_FORMATS[problem]
    if suffix not in allowed:
        raise ValueError(f"--write-model: {problem} models can be written as {', '.join(sorted(allowed))}, "
                         f"not {suffix or 'a file without suffix'!r}")
    model = build_model(instance, problem)
    # Pyomo picks the writer from the suffix; symbolic labels keep the names x[k,m], C1[m], ...
    model.write(str(path), io_options={"symbolic_solver_labels": True})
    header = _units_comment(instance, problem, time_scale_s(model))
    if suffix == ".gms":
        _prepend(path, "".join(f"* {line}\n" for line in header))
    elif suffix == ".lp":
        _prepend(path, "".join(f"\\ {line}\n" for line in header))
    return path


def _units_comment(instance: Instance, problem: str, scale_s: float) -> list[str]:
    """The lines that tell a reader of an exported file what its numbers mean."""
    lines = [f"{problem} model of instance {instance.name!r} (K = {instance.K} devices, M = {instance.M} blocks), "
             "written by python -m validation.explain; see docs/formulation.md"]
    if problem == "P2":
        lines.append(f"time unit: time_scale_s = {scale_s!r} s; round latency (s) = tau * time_scale_s; "
                     f"slack = sigma[k] * s[k] (time units); B_k / B = r[k] * b[k] with B = {instance.bandwidth_hz!r} Hz")
    else:
        lines.append("objective T in seconds")
    return lines


def _prepend(path: Path, text: str) -> None:
    path.write_text(text + path.read_text())


def describe_model(model, out: TextIO) -> None:
    """Print every constraint of ``model`` as an equation, grouped by its label.

    Models with more than :data:`MAX_PRINTED_VARIABLES` variables are
    summarised: two rows per constraint family.  O(size of the model).

    Examples
    --------
    >>> import io
    >>> inst = Instance.from_arrays([[1.0]], [1.0], [1.0], [1.0], gradient_bits=1.0, bandwidth_hz=1.0)
    >>> text = io.StringIO(); describe_model(build_model(inst, "P1"), text)
    >>> print(text.getvalue().splitlines()[-1])     # the only latency row: (1 s + 1 s) x <= T
        latency[0]: 2.0*x[0,0]  <=  T
    """
    import pyomo.environ as pyo

    n_vars = sum(len(v) for v in model.component_objects(pyo.Var, active=True))
    print(f"model {model.name}: {n_vars} variables", file=out)
    for obj in model.component_objects(pyo.Objective, active=True):
        print(f"  objective {obj.name}: minimise {obj.expr}", file=out)
    full = n_vars <= MAX_PRINTED_VARIABLES
    for con in model.component_objects(pyo.Constraint, active=True):
        doc = f"  -- {con.doc}" if con.doc else ""
        print(f"  constraint {con.name} ({len(con)} rows){doc}", file=out)
        items = list(con.items())
        for index, row in (items if full else items[:2]):
            label = con.name if index is None else f"{con.name}[{_index_text(index)}]"
            print(f"    {label}: {row.expr}", file=out)
        if not full and len(items) > 2:
            print(f"    ... {len(items) - 2} more rows", file=out)


def _index_text(index) -> str:
    return ",".join(str(i) for i in index) if isinstance(index, tuple) else str(index)


# --------------------------------------------------------------------------------------
# Solutions
# --------------------------------------------------------------------------------------
def assignment_table(instance: Instance, result) -> pd.DataFrame:
    """One row per block: its device, that device's computation and upload time (s) and bandwidth.

    .. math:: t^{total}_m = t_{k m} + \\frac{D}{R_k B_k}, \\qquad k = \\text{assignment}[m],

    and the round latency is :math:`\\max_m t^{total}_m` (each device holds at
    most one block, so each row is one involved device's split).  O(M).

    Examples
    --------
    >>> from solvers.p1 import crunch
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.0, 4.0]], [1.0, 1.0], [1.0, 1.0],
    ...                             [1.0, 1.0], gradient_bits=1.0, bandwidth_hz=2.0)
    >>> res = crunch(inst)                       # B/M = 1 Hz each: upload 1 s
    >>> table = assignment_table(inst, res)
    >>> table["device"].tolist(), table["total_s"].tolist()
    ([1, 0], [2.0, 3.0])
    >>> bool(table["total_s"].max() == res.objective_s)
    True
    """
    a = np.asarray(result.assignment, dtype=int)
    band = np.asarray(result.bandwidth_hz, dtype=float)[a]
    compute = instance.compute_latency[a, np.arange(instance.M)]
    upload = instance.comm_coef[a] / band
    return pd.DataFrame({"device": a, "compute_s": compute, "upload_s": upload, "total_s": compute + upload,
                         "bandwidth_MHz": band / 1e6}, index=pd.Index(range(instance.M), name="block"))


def parametric_iterations(instance: Instance) -> tuple[object, list[dict]]:
    """Run :func:`solvers.p2_exact.exact_jbba`'s loop and record every threshold test.

    The loop (:func:`solvers.p2_exact.parametric_assignment`) is run unchanged
    with its own oracle (:func:`solvers.p2_exact.lsap_oracle`); a wrapper only
    records, for each step i, the threshold :math:`T_i` (s), the min-cost
    assignment :math:`x'` at :math:`T_i` and the share of the band it needs,

    .. math:: W(T_i) / B = \\sum_m \\frac{D}{R_{x'(m)} B\\, (T_i - t_{x'(m), m})},

    so that :math:`W(T_i)/B < 1` means "x' is strictly better: move", and
    :math:`\\approx 1` means "the current assignment is optimal".  Cost: that of
    :func:`exact_jbba` plus O(KM) per step.

    Returns
    -------
    (Result, list of dict)
        The exact result and one dict per step with keys ``threshold_s``,
        ``assignment`` (tuple) and ``share``.

    Examples
    --------
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.0, 4.0], [3.0, 3.0]], [1.0, 1.0], [1.0, 1.0, 1.0],
    ...                             [1.0, 2.0, 4.0], gradient_bits=1.0, bandwidth_hz=1.0)
    >>> result, steps = parametric_iterations(inst)
    >>> len(steps) == result.info["iterations"], steps[-1]["share"] >= 1 - 1e-9
    (True, True)
    >>> from itertools import permutations
    >>> from solvers.bandwidth import optimal_bandwidth
    >>> best_s = min(optimal_bandwidth(inst, a)[0] for a in permutations(range(inst.K), inst.M))   # enumeration
    >>> abs(result.objective_s - best_s) < 1e-9
    True
    """
    from models.p2 import assignment_weights
    from solvers.p2_exact import lsap_oracle, parametric_assignment

    inner = lsap_oracle(instance)
    steps: list[dict] = []

    def recording_oracle(threshold_s, sw, incumbent=None):
        answer = inner(threshold_s, sw, incumbent)
        share = None
        if answer.assignment is not None:
            w = assignment_weights(instance, threshold_s)[answer.assignment, np.arange(instance.M)]
            share = float(np.sum(w))
        steps.append({"threshold_s": float(threshold_s),
                      "assignment": None if answer.assignment is None else tuple(int(k) for k in answer.assignment),
                      "share": share})
        return answer

    return parametric_assignment(instance, recording_oracle, "exact"), steps


def _print_iterations(steps: list[dict], out: TextIO) -> None:
    print("\n== exact JBBA by parametric assignment (solvers.p2_exact.exact_jbba)", file=out)
    print("   T_0 = optimal-bandwidth latency of CRUNCH's assignment; at each T_i one min-cost assignment x'\n"
          "   with weights D / (R_k B (T_i - tcp[k,m])) (shares of B): share < 1 -> x' is better, move to\n"
          "   T_(i+1) = T(x'); share = 1 -> no assignment beats the current one: optimal", file=out)
    for i, step in enumerate(steps):
        head = f"   step {i + 1}: T_{i} = {step['threshold_s']:.9g} s; min-cost assignment x' = "
        if step["assignment"] is None:
            print(head + "none (stop)", file=out)
            continue
        verdict = ("-> optimal, stop" if i == len(steps) - 1 else
                   f"-> move, T_{i + 1} = T(x') = {steps[i + 1]['threshold_s']:.9g} s")
        print(head + f"{list(step['assignment'])} needs {step['share']:.9g} of B {verdict}", file=out)


def _print_p2_comparison(instance: Instance, exact, out: TextIO) -> None:
    from solvers import run
    from instances.tolerances import rel_gap

    print("\n== the same instance by the heuristics (gap to the exact optimum)", file=out)
    for name in ("crunch+bandwidth", "dual-ascent", "dual-ascent-rich"):   # Algorithm 3 as published, improved
        res = run("P2", name, instance)
        if res.objective_s is None:
            print(f"   {name:17s} {res.status.value}: {res.message}", file=out)
            continue
        line = (f"   {name:17s} {res.objective_s:.9g} s  gap {100 * rel_gap(res.objective_s, exact.objective_s):.4g} %"
                f"  assignment {list(res.assignment)}")
        if res.bound_s is not None:
            line += f"  (dual bound {res.bound_s:.6g} s)"
        print(line, file=out)


# --------------------------------------------------------------------------------------
# The teaching view
# --------------------------------------------------------------------------------------
def explain(instance: Instance, problem: str = "P1", out: TextIO = sys.stdout) -> int:
    """Print the teaching view of ``instance`` for ``problem``; returns an exit status (0).

    Sections: the instance as tables; the model (:func:`describe_model`); the
    CRUNCH trace on the equal-bandwidth matrix
    :math:`c_{km} = t_{km} + D M / (B R_k)` with the Hall slack
    :math:`n_{(K-M+j)} - (j + 1),\\ j = 0..M-1` (0-based ranks) after every cut (Proposition 1: all
    :math:`\\ge 0` iff a full matching exists); then

    * P1: the optimal assignment and each device's computation / upload split;
    * P2: the iterations of the exact parametric assignment (CRUNCH's answer is
      its warm start), the optimal assignment with each device's bandwidth, the
      idle devices, and the heuristics' gaps.

    An infeasible instance (M > K, memory wall) is reported as such.
    Cost: CRUNCH's traced walk O(K M K log K), plus the exact P2 solve.

    Examples
    --------
    >>> import io
    >>> inst = Instance.from_arrays([[1.0, 2.0], [1.0, 4.0]], [1.0, 1.0], [1.0, 1.0],
    ...                             [1.0, 1.0], gradient_bits=1.0, bandwidth_hz=2.0)
    >>> text = io.StringIO()
    >>> explain(inst, "P1", text)
    0
    >>> "optimal P1 solution: round latency 3 s" in text.getvalue()   # block 1 on device 0: 2 + 1
    True
    """
    from solvers import p1

    if problem not in MODEL_FORMATS:
        raise ValueError(f"problem must be 'P1' or 'P2', got {problem!r}")
    if instance.family:
        return explain_family(instance, problem, out)
    with pd.option_context("display.width", 120, "display.max_columns", 30, "display.precision", 4):
        devices, blocks, latency = instance_tables(instance)
        print(f"== instance {instance.name} ({instance.source}): K = {instance.K} devices, "
              f"M = {instance.M} blocks, D = {instance.gradient_bits:.6g} bit, B = {instance.bandwidth_hz:.6g} Hz",
              file=out)
        print("\n-- devices\n" + devices.to_string(), file=out)
        print("\n-- blocks\n" + blocks.to_string(), file=out)
        print("\n-- computation latency tcp[k, m] (s)\n" + latency.to_string(), file=out)

        print(f"\n== the {problem} model", file=out)
        try:
            model = build_model(instance, problem)
        except ValueError as exc:      # the scaled P2 MINLP needs a feasible instance (its time unit)
            print(f"  not built: {exc}", file=out)
        else:
            describe_model(model, out)
            if problem == "P2":
                print(f"  units: time in units of time_scale_s = {time_scale_s(model):.9g} s (tau, a, tcp); "
                      "slack sigma[k] s[k] (same unit); share of the band B_k / B = r[k] b[k]; "
                      "sigma[k] r[k] = D / (R_k B time_scale_s)", file=out)

        print("\n== CRUNCH on the equal-bandwidth latency matrix c[k, m] = tcp[k, m] + D M / (B R_k)"
              + (" (P1's optimum: the warm start of exact JBBA)" if problem == "P2" else ""), file=out)
        print("   (Hall slack: n_(K-M+j) - (j + 1) for j = 0..M-1, 0-based ranks; all >= 0 means a full matching exists)", file=out)
        lines: list[str] = []
        p1_result = p1.crunch(instance, trace=lines.append)
        _print_trace(lines, out)
        if p1_result.status.value == "infeasible":
            print(f"\n== infeasible: {p1_result.message}", file=out)
            _print_certificate(instance, problem, attach(instance, p1_result, problem), out)
            return 0
        if problem == "P1":
            result = p1_result
        else:
            result, steps = parametric_iterations(instance)
            _print_iterations(steps, out)
        print(f"\n== optimal {problem} solution: round latency {result.objective_s:.9g} s ({result.solver})", file=out)
        table = assignment_table(instance, result)
        print(table.to_string(), file=out)
        idle = sorted(set(range(instance.K)) - set(result.assignment))
        print(f"   idle devices (no block, no bandwidth): {idle if idle else 'none'}", file=out)
        if problem == "P2":
            band = np.asarray(result.bandwidth_hz, dtype=float)
            spread = float(table["total_s"].max() - table["total_s"].min())
            print(f"   bandwidth used: {band.sum():.9g} Hz of B = {instance.bandwidth_hz:.9g} Hz; finish times of the "
                  f"involved devices differ by {spread:.3g} s (optimal bandwidth equalises them)", file=out)
        _print_certificate(instance, problem, attach(instance, result, problem), out)
        if problem == "P2":
            _print_p2_comparison(instance, result, out)
    return 0


#: What each feature of the family changes in the model, for :func:`explain_family`.
FAMILY_TEXT = {
    "G1": ("per-block gradient sizes (G1): block m uploads D_m bits",
           "upload of device k: U_k = sum of D_m over its blocks (bits)"),
    "G2": ("devices that take several blocks (G2): device k takes up to c_k of them",
           "C2: sum_m x[k,m] <= c_k; one backward pass down to the deepest block d_k: "
           "computation tcp[k, d_k], memory mu[d_k] <= cap_k (C3)"),
}


def family_device_table(instance: Instance, result, problem: str) -> pd.DataFrame:
    """One row per involved device: its blocks, deepest block, computation, upload and total time (s).

    .. math:: t_k = t_{k d_k} + \\frac{U_k}{R_k B_k}, \\qquad d_k = \\max S_k,\\;
              U_k = \\sum_{m \\in S_k} D_m,

    with ``B_k`` the returned bandwidth (P1: ``|S_k| B / M``); the round latency
    is the largest ``t_k``.  O(K + M).

    Examples
    --------
    >>> from solvers.result import Result
    >>> inst = Instance.from_arrays([[1.0, 2.0, 3.0]], [1.0, 1.0, 1.0], [1.0], [1.0],
    ...                             gradient_bits=[1.0, 2.0, 3.0], bandwidth_hz=1.0, device_max_blocks=[3])
    >>> res = Result(solver="x", problem="P2", status="feasible", assignment=(0, 0, 0), bandwidth_hz=(1.0,))
    >>> family_device_table(inst, res, "P2")[["blocks", "deepest", "upload_bits", "total_s"]].values.tolist()
    [['0,1,2', 2, 6.0, 9.0]]
    """
    a = np.asarray(result.assignment, dtype=int)
    band = np.asarray(result.bandwidth_hz, dtype=float)
    rows = []
    for k in sorted(set(a.tolist())):
        held = np.flatnonzero(a == k)
        deepest = int(held.max())
        bits = float(np.sum(instance.block_bits[held]))
        compute = float(instance.compute_latency[k, deepest])
        upload = bits / (instance.spectral_efficiency[k] * band[k]) if band[k] > 0 else np.inf
        rows.append({"device": k, "blocks": ",".join(str(m) for m in held), "deepest": deepest,
                     "compute_s": compute, "upload_bits": bits, "bandwidth_MHz": band[k] / 1e6,
                     "upload_s": upload, "total_s": compute + upload})
    return pd.DataFrame.from_records(rows).set_index("device")


def explain_family(instance: Instance, problem: str, out: TextIO = sys.stdout) -> int:
    """The teaching view of an instance beyond the paper's model (G1 and/or G2); exit status 0.

    Sections: the instance with its new fields, what changes in the model
    (``docs/formulation.md``, "When the structure disappears"), the Pyomo model
    of the generalised problem, which methods solve it, and the optimum of
    the first exact method that does, per device, with its certificate (or
    the note that none is defined for this part of the family).

    Examples
    --------
    >>> import io
    >>> inst = Instance.from_arrays([[1.0, 2.0]], [1.0, 1.0], [1.0], [1.0], gradient_bits=1.0,
    ...                             bandwidth_hz=1.0, device_max_blocks=[2])
    >>> text = io.StringIO()
    >>> explain_family(inst, "P1", text)
    0
    >>> "devices that take several blocks (G2)" in text.getvalue()
    True
    """
    import solvers
    from solvers.scope import refusal_reason

    with pd.option_context("display.width", 120, "display.max_columns", 30, "display.precision", 4):
        print(f"== instance {instance.name} ({instance.source}): K = {instance.K} devices, M = {instance.M} blocks, "
              f"B = {instance.bandwidth_hz:.6g} Hz, beyond the paper's model", file=out)
        for feature in sorted(instance.family):
            what, change = FAMILY_TEXT[feature]
            print(f"   {what}\n      {change}", file=out)
        devices, blocks, latency = instance_tables(instance)
        print("\n-- devices\n" + devices.to_string(), file=out)
        print("\n-- blocks\n" + blocks.to_string(), file=out)
        print("\n-- computation latency tcp[k, m] (s)\n" + latency.to_string(), file=out)
        print("\n   round latency: max over involved devices of tcp[k, d_k] + U_k / (R_k B_k), "
              + ("B_k = |S_k| B / M (P1: the band split per block)" if problem == "P1"
                 else "bandwidths B_k >= 0 with sum B_k <= B (P2)"), file=out)

        print(f"\n== the {problem} model of the family", file=out)
        try:
            model = build_model(instance, problem)
        except ValueError as exc:
            print(f"  not built: {exc}", file=out)
        else:
            describe_model(model, out)

        names = [n for n in solvers.solvers_for(problem)
                 if refusal_reason(solvers.REGISTRY[(problem, n)], instance) is None]
        refused = [n for n in solvers.solvers_for(problem) if n not in names]
        print(f"\n== methods that solve it: {', '.join(names) or 'none'}", file=out)
        print(f"   methods that refuse it (status unsupported): {', '.join(refused) or 'none'}", file=out)
        exact = [n for n in names if n in solvers.EXACT.get(problem, set())]
        if not exact:
            print("   no exact method solves it", file=out)
            return 0
        result = solvers.run(problem, exact[0], instance)
        print(f"\n== {exact[0]}: {result.status.value}"
              + (f", round latency {result.objective_s:.9g} s" if result.objective_s is not None else "")
              + (f" ({result.message})" if result.message else ""), file=out)
        if result.has_solution:
            print(family_device_table(instance, result, problem).to_string(), file=out)
        if result.status.value in ("optimal", "infeasible"):
            _print_certificate(instance, problem, result, out)
    return 0


def _print_certificate(instance: Instance, problem: str, result, out: TextIO) -> None:
    """The proof of the claim in words, and the independent checker's verdict on it."""
    cert = result.certificate
    print("\n== certificate (solvers.certify; verified by validation.check without trusting any solver)", file=out)
    if cert is None:
        print(f"   none: {result.info.get('certificate') or result.message}", file=out)
        return
    if cert["kind"] == "hall":
        blocks, devices = cert["blocks"], cert["devices"]
        where = ("fit their memory" if result.status.value == "infeasible"
                 else f"fit their memory and finish strictly below {result.objective_s:.9g} s")
        conclusion = "no assignment exists" if result.status.value == "infeasible" else "no assignment is faster"
        print(f"   Hall violator: blocks {blocks} ({len(blocks)}) can only go to devices {devices} "
              f"({len(devices)}), the only ones that {where};", file=out)
        if instance.single_block:
            print(f"   fewer devices than blocks, so {conclusion} (Hall's theorem)", file=out)
        else:
            room = int(np.sum(instance.device_max_blocks[np.asarray(devices, dtype=int)]))
            print(f"   they take at most {room} blocks (device_max_blocks) < {len(blocks)}, so {conclusion} "
                  f"(Hall's theorem for b-matchings)", file=out)
    else:
        u, v = np.asarray(cert["u_hz"]), np.asarray(cert["v_hz"])
        print(f"   assignment duals at T_low = {cert['threshold_s']:.12g} s: u (per block) - v (per device) <= "
              f"D / (R_k (T_low - tcp[k,m])) on every usable pair,", file=out)
        print(f"   and sum u - sum v = {u.sum() - v.sum():.12g} Hz >= B = {instance.bandwidth_hz:.9g} Hz: any solution "
              f"faster than T_low would need more than the band", file=out)
    verdict = check_result(instance, result, problem)
    print(f"   checker: {'verified' if verdict.ok else 'FAILED: ' + '; '.join(verdict.problems)}", file=out)


def _print_trace(lines: list[str], out: TextIO) -> None:
    if len(lines) > MAX_TRACE_LINES:
        head, tail = MAX_TRACE_LINES // 3, MAX_TRACE_LINES - MAX_TRACE_LINES // 3
        lines = lines[:head] + [f"... {len(lines) - head - tail} more cuts, all feasible ..."] + lines[-tail:]
    for line in lines:
        print("   " + line, file=out)


def main(argv: list[str] | None = None) -> int:
    """Command line; exit status 0 on success, 2 on unusable input (message on stderr, no traceback)."""
    parser = argparse.ArgumentParser(prog="python -m validation.explain", description=__doc__.split("\n\n")[1])
    add_version(parser)
    parser.add_argument("file", help="a deft-instance/1 JSON file")
    parser.add_argument("--problem", choices=("P1", "P2"), default="P1")
    parser.add_argument("--write-model", metavar="PATH",
                        help="export the model: .lp/.mps (P1), .gms/.nl (P1 or P2)")
    args = parser.parse_args(argv)
    try:
        instance = load_instance(args.file)
    except InstanceError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.write_model:
        try:
            path = write_model(instance, args.problem, args.write_model)
        except (ValueError, OSError) as exc:
            print(exc, file=sys.stderr)
            return 2
        scale = time_scale_s(build_model(instance, args.problem))
        units = "" if args.problem == "P1" else f" (objective tau in units of {scale!r} s)"
        print(f"wrote the {args.problem} model of {instance.name} to {path}{units}")
    return explain(instance, args.problem)


if __name__ == "__main__":
    sys.exit(main())
