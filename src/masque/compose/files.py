"""One driver for "an image, a video, or a folder of them", shared by ``convert`` and ``swap``.

:func:`run_path` checks the paths, works out every output name before any work, and calls a
per-file job (the caller's: swap one image, convert one video, ...) for each input.

The folder rule (:func:`media_files`):

- the images (``.jpg .jpeg .png .bmp .webp .tif .tiff``) and videos (``.mp4 .mov .mkv .avi .webm
  .m4v``) directly in the folder, sorted by name; subfolders are not entered (an output folder
  inside the input folder is then never read back as input);
- hidden files (a name starting with ``.``: masque's own unfinished ``.name.xxxx.part`` files,
  macOS ``._`` companions) and every other file are ignored;
- a folder holding no image and no video is an error, not a run that silently writes nothing.

Outputs (:func:`plan_outputs`): ``OUTPUT/<name>`` with the input's own name where its format can
carry a C2PA manifest (``.png .jpg .jpeg .mp4 .m4v .mov``), else the same stem as ``.png``
(images) or ``.mp4`` (videos), as :func:`masque.provenance.manifest.labelled_name` says. Two
inputs that would get the same output name (``a.bmp`` and ``a.png``), or an output folder that is
the input folder (the originals would be overwritten), are refused before any work.

Errors: in a folder, a file that cannot be decoded (:class:`InvalidMediaError`) is skipped with a
warning and listed in :attr:`PathRun.skipped`; any other error (disk full, signing, the model, a
face that must be there) stops the run, since it would stop every other file too.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from masque.errors import InputNotFoundError, InvalidMediaError
from masque.media import is_image_path, is_video_path
from masque.media.pipeline import Progress
from masque.provenance.manifest import labelled_name

log = logging.getLogger(__name__)

T = TypeVar("T")

#: ``job(input, output, progress) -> result`` for one file; ``progress`` is given for a lone video only
FileJob = Callable[[Path, Path, Progress | None], T]


@dataclass(frozen=True)
class PathRun(Generic[T]):
    """What :func:`run_path` did.

    Attributes:
        results: the job's result for each file done, in input order.
        outputs: the files written, in the same order.
        skipped: ``(input, reason)`` of each file of a folder that could not be decoded.
    """

    results: tuple[T, ...]
    outputs: tuple[Path, ...]
    skipped: tuple[tuple[Path, str], ...] = ()


def is_media_path(path: Path) -> bool:
    """True for an image or video file name masque reads (by extension)."""
    return is_image_path(path) or is_video_path(path)


def media_files(source: str | os.PathLike[str]) -> list[Path]:
    """The images and videos ``source`` stands for: itself, or its folder's media files (see the module rule).

    Raises:
        InputNotFoundError: ``source`` does not exist.
        InvalidMediaError: it is neither an image, a video, nor a folder holding either.
    """
    src = Path(source)
    if not src.exists():
        raise InputNotFoundError(f"input not found: {src}; give an image, a video or a folder of them")
    if src.is_dir():
        files = sorted(p for p in src.iterdir() if p.is_file() and not p.name.startswith(".") and is_media_path(p))
        if not files:
            raise InvalidMediaError(f"the folder {src} holds no image or video masque reads (subfolders are not "
                                    "searched); give a folder of .jpg/.png images or .mp4/.mov/.mkv videos")
        return files
    if is_media_path(src):
        return [src]
    raise InvalidMediaError(f"{src} is not an image, a video or a folder; give a .jpg/.png image, "
                            "an .mp4/.mov/.mkv video, or a folder of them")


def check_paths(source: str | os.PathLike[str], output: str | os.PathLike[str]) -> list[Path]:
    """Check that ``output`` can be what ``source`` makes; return :func:`media_files` of ``source``.

    A folder makes a folder (``output`` must not be a file, nor the input folder itself), a
    video a video, an image an image.

    Raises:
        InputNotFoundError: ``source`` does not exist.
        InvalidMediaError: ``source`` holds nothing masque reads, or ``output`` is of the wrong kind.
    """
    src, dst = Path(source), Path(output)
    files = media_files(src)
    if src.is_dir():
        if (dst.suffix and not dst.is_dir()) or dst.is_file():
            raise InvalidMediaError(f"input {src} is a folder, so OUTPUT must be a folder, got {dst}")
        if dst.exists() and dst.resolve() == src.resolve():
            raise InvalidMediaError(f"OUTPUT {dst} is the input folder; the originals would be overwritten: "
                                    "give another folder")
    elif is_video_path(src) and not is_video_path(dst):
        raise InvalidMediaError(f"input {src} is a video; OUTPUT must be a video (.mp4 .mov .mkv), got {dst}")
    elif is_image_path(src) and not is_image_path(dst):
        raise InvalidMediaError(f"input {src} is an image; OUTPUT must be an image (.png .jpg), got {dst}")
    return files


def plan_outputs(files: list[Path], folder: Path) -> list[tuple[Path, Path]]:
    """``(input, output)`` for each of a folder's ``files``, written into ``folder``.

    Raises:
        InvalidMediaError: two inputs would be written to the same output name.
    """
    plan = [(f, folder / labelled_name(f.name, is_video_path(f))) for f in files]
    seen: dict[Path, Path] = {}
    for src, dst in plan:
        if dst in seen:
            raise InvalidMediaError(f"{seen[dst].name} and {src.name} would both be written to {dst}; "
                                    "rename one of them (outputs keep the input's name, as .png or .mp4 "
                                    "where the format cannot carry a label)")
        seen[dst] = src
    return plan


def run_path(source: str | os.PathLike[str], output: str | os.PathLike[str], job: FileJob[T],
             progress: Progress | None = None) -> PathRun[T]:
    """Run ``job`` on an image, a video, or every image and video of a folder.

    Args:
        source: an image, a video, or a folder (see the module's folder rule).
        output: a file of the same kind, or a folder (created) for a folder.
        job: ``job(input, output, progress)`` processes one file and returns its result.
        progress: for a lone video, passed to ``job`` (frames); for a folder, called with
            ``(files done, files)`` after each file; unused for a lone image.

    Raises:
        InputNotFoundError, InvalidMediaError: from :func:`check_paths` and :func:`plan_outputs`,
            before any work; whatever ``job`` raises, except a folder file's InvalidMediaError.
    """
    src, dst = Path(source), Path(output)
    files = check_paths(src, dst)
    if not src.is_dir():
        return PathRun((job(src, dst, progress),), (dst,))
    plan = plan_outputs(files, dst)
    dst.mkdir(parents=True, exist_ok=True)
    results: list[T] = []
    outputs: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    for i, (file, out) in enumerate(plan):
        try:
            results.append(job(file, out, None))
            outputs.append(out)
        except InvalidMediaError as exc:  # this file is damaged; the others are not
            log.warning("skipping %s: %s", file, exc)
            skipped.append((file, str(exc)))
        if progress is not None:
            progress(i + 1, len(plan))
    return PathRun(tuple(results), tuple(outputs), tuple(skipped))
