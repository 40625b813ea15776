"""Run methods in guarded worker processes, locally (``--jobs N``) or on a Dask cluster (``--dask``).

Each method runs in a child Python process (a *guarded worker*) that the
caller can kill.  The worker answers one request at a time over a pipe; the
caller waits at most

.. math:: t_\\text{guard} = \\text{time\\_limit} + \\text{grace}

for the answer.  A method that has not answered by then (it ignores its time
limit: HiGHS and SCIP do not always honour theirs inside presolve, and a
solver that holds the GIL can block every Python thread of its process) is
killed with its process, and reported as a ``time_limit`` result whose message
says so; a worker that dies (a crash, ``os._exit``, the OOM killer) gives an
``error`` result naming the signal or exit code.  Either way the worker is
restarted for the next method and the sweep goes on: nothing is lost.

Two ways to run a list of :class:`Job`:

:class:`LocalPool`
    ``N`` guarded workers on this machine (``python -m validation.compare --jobs N``).
:func:`run_dask`
    one Dask task per job on an existing cluster (``--dask ADDRESS``); each
    Dask worker thread keeps its own guarded worker, so the guard holds there too.

Both yield ``(job, Result)`` pairs in order of completion; ordering the rows
is the caller's business (:func:`validation.compare.compare_paths` writes them
in the sequential order).  The method itself travels with the job
(``cloudpickle``), so methods added to :data:`solvers.REGISTRY` at run time
(tests, plug-ins) run in the workers as they would in process.

Wire format: 8-byte big-endian length, then a pickle; requests are
``cloudpickle`` (a method may be a lambda), answers plain :mod:`pickle` of a
:class:`~solvers.result.Result`.  A worker's own output goes to stderr, so that
a chatty solver cannot corrupt the answer channel, and it ignores SIGINT
(Ctrl-C belongs to the caller, which then kills its workers).

Complexity: per job, one pickle of the instance (O(KM)) each way and a process
round trip (about 0.1 ms); starting a worker costs one Python start-up (about
0.5 s), paid once per worker and again after each kill.

Examples
--------
>>> from instances import Instance
>>> inst = Instance.from_arrays([[1.0, 2.0], [1.5, 1.5], [0.5, 3.0]], [1.0, 2.0],
...     [4.0, 1.0, 4.0], [1.0, 2.0, 4.0], gradient_bits=1.0, bandwidth_hz=1.0, name="doc")
>>> jobs = [Job(i, "doc", "P1", name, inst, 10.0) for i, name in enumerate(["crunch", "milp"])]
>>> with LocalPool(2, grace_s=5.0) as pool:
...     done = sorted((job.index, res.objective_s) for job, res in pool.run(jobs))
>>> done                                        # both exact methods: 3.5 s, checked by hand in compare.py
[(0, 3.5), (1, 3.5)]
"""
from __future__ import annotations

import json
import math
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

import solvers as _solvers
from instances import Instance
from solvers.result import Result, Status

#: Least extra time (s) a method gets beyond its time limit before its worker is killed.
GRACE_MIN_S = 5.0
#: ... and the extra time as a fraction of the time limit, whichever is larger.
GRACE_FRACTION = 0.5

_HEADER = struct.Struct(">Q")
_ENV_SYS_PATH = "DEFT_WORKER_SYS_PATH"
_ENV_PARENT = "DEFT_WORKER_PARENT_PID"


def default_grace_s(time_limit: float | None) -> float:
    """Grace (s) before the outer guard kills a method: ``max(GRACE_MIN_S, GRACE_FRACTION * time_limit)``.

    >>> default_grace_s(60.0), default_grace_s(1.0), default_grace_s(None)
    (30.0, 5.0, 5.0)
    """
    return max(GRACE_MIN_S, GRACE_FRACTION * time_limit) if time_limit is not None else GRACE_MIN_S


