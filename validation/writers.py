"""Writing a sweep as it runs: a readable table, CSV rows or one JSON document.

Each writer has ``group(group)`` (an (instance, problem) group finished),
``unusable(row)`` (an unusable input) and ``finish(report)`` (the sweep ended).
Rows carry the keys of :data:`validation.rows.ROW_FIELDS`; non-finite numbers
are written as ``null`` in JSON, lists and objects as JSON text in CSV.
"""
from __future__ import annotations

import csv
import json
import math
import textwrap
from typing import TextIO

from instances.cli import EXIT_FINDING as EXIT_INCONSISTENT
from instances.cli import EXIT_INTERRUPTED, EXIT_OK, EXIT_UNUSABLE
import solvers as _solvers

from .outcomes import Group, Outcome, Report
from .rows import JSON_FIELDS, ROW_FIELDS, STATUSES, sanitize


def _fmt_num(value, spec=".6g") -> str:
    return "-" if value is None else format(value, spec)


def _fmt_gap(value) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:+.4%}"


def _indent(text: str, pad: str = "  ") -> str:
    return "\n".join((pad + line).rstrip() for line in text.splitlines())


def _to_text(frame) -> str:
    """DataFrame as text with every column left-aligned (easier to scan than pandas' default)."""
    formatters = {}
    for col in frame.columns:
        width = max([len(str(col))] + [len(str(v)) for v in frame[col]])
        formatters[col] = lambda v, w=width: f"{v!s:<{w}}"
    return frame.to_string(index=False, formatters=formatters, justify="left")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def summary_text(report: Report, include_lines: bool = True) -> str:
    """Readable summary (``include_lines=False`` omits the one-line problem list)."""
    usable = len({g.instance for g in report.groups})
    out = [f"Summary: {len(report.files)} instance file(s): {usable} usable, {len(report.unusable)} unusable"
           + (" (INTERRUPTED: partial results)" if report.interrupted else "")]
    methods = report.method_table()
    if len(methods):
        unused = [s for s in (*STATUSES, "uncertified") if not methods[s].any()]
        shown = methods.drop(columns=unused).rename(columns={"gapped": "gap_runs"})
        for col in ("mean_gap", "max_gap"):
            shown[col] = [_fmt_gap(v) for v in shown[col]]
        out.append("Methods (gap = (T - T*) / T* against the proven optimum T*, over gap_runs runs; "
                   "certified = optimal/infeasible claims whose certificate the checker verified):")
        out.append(_indent(_to_text(shown)))
    issues = report.issues
    if include_lines:
        out.append(f"Problems found: {len(issues)}")
        out.extend(f"  - {line}" for line in issues)
        if report.unusable:
            out.append(f"Unusable input: {len(report.unusable)}")
            out.extend(f"  - {line}" for line in report.unusable)
    else:
        out.append(f"Problems found: {len(issues)}; unusable input: {len(report.unusable)} (listed above)")
    code = EXIT_INTERRUPTED if report.interrupted else report.exit_code
    meaning = {EXIT_OK: "consistent", EXIT_INCONSISTENT: "inconsistency found",
               EXIT_UNUSABLE: "unusable input", EXIT_INTERRUPTED: "interrupted"}[code]
    out.append(f"Exit status: {code} ({meaning})")
    return "\n".join(out)


def group_table(group: Group):
    """pandas DataFrame of one group, formatted for reading."""
    import pandas as pd

    records = []
    for o in group.outcomes:
        r = o.result
        records.append({
            "solver": o.solver,
            "status": r.status.value,
            "objective_s": _fmt_num(r.objective_s),
            "bound_s": _fmt_num(r.bound_s),
            "gap": _fmt_gap(o.gap),
            "seconds": _fmt_num(r.seconds, ".3f"),
            "check": "FAIL" if not o.check.ok else ("ok" if o.check.objective_s is not None else "-"),
            "certified": _certified_text(o),
            "message": _one_line(r.message),
        })
    return pd.DataFrame.from_records(records, columns=["solver", "status", "objective_s", "bound_s", "gap",
                                                        "seconds", "check", "certified", "message"])


