"""The tables of ``docs/performance.md`` from one run of :mod:`validation.bench`, as Markdown.

:func:`markdown` takes the bench's rows (``bench.csv``) and targets
(``targets.csv``) and returns every table the performance page shows: the
targets, the times against K per problem and M (seed 0, with the peer's time
and the ratios to it wherever the peer ran), the other P2 sizes, the dual
ascents against ``exact`` (every seed) and the batch API against single
calls.  The bench writes it as ``tables.md`` beside its CSV files, so the
page's figures all come from one run; ``python -m validation.bench_tables
bench-results/`` prints it again from the CSV files.

Times are seconds (medians of the bench's repeats); ``peer / crunch`` is how
many times faster ``crunch`` is than the peer, measured in the same run.
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

#: (method, column header) of the times-against-K tables, in column order; absent methods are left out.
P1_COLUMNS = (("crunch", "crunch"), ("crunch-lean", "crunch-lean"), ("crunch-literal", "crunch-literal"),
              ("linear-search", "linear-search (HK)"), ("hungarian-search", "hungarian-search"), ("milp", "milp"),
              ("peer", "peer"), ("matrix-pass", "matrix pass"))
P2_COLUMNS = (("exact", "exact"), ("exact-lean", "exact-lean"), ("milp", "milp"), ("peer", "peer"))


def _number(value):
    """A CSV cell or a bench value as float, None when empty."""
    if value is None or value == "":
        return None
    return float(value)


def _seconds(value) -> str:
    return "" if value is None else f"{value:.2e}"


def _times(value) -> str:
    """A speed ratio: ``12.3x``, ``1,234x``."""
    if value is None:
        return ""
    return f"{value:.1f}x" if value < 1000 else f"{value:,.0f}x"


def _index(rows: list[dict]) -> dict[tuple, dict[str, dict]]:
    """(problem, scenario, M, K, seed) -> {method: row}."""
    out: dict[tuple, dict[str, dict]] = {}
    for r in rows:
        key = (r["problem"], r["scenario"], int(r["M"]), int(r["K"]), int(r["seed"]))
        out.setdefault(key, {})[r["method"]] = r
    return out


def _time(row: dict | None):
    """The row's median time in s; None when absent or stopped by its time limit."""
    if row is None or row["status"] == "time_limit":
        return None
    return _number(row["seconds"])


