"""Test-suite settings.

Under CI (environment variable ``CI`` set, as ``.ci/run`` is run) hypothesis is
derandomised: every run explores the same examples, so a red CI always means a
reproducible failure.  Locally examples are random, which keeps finding new cases.
"""
from __future__ import annotations

import os

from hypothesis import settings

import solvers.kernels  # noqa: F401,E402 - compiled (or loaded from Numba's cache) before any test is timed

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
