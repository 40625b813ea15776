"""Running a sweep: every selected method on every instance, in this process or in guarded workers.

:func:`compare_paths` loads every instance file under the given paths
(:func:`instances.discovery.find_instance_files`), runs the selected methods
(:func:`select_solvers`) on each, for each problem, and hands every result to
:func:`validation.outcomes.checked_outcome` and every finished group to
:func:`validation.outcomes.assess`.  :func:`run` returns the rows as a pandas
DataFrame.

By default every method runs in this process, one after the other, trusted to
honour its time limit.  With ``jobs=N`` the methods run in N guarded worker
processes (:class:`validation.parallel.LocalPool`), with ``dask`` (a
scheduler address or a ``distributed.Client``) as tasks on a Dask cluster
(:func:`validation.parallel.run_dask`); either way a method that has not
answered ``grace_s`` seconds after its time limit is killed and reported as
``time_limit``, a worker that dies gives an ``error`` row, and the rows,
groups and callbacks come in the same order as in the sequential run.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import solvers as _solvers
from instances import Instance, InstanceError, load_instance
from instances.discovery import find_instance_files
from solvers.plugins import is_spec

from .outcomes import Group, Outcome, Report, assess, checked_outcome
from .rows import ROW_FIELDS, unusable_row

DEFAULT_TIME_LIMIT_S = 60.0


def select_solvers(problems: Iterable[str] | None = None,
                   names: Iterable[str] | None = None) -> dict[str, list[str]]:
    """Methods to run per problem, in registration order.

    A name ``module:function`` is a researcher's own method (a plugin,
    :mod:`solvers.plugins`): it is registered here for the problems it
    declares (default both).

    Raises
    ------
    ValueError
        An unknown problem, a method registered for none of the selected
        problems, or an empty selection.

    >>> select_solvers(["P1"], ["milp", "crunch"])
    {'P1': ['crunch', 'milp']}
    """
    problems = list(_solvers.PROBLEMS if problems is None else problems)
    bad = [p for p in problems if p not in _solvers.PROBLEMS]
    if bad:
        raise ValueError(f"unknown problem(s) {', '.join(bad)}; choose from {', '.join(_solvers.PROBLEMS)}")
    if names is not None:
        names = list(names)
        for name in names:
            if is_spec(name):
                _solvers.use_plugin(name)
    chosen = {p: _solvers.solvers_for(p) for p in problems}
    if names is not None:
        known = {n for p in problems for n in chosen[p]}
        unknown = [n for n in names if n not in known]
        if unknown:
            available = ", ".join(f"{p}: {', '.join(chosen[p]) or '(none registered)'}" for p in problems)
            raise ValueError(f"unknown solver(s) {', '.join(unknown)} for {', '.join(problems)}; "
                             f"available: {available}")
        chosen = {p: [n for n in chosen[p] if n in names] for p in problems}
    if not any(chosen.values()):
        raise ValueError(f"no registered method for {', '.join(problems)}")
    return {p: v for p, v in chosen.items() if v}


def run_solver(problem: str, name: str, instance: Instance, time_limit: float | None,
               label: str) -> Outcome:
    """Run one method (exceptions become ``error`` results) and check its answer.

    Built-in methods run in this process; a plugin (:data:`solvers.PLUGINS`)
    runs in a guarded worker process (:class:`validation.parallel.GuardedWorker`),
    so that one that hangs is killed ``grace`` seconds after its time limit
    (a ``time_limit`` row) and one that crashes its process gives an ``error``
    row, while the sweep goes on.
    """
    if (problem, name) in _solvers.PLUGINS:
        from . import parallel

        global _plugin_worker
        _plugin_worker = _plugin_worker or parallel.GuardedWorker()
        job = parallel.Job(0, label, problem, name, instance, time_limit)
        result = _plugin_worker.run_one(job, parallel.default_grace_s(time_limit))
    else:
        result = _solvers.run(problem, name, instance, time_limit=time_limit)
    return checked_outcome(problem, name, instance, result, label)


#: The guarded worker process of the plugins of a sequential sweep (started when first needed).
_plugin_worker = None


def _stop_plugin_worker() -> None:
    global _plugin_worker
    if _plugin_worker is not None:
        _plugin_worker.close()
        _plugin_worker = None


def compare_instance(instance: Instance, label: str | None = None, solvers: Iterable[str] | None = None,
                     problems: Iterable[str] | None = None, time_limit: float | None = DEFAULT_TIME_LIMIT_S,
                     report: Report | None = None,
                     on_group: Callable[[Group], None] | None = None,
                     on_issue: Callable[[str], None] | None = None,
                     on_start: Callable[[str, str, str], None] | None = None) -> Report:
    """Run and cross-check the selected methods on one instance (see the module doc).

    Parameters
    ----------
    instance : Instance
    label : str, optional
        Name of the instance in rows and messages (default: its source file, else its name).
    solvers, problems : iterable of str, optional
        Method names and problems to run (default: all registered).
    time_limit : float, optional
        Seconds, passed to every method.
    report : Report, optional
        Accumulate into this report (default: a new one).
    on_group, on_issue : callable, optional
        Called with each finished :class:`Group` and each problem line, as they come.
    on_start : callable, optional
        Called with (label, problem, method) before each method starts.

    Returns
    -------
    Report
        ``report.interrupted`` is set if Ctrl-C stopped the run; the group
        being run is then kept with the methods that finished.
    """
    selection = select_solvers(problems, solvers)
    if report is None:
        report = Report()
    if label is None:
        label = instance.source if not instance.source.startswith("<") else instance.name
    report.files.append(label)
    for problem, names in selection.items():
        group = Group(label, problem)
        try:
            for name in names:
                if on_start is not None:
                    on_start(label, problem, name)
                group.outcomes.append(run_solver(problem, name, instance, time_limit, label))
        except KeyboardInterrupt:
            group.complete = False
            report.interrupted = True
        if group.outcomes:
            _finish_group(group, report, on_group, on_issue)
        if report.interrupted:
            break
    return report


def _finish_group(group, report, on_group, on_issue) -> None:
    assess(group)
    report.groups.append(group)
    report.rows.extend(group.rows)
    if on_issue is not None:
        for line in group.issues:
            on_issue(line)
    if on_group is not None:
        on_group(group)


def compare_paths(paths: Iterable[str | Path], solvers: Iterable[str] | None = None,
                  problems: Iterable[str] | None = None, time_limit: float | None = DEFAULT_TIME_LIMIT_S,
                  on_group: Callable[[Group], None] | None = None,
                  on_unusable: Callable[[dict], None] | None = None,
                  on_issue: Callable[[str], None] | None = None,
                  jobs: int | None = None, dask=None, grace_s: float | None = None,
                  progress=None) -> Report:
    """Run and cross-check the selected methods on every instance file under ``paths``.

    Unusable files (any :class:`~instances.InstanceError`) are recorded in
    ``report.unusable`` with a row of their own, and the other files still run.
    ``on_unusable`` receives each such row as it is found.  Ctrl-C stops the run
    and sets ``report.interrupted`` (see :func:`compare_instance`).

    By default every method runs in this process, one after the other, trusted
    to honour ``time_limit``.  With ``jobs=N`` the methods run in N guarded
    worker processes (:class:`validation.parallel.LocalPool`), with ``dask``
    (a scheduler address or a ``distributed.Client``) as tasks on a Dask
    cluster (:func:`validation.parallel.run_dask`); either way a method that
    has not answered ``grace_s`` seconds after its time limit (default
    :func:`validation.parallel.default_grace_s`) is killed and reported as
    ``time_limit``, a worker that dies gives an ``error`` row, and the rows,
    groups and callbacks come in the same order as in the sequential run.

    ``progress`` (e.g. :class:`validation.progress.Progress`) is told the
    instance files and the number of problems per file (``found(files, n)``),
    each method as it starts in this process (``running(label, problem,
    method)``), each group as it is done (``group_done(group)``) and each
    unusable input (``unusable(row)``).

    Raises
    ------
    ValueError
        Bad selection of problems or solvers (see :func:`select_solvers`), or
        ``jobs`` < 1, or both ``jobs`` and ``dask``.
    """
    solvers = None if solvers is None else list(solvers)
    problems = None if problems is None else list(problems)
    selection = select_solvers(problems, solvers)   # refuse a bad selection before any work
    if progress is not None:
        on_group, on_unusable = _counting(progress, on_group, on_unusable)
    if jobs is not None or dask is not None:
        return _compare_parallel(paths, solvers, problems, time_limit, on_group, on_unusable, on_issue,
                                 jobs, dask, grace_s, progress)
    report = Report()
    files, empty = find_instance_files(paths)
    if progress is not None:
        progress.found([str(f) for f in files], len(selection))
    on_start = None if progress is None else progress.running
    try:
        for label, message in empty:
            _record_unusable(report, label, message, on_unusable)
        for path in files:
            instance = _load_or_reason(path)
            if isinstance(instance, str):
                _record_unusable(report, str(path), instance, on_unusable)
                continue
            compare_instance(instance, str(path), solvers, problems, time_limit, report, on_group, on_issue,
                             on_start)
            if report.interrupted:
                break
    except KeyboardInterrupt:
        report.interrupted = True
    finally:
        _stop_plugin_worker()
    return report


def _counting(progress, on_group, on_unusable):
    """``on_group`` / ``on_unusable`` that also tell ``progress``."""

    def group_done(group: Group) -> None:
        progress.group_done(group)
        if on_group is not None:
            on_group(group)

    def unusable_done(row: dict) -> None:
        progress.unusable(row)
        if on_unusable is not None:
            on_unusable(row)

    return group_done, unusable_done


def run(paths: Iterable[str | Path], problems: Iterable[str] | None = None, solvers: Iterable[str] | None = None,
        time_limit: float | None = DEFAULT_TIME_LIMIT_S, jobs: int | None = None, dask=None,
        grace_s: float | None = None):
    """Run a sweep and return its rows as a pandas DataFrame (columns :data:`~validation.rows.ROW_FIELDS`).

    The same sweep as ``python -m validation.compare PATHS`` (see
    :func:`compare_paths`), without any output.  ``frame.attrs`` holds the
    ``exit_code`` and the ``issues`` (one line per inconsistency).

    >>> frame = run(["instances/tiny/tiny-hand-made.json"], problems=["P1"], solvers=["crunch", "comm-aware"])
    >>> frame[["solver", "status", "objective_s", "gap", "certified"]].to_dict("records")[0]
    {'solver': 'crunch', 'status': 'optimal', 'objective_s': 5.0, 'gap': 0.0, 'certified': True}
    >>> frame.attrs["exit_code"]
    0
    """
    import pandas as pd

    report = compare_paths(paths, solvers, problems, time_limit, jobs=jobs, dask=dask, grace_s=grace_s)
    frame = pd.DataFrame.from_records(report.rows, columns=list(ROW_FIELDS))
    frame.attrs["exit_code"] = report.exit_code
    frame.attrs["issues"] = report.issues
    return frame


def _load_or_reason(path: Path) -> Instance | str:
    """The instance in ``path``, or the one-line reason it is unusable."""
    try:
        return load_instance(path)
    except InstanceError as exc:
        return str(exc)
    except Exception as exc:   # a loader bug must not hide the other files
        return f"{path}: unexpected {type(exc).__name__} while loading: {exc}"


def _record_unusable(report: Report, label: str, message: str,
                     on_unusable: Callable[[dict], None] | None) -> None:
    """Add an unusable input to ``report`` (file list, message, row) and pass its row on."""
    report.files.append(label)
    report.unusable.append(message)
    row = unusable_row(label, message)
    report.rows.append(row)
    if on_unusable is not None:
        on_unusable(row)


@dataclass
class _Slot:
    """One entry of the sequential order: an unusable input, or one (instance, problem) group."""

    label: str
    group: Group | None = None          # None: an unusable input
    message: str = ""
    instance: Instance | None = None
    names: list[str] = field(default_factory=list)
    results: dict = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.group is None or len(self.results) == len(self.names)


def _compare_parallel(paths, solvers, problems, time_limit, on_group, on_unusable, on_issue,
                      jobs, dask, grace_s, progress=None) -> Report:
    """:func:`compare_paths` with the methods run in guarded workers (see there).

    Files are loaded lazily, as workers need work; results are checked here,
    in the caller, as they come; finished (instance, problem) groups are
    written in the sequential order as soon as every earlier one is written.
    On Ctrl-C the workers are killed and every group with at least one
    finished method is written (``complete=False`` if some did not finish).
    """
    from . import parallel

    if jobs is not None and dask is not None:
        raise ValueError("choose either jobs (local processes) or dask (a cluster), not both")
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise ValueError(f"jobs must be a positive number of worker processes, got {jobs!r}")
    selection = select_solvers(problems, solvers)
    report = Report()
    files, empty = find_instance_files(paths)
    if progress is not None:
        progress.found([str(f) for f in files], len(selection))
    slots: list[_Slot] = []
    written = 0

    def write(slot: _Slot) -> None:
        if slot.group is None:
            _record_unusable(report, slot.label, slot.message, on_unusable)
            return
        if not report.files or report.files[-1] != slot.label:   # one entry per file, not per problem
            report.files.append(slot.label)
        group = slot.group
        group.outcomes = [checked_outcome(group.problem, name, slot.instance, slot.results[name], slot.label)
                          for name in slot.names if name in slot.results]
        group.complete = slot.done
        slot.instance = None   # the group is final: let the instance go
        _finish_group(group, report, on_group, on_issue)

    def flush(final: bool = False) -> None:
        nonlocal written
        while written < len(slots):
            slot = slots[written]
            if not (slot.done or final):
                return
            written += 1   # first: a callback interrupted by Ctrl-C must not write the slot twice
            if slot.group is None or slot.results:
                write(slot)

    def job_source():
        for label, message in empty:
            slots.append(_Slot(label, message=message))
        for path in files:
            instance = _load_or_reason(path)
            if isinstance(instance, str):
                slots.append(_Slot(str(path), message=instance))
                continue
            for problem, names in selection.items():
                slot = _Slot(str(path), Group(str(path), problem), instance=instance, names=list(names))
                slots.append(slot)
                index = len(slots) - 1
                for name in names:
                    yield parallel.Job((index, name), str(path), problem, name, instance, time_limit)

    try:
        if jobs is not None:
            with parallel.LocalPool(jobs, grace_s) as pool:
                for job, result in pool.run(job_source()):
                    slots[job.index[0]].results[job.solver] = result
                    flush()
        else:
            stream = parallel.run_dask(job_source(), dask, grace_s)
            try:
                for job, result in stream:
                    slots[job.index[0]].results[job.solver] = result
                    flush()
            finally:
                stream.close()   # cancels what is still queued on the cluster
        flush()
    except KeyboardInterrupt:
        report.interrupted = True
    if report.interrupted:
        try:
            flush(final=True)
        except KeyboardInterrupt:   # a second Ctrl-C while writing: keep what is written
            pass
    return report
