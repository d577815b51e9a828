"""Run a :class:`Converter` over a video, an image or a folder, labelling every output."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from masque.cpu import torch_threads
from masque.convert.pipeline import ConvertConfig, Converter, check_inputs
from masque.errors import MasqueError
from masque.media import is_image_path, read_image, write_image
from masque.media.pipeline import Progress, process_video
from masque.provenance import LabelConfig, Labeler
from masque.provenance.manifest import labelled_name

log = logging.getLogger(__name__)


@dataclass
class ConvertSummary:
    frames: int = 0
    faces: int = 0
    seconds: float = 0.0
    outputs: tuple[Path, ...] = ()

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0


def convert_path(converter: Converter, input_path: str | os.PathLike[str], output: str | os.PathLike[str],
                 labels: LabelConfig | None = None, progress: Progress | None = None) -> ConvertSummary:
    """Convert a video, an image, or every image of a folder into ``output`` (same kind).

    Raises:
        InputNotFoundError / InvalidMediaError: a missing or unreadable input, or an output of the wrong kind.
    """
    src, dst = Path(input_path), Path(output)
    check_inputs(src, dst)
    labeler = Labeler(labels or LabelConfig(kind="composite"))
    start = time.perf_counter()
    with torch_threads(1, converter.device):  # the model beside decode/track/paste/encode threads
        if src.is_dir():
            summary = _convert_folder(converter, src, dst, labeler, progress)
        elif is_image_path(src):
            summary = ConvertSummary(frames=1, outputs=(_convert_image(converter, src, dst, labeler),))
        else:
            summary = _convert_video(converter, src, dst, converter.config, labeler, progress)
    summary.faces = converter.faces_swapped
    summary.seconds = time.perf_counter() - start
    return summary


def _convert_image(converter: Converter, src: Path, dst: Path, labeler: Labeler) -> Path:
    converter.reset()
    out = converter.convert_frames([read_image(src)])[0]
    write_image(dst, labeler.mark(out))
    labeler.finalize(dst)
    return dst


def _convert_folder(converter: Converter, src: Path, dst: Path, labeler: Labeler,
                    progress: Progress | None) -> ConvertSummary:
    images = sorted(p for p in src.iterdir() if p.is_file() and is_image_path(p))
    outputs = []
    for i, path in enumerate(images):
        try:
            outputs.append(_convert_image(converter, path, dst / labelled_name(path.name, False), labeler))
        except MasqueError as exc:  # one bad file must not cost the others
            log.warning("skipping %s: %s", path, exc)
        if progress:
            progress(i + 1, len(images))
    return ConvertSummary(frames=len(outputs), outputs=tuple(outputs))


def _convert_video(converter: Converter, src: Path, dst: Path, config: ConvertConfig, labeler: Labeler,
                   progress: Progress | None) -> ConvertSummary:
    done = process_video(src, dst, converter.convert_frames, labeler, crf=config.crf, batch=config.batch,
                         progress=progress)
    return ConvertSummary(frames=done, outputs=(dst,))