def times_table(index, problem: str, scenario: str, M: int, columns, main: str) -> list[str]:
    """Seed 0's times against K for one problem, scenario and M; [] when the bench ran none."""
    keys = sorted(k for k in index if k[:3] == (problem, scenario, M) and k[4] == 0)
    if not keys:
        return []
    present = [(m, h) for m, h in columns if any(m in index[k] for k in keys)]
    lean = f"{main}-lean"
    head = ["K"] + [h for _, h in present]
    if problem == "P2":
        head.insert(3, "steps")
    peer = any("peer" in index[k] for k in keys)
    if peer:
        head += [f"peer / {main}", f"peer / {lean}"]
    head.append("certificate")
    lines = ["| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]
    for k in keys:
        run = index[k]
        cells = [f"{k[3]:,}"] + [_seconds(_time(run.get(m))) for m, _ in present]
        if problem == "P2":
            cells.insert(3, str(run[main]["iterations"] or "") if main in run else "")
        if peer:
            p, a, b = _time(run.get("peer")), _time(run.get(main)), _time(run.get(lean))
            cells += [_times(p / a) if p and a else "", _times(p / b) if p and b else ""]
        cells.append(_seconds(_number(run[main]["certify_s"])) if main in run else "")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def other_sizes_table(index) -> list[str]:
    """``exact`` at the sizes outside the P2 grid: M = 384 and the identical-devices scenario."""
    lines = ["| size | exact | exact-lean | steps | status | certificate |", "|---|---:|---:|---:|---|---:|"]
    for k in sorted(index):
        run = index[k]
        if k[0] == "P2" and "exact" in run and (k[1] != "generator" or k[2] not in (12, 48, 96)):
            r = run["exact"]
            lines.append(f"| {k[1]}, K={k[3]:,}, M={k[2]} | {_seconds(_time(r))} | "
                         f"{_seconds(_time(run.get('exact-lean')))} | {r['iterations'] or ''} | {r['status']} | "
                         f"{_seconds(_number(r['certify_s']))} |")
    return lines if len(lines) > 2 else []


def dual_ascent_table(index) -> list[str]:
    """Both dual ascents against ``exact`` on the same instance (every seed): time, ratio, iterations, gap."""
    head = ("| K | seed | exact | dual-ascent | x exact | iterations | gap | dual-ascent-rich | x exact | "
            "iterations | gap |")
    lines = [head, "|" + "---:|" * 11]
    for k in sorted(index):
        run = index[k]
        if k[0] != "P2" or "exact" not in run or not ({"dual-ascent", "dual-ascent-rich"} & run.keys()):
            continue
        exact = _time(run["exact"])
        cells = [f"{k[3]:,}", str(k[4]), _seconds(exact)]
        for method in ("dual-ascent", "dual-ascent-rich"):
            r = run.get(method)
            if r is None:
                cells += [""] * 4
                continue
            t, gap = _time(r), _number(r["gap_to_exact"])
            cells += [_seconds(t), _times(t / exact) if t and exact else "", str(r["iterations"] or ""),
                      "" if gap is None else f"{100 * gap:.2f}%"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines if len(lines) > 2 else []


def batch_table(rows: list[dict]) -> list[str]:
    """The batch API against one call per draw: seconds per draw and the ratio."""
    lines = ["| problem | K | M | single calls (s per draw) | batch (s per draw) | single / batch | answers equal |",
             "|---|---:|---:|---:|---:|---:|---|"]
    single = {r["problem"]: r for r in rows if str(r["method"]).endswith("-single")}
    for r in rows:
        if str(r["method"]).endswith("-batch") and r["problem"] in single:
            s, b = _number(single[r["problem"]]["seconds"]), _number(r["seconds"])
            agree = str(r["objectives_agree"]) in ("True", "true")
            lines.append(f"| {r['problem']} | {int(r['K']):,} | {r['M']} | {_seconds(s)} | {_seconds(b)} | "
                         f"{_times(s / b)} | {'yes' if agree else 'NO'} |")
    return lines if len(lines) > 2 else []


def targets_table(targets: list[dict]) -> list[str]:
    """Every target with its measured value and verdict (``-``: its size was not run)."""
    lines = ["| target | measured | threshold | met | note |", "|---|---:|---:|---|---|"]
    for t in targets:
        measured = _number(t["measured"])
        met = {"True": "yes", "False": "**no**", True: "yes", False: "**no**"}.get(t["met"], "-")
        lines.append(f"| {t['target']} | {'-' if measured is None else format(measured, '.3g')} | "
                     f"{_number(t['threshold']):g} {t['unit']} | {met} | {t['note']} |")
    return lines


def markdown(rows: list[dict], targets: list[dict]) -> str:
    """Every table of the performance page, with a heading each, from one run's rows and targets."""
    index = _index(rows)
    parts = [("Targets", targets_table(targets))]
    for M in (12, 48, 96):
        parts.append((f"P1, M = {M} (seed 0, s)", times_table(index, "P1", "generator", M, P1_COLUMNS, "crunch")))
    parts.append(("P1, identical devices, M = 96 (seed 0, s)",
                  times_table(index, "P1", "identical-devices", 96, P1_COLUMNS, "crunch")))
    for M in (12, 48, 96):
        parts.append((f"P2, M = {M} (seed 0, s)", times_table(index, "P2", "generator", M, P2_COLUMNS, "exact")))
    parts += [("P2, other sizes (s)", other_sizes_table(index)),
              ("Dual ascent against exact (M = 12, s; gap = objective / exact optimum - 1)", dual_ascent_table(index)),
              ("The batch API", batch_table(rows))]
    return "\n".join(f"### {title}\n\n" + "\n".join(lines) + "\n" for title, lines in parts if lines)


def _read(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m validation.bench_tables",
                                     description="Print the performance page's tables from a bench run's CSV files.")
    parser.add_argument("folder", nargs="?", default="bench-results",
                        help="the bench's output folder (default bench-results/)")
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    try:
        text = markdown(_read(folder / "bench.csv"), _read(folder / "targets.csv"))
    except OSError as exc:
        print(f"error: {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    except (KeyError, TypeError, ValueError, csv.Error) as exc:
        print(f"error: {folder}: not the CSV files of a bench run (column or value {exc})", file=sys.stderr)
        return 2
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
