"""Run methods in guarded worker processes, locally (``--jobs N``) or on a Dask cluster (``--dask``).

Each method runs in a child Python process (a *guarded worker*) that the
caller can kill.  A method that has not answered

.. math:: t_\\text{guard} = \\text{time\\_limit} + \\text{grace}

seconds after it was called (it ignores its time limit: HiGHS and SCIP do not
always honour theirs inside presolve, and a solver that holds the GIL can
block every Python thread of its process) is killed with its process, and
reported as a ``time_limit`` result whose message says so; a worker that dies
(a crash, ``os._exit``, the OOM killer) gives an ``error`` result naming the
signal or exit code.  Either way the worker is restarted for the next method
and the sweep goes on: nothing is lost.

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

Protocol
--------
Frames: an 8-byte big-endian length, then the payload.  On the worker's
stdin the caller writes requests (``cloudpickle`` of the method, problem,
solver name, instance and time limit: a method may be a lambda); on the
worker's stdout (the *answer channel*) the worker writes, in this order:

1. :data:`READY` once, after start-up: the worker has imported what the
   methods need (:data:`WORKER_PRELOAD`);
2. per request, :data:`STARTED` once the request is loaded (which may import
   the method's module, e.g. a plug-in's, and for the toolkit's own methods
   loads the compiled kernels), just before the method is called;
3. the answer, a plain :mod:`pickle` of a :class:`~solvers.result.Result`
   (a request that cannot be loaded is answered at once, without ``STARTED``,
   by an ``error`` result).

The caller sends a request only after ``READY``.  A worker's own output goes
to stderr, so that a chatty solver (or module) cannot corrupt the answer
channel, and it ignores SIGINT (Ctrl-C belongs to the caller, which then
kills its workers).

The clock
---------
The caller keeps one deadline per worker, on its own monotonic clock
(:func:`time.monotonic`), set by what it waits for from that worker:

===============  ===========================================  ==========================================
waiting for      deadline                                     result if it passes (or the worker dies)
===============  ===========================================  ==========================================
``READY``        process started + :data:`STARTUP_TIMEOUT_S`  ``error``: the worker did not start
``STARTED``      request sent + :data:`STARTUP_TIMEOUT_S`     ``error``: the request was not loaded
the answer       ``STARTED`` read + time limit + grace        ``time_limit`` (killed) / ``error`` (died)
===============  ===========================================  ==========================================

So neither a worker's start-up (Python, numpy, scipy, Pyomo: 2 s or more on
a busy machine) nor the load of a request counts against a method's time
limit, and since the caller reads ``STARTED`` only after the worker wrote it,
a method is never killed sooner than time limit + grace after it was called:
a busy machine can only make the kill later.  A job without a time limit has
no deadline once ``STARTED``.  A worker that fails before its method is called
gives the job that needed it an ``error`` result (:func:`not_started_result`,
naming the cause); the next job gets a fresh worker.

In a :class:`LocalPool` the workers start concurrently: a worker's ``READY``
is one more readable pipe in the pool's single ``select`` loop, so no
worker's start-up waits for another's.  On Dask, :meth:`GuardedWorker.run_one`
blocks its own Dask thread only.

Complexity: per job, one pickle of the instance (O(KM)) each way and a process
round trip (about 0.1 ms); starting a worker costs a Python start-up and the
imports of :data:`WORKER_PRELOAD` (about 2 s on 2 cores), paid once per worker
and again after each kill or death.

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

import importlib
import dataclasses
import json
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
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

import solvers as _solvers
from instances import Instance
from solvers.result import Result, Status

#: Least extra time (s) a method gets beyond its time limit before its worker is killed.
GRACE_MIN_S = 5.0
#: ... and the extra time as a fraction of the time limit, whichever is larger.
GRACE_FRACTION = 0.5

#: Seconds a fresh worker may take to send ``READY``, and a worker to load a request and send
#: ``STARTED``.  Generous: it only has to catch a worker that hangs or dies in start-up (about
#: 2 s on an idle 2-core machine, several times that on a loaded one), and it never counts
#: against a method's time limit.
STARTUP_TIMEOUT_S = 120.0
#: Modules a fresh worker imports before it sends ``READY``, besides this module, which brings
#: :mod:`solvers` with its registry, numpy and scipy (0.8-1.4 s measured on 2 cores).  Pyomo
#: (0.7-1.5 s more) is used by three of the exact methods, cvxpy (0.15-0.3 s once scipy is in)
#: by the relaxation, the model builders cost under 0.05 s: imported here, no method's clock
#: pays for them, and a method's ``seconds`` do not depend on which method ran first in its
#: worker.  A sweep of all methods imports them in every worker anyway (same wall time
#: measured with and without), so the preload costs only where workers restart often (many
#: kills or deaths).  The caller's value is used (it is passed to each worker it starts), so
#: a plug-in may add its module.  A module that fails to import is skipped: the method that
#: needs it reports the error itself, as it would in process.  :mod:`solvers.kernels` (the
#: compiled loops of the fast methods, about 0.4 s to load from Numba's cache) is loaded with
#: the first request for one of the toolkit's own methods, before ``STARTED`` (:func:`_kernels_for`).
WORKER_PRELOAD = ("pyomo.environ", "models.p1", "models.p2", "solvers.pyomo_solve", "cvxpy")

_HEADER = struct.Struct(">Q")
#: The worker's start-up and request-loaded frames (answers are pickles, which start with b"\x80").
READY = b"ready"
STARTED = b"started"
_ENV_SYS_PATH = "DEFT_WORKER_SYS_PATH"
_ENV_PARENT = "DEFT_WORKER_PARENT_PID"
_ENV_PRELOAD = "DEFT_WORKER_PRELOAD"


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
    return Result(solver=job.solver, problem=job.problem, status=Status.TIME_LIMIT, seconds=elapsed_s,
                  message=(f"killed by the outer guard: no answer after {elapsed_s:.3g} s "
                           f"(time limit {job.time_limit:g} s + grace {grace_s:g} s); "
                           f"the method does not honour its time limit"),
                  info={"guard": "killed"})


def _exit_description(returncode: int | None) -> str:
    """How a worker process ended, from its return code (negative: the signal that killed it)."""
    if returncode is not None and returncode < 0:
        try:
            return f"killed by signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


def died_result(job: Job, returncode: int | None, elapsed_s: float) -> Result:
    """The ``error`` result of a method whose worker process died while running it."""
    return Result(solver=job.solver, problem=job.problem, status=Status.ERROR, seconds=elapsed_s,
                  message=(f"worker process died ({_exit_description(returncode)}) "
                           f"while running {job.solver} on {job.label}"),
                  info={"guard": "died", "returncode": returncode})


def not_started_result(job: Job, cause: str, elapsed_s: float) -> Result:
    """The ``error`` result of a job whose method was never called: its worker failed before.

    ``cause`` completes "worker process ...", e.g. "died during start-up (exit code 1)".
    """
    return Result(solver=job.solver, problem=job.problem, status=Status.ERROR, seconds=elapsed_s,
                  message=f"worker process {cause}, before running {job.solver} on {job.label}",
                  info={"guard": "not-started"})


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
        return Result(solver=solver, problem=problem, status=Status.ERROR, seconds=time.perf_counter() - start,
                      message=f"{type(exc).__name__}: {exc}")
    if not isinstance(result, Result):
        return Result(solver=solver, problem=problem, status=Status.ERROR, seconds=time.perf_counter() - start,
                      message=f"returned {type(result).__name__}, not a Result")
    return result


def encode_result(result: Result) -> bytes:
    """Pickle a result for the way back; an unpicklable ``info`` is dropped (with a note)."""
    try:
        return pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:   # e.g. a solver object left in info
        note = f"info dropped (not picklable: {type(exc).__name__})"
        try:
            clean = dataclasses.replace(result, info={},
                                        message=f"{result.message}; {note}" if result.message else note)
            return pickle.dumps(clean, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc2:
            return pickle.dumps(Result(solver=str(result.solver), problem=str(result.problem), status=Status.ERROR,
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


def _read_frame(fd: int, max_bytes: int | None = None) -> bytes | None:
    """Read one frame from fd; None at end of file, ValueError if it announces more than ``max_bytes``."""
    header = _read_exact(fd, _HEADER.size)
    if header is None:
        return None
    size = _HEADER.unpack(header)[0]
    if max_bytes is not None and size > max_bytes:
        raise ValueError(f"a frame of {size} bytes announced, at most {max_bytes} expected")
    return _read_exact(fd, size)


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


def _preload() -> None:
    """Import the caller's :data:`WORKER_PRELOAD`, skipping a module that fails (its method will report why)."""
    for name in json.loads(os.environ.pop(_ENV_PRELOAD, "[]")):
        try:
            importlib.import_module(name)
        except Exception:   # noqa: BLE001 - not this worker's error: the method that needs it raises it again
            pass


