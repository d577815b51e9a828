"""The UI's working folder, its jobs, and the bridges from the library's callbacks to Gradio.

Everything the UI reads from the browser or writes for it lives under one folder
(:class:`WorkFolder`): Gradio's uploads, the face sets and models the Train page makes, and each
job's outputs. Only that folder is served.
"""

from __future__ import annotations

import re
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from masque.errors import InputNotFoundError, InvalidMediaError

ProgressCallback = Callable[[int, int | None], None]
#: names of face sets and models the user types: letters, digits, ``-``, ``_`` and ``.`` (no path)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class WorkFolder:
    """The UI's folder: ``uploads/`` (Gradio's), ``facesets/``, ``models/`` and ``jobs/<n>-<kind>/``."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        for sub in ("uploads", "facesets", "models", "jobs"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    @property
    def uploads(self) -> Path:
        return self.root / "uploads"

    def job(self, kind: str) -> Path:
        """A new, empty folder for one job's outputs: ``jobs/<time>-<n>-<kind>``."""
        with self._lock:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            n = 0
            while (path := self.root / "jobs" / f"{stamp}-{n}-{kind}").exists():
                n += 1
            path.mkdir(parents=True)
        return path

    def named(self, kind: str, name: str) -> Path:
        """``facesets/<name>`` or ``models/<name>``; the name is checked (no ``/``, no ``..``)."""
        if not _NAME.fullmatch(name or ""):
            raise InvalidMediaError(f"{kind[:-1]} name {name!r} is not valid: use letters, digits, '-', '_' and '.', "
                                    "up to 64 characters, no '/'")
        return self.root / kind / name

    def listing(self, kind: str) -> list[str]:
        """Names of the face sets (``kind="facesets"``) or models (``"models"``) in the folder, sorted."""
        return sorted(p.name for p in (self.root / kind).iterdir() if p.is_dir())

    def archive(self, folder: Path, into: Path, skip: tuple[str, ...] = ()) -> Path:
        """``into/<folder name>.zip`` holding ``folder`` (a model, a report) but the files named in ``skip``.

        Stored, not compressed: weights and PNGs do not shrink, and a model is hundreds of MB.
        """
        out = into / f"{folder.name}.zip"
        with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
            for path in sorted(folder.rglob("*")):
                if path.is_file() and path.name not in skip:
                    z.write(path, Path(folder.name) / path.relative_to(folder))
        return out


def upload_path(file: Any, what: str) -> Path:
    """The local path of an uploaded file (a Gradio file value: a path string or an object with ``.name``)."""
    if file is None or file == "":
        raise InputNotFoundError(f"no {what} given; upload one first")
    path = Path(getattr(file, "name", file))
    if not path.is_file():
        raise InputNotFoundError(f"{what} not found: {path.name}; upload it again")
    return path


def upload_paths(files: Any, what: str) -> list[Path]:
    """The local paths of a multi-file upload (at least one)."""
    items = files if isinstance(files, list | tuple) else ([] if files is None else [files])
    if not items:
        raise InputNotFoundError(f"no {what} given; upload at least one file")
    return [upload_path(f, what) for f in items]


def gradio_progress(progress: Any, desc: str, unit: str = "frame") -> ProgressCallback:
    """A library ``callback(done, total)`` that moves a ``gr.Progress`` bar."""

    def update(done: int, total: int | None) -> None:
        progress((done, total) if total else None, desc=desc, unit=unit)

    return update


class StopFlags:
    """One stop request per browser session (the Stop button of a running training).

    Kept by the app, not global: each :func:`masque.ui.app.build_app` has its own.
    """

    def __init__(self) -> None:
        self._events: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def arm(self, session: str) -> threading.Event:
        """A fresh, cleared flag for ``session`` (a new run)."""
        with self._lock:
            event = self._events[session] = threading.Event()
        return event

    def stop(self, session: str) -> bool:
        """Ask ``session``'s run to stop; False when none is running."""
        with self._lock:
            event = self._events.get(session)
        if event is None:
            return False
        event.set()
        return True
