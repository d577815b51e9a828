"""The one error family of masque.

Every error raised on purpose by the library is a :class:`MasqueError`; each subclass also
inherits the matching built-in error (as PyAV does), so ``except ValueError`` still works.
Messages say what happened, what was received and what to do. Only ``masque.cli`` turns them
into one-line messages and exit codes.
"""

from __future__ import annotations


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
    """A face set folder is missing, damaged, or of an unknown schema."""


class ModelError(MasqueError, ValueError):
    """A model directory or weights file is missing, of the wrong type or size, or unsafe."""


class RegistryError(MasqueError, KeyError):
    """A plugin name is unknown or registered twice."""

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
