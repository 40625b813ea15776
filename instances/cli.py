"""Command-line conventions shared by every command of the toolkit.

Every command (``python -m validation.compare`` / ``deft-compare``,
``instances.generate`` / ``deft-generate``, ``validation.explain``,
``validation.reproduce``, ``validation.bench``, ``validation.report``,
``validation.check``) uses the exit codes and option types defined here, and
has ``--version``.  The module lives in the bottom layer (``instances``) so
that every command, whatever its layer, can use it.

==========  ==============================================================
exit code   meaning
==========  ==============================================================
0           success (for ``compare``: every method consistent)
1           a finding: an inconsistency (``compare``), an invalid solution
            (``check``)
2           unusable input: a bad file, a bad option
130         interrupted (Ctrl-C); what finished is kept
==========  ==============================================================
"""
from __future__ import annotations

import argparse
import math
import os
import sys

EXIT_OK = 0
EXIT_FINDING = 1
EXIT_UNUSABLE = 2
EXIT_INTERRUPTED = 130

#: The distribution whose version ``--version`` prints.
DISTRIBUTION = "deft-matching"


def version() -> str:
    """The installed version of the toolkit (``"unknown"`` when run from a bare checkout).

    >>> isinstance(version(), str)
    True
    """
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as _version

    try:
        return _version(DISTRIBUTION)
    except PackageNotFoundError:
        return "unknown"


def add_version(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Give ``parser`` the ``--version`` option (prints ``PROG VERSION`` and exits 0).

    Run as a console script (``deft-compare``, ...), the program is named so in
    its usage and messages, rather than ``python -m ...``.
    """
    script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if script.startswith("deft-"):
        parser.prog = script
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    return parser


def positive_seconds(text: str) -> float:
    """argparse type: a positive, finite number of seconds.

    >>> positive_seconds("2.5")
    2.5
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return value


def name_list(text: str) -> list[str]:
    """argparse type: a comma-separated list of names (blanks dropped), at least one.

    >>> name_list("crunch, milp,")
    ['crunch', 'milp']
    """
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise argparse.ArgumentTypeError("empty list")
    return names
