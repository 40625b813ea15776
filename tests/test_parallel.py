"""Parallel sweeps (--jobs, --dask) and the outer guard, with injected faults.

Oracles: the sequential in-process run (same rows, same order, same results;
only ``seconds`` may differ), and faulty methods whose misbehaviour is known
in advance (they hang, hold the GIL, crash, exit, return garbage, print on
stdout, kill their worker, kill a Dask worker); the harness must report each
with the right status and message, and lose no other row.

The fault methods are module-level functions, so that the worker processes
load them by reference (``cloudpickle``), as they would a plug-in's methods.

Machine speed: only the deliberately hanging methods may meet the guard; the
others (crunch and the faults built on it, all of milliseconds) get seconds
beyond their deadline, no wall time is bounded above more tightly than by
``SLACK_S``, and waits for another process poll for what they wait for.
The start-up handshake and the clock are tested in tests/test_guard.py.
"""
from __future__ import annotations

import csv
import ctypes
import functools
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import solvers
from instances import Instance, save_instance
from solvers.result import Result, Status
from validation.compare import (EXIT_INCONSISTENT, EXIT_INTERRUPTED, EXIT_OK, EXIT_UNUSABLE, compare_paths, main)
from tests.test_compare import memory_wall, small, ties
import validation.parallel as parallel
from validation.parallel import GuardedWorker, Job, LocalPool, default_grace_s

ROOT = Path(__file__).resolve().parents[1]
MALFORMED = Path(__file__).parent / "data" / "malformed"
#: Upper slack (s) on any measured time, and the longest wait for another process: only a
#: harness that hangs exceeds it.
SLACK_S = 30.0


# --------------------------------------------------------------------------------------
# Instances and faults
# --------------------------------------------------------------------------------------
@pytest.fixture
def corpus(tmp_path) -> Path:
    """Three instances (one in a sub-folder, one infeasible), a bad file and an empty folder."""
    folder = tmp_path / "corpus"
    (folder / "sub").mkdir(parents=True)
    (tmp_path / "empty").mkdir()
    save_instance(small(), folder / "a_small.json")
    save_instance(ties(), folder / "sub" / "b_ties.json")
    save_instance(memory_wall(), folder / "c_wall.json")
    (folder / "b_bad.json").write_text((MALFORMED / "negative_latency.json").read_text())
    return folder


def sweep(corpus: Path) -> list[Path]:
    """The corpus and an empty folder beside it (reported as unusable, before the files)."""
    return [corpus, corpus.parent / "empty"]


def crunch_as(name: str, inst: Instance) -> Result:
    res = solvers.run("P1", "crunch", inst)
    res.solver = name
    return res


def hang(inst, time_limit=None):
    """Ignores its time limit (sleeps in Python)."""
    time.sleep(3600)


def hang_holding_gil(inst, time_limit=None):
    """Ignores its limit inside C code that holds the GIL (like PySCIPOpt did): no Python thread runs."""
    ctypes.PyDLL(None).sleep(3600)


def segfault(inst, time_limit=None):
    os.kill(os.getpid(), signal.SIGSEGV)
    time.sleep(60)


def exits(inst, time_limit=None):
    os._exit(3)


def killed(inst, time_limit=None):
    """The worker is killed from outside (as by the OOM killer)."""
    os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(60)


def garbage(inst, time_limit=None):
    return 42


def raises(inst, time_limit=None):
    raise RuntimeError("kaput")


def unpicklable_info(inst, time_limit=None):
    res = crunch_as("unpicklable", inst)
    res.info["lock"] = threading.Lock()
    return res


def chatty(inst, time_limit=None):
    """Prints on stdout and reads stdin: must not disturb the answer channel."""
    print("x" * 100_000, flush=True)
    sys.stdin.read()
    return crunch_as("chatty", inst)


def slow_but_within_grace(inst, time_limit=None):
    time.sleep(time_limit + 0.3)
    return crunch_as("late", inst)


def hang_on_ties(inst, time_limit=None):
    """Hangs on the instance named "ties" only; elsewhere a correct answer."""
    if inst.name == "ties":
        time.sleep(3600)
    return crunch_as("hang-on-ties", inst)


def rendezvous(inst, time_limit=None, folder=None, count=2):
    """Waits (up to SLACK_S) until ``count`` methods are in it at the same time, then answers."""
    Path(folder, str(os.getpid())).touch()
    if not poll(lambda: len(os.listdir(folder)) >= count):
        raise TimeoutError(f"not {count} methods running at once")
    return crunch_as("rendezvous", inst)


