"""Checks of the paths a command is given, made before anything heavy is loaded or written.

A missing input or an output that cannot be written is refused in a few microseconds, with the
path and what to do, instead of after a model has loaded or half a video has been encoded. The
library checks again where it opens the files; these checks only move the common mistakes to
the start. Light: imported by ``masque --help``.
"""

from __future__ import annotations

import os
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


def writable_output(path: str | os.PathLike[str], folder: bool = False) -> Path:
    """``path`` as a :class:`Path` that can be created or replaced; :class:`OutputPathError` otherwise.

    Args:
        path: the output the user named.
        folder: the output is a folder (a face set, a model folder, a folder of images); else a file.

    Raises:
        OutputPathError: a file is where a folder should be or the reverse, the parent folder is
            missing or is a file, or it cannot be written.
    """
    p = Path(path)
    if p.exists() and p.is_dir() != folder:
        have, want = ("a folder", "a file") if p.is_dir() else ("a file", "a folder")
        raise OutputPathError(f"output {p} is {have}; give the path of {want}")
    parent = _existing_parent(p) if folder else p.parent
    if not parent.is_dir():
        raise OutputPathError(f"cannot write {p}: its folder {parent} does not exist or is a file; create it first")
    target = p if p.exists() else parent
    if not os.access(target, os.W_OK | (os.X_OK if target.is_dir() else 0)):
        raise OutputPathError(f"cannot write {p}: permission denied on {target}; choose a folder you can write to")
    return p


def _existing_parent(path: Path) -> Path:
    """The nearest folder above ``path`` that exists (a folder output is created with its parents)."""
    for parent in path.absolute().parents:
        if parent.exists():
            return parent
    return Path("/")
