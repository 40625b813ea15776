"""The outer guard of the parallel harness: the handshake, the clock and the kill.

Oracles: the module's protocol (a method is killed no sooner than time limit
+ grace after it was called, whatever its worker's start-up or the load of its
request took; a worker that fails before calling its method gives that job an
``error`` naming the cause, and the next job runs), the wall clock as a lower
bound only, and crunch's optimum of ``small()`` (3.5 s, checked by hand in
tests/test_compare.py).

Slow or failing start-ups are injected by replacing ``sys.executable`` (which
:class:`validation.parallel.GuardedWorker` starts) with a shell script that
misbehaves, then ``exec``\\ s the real Python; slow or failing request loads by
a method whose module misbehaves when a worker imports it.

Machine speed: every deliberate delay is at least twice the deadline it must
not trip, real methods get deadlines of seconds for work of milliseconds, and
no wall time is bounded above more tightly than by 30 s of slack.
"""
from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

import pytest

import solvers
import validation.parallel as parallel
from instances import save_instance
from instances.generate import generate_instance
from solvers.result import Status
from tests.test_compare import small
from tests.test_parallel import hang
from validation.compare import compare_paths
from validation.parallel import GuardedWorker, Job, LocalPool

PYTHON = sys.executable
#: A deliberate delay (s) in a worker's start-up or request load: twice :data:`DEADLINE_S`.
DELAY_S = 4.0
#: Time limit and grace (s) of a job that must survive that delay (a method of milliseconds).
LIMIT_S, GRACE_S = 0.5, 1.5
DEADLINE_S = LIMIT_S + GRACE_S
#: Upper slack (s) on any measured time: only a harness that hangs exceeds it.
SLACK_S = 30.0


def crunch_job(index=0, time_limit=LIMIT_S) -> Job:
    return Job(index, "small", "P1", "crunch", small(), time_limit)


def slow_python(monkeypatch, tmp_path: Path, body: str) -> None:
    """Start workers through a shell script that runs ``body``, then execs the real Python."""
    script = tmp_path / "python-wrapper"
    script.write_text(f"#!/bin/sh\n{body}\nexec {PYTHON} \"$@\"\n")
    script.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(script))


def method_with_import(monkeypatch, tmp_path: Path, name: str, on_worker_import: str):
    """A crunch wrapper in module ``name`` whose import runs ``on_worker_import`` in the workers only.

    The caller imports the module first (to pickle the method by reference);
    the behaviour is switched on afterwards, through a file beside it.
    """
    (tmp_path / f"{name}.py").write_text(
        "import os, time\n"
        "from pathlib import Path\n"
        "from solvers.p1 import crunch\n"
        f"if Path(__file__).with_suffix('.on').exists():\n    {on_worker_import}\n"
        "def method(inst, time_limit=None):\n"
        "    return crunch(inst, time_limit=time_limit)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(sys.modules, name, None)   # so that the module is forgotten after the test
    del sys.modules[name]
    module = importlib.import_module(name)
    (tmp_path / f"{name}.on").write_text("on")
    return module.method


# --------------------------------------------------------------------------------------
# The kill
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("time_limit, grace", [(1.0, 2.0), (2.5, 0.5)])
def test_guard_kills_at_time_limit_plus_grace(tmp_path, monkeypatch, time_limit, grace):
    monkeypatch.setitem(solvers.REGISTRY, ("P1", "hang"), hang)
    save_instance(generate_instance(5, 3, seed=1), tmp_path / "one.json")
    report = compare_paths([tmp_path], problems=["P1"], solvers=["crunch", "hang"], time_limit=time_limit,
                           jobs=1, grace_s=grace)
    crunch_row, hang_row = report.rows
    assert crunch_row["status"] == "optimal"
    assert hang_row["status"] == "time_limit" and "killed by the outer guard" in hang_row["message"]
    assert time_limit + grace <= hang_row["seconds"] < time_limit + grace + SLACK_S
    assert report.issues == []                # a killed method is not an inconsistency


def test_guarded_sweep_of_a_hard_instance_kills_nothing(tmp_path):
    """Every real method stops by itself on K = 50 (minlp stops at its limit): the guard kills none.

    The grace is large, so that a busy machine cannot make a correct method
    look hung; how far past its limit a method may run is tested in process
    (tests/test_time_limits.py).
    """
    save_instance(generate_instance(50, 12, seed=1), tmp_path / "k50.json")
    report = compare_paths([tmp_path], time_limit=0.5, jobs=2, grace_s=SLACK_S)
    assert len(report.rows) == len(solvers.REGISTRY)
    assert not any("outer guard" in r["message"] for r in report.rows), report.rows
    assert report.issues == [] and report.exit_code == 0
    minlp = next(r for r in report.rows if r["problem"] == "P2" and r["solver"] == "minlp")
    assert minlp["status"] in ("time_limit", "optimal") and minlp["bound_s"] is not None


# --------------------------------------------------------------------------------------
# The clock starts when the method is called
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["pool", "run_one"])
def test_slow_start_up_is_not_charged_to_the_method(tmp_path, monkeypatch, path):
    """A start-up of DELAY_S (twice the job's deadline) kills nothing, in the pool and on the Dask path."""
    slow_python(monkeypatch, tmp_path, f"sleep {DELAY_S}")
    start = time.monotonic()
    if path == "pool":
        with LocalPool(1, grace_s=GRACE_S) as pool:
            [(_, res)] = list(pool.run([crunch_job()]))
        assert (pool.killed, pool.died, pool.not_started) == (0, 0, 0)
    else:
        worker = GuardedWorker()
        try:
            res = worker.run_one(crunch_job(), GRACE_S)
        finally:
            worker.close()
    assert time.monotonic() - start >= DELAY_S   # the delay did happen
    assert res.status == Status.OPTIMAL and res.objective_s == 3.5, res.message