FAULTS = {"hang": hang, "gil-hang": hang_holding_gil, "segfault": segfault, "exits": exits, "killed": killed,
          "garbage": garbage, "raises": raises, "unpicklable": unpicklable_info, "chatty": chatty,
          "late": slow_but_within_grace, "hang-on-ties": hang_on_ties}


@pytest.fixture
def faults(monkeypatch):
    for name, fn in FAULTS.items():
        monkeypatch.setitem(solvers.REGISTRY, ("P1", name), fn)
    return FAULTS


@pytest.fixture
def light_workers(monkeypatch):
    """Workers that preload nothing beyond the registry (no Pyomo, no cvxpy).

    For the fault sweeps, which restart a worker after each kill or death
    (16 times on 3 instances): the preload does not change what they prove,
    and costs about 1 s per start-up.
    """
    monkeypatch.setattr(parallel, "WORKER_PRELOAD", ())


def comparable(rows):
    """Rows without the wall time (the only field allowed to differ between runs)."""
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def live_children() -> set[int]:
    psutil = pytest.importorskip("psutil")
    return {p.pid for p in psutil.Process().children(recursive=True) if p.status() != psutil.STATUS_ZOMBIE}


def poll(condition, timeout_s: float = SLACK_S) -> bool:
    """Whether ``condition()`` holds within ``timeout_s`` (checked every 50 ms)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def assert_no_new_children(before: set[int]) -> None:
    """Every worker started since ``before`` ends (a killed one may take a moment to be reaped)."""
    poll(lambda: live_children() - before == set())
    assert live_children() - before == set()


# --------------------------------------------------------------------------------------
# Same rows as the sequential run
# --------------------------------------------------------------------------------------
def test_jobs_give_the_sequential_rows_in_the_sequential_order(corpus):
    groups_seq, groups_par, bad_seq, bad_par = [], [], [], []
    seq = compare_paths(sweep(corpus), time_limit=20, on_group=lambda g: groups_seq.append((g.instance, g.problem)),
                        on_unusable=lambda r: bad_seq.append(r["instance"]))
    par = compare_paths(sweep(corpus), time_limit=20, jobs=2,
                        on_group=lambda g: groups_par.append((g.instance, g.problem)),
                        on_unusable=lambda r: bad_par.append(r["instance"]))
    assert comparable(par.rows) == comparable(seq.rows)
    assert len(seq.rows) == 3 * len(solvers.REGISTRY) + 2     # + the bad file and the empty folder
    assert groups_par == groups_seq and bad_par == bad_seq
    assert par.files == seq.files and par.unusable == seq.unusable
    assert par.exit_code == seq.exit_code == EXIT_UNUSABLE and par.issues == []
    assert par.summary()["methods"] == seq.summary()["methods"]


def test_cli_jobs_csv_equals_sequential(corpus, tmp_path):
    outs = {}
    for mode, extra in (("seq", []), ("jobs", ["--jobs", "2"])):
        out = tmp_path / f"{mode}.csv"
        proc = subprocess.run([sys.executable, "-m", "validation.compare", *map(str, sweep(corpus)), "--format", "csv",
                               "--output", str(out), "--time-limit", "20", *extra], cwd=ROOT,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == EXIT_UNUSABLE, proc.stderr
        assert "Traceback" not in proc.stderr
        outs[mode] = list(csv.DictReader(io.StringIO(out.read_text())))
    assert comparable(outs["jobs"]) == comparable(outs["seq"])


# --------------------------------------------------------------------------------------
# Faults, local workers
# --------------------------------------------------------------------------------------
def test_injected_faults_are_reported_and_nothing_is_lost(corpus, faults, light_workers):
    names = ["crunch", *faults]
    # the hangs are killed at 1 s + 2 s; "late" answers 0.3 s after its limit, well within the grace
    report = compare_paths(sweep(corpus), problems=["P1"], solvers=names, time_limit=1.0, jobs=2, grace_s=2.0)
    # every (instance, method) has its row, in registration order, the bad inputs too
    usable = [str(corpus / "a_small.json"), str(corpus / "c_wall.json"), str(corpus / "sub" / "b_ties.json")]
    keys = [(r["instance"], r["solver"]) for r in report.rows if r["solver"] != "-"]
    assert keys == [(f, n) for f in usable for n in names]
    assert len(report.unusable) == 2
    by = {(Path(r["instance"]).name, r["solver"]): r for r in report.rows}
    for f in ("a_small.json", "c_wall.json", "b_ties.json"):
        for name in ("hang", "gil-hang"):
            r = by[(f, name)]
            assert r["status"] == "time_limit" and "killed by the outer guard" in r["message"], r
            assert 3.0 <= r["seconds"] < 3.0 + SLACK_S, r   # time limit 1 s + grace 2 s
        assert by[(f, "segfault")]["status"] == "error" and "SIGSEGV" in by[(f, "segfault")]["message"]
        assert by[(f, "killed")]["status"] == "error" and "SIGKILL" in by[(f, "killed")]["message"]
        assert "exit code 3" in by[(f, "exits")]["message"]
        assert "returned int, not a Result" in by[(f, "garbage")]["message"]
        assert by[(f, "raises")]["message"] == "RuntimeError: kaput"
        assert by[(f, "crunch")]["status"] in ("optimal", "infeasible")
        for name in ("unpicklable", "chatty", "late"):   # correct answers that arrive by odd ways
            assert by[(f, name)]["status"] == by[(f, "crunch")]["status"], by[(f, name)]
            assert by[(f, name)]["objective_s"] == by[(f, "crunch")]["objective_s"]
        assert "info dropped" in by[(f, "unpicklable")]["message"]
        assert by[(f, "hang-on-ties")]["status"] == ("time_limit" if f == "b_ties.json" else by[(f, "crunch")]["status"])
    # crashes and garbage are inconsistencies; a killed hang is not
    assert report.exit_code == EXIT_INCONSISTENT
    flagged = {line.split(" ")[2].rstrip(":") for line in report.issues}
    assert flagged == {"segfault", "exits", "killed", "garbage", "raises"}


def test_pool_runs_methods_concurrently(tmp_path):
    """Two methods that each wait for the other answer only if the pool runs them at the same time."""
    method = functools.partial(rendezvous, folder=str(tmp_path))
    jobs = [Job(i, "small", "P1", "rendezvous", small(), None, method) for i in range(2)]
    with LocalPool(2) as pool:
        results = [res for _, res in pool.run(jobs)]
    assert [(r.status, r.objective_s) for r in results] == [(Status.OPTIMAL, 3.5)] * 2, [r.message for r in results]


def test_no_worker_outlives_the_sweep(corpus, faults):
    before = live_children()
    compare_paths([corpus / "a_small.json"], problems=["P1"], solvers=["crunch", "hang"], time_limit=0.5,
                  jobs=2, grace_s=2.5)
    assert_no_new_children(before)


def test_guard_default_grace_and_pool_directly(faults):
    inst = small()
    assert default_grace_s(0.2) == 5.0 and default_grace_s(100.0) == 50.0
    # the hang is killed at 0.2 s + 0.3 s; crunch (a millisecond) has a limit of 60 s
    jobs = [Job(0, "small", "P1", "hang", inst, 0.2, hang), Job(1, "small", "P1", "crunch", inst, 60.0)]
    with LocalPool(1, grace_s=0.3) as pool:
        results = dict((job.index, res) for job, res in pool.run(jobs))
        assert pool.killed == 1 and pool.died == 0 and pool.not_started == 0
    assert 0.5 <= results[0].seconds < 0.5 + SLACK_S
    assert results[0].status == Status.TIME_LIMIT and results[0].info["guard"] == "killed"
    assert results[1].status == Status.OPTIMAL and results[1].objective_s == 3.5   # the worker was restarted


def test_worker_answers_after_chatty_method():
    w = GuardedWorker()
    try:
        first = w.run_one(Job(0, "small", "P1", "chatty", small(), None, chatty), grace_s=1.0)
        second = w.run_one(Job(1, "small", "P1", "crunch", small(), None), grace_s=1.0)
    finally:
        w.close()
    assert first.objective_s == second.objective_s == 3.5


def test_bad_arguments(corpus):
    with pytest.raises(ValueError, match="jobs must be a positive"):
        compare_paths([corpus], problems=["P1"], jobs=0)
    with pytest.raises(ValueError, match="not both"):
        compare_paths([corpus], problems=["P1"], jobs=2, dask="tcp://127.0.0.1:1")
    for args in (["--jobs", "0"], ["--jobs", "two"], ["--jobs", "2", "--dask", "tcp://x:1"], ["--grace", "-1"]):
        proc = subprocess.run([sys.executable, "-m", "validation.compare", str(corpus), *args], cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == EXIT_UNUSABLE, (args, proc.stderr)
        assert "Traceback" not in proc.stderr and "error:" in proc.stderr


def test_unreachable_dask_scheduler_is_one_line(corpus, monkeypatch, capsys):
    pytest.importorskip("distributed")
    import validation.compare as compare

    monkeypatch.setattr(compare, "DASK_CONNECT_TIMEOUT_S", 1.0)
    code = main([str(corpus), "--problems", "P1", "--dask", "tcp://127.0.0.1:9"])
    err = capsys.readouterr().err
    assert code == EXIT_UNUSABLE
    assert err.startswith("cannot connect to the Dask scheduler at tcp://127.0.0.1:9") and err.count("\n") == 1


# --------------------------------------------------------------------------------------
# Ctrl-C with workers
# --------------------------------------------------------------------------------------
def test_interrupt_with_jobs_keeps_finished_groups(corpus, faults):
    """Ctrl-C (simulated in the caller, while a worker hangs): finished groups are kept, workers die."""
    before = live_children()
    seen = []

    def on_group(group):
        seen.append(group.instance)
        if len(seen) == 2:
            raise KeyboardInterrupt

    report = compare_paths(sweep(corpus), problems=["P1"], solvers=["crunch", "hang-on-ties"], time_limit=60,
                           jobs=2, on_group=on_group)
    assert report.interrupted
    names = [(Path(r["instance"]).name, r["solver"]) for r in report.rows]
    # sequential order: a_small, b_bad (unusable), c_wall, empty folder, sub/b_ties (hangs)
    assert names[:5] == [("empty", "-"), ("a_small.json", "crunch"), ("a_small.json", "hang-on-ties"),
                         ("b_bad.json", "-"), ("c_wall.json", "crunch")]
    assert ("b_ties.json", "hang-on-ties") not in names        # never finished
    assert_no_new_children(before)


DRIVER = """
import sys
from pathlib import Path
sys.path.insert(0, {root!r})
import solvers, tests.test_parallel as t

