"""The validation harness: run every method on every instance and cross-check them.

Usage::

    python -m validation.compare PATH... [--format table|csv|json] [--output FILE]
        [--solvers a,b] [--problems P1,P2] [--time-limit SECONDS]
        [--jobs N | --dask ADDRESS] [--grace SECONDS]

Every ``*.json`` file under the given files and folders (recursive, sorted) is
loaded with :func:`instances.load_instance` and every registered method of
:data:`solvers.REGISTRY` is run on it (through :func:`solvers.run`, which turns
exceptions into ``error`` results), for each selected problem.  Each result is
re-checked by the independent checker :mod:`validation.check`, then the
results of one instance and one problem are compared with each other:

* the *exact* methods (:data:`solvers.EXACT`) that claim ``optimal`` must agree
  to :data:`~instances.tolerances.EXACT_RTOL`; their (lowest valid) objective is
  the *proven optimum* ``T*``;
* an infeasibility claim by an exact or lower-bound method is a proof, so it
  contradicts any exact ``optimal`` claim and any valid solution;
* no valid solution may be below ``T*`` (beyond ``EXACT_RTOL``);
* no reported lower bound ``bound_s`` may be above the best valid solution
  (beyond :data:`~instances.tolerances.BOUND_RTOL`);
* every returned solution must pass the checker, and no method may error.

The gap of each method is

.. math:: \\mathrm{gap} = (T - T^*) / T^*

(:func:`instances.tolerances.rel_gap`), reported where both exist.

Exit status
-----------
0
    every usable instance was consistent and every input was usable;
1
    an inconsistency was found (listed in the summary and on stderr) -- this
    takes precedence over 2, so that 0/1 always answer "do the methods agree";
2
    some input was unusable (a bad file, a folder without ``*.json``, bad
    command-line arguments) and no inconsistency was found;
130
    interrupted (Ctrl-C); the rows finished so far are written.

Output
------
``table`` (default) prints one table per instance and problem as soon as it is
done, then a summary; ``csv`` writes one row per result as each (instance,
problem) finishes (the summary goes to stderr); ``json`` writes
``{"rows": [...], "summary": {...}}`` at the end (also on Ctrl-C).  Rows carry
the keys of :data:`ROW_FIELDS`; an unusable file gets one row with problem and
solver ``"-"``, status ``error`` and the :class:`~instances.InstanceError`
message.  Non-finite numbers are written as ``null`` in JSON.

The orchestration is available without a subprocess: :func:`compare_paths`,
:func:`compare_instance` and :func:`main`.

Time limits, parallel runs
--------------------------
Each method receives ``time_limit`` (default 60 s).  By default the methods
run in this process, one after the other, and are trusted to honour it.
With ``--jobs N`` they run in N worker processes, with ``--dask ADDRESS`` as
tasks on an existing Dask cluster (:mod:`validation.parallel`); there an
*outer guard* kills a method that has not answered ``--grace`` seconds after
its limit (default ``max(5, limit / 2)``) and reports it as ``time_limit``
("killed by the outer guard"), and a worker that dies gives an ``error`` row;
the sweep goes on.  The rows, tables and exit status are those of the
sequential run, in the same order (only ``seconds`` differs); on Ctrl-C the
workers are killed and every finished row is written.

Examples
--------
>>> import itertools
>>> from instances import Instance
>>> from validation.check import check_assignment, p1_latency
>>> inst = Instance.from_arrays([[1.0, 2.0], [1.5, 1.5], [0.5, 3.0]], [1.0, 2.0],
...     [4.0, 1.0, 4.0], [1.0, 2.0, 4.0], gradient_bits=1.0, bandwidth_hz=1.0, name="doc")
>>> report = compare_instance(inst, problems=["P1"], solvers=["crunch", "linear-search", "comm-aware"])
>>> report.groups[0].optimum_s, report.exit_code
(3.5, 0)
>>> # re-check the optimum by enumeration with the independent checker
>>> min(p1_latency(inst, a) for a in itertools.permutations(range(3), 2) if not check_assignment(inst, a))
3.5
"""
from __future__ import annotations

import argparse
import sys
from typing import TextIO

from instances.cli import EXIT_FINDING as EXIT_INCONSISTENT
from instances.cli import (EXIT_INTERRUPTED, EXIT_OK, EXIT_UNUSABLE, add_version, name_list, positive_int,
                           positive_seconds)

