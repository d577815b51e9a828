"""Training pictures from a folder of images or a face set (its aligned faces)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from masque.errors import InputNotFoundError, InvalidMediaError
from masque.faceset.store import DB_NAME, FaceSet
from masque.media import is_image_path, read_image


def picture_paths(source: str | os.PathLike[str]) -> list[Path]:
    """The image files of a folder (sorted, not recursive), or the aligned faces of a face set.

    Raises:
        InputNotFoundError: ``source`` is missing or not a folder.
        InvalidMediaError: it holds no image.
    """
    root = Path(source)
    if not root.is_dir():
        raise InputNotFoundError(f"{root} is not a folder; give a folder of images or a face set")
    if (root / DB_NAME).is_file():
        with FaceSet(root) as fs:
            paths = [fs.image_path(r) for r in fs.faces()]
    else:
        paths = sorted(p for p in root.iterdir() if p.is_file() and not p.name.startswith(".") and is_image_path(p))
    if not paths:
        raise InvalidMediaError(f"{root} holds no images (nor aligned faces); give a folder of .jpg/.png pictures "
                                "or a face set made by masque extract")
    return paths


def load_pictures(source: str | os.PathLike[str], limit: int = 2000) -> list[np.ndarray]:
    """RGB ``uint8`` pictures of :func:`picture_paths` (at most ``limit``, evenly spread), unreadable ones skipped."""
    paths = picture_paths(source)
    if len(paths) > limit:
        paths = [paths[i] for i in np.linspace(0, len(paths) - 1, limit).round().astype(int)]
    out = []
    for p in paths:
        try:
            out.append(read_image(p))
        except InvalidMediaError:
            continue
    if not out:
        raise InvalidMediaError(f"none of the {len(paths)} pictures in {source} could be read")
    return out


def faceset_alignment(source: str | os.PathLike[str]) -> tuple[int, str] | None:
    """``(size, centering)`` of a face set's aligned faces; None for a plain folder."""
    root = Path(source)
    if not (root / DB_NAME).is_file():
        return None
    with FaceSet(root) as fs:
        return fs.size, fs.centering