PROGRESS = Path({progress!r})


def reported(name, fn):
    # the method, leaving a file in PROGRESS when it starts to hang on "ties" or when it has answered
    def method(inst, time_limit=None):
        if name == "hang-on-ties" and inst.name == "ties":
            (PROGRESS / "hanging").touch()
        result = fn(inst, time_limit=time_limit)
        (PROGRESS / (name + "-" + inst.name)).touch()
        return result
    return method


solvers.REGISTRY[("P1", "crunch")] = reported("crunch", solvers.REGISTRY[("P1", "crunch")])
solvers.REGISTRY[("P1", "hang-on-ties")] = reported("hang-on-ties", t.hang_on_ties)
from validation.compare import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_real_ctrl_c_on_the_process_group(corpus, tmp_path, fmt):
    """SIGINT to the whole process group, as a terminal's Ctrl-C: exit 130, finished rows written, no orphans."""
    out = tmp_path / f"rows.{fmt}"
    progress = tmp_path / "progress"
    progress.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", DRIVER.format(root=str(ROOT), progress=str(progress)),
                             *map(str, sweep(corpus)), "--problems", "P1",
                             "--solvers", "crunch,hang-on-ties", "--jobs", "2", "--time-limit", "120",
                             "--format", fmt, "--output", str(out)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        # b_ties (last in order) hangs; wait until the 5 other methods have answered and the hang has begun
        # (or the harness has ended), then give the last answer a moment to reach the harness (it is held
        # back there, behind its hanging sibling)
        assert poll(lambda: len(os.listdir(progress)) >= 6 or proc.poll() is not None, 4 * SLACK_S)
        time.sleep(2.0)
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=4 * SLACK_S)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert sorted(os.listdir(progress)) == ["crunch-small", "crunch-ties", "crunch-wall", "hang-on-ties-small",
                                            "hang-on-ties-wall", "hanging"]
    assert proc.returncode == EXIT_INTERRUPTED, err
    assert "Traceback" not in err and "interrupted: 7 finished row(s) written" in err
    rows = (json.loads(out.read_text())["rows"] if fmt == "json"
            else list(csv.DictReader(io.StringIO(out.read_text()))))
    assert len(rows) == 7    # 2 unusable + 3 files x 2 methods, less the hanging one
    assert [(Path(r["instance"]).name, r["solver"]) for r in rows][-1] == ("b_ties.json", "crunch")

    def group_gone() -> bool:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return True
        return False

    assert poll(group_gone)   # the workers went with the harness


