"""Live progress of a sweep on stderr: files done of total, the method running now, time left.

A :class:`Progress` is handed to :func:`validation.sweep.compare_paths`, which
calls :meth:`Progress.found`, :meth:`Progress.running`,
:meth:`Progress.group_done` and :meth:`Progress.unusable`.  The bar is drawn by
``tqdm`` (its rate and estimate of the time left are over finished
(instance, problem) groups); a background thread refreshes the line once a
second so that the elapsed time of a long method keeps moving.  It is off when
stderr is not a terminal (a log file, CI) or when the user asks for
``--quiet``: :func:`make_progress` returns None then.
"""
from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

#: Seconds between two refreshes of the line while a method runs.
REFRESH_S = 1.0


class Progress:
    """A progress bar over the (instance, problem) groups of a sweep.

    Parameters
    ----------
    stream : text stream
        Where the bar is drawn (stderr).
    """

    def __init__(self, stream: TextIO):
        from tqdm import tqdm

        self.stream = stream
        self.bar = tqdm(total=0, unit="group", file=stream, dynamic_ncols=True, leave=True,
                        bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} groups [{elapsed}<{remaining}] {postfix}")
        self.bar.set_description("compare")
        self.files: set[str] = set()
        self.per_file = 1
        self.current = ""
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="progress", daemon=True)
        self._ticker.start()

    # -- calls from the sweep -----------------------------------------------------------
    def found(self, files: list[str], per_file: int) -> None:
        """The sweep will run ``per_file`` (problem) groups on each of ``files``."""
        with self._lock:
            self.files, self.per_file = set(files), per_file
            self.bar.total = len(files) * per_file
            self.bar.refresh()

    def running(self, label: str, problem: str, solver: str) -> None:
        """A method starts (sequential sweeps only: parallel ones run several at once)."""
        with self._lock:
            self.current = f"{_short_path(label)} {problem} {solver}"
            self.started = time.monotonic()
            self._show()

    def group_done(self, group) -> None:
        with self._lock:
            self.current = ""
            self.bar.update(1)
            self._show()

    def unusable(self, row: dict) -> None:
        """An unusable input: a file's groups are done at once (folders were never counted)."""
        if row["instance"] in self.files:
            with self._lock:
                self.bar.update(self.per_file)

    def write(self, line: str, file: TextIO | None = None) -> None:
        """Print a line above the bar, on ``file`` (default: the bar's stream); the bar is redrawn below."""
        with self._lock:
            self.bar.write(line, file=file or self.stream)

    def above(self, stream: TextIO) -> "_Above":
        """A text stream whose lines go to ``stream`` above the bar (for output on the same terminal)."""
        return _Above(self, stream)

    def close(self) -> None:
        self._stop.set()
        self._ticker.join(timeout=2 * REFRESH_S)
        with self._lock:
            self.bar.close()

    # -- drawing ------------------------------------------------------------------------
    def _show(self) -> None:
        if self.current:
            self.bar.set_postfix_str(f"{self.current} ({time.monotonic() - self.started:.0f} s)", refresh=True)
        else:
            self.bar.set_postfix_str("", refresh=True)

    def _tick(self) -> None:
        while not self._stop.wait(REFRESH_S):
            with self._lock:
                if self.current:
                    self._show()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Above:
    """Write-only text stream: complete lines go to ``stream`` through :meth:`Progress.write`."""

    def __init__(self, progress: Progress, stream: TextIO):
        self.progress, self.stream, self.pending = progress, stream, ""

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            self.progress.write(line, self.stream)
        return len(text)

    def flush(self) -> None:
        if self.pending:
            self.progress.write(self.pending, self.stream)
            self.pending = ""


def _short_path(label: str, width: int = 40) -> str:
    return label if len(label) <= width else "..." + label[-(width - 3):]


def make_progress(stream: TextIO | None = None, quiet: bool = False) -> Progress | None:
    """A :class:`Progress` on ``stream`` (default stderr), or None when quiet or not a terminal."""
    stream = sys.stderr if stream is None else stream
    if quiet or not getattr(stream, "isatty", lambda: False)():
        return None
    return Progress(stream)