def _certified_text(o: Outcome) -> str:
    """``yes`` (a verified certificate), ``FAIL`` (one that does not verify), ``withdrawn``
    (a claim that could not be certified), ``none defined`` (a claim where the family has no
    certificate, see docs/certificates.md), or ``-`` (no claim)."""
    r = o.result
    if r.certificate is not None:
        return "yes" if o.check.ok else "FAIL"
    if "uncertified" in r.info:
        return "withdrawn"
    return "none defined" if r.info.get("certificate") else "-"


def _verdict_text(group: Group) -> str:
    exact = _solvers.EXACT.get(group.problem, set())
    ran = [o.solver for o in group.outcomes if o.solver in exact]
    if group.verdict == "optimal":
        text = f"optimum T* = {group.optimum_s:.10g} s"
    elif group.verdict == "infeasible":
        text = "infeasible (proven)"
    else:
        text = "no proven optimum" + ("" if ran else " (no exact method ran)")
    if group.issues:
        text += f"; {len(group.issues)} PROBLEM(S)"
    if not group.complete:
        text += "; INTERRUPTED"
    return text


class TableWriter:
    """Readable text: a table per (instance, problem) as it finishes, then the summary.

    Messages are never cut: with ``wide`` they stay in the table's last
    column, otherwise they follow the table, one per method, wrapped to
    ``width`` characters.
    """

    def __init__(self, stream: TextIO, wide: bool = False, width: int | None = None):
        import shutil

        self.stream = stream
        self.wide = wide
        self.width = width or max(60, shutil.get_terminal_size((100, 24)).columns)
        self.last_instance = None

    def _header(self, label: str) -> None:
        if label != self.last_instance:
            self.stream.write(f"\n== {label} ==\n")
            self.last_instance = label

    def group(self, group: Group) -> None:
        self._header(group.instance)
        self.stream.write(f"{group.problem}: {_verdict_text(group)}\n")
        table = group_table(group)
        if self.wide:
            self.stream.write(_indent(_to_text(table)) + "\n")
        else:
            self.stream.write(_indent(_to_text(table.drop(columns="message"))) + "\n")
            for solver, message in zip(table["solver"], table["message"]):
                if message:
                    self.stream.write(textwrap.fill(message, self.width, initial_indent=f"    {solver}: ",
                                                    subsequent_indent=" " * (6 + len(solver))) + "\n")
        for line in group.issues:
            self.stream.write(f"  PROBLEM: {line}\n")
        self.stream.flush()

    def unusable(self, row: dict) -> None:
        self._header(row["instance"])
        self.stream.write(f"UNUSABLE: {row['message']}\n")
        self.stream.flush()

    def finish(self, report: Report) -> None:
        self.stream.write("\n" + summary_text(report) + "\n")
        self.stream.flush()


class CsvWriter:
    """CSV rows (header :data:`ROW_FIELDS`), flushed as each group finishes; lists as JSON text."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.writer = csv.DictWriter(stream, fieldnames=ROW_FIELDS, lineterminator="\n")
        self.writer.writeheader()
        self.stream.flush()

    def _write(self, rows: list[dict]) -> None:
        for row in rows:
            row = sanitize(row)
            for key in JSON_FIELDS:
                if row[key] is not None:
                    row[key] = json.dumps(row[key])
            self.writer.writerow(row)
        self.stream.flush()

    def group(self, group: Group) -> None:
        self._write(group.rows)

    def unusable(self, row: dict) -> None:
        self._write([row])

    def finish(self, report: Report) -> None:
        pass


class JsonWriter:
    """One JSON document ``{"rows": [...], "summary": {...}}``, written at the end."""

    def __init__(self, stream: TextIO):
        self.stream = stream

    def group(self, group: Group) -> None:
        pass

    def unusable(self, row: dict) -> None:
        pass

    def finish(self, report: Report) -> None:
        # one row per line: readable, and still a single valid JSON document
        rows = ",\n  ".join(json.dumps(sanitize(row), allow_nan=False) for row in report.rows)
        summary = json.dumps(report.summary(), indent=2, allow_nan=False).replace("\n", "\n  ")
        self.stream.write(f'{{\n  "rows": [\n  {rows}\n  ],\n  "summary": {summary}\n}}\n')
        self.stream.flush()


WRITERS = {"table": TableWriter, "csv": CsvWriter, "json": JsonWriter}
