"""The one error family of masque.

Every error raised on purpose by the library is a :class:`MasqueError`; each subclass also
inherits the matching built-in error (as PyAV does), so ``except ValueError`` still works.
Messages say what happened, what was received and what to do. Only ``masque.cli`` turns them
into one-line messages and exit codes.
"""

from __future__ import annotations

import errno


class MasqueError(Exception):
    """Root of every error masque raises on purpose."""

    #: exit code the CLI uses for this kind of error
    exit_code: int = 1


class InputNotFoundError(MasqueError, FileNotFoundError):
    """A path given by the user does not exist."""

    exit_code = 2


class InvalidMediaError(MasqueError, ValueError):
    """A file exists but cannot be decoded as the image or video it should be."""

    exit_code = 2


class NoFaceFoundError(MasqueError, ValueError):
    """An image that must contain a face contains none."""


class AssetError(MasqueError, RuntimeError):
    """A pinned model or fixture package could not be fetched or verified."""


class FaceSetError(MasqueError, ValueError):
    """A face set folder is missing, damaged, or of an unknown schema, or refuses what was asked
    of it (a prune of most of the set without ``--yes``, a restore with nothing to restore)."""

    exit_code = 2  # input that cannot be read, or options it cannot honour


class ModelError(MasqueError, ValueError):
    """A model directory or weights file is missing, of the wrong type or size, or unsafe."""

    exit_code = 2  # input that cannot be read


class RegistryError(MasqueError, KeyError):
    """A plugin name is unknown or registered twice."""

    exit_code = 2  # an unknown name is a bad option value

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class ProvenanceError(MasqueError, RuntimeError):
    """A provenance label (manifest or watermark) could not be written or read."""


class OutOfSpaceError(MasqueError, OSError):
    """The disk filled up while writing; what was written before is kept."""


class MissingDependencyError(MasqueError, ImportError):
    """An optional component was asked for but its package is not installed (or is the wrong version)."""


class UnsupportedOptionError(MasqueError, ValueError):
    """An option was given a value that the chosen component cannot honour."""

    exit_code = 2


class WorkerDiedError(MasqueError, RuntimeError):
    """A worker process died mid-run (killed, out of memory, a native crash, or it could not start)."""


class ConfigError(MasqueError, ValueError):
    """An option or config value is out of its range or of the wrong kind (``--batch 0``, ``smooth=1``)."""

    exit_code = 2


class ShapeError(MasqueError, ValueError):
    """An array given to the Python API has the wrong shape or dtype (a caller's mistake, not a file's)."""


class UsageError(MasqueError, ValueError):
    """The command line could not be parsed: an unknown option, a missing argument, ``--batch x``."""

    exit_code = 2


class OutputPathError(MasqueError, OSError):
    """An output path cannot be written: its folder is missing or read-only, or it is of the wrong kind."""

    exit_code = 2


_WRITE_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.EISDIR, errno.ENOTDIR, errno.EEXIST,
                 errno.ENAMETOOLONG}
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def from_os_error(exc: OSError) -> MasqueError:
    """The :class:`MasqueError` for an ``OSError`` that reached the top untranslated.

    A full disk is an :class:`OutOfSpaceError`, a missing path an :class:`InputNotFoundError`, a
    path that cannot be written (permission, read-only disk, a folder where a file should be) an
    :class:`OutputPathError`; anything else a plain :class:`MasqueError`. ``exc`` is returned
    as is when it already is a :class:`MasqueError`.
    """
    if isinstance(exc, MasqueError):
        return exc
    where = f" ({exc.filename})" if exc.filename else ""
    what = exc.strerror or str(exc) or type(exc).__name__
    if exc.errno in _FULL_ERRNOS:
        return OutOfSpaceError(f"the disk is full{where}: {what}; free some space and run the command again")
    if exc.errno == errno.ENOENT:
        return InputNotFoundError(f"no such file or folder{where}; check the path")
    if exc.errno in _WRITE_ERRNOS:
        return OutputPathError(f"cannot write{where}: {what}; choose a path in a folder you can write to")
    return MasqueError(f"{type(exc).__name__}{where}: {what}")