@dataclass
class Job:
    """One method on one instance for one problem.

    ``index`` is the caller's key (e.g. the position of the row in the
    sequential order); ``label`` names the instance in messages.
    """

    index: Any
    label: str
    problem: str
    solver: str
    instance: Instance
    time_limit: float | None
    fn: Callable[..., Result] | None = field(default=None, repr=False)

    def method(self) -> Callable[..., Result]:
        """The function to call: ``fn`` if given, else the registry's entry (looked up now, in the caller)."""
        return self.fn if self.fn is not None else _solvers.REGISTRY[(self.problem, self.solver)]


# --------------------------------------------------------------------------------------
# Results made by the guard (never by the method)
# --------------------------------------------------------------------------------------
def killed_result(job: Job, elapsed_s: float, grace_s: float) -> Result:
    """The ``time_limit`` result of a method killed by the outer guard (no answer, no bound)."""
    return Result(job.solver, job.problem, Status.TIME_LIMIT, seconds=elapsed_s,
                  message=(f"killed by the outer guard: no answer after {elapsed_s:.3g} s "
                           f"(time limit {job.time_limit:g} s + grace {grace_s:g} s); "
                           f"the method does not honour its time limit"),
                  info={"guard": "killed"})


def died_result(job: Job, returncode: int | None, elapsed_s: float) -> Result:
    """The ``error`` result of a method whose worker process died while running it."""
    if returncode is not None and returncode < 0:
        try:
            how = f"killed by signal {signal.Signals(-returncode).name}"
        except ValueError:
            how = f"killed by signal {-returncode}"
    else:
        how = f"exit code {returncode}"
    return Result(job.solver, job.problem, Status.ERROR, seconds=elapsed_s,
                  message=f"worker process died ({how}) while running {job.solver} on {job.label}",
                  info={"guard": "died", "returncode": returncode})


# --------------------------------------------------------------------------------------
# The worker side (runs in the child process)
# --------------------------------------------------------------------------------------
def call_method(fn: Callable[..., Result], problem: str, solver: str, instance: Instance,
                time_limit: float | None) -> Result:
    """Call one method, turning anything but a :class:`Result` into an ``error`` result.

    Like :func:`solvers.run`, but for a function given directly, and catching
    ``SystemExit`` and ``KeyboardInterrupt`` raised *by the method* too (in a
    worker, Ctrl-C is ignored, so these come from the method itself).

    >>> call_method(lambda inst, time_limit=None: 1 / 0, "P1", "x", None, None).message
    'ZeroDivisionError: division by zero'
    """
    start = time.perf_counter()
    try:
        result = fn(instance, time_limit=time_limit)
    except BaseException as exc:   # noqa: BLE001 - one failing method never stops the others
        if isinstance(exc, (GeneratorExit,)):
            raise
        return Result(solver, problem, Status.ERROR, seconds=time.perf_counter() - start,
                      message=f"{type(exc).__name__}: {exc}")
    if not isinstance(result, Result):
        return Result(solver, problem, Status.ERROR, seconds=time.perf_counter() - start,
                      message=f"returned {type(result).__name__}, not a Result")
    return result