def _kernels_for(fn) -> None:
    """Load :mod:`solvers.kernels` before the clock starts if ``fn`` is one of the toolkit's own methods.

    They all use the compiled kernels (or may); a test's or a plug-in's
    function that does not is spared the load.
    """
    if (getattr(fn, "__module__", None) or "").split(".")[0] == "solvers":
        import solvers.kernels  # noqa: F401


def worker_main() -> None:
    """Start up, send ``READY``, then serve requests on stdin until end of file (a guarded worker's entry point).

    Per request: load it, send ``STARTED``, call the method, send the answer
    (see the module's protocol).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is the caller's to handle
    _die_with_parent()
    proto_in, proto_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)   # a method reading stdin cannot steal requests
    os.dup2(2, 1)         # a method (or a module) printing cannot corrupt answers
    os.close(devnull)
    import cloudpickle  # noqa: F401 - needed to load requests that hold functions by value

    _preload()
    _write_frame(proto_out, READY)
    while True:
        frame = _read_frame(proto_in)
        if frame is None:
            return
        try:
            fn, problem, solver, instance, time_limit = pickle.loads(frame)
        except Exception as exc:
            result = Result(solver="?", problem="?", status=Status.ERROR, message=f"request could not be loaded: {type(exc).__name__}: {exc}")
        else:
            _kernels_for(fn)
            _write_frame(proto_out, STARTED)   # the caller's clock for this method starts on this frame
            result = call_method(fn, problem, solver, instance, time_limit)
        _write_frame(proto_out, encode_result(result))


# --------------------------------------------------------------------------------------
# The caller side: one guarded worker
# --------------------------------------------------------------------------------------
class GuardedWorker:
    """A child Python process running one method at a time; killable.

    A job moves through the phases of the module's protocol, each with its
    deadline (:attr:`deadline`, on :func:`time.monotonic`):

    ``"starting"``
        a fresh process was started for the job; waiting for ``READY``;
    ``"loading"``
        the request was sent; waiting for ``STARTED``;
    ``"running"``
        the method was called; waiting for the answer;
    ``"idle"``
        no job, a ready process (``None``: no process at all).

    The owner hands a job over with :meth:`assign`, then calls
    :meth:`advance` whenever :attr:`fd` is readable and :meth:`expire` once
    :attr:`deadline` has passed, until one of them returns the job's
    :class:`Result`.  :meth:`run_one` does exactly that for one job.  A
    process is started when a job needs one: first, and after a kill or a
    death.
    """

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.phase: str | None = None
        self.job: Job | None = None
        self.grace_s: float | None = None
        self.since: float | None = None      # when the current phase began
        self.deadline: float | None = None   # when the guard acts; None: never (no time limit)
        self._payload: bytes | None = None   # the request, until it is sent

    @property
    def busy(self) -> bool:
        return self.job is not None

    @property
    def fd(self) -> int:
        """The answer channel (for ``select``)."""
        return self.proc.stdout.fileno()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def elapsed(self) -> float:
        """Seconds since the current phase began."""
        return time.monotonic() - self.since if self.since is not None else 0.0

    def _enter(self, phase: str, timeout_s: float | None) -> None:
        self.phase = phase
        self.since = time.monotonic()
        self.deadline = None if timeout_s is None else self.since + timeout_s

    def _start(self) -> None:
        # the kernels compiled here (the first time on a machine), once: the workers load Numba's cache
        import solvers.kernels  # noqa: F401
        env = dict(os.environ)
        # the caller's import path, so that methods pickled by reference (tests, plug-ins) load
        env[_ENV_SYS_PATH] = json.dumps([p for p in sys.path if p])
        env[_ENV_PARENT] = str(os.getpid())
        env[_ENV_PRELOAD] = json.dumps(list(WORKER_PRELOAD))
        code = ("import json, os, sys; sys.path[:0] = json.loads(os.environ.pop('DEFT_WORKER_SYS_PATH')); "
                "from validation.parallel import worker_main; worker_main()")
        self.proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     bufsize=0, env=env, close_fds=True)
        self._enter("starting", STARTUP_TIMEOUT_S)

    def _send_request(self) -> None:
        _write_frame(self.proc.stdin.fileno(), self._payload)
        self._payload = None
        self._enter("loading", STARTUP_TIMEOUT_S)

    def assign(self, job: Job, payload: bytes, grace_s: float) -> None:
        """Take ``job`` (``payload``: its request, made by :func:`encode_request`).

        The request goes out now to an idle, live process; otherwise a fresh
        process is started and the request goes out on its ``READY``.
        """
        self.job, self._payload, self.grace_s = job, payload, grace_s
        if self.phase == "idle" and self.alive:
            try:
                self._send_request()
                return
            except OSError:   # the idle process died meanwhile: this job gets a fresh one
                pass
        self._stop_process()
        self._start()

    def advance(self) -> Result | None:
        """Read the next frame (call when :attr:`fd` is readable) and move the job on.

        Returns the job's result when the job is over (the method's answer, or
        the guard's result for a worker that died), else ``None``.
        """
        try:
            # during start-up, only READY may come: anything longer is output that went astray
            # (e.g. printed by a module imported before the worker moved its stdout aside)
            frame = _read_frame(self.fd, len(READY) if self.phase == "starting" else None)
        except ValueError:
            frame = b""
        if frame is None:
            return self._died()
        if self.phase == "starting":
            if frame != READY:
                return self._give_up("sent something other than its READY frame during start-up")
            try:
                self._send_request()
            except OSError:
                return self._died()
            return None
        if self.phase == "loading" and frame == STARTED:
            limit = self.job.time_limit
            self._enter("running", None if limit is None else limit + self.grace_s)
            return None
        # the answer: the method's, or (while loading) the worker's own error about the request
        result = pickle.loads(frame)
        self._forget_job()
        self.phase = "idle"
        return result

    def expire(self) -> Result:
        """Kill the worker (call once :attr:`deadline` has passed) and return the guard's result for the job."""
        if self.phase == "running":
            job, elapsed_s, grace_s = self.job, self.elapsed(), self.grace_s
            self.kill()
            return killed_result(job, elapsed_s, grace_s)
        waited_for = "READY" if self.phase == "starting" else "STARTED"
        return self._give_up(f"sent no {waited_for} frame within {STARTUP_TIMEOUT_S:g} s "
                             f"(STARTUP_TIMEOUT_S) {self._phase_words()}")

    def run_one(self, job: Job, grace_s: float) -> Result:
        """Run one job to its end, the guard included (blocking; used on Dask workers)."""
        self.assign(job, encode_request(job), grace_s)
        while True:
            timeout_s = None if self.deadline is None else max(self.deadline - time.monotonic(), 0.0)
            ready, _, _ = select.select([self.fd], [], [], timeout_s)
            if ready:
                result = self.advance()
            elif time.monotonic() >= self.deadline:
                result = self.expire()
            else:   # pragma: no cover - select returned early
                continue
            if result is not None:
                return result

    def _phase_words(self) -> str:
        return {"starting": "during start-up", "loading": "while loading the request"}[self.phase]

    def _died(self) -> Result:
        """The process closed its answer channel: reap it and return the guard's result for the job."""
        job, phase, elapsed_s = self.job, self.phase, self.elapsed()
        returncode = self.returncode()
        if phase == "running":
            self.kill()
            return died_result(job, returncode, elapsed_s)
        return self._give_up(f"died ({_exit_description(returncode)}) {self._phase_words()}")

    def _give_up(self, cause: str) -> Result:
        """Kill a worker that failed before its method was called; the job's ``error`` result names ``cause``."""
        job, elapsed_s = self.job, self.elapsed()
        self.kill()
        return not_started_result(job, cause, elapsed_s)

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
        self._stop_process()
        self._forget_job()

    def _forget_job(self) -> None:
        self.job = self._payload = self.grace_s = None
        self.since = self.deadline = None

    def _stop_process(self) -> None:
        """Kill the process if it lives, reap it and close its pipes."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:   # pragma: no cover - SIGKILL is not ignorable
                    pass
            for stream in (self.proc.stdin, self.proc.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
        self.proc = None
        self.phase = None

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


def encode_request(job: Job) -> bytes:
    """The request for ``job`` (the method by reference where possible, else by value)."""
    import cloudpickle

    return cloudpickle.dumps((job.method(), job.problem, job.solver, job.instance, job.time_limit),
                             protocol=pickle.HIGHEST_PROTOCOL)


def _request_error(job: Job, exc: Exception) -> Result:
    return Result(solver=job.solver, problem=job.problem, status=Status.ERROR,
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

    Attributes
    ----------
    killed, died, not_started : int
        Counts of the guard's results so far: methods killed, methods whose
        worker died, jobs whose worker failed before calling their method.
    """

    def __init__(self, workers: int, grace_s: float | None = None):
        if workers < 1:
            raise ValueError(f"need at least one worker, got {workers}")
        self.workers = [GuardedWorker() for _ in range(workers)]
        self.grace_s = grace_s
        self.killed = 0
        self.died = 0
        self.not_started = 0

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
        (:func:`killed_result`, :func:`died_result`, :func:`not_started_result`).
        One ``select`` loop serves every worker, whatever its phase, so
        workers start, load and run concurrently.
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
                    w.assign(job, payload, self._grace(job))
            busy = [w for w in self.workers if w.busy]
            if not busy:
                return
            # wait for a frame from any worker, or for the first deadline
            deadlines = [w.deadline for w in busy if w.deadline is not None]
            timeout_s = max(min(deadlines) - time.monotonic(), 0.0) if deadlines else None
            readable, _, _ = select.select([w.fd for w in busy], [], [], timeout_s)
            ready = [w for w in busy if w.fd in readable]
            for w in busy:
                job = w.job
                if w in ready:
                    result = w.advance()
                elif w.deadline is not None and time.monotonic() >= w.deadline:
                    result = w.expire()
                else:
                    continue
                if result is not None:
                    self._count(result)
                    yield job, result

    def _count(self, result: Result) -> None:
        """Tally the guard's results (:attr:`killed`, :attr:`died`, :attr:`not_started`)."""
        guard = result.info.get("guard") if isinstance(result.info, dict) else None
        if guard == "killed":
            self.killed += 1
        elif guard == "died":
            self.died += 1
        elif guard == "not-started":
            self.not_started += 1


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
                result = Result(solver=job.solver, problem=job.problem, status=Status.ERROR,
                                message=f"Dask task failed: {type(exc).__name__}: {exc}")
            if not isinstance(result, Result):
                result = Result(solver=job.solver, problem=job.problem, status=Status.ERROR,
                                message=f"Dask task returned {type(result).__name__}, not a Result")
            yield job, result
            while len(futures) < window and submit_next():
                pass
    finally:
        if futures:
            client.cancel(list(futures))
        if own:
            client.close()


__all__ = ["GRACE_MIN_S", "GRACE_FRACTION", "STARTUP_TIMEOUT_S", "WORKER_PRELOAD", "Job", "LocalPool", "GuardedWorker",
           "call_method", "dask_task", "default_grace_s", "died_result", "killed_result", "not_started_result",
           "run_dask", "worker_main"]
