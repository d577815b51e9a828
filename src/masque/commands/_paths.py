"""Checks of the paths a command is given, made before anything heavy is loaded or written.

A missing input or an output that cannot be written is refused in a few microseconds, with the
path and what to do, instead of after a model has loaded or half a video has been encoded. The
library checks again where it opens the files; these checks only move the common mistakes to
the start. Light: imported by ``masque --help``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from masque.errors import InputNotFoundError, InvalidMediaError, OutputPathError


def require_input(path: str | os.PathLike[str], what: str = "input") -> Path:
    """``path`` as a :class:`Path`; :class:`InputNotFoundError` when nothing is there."""
    p = Path(path)
    if not p.exists():
        raise InputNotFoundError(f"{what} not found: {p}; check the path")
    return p


def require_file(path: str | os.PathLike[str], what: str = "input") -> Path:
    """``path``, which must be a file that is not empty."""
    p = require_input(path, what)
    if p.is_dir():
        raise InputNotFoundError(f"{what} {p} is a folder; give a file")
    if p.stat().st_size == 0:
        raise InvalidMediaError(f"{what} {p} is empty (0 bytes); give a complete file")
    return p


def require_folder(path: str | os.PathLike[str], what: str) -> Path:
    """``path``, which must be a folder (a model folder, a face set)."""
    p = require_input(path, what)
    if not p.is_dir():
        raise InputNotFoundError(f"{what} {p} is a file, not a folder; give the folder itself")
    return p


def writable_output(path: str | os.PathLike[str], folder: bool = False) -> Path:
    """``path`` as a :class:`Path` that can be created or replaced; :class:`OutputPathError` otherwise.

    Missing folders above ``path`` are fine: the library creates them.

    Args:
        path: the output the user named.
        folder: the output is a folder (a face set, a model folder, a folder of images); else a file.

    Raises:
        OutputPathError: a file is where a folder should be or the reverse (the output itself or
            a folder above it), or the nearest existing folder cannot be written.
    """
    p = Path(path)
    if p.exists() and p.is_dir() != folder:
        have, want = ("a folder", "a file") if p.is_dir() else ("a file", "a folder")
        raise OutputPathError(f"output {p} is {have}; give the path of {want}")
    top = _first_missing(p)
    parent = top.parent if top is not None else p.parent
    if not parent.is_dir():
        raise OutputPathError(f"cannot write {p}: {parent} is a file, not a folder; choose another path")
    target = p if top is None else parent
    if not os.access(target, os.W_OK | (os.X_OK if target.is_dir() else 0)):
        raise OutputPathError(f"cannot write {p}: permission denied on {target}; choose a folder you can write to")
    return p


def _first_missing(path: Path) -> Path | None:
    """The topmost of ``path`` and its parents that does not exist (None when ``path`` exists).

    A path under a file stops at the file's child: that is where creating it fails.
    """
    missing = None
    for candidate in (path, *path.absolute().parents):
        if candidate.exists() or candidate.is_symlink():
            return missing
        missing = candidate
    return missing


def nothing_read(folder: str | os.PathLike[str]) -> InvalidMediaError:
    """The error for a folder whose every file was skipped as unreadable (each one was warned about)."""
    return InvalidMediaError(f"nothing could be read in {folder}: every file was skipped as damaged or not an "
                             "image (see the warnings above); give a folder of readable images or videos")


@contextmanager
def removed_on_failure(path: str | os.PathLike[str], keep: Callable[[Path], bool] | None = None) -> Iterator[Path]:
    """Remove what the block created for ``path`` (it and any missing folders above) if it raises an error.

    A failed run leaves nothing half-made behind. Ctrl-C is not a failure: what an interrupted
    run has saved is kept, for the same command to resume from.

    Args:
        path: the output file or folder.
        keep: when given and true of ``path`` after the failure, nothing is removed (a face set
            that already holds faces is worth resuming).
    """
    p = Path(path)
    top = _first_missing(p)
    try:
        yield p
    except Exception:
        if top is not None and (keep is None or not (p.exists() and keep(p))):
            if top.is_dir() and not top.is_symlink():
                shutil.rmtree(top, ignore_errors=True)
            else:
                top.unlink(missing_ok=True)
        raise