from .outcomes import Group, Outcome, Report, assess, checked_outcome
from .progress import make_progress
from .rows import JSON_FIELDS, ROW_FIELDS, STATUSES, unusable_row
from .sweep import DEFAULT_TIME_LIMIT_S, compare_instance, compare_paths, run, run_solver, select_solvers
from .writers import WRITERS, CsvWriter, JsonWriter, TableWriter, group_table, summary_text


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------
def _methods_text() -> str:
    """The registered methods per problem, for ``--help``."""
    import solvers

    lines = ["methods (--solvers), per problem:"]
    for problem in solvers.PROBLEMS:
        names = solvers.solvers_for(problem)
        exact = [n for n in names if n in solvers.EXACT[problem]]
        lines.append(f"  {problem}: {', '.join(names)}  (exact: {', '.join(exact)})")
    lines.append("  or your own: module:function (see docs/plugins.md)")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m validation.compare",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run every registered method on DEFT instances, check each answer independently "
                    "and cross-check the methods.",
        epilog=_methods_text() + "\n\nexit status: 0 consistent; 1 inconsistency found (takes precedence); "
               "2 unusable input or bad arguments; 130 interrupted")
    add_version(parser)
    parser.add_argument("paths", nargs="+", metavar="PATH", help="instance files or folders (searched recursively for *.json)")
    parser.add_argument("--format", choices=sorted(WRITERS), default="table", help="output format (default: table)")
    parser.add_argument("--output", metavar="FILE", help="write to FILE instead of stdout (rows as they finish)")
    parser.add_argument("--solvers", type=name_list, metavar="A,B",
                        help="only these methods (names below, or module:function for your own)")
    parser.add_argument("--problems", type=name_list, metavar="P1,P2", help="only these problems (default: P1,P2)")
    parser.add_argument("--time-limit", type=positive_seconds, default=DEFAULT_TIME_LIMIT_S, metavar="SECONDS",
                        help=f"time limit passed to every method (default: {DEFAULT_TIME_LIMIT_S:g})")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--jobs", type=positive_int, metavar="N",
                       help="run the methods in N guarded worker processes (default: in this process, "
                            "one after the other, no outer guard)")
    where.add_argument("--dask", metavar="ADDRESS",
                       help="run the methods as tasks on the Dask cluster whose scheduler is at ADDRESS "
                            "(e.g. tcp://host:8786), each in a guarded worker process")
    parser.add_argument("--grace", type=positive_seconds, metavar="SECONDS",
                        help="with --jobs/--dask: a method still running this long after its time limit is "
                             "killed and reported as time_limit (default: max(5, time limit / 2))")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bar on stderr (it is also off when stderr is not a terminal)")
    parser.add_argument("--wide", action="store_true",
                        help="table format: keep each message in the table's last column "
                             "(default: after the table, wrapped)")
    return parser


#: Seconds to wait for a Dask scheduler to answer before giving up (exit 2).
DASK_CONNECT_TIMEOUT_S = 20.0


def _connect_dask(address: str):
    """A ``distributed.Client`` for ``address``, or raise ValueError with a one-line reason."""
    try:
        from distributed import Client
    except ImportError:
        raise ValueError("--dask needs the 'distributed' package: pip install -e \".[dask]\"") from None
    try:
        return Client(address, timeout=DASK_CONNECT_TIMEOUT_S)
    except Exception as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ValueError(f"cannot connect to the Dask scheduler at {address}: {reason}") from None


def main(argv: list[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Command-line entry point; returns the exit status (see the module doc)."""
    stdout = sys.stdout if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        select_solvers(args.problems, args.solvers)
    except ValueError as exc:
        parser.error(str(exc))
    client = None
    if args.dask:
        try:
            client = _connect_dask(args.dask)
        except ValueError as exc:
            print(str(exc), file=stderr)
            return EXIT_UNUSABLE
    if args.output:
        try:
            stream = open(args.output, "w", encoding="utf-8", newline="" if args.format == "csv" else None)
        except OSError as exc:
            print(f"{args.output}: cannot write: {exc.strerror}", file=stderr)
            if client is not None:
                client.close()
            return EXIT_UNUSABLE
    else:
        stream = stdout
    progress = make_progress(stderr, quiet=args.quiet)
    try:
        # output to the bar's terminal goes above the bar, line by line
        out = progress.above(stream) if progress is not None and _is_terminal(stream) else stream
        writer = (TableWriter(out, wide=args.wide) if args.format == "table" else WRITERS[args.format](out))

        def say(line: str) -> None:
            if progress is not None:
                progress.write(line)
            else:
                print(line, file=stderr, flush=True)

        def on_unusable(row: dict) -> None:
            say(row["message"])
            writer.unusable(row)

        report = compare_paths(args.paths, args.solvers, args.problems, args.time_limit,
                               on_group=writer.group, on_unusable=on_unusable, on_issue=say,
                               jobs=args.jobs, dask=client, grace_s=args.grace, progress=progress)
        if progress is not None:
            progress.close()
            progress = None
        writer.finish(report)
        if args.format == "csv" or args.output:
            print(summary_text(report, include_lines=False), file=stderr)
    finally:
        if progress is not None:
            progress.close()
        if stream is not stdout:
            stream.close()
        if client is not None:
            client.close()
    if args.output:
        print(f"wrote {len(report.rows)} row(s) to {args.output}", file=stderr)
    if report.interrupted:
        print(f"interrupted: {len(report.rows)} finished row(s) written", file=stderr)
        return EXIT_INTERRUPTED
    return report.exit_code


def _is_terminal(stream) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)())


__all__ = ["DEFAULT_TIME_LIMIT_S", "EXIT_INCONSISTENT", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_UNUSABLE",
           "JSON_FIELDS", "ROW_FIELDS", "STATUSES", "WRITERS", "CsvWriter", "Group", "JsonWriter", "Outcome",
           "Report", "TableWriter", "assess", "build_parser", "checked_outcome", "compare_instance",
           "compare_paths", "group_table", "main", "run", "run_solver", "select_solvers", "summary_text",
           "unusable_row"]


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:   # e.g. piped into `head`: stop quietly
        sys.stderr.close()
        sys.exit(EXIT_OK)
