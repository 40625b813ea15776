"""``python -m validation.explain FILE [--problem P1|P2] [--write-model PATH]``

A teaching view of one instance: the data as tables, the instantiated model
constraint by constraint, the CRUNCH trace with the Hall counts at every check,
and the optimal assignment with each device's computation / upload split.

``--write-model PATH`` exports the Pyomo model so it can be opened in any
solver: LP for P1 (a MILP), GAMS (``.gms``) or AMPL NL (``.nl``) for P2 (a
convex MINLP), chosen by the file suffix.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd

from instances import Instance, InstanceError, load_instance

#: Above this many x-variables the model is summarised instead of printed in full.
MAX_PRINTED_VARIABLES = 200


def instance_tables(instance: Instance) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Devices, blocks and the latency matrix as DataFrames (units in column names)."""
    devices = pd.DataFrame({
        "memory_GB": instance.device_memory / 1e9,
        "blocks_that_fit": instance.memory_prefix,
        "R_bit_per_s_Hz": instance.spectral_efficiency,
        "upload_equal_s": instance.upload_equal_s,
    }, index=pd.Index(range(instance.K), name="device"))
    blocks = pd.DataFrame({"memory_GB": instance.block_memory / 1e9},
                          index=pd.Index(range(instance.M), name="block"))
    latency = pd.DataFrame(instance.compute_latency, index=pd.Index(range(instance.K), name="device"),
                           columns=pd.Index(range(instance.M), name="tcp_s / block"))
    return devices, blocks, latency


def build_model(instance: Instance, problem: str):
    """The Pyomo model of ``problem`` for ``instance`` (P1 MILP or P2 convex MINLP)."""
    if problem == "P1":
        from models.p1 import build_p1_milp

        return build_p1_milp(instance)
    from models.p2 import build_p2_minlp

    return build_p2_minlp(instance)


def write_model(instance: Instance, problem: str, path: str | Path) -> Path:
    """Export the model of ``problem`` to ``path``; the format follows the suffix.

    P1: ``.lp`` (or ``.mps``); P2: ``.gms`` or ``.nl``.  Returns the path.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    allowed = {"P1": (".lp", ".mps", ".gms", ".nl"), "P2": (".gms", ".nl")}[problem]
    if suffix not in allowed:
        raise ValueError(f"--write-model: {problem} models can be written as {', '.join(sorted(allowed))}, "
                         f"not {suffix or 'a file without suffix'!r}")
    model = build_model(instance, problem)
    # Pyomo picks the writer from the suffix; symbolic labels keep the names x[k,m], C1[m], ...
    model.write(str(path), io_options={"symbolic_solver_labels": True})
    return path


def describe_model(model, out: TextIO) -> None:
    """Print every constraint of ``model`` as an equation, grouped by its label."""
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
            print(f"    {con.name}[{index}]: {row.expr}", file=out)
        if not full and len(items) > 2:
            print(f"    ... {len(items) - 2} more rows", file=out)


def assignment_table(instance: Instance, result) -> pd.DataFrame:
    """One row per block: its device, computation and upload time (s) and bandwidth (Hz)."""
    a = np.asarray(result.assignment, dtype=int)
    band = np.asarray(result.bandwidth_hz, dtype=float)[a]
    compute = instance.compute_latency[a, np.arange(instance.M)]
    upload = instance.comm_coef[a] / band
    return pd.DataFrame({"device": a, "compute_s": compute, "upload_s": upload, "total_s": compute + upload,
                         "bandwidth_MHz": band / 1e6}, index=pd.Index(range(instance.M), name="block"))


def explain(instance: Instance, problem: str = "P1", out: TextIO = sys.stdout) -> int:
    """Print the teaching view of ``instance`` for ``problem``; returns an exit status."""
    from solvers import run
    from solvers import p1

    with pd.option_context("display.width", 120, "display.max_columns", 30, "display.precision", 4):
        devices, blocks, latency = instance_tables(instance)
        print(f"== instance {instance.name} ({instance.source}): K = {instance.K} devices, "
              f"M = {instance.M} blocks, D = {instance.gradient_bits:.6g} bit, B = {instance.bandwidth_hz:.6g} Hz",
              file=out)
        print("\n-- devices\n" + devices.to_string(), file=out)
        print("\n-- blocks\n" + blocks.to_string(), file=out)
        print("\n-- computation latency tcp[k, m] (s)\n" + latency.to_string(), file=out)

        print(f"\n== the {problem} model", file=out)
        describe_model(build_model(instance, problem), out)

        print("\n== CRUNCH on the equal-bandwidth latency matrix c[k, m] = tcp[k, m] + D M / (B R_k)", file=out)
        print("   (Hall slack: n_(K-M+i) - i for i = 1..M; all >= 0 means a full matching exists)", file=out)
        p1_result = p1.crunch(instance, trace=lambda line: print("   " + line, file=out))
        if p1_result.status.value == "infeasible":
            print(f"\n== infeasible: {p1_result.message}", file=out)
            return 0
        result = p1_result if problem == "P1" else run("P2", "exact", instance)
        print(f"\n== optimal {problem} solution: round latency {result.objective_s:.9g} s ({result.solver})", file=out)
        print(assignment_table(instance, result).to_string(), file=out)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m validation.explain", description=__doc__.split("\n\n")[1])
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
        print(f"wrote the {args.problem} model of {instance.name} to {path}")
    return explain(instance, args.problem)


if __name__ == "__main__":
    sys.exit(main())