def encode_result(result: Result) -> bytes:
    """Pickle a result for the way back; an unpicklable ``info`` is dropped (with a note)."""
    try:
        return pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:   # e.g. a solver object left in info
        note = f"info dropped (not picklable: {type(exc).__name__})"
        try:
            clean = Result(result.solver, result.problem, result.status, result.objective_s, result.bound_s,
                           result.seconds, result.assignment, result.bandwidth_hz,
                           f"{result.message}; {note}" if result.message else note, {})
            return pickle.dumps(clean, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc2:
            return pickle.dumps(Result(str(result.solver), str(result.problem), Status.ERROR,
                                       message=f"result could not be sent back: {type(exc2).__name__}: {exc2}"))


def _read_exact(fd: int, n: int) -> bytes | None:
    """Read exactly n bytes from fd; None at end of file."""
    chunks, got = [], 0
    while got < n:
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _write_frame(fd: int, payload: bytes) -> None:
    data = memoryview(_HEADER.pack(len(payload)) + payload)
    while data:
        written = os.write(fd, data)
        data = data[written:]


def _read_frame(fd: int) -> bytes | None:
    header = _read_exact(fd, _HEADER.size)
    if header is None:
        return None
    return _read_exact(fd, _HEADER.unpack(header)[0])


def _die_with_parent() -> None:
    """Linux: ask for SIGKILL when the parent goes, so no orphan (possibly hung) worker stays behind."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except Exception:   # not Linux: stdin's end of file still stops an idle worker
        pass
    parent = os.environ.get(_ENV_PARENT)
    if parent and os.getppid() != int(parent):   # the parent died before prctl took effect
        os._exit(0)


def worker_main() -> None:
    """Serve requests on stdin until end of file (the entry point of a guarded worker process)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is the caller's to handle
    _die_with_parent()
    proto_in, proto_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)   # a method reading stdin cannot steal requests
    os.dup2(2, 1)         # a method printing cannot corrupt answers
    os.close(devnull)
    import cloudpickle  # noqa: F401 - needed to load requests that hold functions by value

    while True:
        frame = _read_frame(proto_in)
        if frame is None:
            return
        try:
            fn, problem, solver, instance, time_limit = pickle.loads(frame)
        except Exception as exc:
            result = Result("?", "?", Status.ERROR, message=f"request could not be loaded: {type(exc).__name__}: {exc}")
        else:
            result = call_method(fn, problem, solver, instance, time_limit)
        _write_frame(proto_out, encode_result(result))


# --------------------------------------------------------------------------------------
# The caller side: one guarded worker
# --------------------------------------------------------------------------------------
class WorkerDied(RuntimeError):
    """The worker process ended (or closed its pipe) before answering."""


