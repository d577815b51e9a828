"""Atomic file writes: a temporary file in the target's folder, renamed into place when complete.

Every file masque writes (images, videos, labelled outputs, models, cached assets) goes through
:func:`atomic_path` or :func:`atomic_write_bytes`, so a crash, a full disk or Ctrl-C never leaves
a half-written file at the target path, and an existing file keeps its old content until the new
one is complete.

The temporary file is created with mode ``0o666`` and the process umask applied by the kernel
(``0o644`` under the usual umask ``022``), the mode ``open()`` would give. ``tempfile.mkstemp``
creates ``0o600`` files instead, and a rename keeps that mode: outputs then could not be read by
anyone else (the bug this module fixes).

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> with atomic_path(folder / "a.txt") as tmp:
...     _ = tmp.write_text("done")
>>> (folder / "a.txt").read_text()
'done'
"""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from masque.errors import OutOfSpaceError, OutputPathError

__all__ = ["AtomicFile", "atomic_path", "atomic_write_bytes"]

_ATTEMPTS = 100


class AtomicFile:
    """A temporary file that becomes ``path`` on :meth:`commit`, or disappears on :meth:`discard`.

    For writers whose lifetime is not one ``with`` block (:class:`masque.media.VideoWriter`);
    everything else uses :func:`atomic_path`. The temporary file exists (empty) once this is
    constructed, named ``.{name}.{random}{suffix}`` in ``path``'s folder (created if needed).

    Args:
        path: the final file.
        suffix: end of the temporary name; keep the real extension when the writer picks its
            format from it (FFmpeg does).
    """

    def __init__(self, path: str | os.PathLike[str], suffix: str = ".part") -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = _create(self.path, suffix)

    def commit(self) -> Path:
        """Rename the temporary file onto ``path`` (replacing it). Returns ``path``."""
        os.replace(self.tmp, self.path)
        return self.path

    def discard(self) -> None:
        """Delete the temporary file; ``path`` is left as it was."""
        self.tmp.unlink(missing_ok=True)


def _create(path: Path, suffix: str) -> Path:
    """Create an empty, new file beside ``path`` with mode ``0o666 & ~umask``."""
    for _ in range(_ATTEMPTS):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}{suffix}")
        try:
            # O_EXCL: never reuse another writer's file; the kernel applies the umask to 0o666
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        except OSError as exc:
            _raise_if_full(exc, path)
            raise
        os.close(fd)
        return tmp
    raise OutputPathError(f"cannot create a temporary file beside {path}: {_ATTEMPTS} random names were all taken; "
                          f"clear the .{path.name}.* files out of {path.parent}")


def _raise_if_full(exc: OSError, path: Path) -> None:
    if exc.errno == errno.ENOSPC and not isinstance(exc, OutOfSpaceError):
        raise OutOfSpaceError(f"disk full while writing {path}; free space and run again "
                              "(the previous file, if any, is unchanged)") from exc


@contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str = ".part") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on a clean exit it is renamed onto ``path``.

    Write the file at the yielded path (open it, or hand it to a library). When the block raises,
    the temporary file is removed and ``path`` keeps its previous content.

    Args:
        path: the final file; its folder is created if needed.
        suffix: end of the temporary name (give the real extension to writers that need it).

    Raises:
        OutOfSpaceError: the disk filled up while writing (an ``OSError`` with ``ENOSPC``).
    """
    target = AtomicFile(path, suffix)
    try:
        yield target.tmp
        target.commit()
    except OSError as exc:
        target.discard()
        _raise_if_full(exc, target.path)
        raise
    except BaseException:
        target.discard()
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically.

    Raises:
        OutOfSpaceError: the disk is full; ``path`` keeps its previous content.
    """
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(data)
