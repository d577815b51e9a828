"""Run a :class:`Converter` over a video, an image or a folder, labelling every output.

Which files of a folder are converted, how outputs are named and what happens to a damaged
file is :mod:`masque.compose.files`'s rule, shared with ``masque swap``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from masque.compose.files import run_path
from masque.convert.coverage import Uncovered
from masque.convert.pipeline import Converter
from masque.cpu import torch_threads
from masque.media import is_video_path, read_image, write_image
from masque.media.pipeline import Progress, process_video
from masque.provenance import LabelConfig, Labeler


@dataclass
class ConvertSummary:
    """What :func:`convert_path` did.

    Attributes:
        frames: frames (or images) written.
        faces: faces swapped.
        seconds: wall time.
        outputs: files written.
        skipped: ``(input, reason)`` of the files of a folder that could not be decoded.
        uncovered: per output file, the frames whose faces show a pose or expression the
            target person's face set has (almost) none of (:mod:`masque.convert.coverage`).
        coverage_note: why no frame could be checked (the face set is gone), else ``None``.
    """

    frames: int = 0
    faces: int = 0
    seconds: float = 0.0
    outputs: tuple[Path, ...] = ()
    skipped: tuple[tuple[Path, str], ...] = ()
    uncovered: dict[str, tuple[Uncovered, ...]] = field(default_factory=dict)
    coverage_note: str | None = None

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0


def convert_path(converter: Converter, input_path: str | os.PathLike[str], output: str | os.PathLike[str],
                 labels: LabelConfig | None = None, progress: Progress | None = None) -> ConvertSummary:
    """Convert a video, an image, or every image and video of a folder into ``output`` (same kind).

    Args:
        converter: the model and its options.
        input_path: a video, an image, or a folder (:mod:`masque.compose.files` says which files).
        output: a file of the input's kind, or a folder for a folder.
        labels: how outputs are labelled (default: watermark and C2PA manifest, "composite").
        progress: frames of a video, or files of a folder.

    Raises:
        InputNotFoundError / InvalidMediaError: a missing or unreadable input, or an output of the wrong kind.
    """
    labeler = Labeler(labels or LabelConfig(kind="composite"))
    start = time.perf_counter()

    def job(src: Path, dst: Path, file_progress: Progress | None) -> int:
        converter.reset(str(dst))  # faces tracked in one file are not in the next
        if is_video_path(src):
            return process_video(src, dst, converter.finish, labeler, crf=converter.config.crf,
                                 batch=converter.config.batch, progress=file_progress, stages=converter.stages)
        write_image(dst, labeler.mark(converter.convert_frames([read_image(src)])[0]))
        labeler.finalize(dst)
        return 1

    with torch_threads(1, converter.device):  # the model beside decode/track/paste/encode threads
        run = run_path(input_path, output, job, progress)
    return ConvertSummary(frames=sum(run.results), faces=converter.faces_swapped,
                          seconds=time.perf_counter() - start, outputs=run.outputs, skipped=run.skipped,
                          uncovered=converter.watch.report(), coverage_note=converter.watch.note)