class GuardedWorker:
    """A child Python process running one method at a time; killable.

    Started lazily by :meth:`submit`; after a kill or a death the next
    :meth:`submit` starts a fresh one.
    """

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.job: Job | None = None
        self.started: float | None = None
        self.deadline: float | None = None

    @property
    def busy(self) -> bool:
        return self.job is not None

    @property
    def fd(self) -> int:
        return self.proc.stdout.fileno()

    def _start(self) -> None:
        env = dict(os.environ)
        # the caller's import path, so that methods pickled by reference (tests, plug-ins) load
        env[_ENV_SYS_PATH] = json.dumps([p for p in sys.path if p])
        env[_ENV_PARENT] = str(os.getpid())
        code = ("import json, os, sys; sys.path[:0] = json.loads(os.environ.pop('DEFT_WORKER_SYS_PATH')); "
                "from validation.parallel import worker_main; worker_main()")
        self.proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     bufsize=0, env=env, close_fds=True)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def submit(self, job: Job, payload: bytes, grace_s: float) -> None:
        """Send ``payload`` (a request made by :func:`encode_request`) to the worker."""
        for attempt in (1, 2):   # an idle worker that died meanwhile is restarted once
            if not self.alive:
                self.discard()
                self._start()
            try:
                _write_frame(self.proc.stdin.fileno(), payload)
                break
            except OSError:
                if attempt == 2:
                    raise
                self.kill()
        self.job = job
        self.started = time.monotonic()
        self.deadline = None if job.time_limit is None else self.started + job.time_limit + grace_s

    def receive(self) -> Result:
        """Read the answer (call when the pipe is readable); :class:`WorkerDied` if the worker is gone."""
        frame = _read_frame(self.fd)
        if frame is None:
            raise WorkerDied()
        self.job = None
        return pickle.loads(frame)

    def elapsed(self) -> float:
        return time.monotonic() - self.started if self.started is not None else 0.0

    def returncode(self) -> int | None:
        """Exit status of the dead worker (waits briefly for it to be reaped)."""
        if self.proc is None:
            return None
        try:
            return self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        """Kill the worker process (whatever it is doing) and forget its job."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:   # pragma: no cover - SIGKILL is not ignorable
                pass
        self.discard()

    def discard(self) -> None:
        if self.proc is not None:
            for stream in (self.proc.stdin, self.proc.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
        self.proc = None
        self.job = None
        self.started = self.deadline = None

    def close(self) -> None:
        """Stop the worker: an idle one exits on end of file, a busy one is killed."""
        if self.proc is None:
            return
        if self.busy:
            self.kill()
            return
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()

    def run_one(self, job: Job, grace_s: float) -> Result:
        """Run one job to its end, the guard included (blocking; used on Dask workers)."""
        self.submit(job, encode_request(job), grace_s)
        while True:
            timeout = None if self.deadline is None else max(self.deadline - time.monotonic(), 0.0)
            ready, _, _ = select.select([self.fd], [], [], timeout)
            if ready:
                try:
                    return self.receive()
                except WorkerDied:
                    elapsed = self.elapsed()
                    code = self.returncode()
                    self.discard()
                    return died_result(job, code, elapsed)
            if self.deadline is not None and time.monotonic() >= self.deadline:
                elapsed = self.elapsed()
                self.kill()
                return killed_result(job, elapsed, grace_s)


def encode_request(job: Job) -> bytes:
    """The request for ``job`` (the method by reference where possible, else by value)."""
    import cloudpickle

    return cloudpickle.dumps((job.method(), job.problem, job.solver, job.instance, job.time_limit),
                             protocol=pickle.HIGHEST_PROTOCOL)


def _request_error(job: Job, exc: Exception) -> Result:
    return Result(job.solver, job.problem, Status.ERROR,
                  message=f"could not send the method to a worker: {type(exc).__name__}: {exc}")


# --------------------------------------------------------------------------------------
# Local pool
# --------------------------------------------------------------------------------------
class LocalPool:
    """``workers`` guarded worker processes on this machine.

    Use as a context manager: leaving it (normally, on an exception or on
    Ctrl-C) kills every busy worker and stops the idle ones.

    Parameters
    ----------
    workers : int
        Number of worker processes (>= 1).
    grace_s : float, optional
        Extra seconds beyond a job's time limit before its worker is killed
        (default :func:`default_grace_s` of each job's limit).
    """

    def __init__(self, workers: int, grace_s: float | None = None):
        if workers < 1:
            raise ValueError(f"need at least one worker, got {workers}")
        self.workers = [GuardedWorker() for _ in range(workers)]
        self.grace_s = grace_s
        self.killed = 0
        self.died = 0

    def __enter__(self) -> "LocalPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for w in self.workers:
            w.close()

    def _grace(self, job: Job) -> float:
        return self.grace_s if self.grace_s is not None else default_grace_s(job.time_limit)

    def run(self, jobs: Iterable[Job]) -> Iterator[tuple[Job, Result]]:
        """Run ``jobs`` (pulled lazily, in order) and yield ``(job, result)`` as each finishes.

        Every job yields exactly one result: the method's, or the guard's
        (:func:`killed_result`, :func:`died_result`).
        """
        source = iter(jobs)
        exhausted = False
        while True:
            # hand out work to idle workers
            for w in self.workers:
                while not w.busy and not exhausted:
                    job = next(source, None)
                    if job is None:
                        exhausted = True
                        break
                    try:
                        payload = encode_request(job)
                    except Exception as exc:   # e.g. a method that cannot be pickled
                        yield job, _request_error(job, exc)
                        continue
                    w.submit(job, payload, self._grace(job))
            busy = [w for w in self.workers if w.busy]
            if not busy:
                return
            deadlines = [w.deadline for w in busy if w.deadline is not None]
            timeout = max(min(deadlines) - time.monotonic(), 0.0) if deadlines else None
            ready, _, _ = select.select([w.fd for w in busy], [], [], timeout)
            ready = set(ready)
            for w in busy:
                if w.fd not in ready:
                    continue
                job = w.job
                try:
                    result = w.receive()
                except WorkerDied:
                    elapsed = w.elapsed()
                    code = w.returncode()
                    w.discard()
                    self.died += 1
                    result = died_result(job, code, elapsed)
                yield job, result
            now = time.monotonic()
            for w in self.workers:
                if w.busy and w.deadline is not None and now >= w.deadline and w.fd not in ready:
                    job, elapsed = w.job, w.elapsed()
                    w.kill()
                    self.killed += 1
                    yield job, killed_result(job, elapsed, self._grace(job))


# --------------------------------------------------------------------------------------
# Dask
# --------------------------------------------------------------------------------------
_local = threading.local()


def dask_task(job: Job, grace_s: float) -> Result:
    """Run one job on a Dask worker, through this thread's guarded worker process.

    Runs where Dask puts it; the guard (and the worker process) live on the
    Dask worker, so a method that hangs is killed there and the Dask thread
    is free again.
    """
    worker = getattr(_local, "worker", None)
    if worker is None:
        worker = _local.worker = GuardedWorker()
    try:
        return worker.run_one(job, grace_s)
    except Exception as exc:   # e.g. the method cannot be pickled: an error row, not a lost task
        worker.kill()
        return _request_error(job, exc)


def run_dask(jobs: Iterable[Job], address, grace_s: float | None = None,
             window: int | None = None) -> Iterator[tuple[Job, Result]]:
    """Run ``jobs`` on the Dask cluster at ``address`` and yield ``(job, result)`` as each finishes.

    Parameters
    ----------
    jobs : iterable of Job
        Pulled lazily: at most ``window`` jobs are in flight (default: 4 per
        worker thread of the cluster, at least 8), so thousands of instances
        are never all held in memory.
    address : str or distributed.Client
        Scheduler address (``tcp://host:8786``) or a connected client.
    grace_s : float, optional
        As for :class:`LocalPool`.

    A task that fails on the cluster side (e.g. ``KilledWorker`` after Dask's
    own retries on lost workers) yields an ``error`` result naming the
    exception; Ctrl-C (or closing the generator) cancels what is still queued.
    """
    from distributed import Client, as_completed

    own = not isinstance(address, Client)
    client = Client(address) if own else address
    futures: dict = {}
    try:
        if window is None:
            threads = sum(client.nthreads().values()) or 1
            window = max(8, 4 * threads)
        source = iter(jobs)
        token = uuid.uuid4().hex[:8]
        queue = as_completed()
        count = 0

        def submit_next() -> bool:
            nonlocal count
            job = next(source, None)
            if job is None:
                return False
            # the instance travels inside each task (not scattered once): scattered data lives on one
            # worker and is lost with it, while a task spec can be re-run elsewhere after a worker dies
            grace = grace_s if grace_s is not None else default_grace_s(job.time_limit)
            task_job = Job(job.index, job.label, job.problem, job.solver, job.instance, job.time_limit, job.method())
            future = client.submit(dask_task, task_job, grace, pure=False, key=f"deft-{token}-{count}-{job.solver}")
            count += 1
            futures[future] = job
            queue.add(future)
            return True

        while len(futures) < window and submit_next():
            pass
        for future in queue:
            job = futures.pop(future)
            try:
                result = future.result()
            except Exception as exc:
                result = Result(job.solver, job.problem, Status.ERROR,
                                message=f"Dask task failed: {type(exc).__name__}: {exc}")
            if not isinstance(result, Result):
                result = Result(job.solver, job.problem, Status.ERROR,
                                message=f"Dask task returned {type(result).__name__}, not a Result")
            yield job, result
            while len(futures) < window and submit_next():
                pass
    finally:
        if futures:
            client.cancel(list(futures))
        if own:
            client.close()


__all__ = ["GRACE_MIN_S", "GRACE_FRACTION", "Job", "LocalPool", "GuardedWorker", "call_method",
           "dask_task", "default_grace_s", "died_result", "killed_result", "run_dask", "worker_main"]
