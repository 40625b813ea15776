"""Capture a solver's output at the file-descriptor level, into a temporary file.

Compiled solvers (SCIP, SoPlex, HiGHS) write straight to the process's file
descriptors 1 and 2.  Capturing them through a pipe read by a Python thread
(what Pyomo's ``capture_output`` does) can deadlock: PySCIPOpt keeps the GIL
while SCIP runs, so the reader thread never runs, the pipe fills (64 KiB) and
the solver blocks for ever on ``write``.  A regular file never fills, so a
write to it never waits for anyone.

:func:`capture_fds` redirects fds 1 and 2 to one anonymous temporary file
(``os.dup`` / ``os.dup2``) for the duration of a block, restores them
afterwards and keeps the captured text, truncated to its head and tail.
Everything written to fds 1 and 2 while the block runs is captured, by any
thread of the process.

>>> import os
>>> with capture_fds() as out:
...     _ = os.write(1, b"to fd 1\\n")
...     _ = os.write(2, b"to fd 2\\n")
>>> out.text
'to fd 1\\nto fd 2\\n'
"""
from __future__ import annotations

import ctypes
import os
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

#: Characters kept from a capture (head and tail halves); the rest is replaced by a marker.
MAX_CAPTURED_CHARS = 20_000


@dataclass
class Captured:
    """What a :func:`capture_fds` block wrote to fds 1 and 2 (filled in on exit)."""

    text: str = ""          #: the output, at most about ``limit`` characters
    total_bytes: int = 0    #: how much was written in all

    @property
    def truncated(self) -> bool:
        return len(self.text.encode("utf-8", "replace")) < self.total_bytes


def _flush_all() -> None:
    """Flush Python's and the C library's stdio buffers, so that output lands on the right side."""
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except (ValueError, OSError, AttributeError):
            pass
    try:
        ctypes.CDLL(None).fflush(None)       # fflush(NULL): every C stdio output stream
    except (OSError, AttributeError):        # no C library to flush (not POSIX)
        pass


def _read_limited(file, limit: int) -> tuple[str, int]:
    """Head and tail of ``file`` (binary), decoded, at most ``limit`` characters plus a marker."""
    size = os.fstat(file.fileno()).st_size
    file.seek(0)
    if size <= limit:
        return file.read().decode("utf-8", "replace"), size
    half = limit // 2
    head = file.read(half).decode("utf-8", "replace")
    file.seek(size - half)
    tail = file.read(half).decode("utf-8", "replace")
    return f"{head}\n[... {size - 2 * half} bytes of solver output left out ...]\n{tail}", size


@contextmanager
def capture_fds(limit: int = MAX_CAPTURED_CHARS) -> Iterator[Captured]:
    """Redirect fds 1 and 2 to a temporary file for the block; yield a :class:`Captured`.

    Parameters
    ----------
    limit : int
        Characters of output kept in ``Captured.text`` (head and tail).

    Notes
    -----
    Pending Python and C stdio buffers are flushed before the redirection and
    before the restore, so output written before the block is not captured
    and output written inside it is.  The originals are restored even if the
    block raises.  Not for nesting across threads: the redirection is
    process-wide.
    """
    captured = Captured()
    _flush_all()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    with tempfile.TemporaryFile(mode="w+b", prefix="deft-solver-output-") as sink:
        try:
            for fd in (1, 2):
                os.dup2(sink.fileno(), fd)
            yield captured
        finally:
            _flush_all()
            for fd, original in saved.items():
                os.dup2(original, fd)
                os.close(original)
            captured.text, captured.total_bytes = _read_limited(sink, limit)
