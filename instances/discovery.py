"""Finding instance files: every ``*.json`` under the given paths, and every unusable path.

A folder is searched recursively.  What cannot be used is never skipped
silently: it is reported with a one-line :class:`~instances.core.InstanceError`
message naming the path and the reason, so that a harness can list it beside
the instances that do load:

==============================  ==============================================
found                           reported as
==============================  ==============================================
a folder with no ``*.json``     ``<folder>``: holds no ``*.json`` files
a folder that cannot be listed  ``<folder>``: cannot be read
a symbolic link to itself, or   ``<file>``: symlink loop
a cycle of links, or a link to
a folder that contains it
a symbolic link to nothing      ``<file>``: dangling symbolic link
a ``*.json`` that is not a      ``<file>``: not a regular file
regular file (a FIFO, ...)
==============================  ==============================================

Broken symbolic links are reported whatever their name, since a link may stand
for an instance file or for a folder of them.  Symbolic links to files and to
folders are followed; a link to a folder that is already being searched
above it (``sub/up -> ..``) would make the search endless, and is reported as
a symlink loop instead.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     root = Path(tmp)
...     _ = (root / "a.json").write_text("{}")
...     (root / "sub").mkdir()
...     (root / "sub" / "loop.json").symlink_to("loop.json")
...     files, unusable = find_instance_files([root])
...     [f.name for f in files], [(Path(p).name, "symlink loop" in m) for p, m in unusable]
(['a.json'], [('loop.json', True)])
"""
from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Iterable

from .core import InstanceError

#: Name pattern of instance files inside folders.
SUFFIX = ".json"


def find_instance_files(paths: Iterable[str | os.PathLike]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Every ``*.json`` under ``paths`` (recursive), sorted, and (path, message) per unusable path.

    Parameters
    ----------
    paths : iterable of str or path-like
        Files and folders.  A path that is not a folder is taken as a file,
        whatever its name (a missing or unreadable file is then reported by
        :func:`instances.load_instance`).

    Returns
    -------
    files : list of Path
        The files, without duplicates, sorted by their text.
    unusable : list of (str, str)
        The path and its one-line message, for each folder holding no
        ``*.json`` file and each unusable entry found inside a folder (see the
        module docstring), in the order of ``paths`` and, under one folder,
        sorted by their text.

    Notes
    -----
    Each folder is listed once per path that reaches it with
    :func:`os.scandir`; each symbolic link costs one :func:`os.stat` to
    resolve it.  O(number of entries).
    """
    files: set[Path] = set()
    unusable: list[tuple[str, str]] = []
    for path in map(Path, paths):
        if path.is_dir():
            found, bad = _search_folder(path)
            if not found and not bad:
                bad = [_unusable(path, "<folder>", f"holds no *{SUFFIX} files")]
            files.update(found)
            unusable.extend(bad)
        else:
            files.add(path)
    return sorted(files, key=str), unusable


def _unusable(path: Path, field: str, problem: str) -> tuple[str, str]:
    return str(path), str(InstanceError(str(path), field, problem))


def _search_folder(root: Path) -> tuple[list[Path], list[tuple[str, str]]]:
    """(``*.json`` files, unusable entries sorted by path) under the folder ``root``."""
    found: list[Path] = []
    bad: list[tuple[str, str]] = []
    stack = [(root, frozenset({_identity(root)}))]     # (folder, the folders above it, itself included)
    while stack:
        folder, above = stack.pop()
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as exc:
            bad.append(_unusable(folder, "<folder>", f"cannot be read: {exc.strerror}"))
            continue
        subfolders = []
        for entry in entries:
            path = folder / entry.name
            if entry.is_symlink():
                problem, mode = _resolve_link(path)
                if problem:
                    bad.append(_unusable(path, "<file>", problem))
                    continue
                if stat.S_ISDIR(mode):
                    if _identity(path) in above:
                        bad.append(_unusable(path, "<file>", f"symlink loop: the symbolic link to "
                                                           f"{os.readlink(path)!r} leads back to a folder "
                                                           f"that contains it"))
                    else:
                        subfolders.append((path, above | {_identity(path)}))
                    continue
            elif entry.is_dir(follow_symlinks=False):
                subfolders.append((path, above | {_identity(path)}))
                continue
            else:
                try:
                    mode = entry.stat(follow_symlinks=False).st_mode
                except OSError as exc:
                    bad.append(_unusable(path, "<file>", f"cannot be read: {exc.strerror}"))
                    continue
            if entry.name.endswith(SUFFIX):
                if stat.S_ISREG(mode):
                    found.append(path)
                else:
                    bad.append(_unusable(path, "<file>", "is not a regular file"))
        stack.extend(reversed(subfolders))
    return found, sorted(bad)


def _identity(folder: Path) -> tuple[int, int]:
    """(device, inode) of a folder, following links: the same folder under any name."""
    info = os.stat(folder)
    return info.st_dev, info.st_ino


def _resolve_link(path: Path) -> tuple[str, int]:
    """("", mode of the target) for a usable symbolic link, else (the problem, 0)."""
    try:
        return "", os.stat(path).st_mode
    except OSError as exc:
        try:
            target = repr(os.readlink(path))
        except OSError:
            target = "an unreadable target"
        if exc.errno == errno.ELOOP:
            return f"symlink loop: the symbolic link to {target} cannot be resolved (too many levels of symbolic links)", 0
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return f"dangling symbolic link: its target {target} does not exist", 0
        return f"symbolic link to {target} cannot be resolved: {exc.strerror}", 0