def test_slow_request_load_is_not_charged_to_the_method(tmp_path, monkeypatch):
    """A method whose module takes DELAY_S to import in the worker (a plug-in's first use) is not killed."""
    method = method_with_import(monkeypatch, tmp_path, "slow_import_method", f"time.sleep({DELAY_S})")
    start = time.monotonic()
    with LocalPool(1, grace_s=GRACE_S) as pool:
        [(_, res)] = list(pool.run([Job(0, "small", "P1", "crunch", small(), LIMIT_S, method)]))
    assert time.monotonic() - start >= DELAY_S
    assert res.status == Status.OPTIMAL and res.objective_s == 3.5, res.message
    assert pool.killed == 0


def test_workers_start_concurrently(tmp_path, monkeypatch):
    """Each worker's start-up waits (up to 60 s) until both have been spawned: a pool that started them
    one after the other would see both fail."""
    spawned = tmp_path / "spawned"
    spawned.mkdir()
    slow_python(monkeypatch, tmp_path, f"""touch {spawned}/$$
i=0
while [ "$(ls {spawned} | wc -l)" -lt 2 ]; do
  i=$((i + 1)); [ $i -gt 600 ] && exit 9; sleep 0.1
done""")
    with LocalPool(2, grace_s=GRACE_S) as pool:
        results = sorted((job.index, res.status, res.objective_s) for job, res in
                         pool.run([crunch_job(0, None), crunch_job(1, None)]))
    assert results == [(0, Status.OPTIMAL, 3.5), (1, Status.OPTIMAL, 3.5)]
    assert pool.not_started == 0


# --------------------------------------------------------------------------------------
# A worker that fails before calling its method
# --------------------------------------------------------------------------------------
def test_worker_dying_in_start_up_fails_that_job_only(tmp_path, monkeypatch):
    slow_python(monkeypatch, tmp_path, f"mkdir {tmp_path}/failed-once 2>/dev/null && exit 7")
    with LocalPool(1, grace_s=GRACE_S) as pool:
        results = dict((job.index, res) for job, res in pool.run([crunch_job(0), crunch_job(1)]))
    first, second = results[0], results[1]
    assert first.status == Status.ERROR and first.info["guard"] == "not-started"
    assert first.message == "worker process died (exit code 7) during start-up, before running crunch on small"
    assert second.status == Status.OPTIMAL and second.objective_s == 3.5
    assert (pool.killed, pool.died, pool.not_started) == (0, 0, 1)


def test_worker_writing_garbage_in_start_up_fails_that_job_only(tmp_path, monkeypatch):
    """Output on the answer channel before READY (here from the shell) is not read as a frame."""
    slow_python(monkeypatch, tmp_path, f"mkdir {tmp_path}/garbage-once 2>/dev/null && echo hello")
    with LocalPool(1, grace_s=GRACE_S) as pool:
        results = dict((job.index, res) for job, res in pool.run([crunch_job(0), crunch_job(1)]))
    assert results[0].status == Status.ERROR and results[0].info["guard"] == "not-started"
    assert results[0].message == ("worker process sent something other than its READY frame during start-up, "
                                  "before running crunch on small")
    assert results[1].status == Status.OPTIMAL and results[1].objective_s == 3.5


def test_silent_worker_times_out_in_start_up(tmp_path, monkeypatch):
    """A worker that never sends READY is killed after STARTUP_TIMEOUT_S; the next one starts normally."""
    slow_python(monkeypatch, tmp_path, f"mkdir {tmp_path}/silent-once 2>/dev/null && exec sleep 3600")
    worker = GuardedWorker()
    try:
        monkeypatch.setattr(parallel, "STARTUP_TIMEOUT_S", 1.0)
        first = worker.run_one(crunch_job(0), GRACE_S)
        monkeypatch.setattr(parallel, "STARTUP_TIMEOUT_S", 120.0)
        second = worker.run_one(crunch_job(1), GRACE_S)
    finally:
        worker.close()
    assert first.status == Status.ERROR and first.info["guard"] == "not-started"
    assert "sent no READY frame within 1 s (STARTUP_TIMEOUT_S) during start-up" in first.message
    assert 1.0 <= first.seconds < 1.0 + SLACK_S
    assert second.status == Status.OPTIMAL and second.objective_s == 3.5


def test_worker_dying_while_loading_the_request(tmp_path, monkeypatch):
    method = method_with_import(monkeypatch, tmp_path, "exit_on_import_method", "os._exit(5)")
    with LocalPool(1, grace_s=GRACE_S) as pool:
        results = dict((job.index, res) for job, res in
                       pool.run([Job(0, "small", "P1", "exits-on-load", small(), LIMIT_S, method), crunch_job(1)]))
    assert results[0].status == Status.ERROR and results[0].info["guard"] == "not-started"
    assert results[0].message == ("worker process died (exit code 5) while loading the request, "
                                  "before running exits-on-load on small")
    assert results[1].status == Status.OPTIMAL and results[1].objective_s == 3.5
    assert (pool.killed, pool.died, pool.not_started) == (0, 0, 1)