@pytest.mark.parametrize("jobs", [[], ["--jobs", "1"]], ids=["in-process", "jobs-1"])
def test_real_ctrl_c_while_scip_runs(tmp_path, jobs):
    """Ctrl-C while SCIP solves (the longest runs of a sweep) ends the sweep, not just that run.

    In process, SCIP catches SIGINT itself and stops with "userinterrupt"; minlp turns that back
    into KeyboardInterrupt (it used to become a time_limit row and the sweep went on).  In a
    worker, which ignores SIGINT, SCIP is told not to catch it, and the harness kills the worker."""
    out = tmp_path / "rows.csv"
    hard = ROOT / "instances" / "paper" / "paper-K50-M12-s1.json"   # SCIP needs over 60 s on it
    proc = subprocess.Popen([sys.executable, "-m", "validation.compare", str(hard), "--solvers", "crunch,minlp",
                             "--time-limit", "120", "--format", "csv", "--output", str(out), *jobs],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        # the P1 crunch row is written; P2 crunch is not asked for, so minlp runs next
        poll(lambda: out.exists() and len(out.read_text().splitlines()) >= 2, 4 * SLACK_S)
        time.sleep(3.0)
        sent = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == EXIT_INTERRUPTED, err
    assert "Traceback" not in err and "interrupted: 1 finished row(s) written" in err, err
    assert took < SLACK_S, took   # far below SCIP's 120 s limit: the interrupt was not swallowed
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [(r["problem"], r["solver"], r["status"]) for r in rows] == [("P1", "crunch", "optimal")]


# --------------------------------------------------------------------------------------
# Dask
# --------------------------------------------------------------------------------------
def local_cluster(processes: bool):
    """A 2-worker Dask LocalCluster (one thread each), with worker threads or worker processes."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=processes,
                                  dashboard_address=":0") as cluster:
        yield cluster


@pytest.fixture(scope="module")
def thread_cluster():
    yield from local_cluster(processes=False)


@pytest.fixture(scope="module")
def process_cluster():
    yield from local_cluster(processes=True)


def test_dask_threads_same_rows(corpus, thread_cluster):
    seq = compare_paths(sweep(corpus), time_limit=20)
    par = compare_paths(sweep(corpus), time_limit=20, dask=thread_cluster.scheduler_address)
    assert comparable(par.rows) == comparable(seq.rows)
    assert len(par.rows) == 3 * len(solvers.REGISTRY) + 2


def test_dask_threads_faults(corpus, faults, thread_cluster, light_workers):
    report = compare_paths([corpus / "a_small.json"], problems=["P1"],
                           solvers=["crunch", "hang", "gil-hang", "segfault", "garbage"], time_limit=0.5,
                           dask=thread_cluster.scheduler_address, grace_s=2.5)
    by = {r["solver"]: r for r in report.rows}
    assert list(by) == ["crunch", "hang", "gil-hang", "segfault", "garbage"]
    assert by["crunch"]["objective_s"] == 3.5
    for name in ("hang", "gil-hang"):
        assert by[name]["status"] == "time_limit" and "killed by the outer guard" in by[name]["message"]
    assert "SIGSEGV" in by["segfault"]["message"] and "not a Result" in by["garbage"]["message"]


def kill_dask_worker_once(inst, time_limit=None, marker=None):
    """Kills the Dask worker process (the parent of its guarded worker) the first time only."""
    if not os.path.exists(marker):
        Path(marker).write_text("killed")
        os.kill(os.getppid(), signal.SIGKILL)
        time.sleep(60)
    return crunch_as("kill-dask-worker", inst)


def test_dask_processes_same_rows_and_a_killed_dask_worker(corpus, tmp_path, monkeypatch, process_cluster):
    address = process_cluster.scheduler_address
    seq = compare_paths([corpus], problems=["P2"], time_limit=20)
    par = compare_paths([corpus], problems=["P2"], time_limit=20, dask=address)
    assert comparable(par.rows) == comparable(seq.rows)
    marker = tmp_path / "killed-once"
    monkeypatch.setitem(solvers.REGISTRY, ("P1", "kill-dask-worker"),
                        lambda inst, time_limit=None: kill_dask_worker_once(inst, time_limit, str(marker)))
    report = compare_paths([corpus / "a_small.json"], problems=["P1"], solvers=["crunch", "kill-dask-worker"],
                           time_limit=20, dask=address)
    assert marker.exists()                       # a Dask worker was killed ...
    by = {r["solver"]: r for r in report.rows}    # ... and Dask re-ran the task elsewhere: nothing lost
    assert by["kill-dask-worker"]["status"] == "optimal" and by["kill-dask-worker"]["objective_s"] == 3.5
    assert report.exit_code == EXIT_OK
