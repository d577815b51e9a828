"""``verify_file``: does a file say it is synthetic? Its manifest and its watermark, reported."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import av.error
import numpy as np

from masque.errors import InputNotFoundError, InvalidMediaError
from masque.media.image import read_image
from masque.media.video import is_video_path
from masque.provenance.manifest import ManifestReport, read_manifest
from masque.provenance.watermark import Detection, WatermarkCodec

#: frames of a video that are checked, spread evenly over its length
VIDEO_SAMPLES = 8


@dataclass(frozen=True)
class WatermarkReport:
    """The watermark of a file: whether its payload was read, and what it says.

    For a video, ``frames_found`` of ``frames_checked`` sampled frames carried it on their own;
    ``found`` also counts a read from their average.
    """

    found: bool
    confidence: float
    version: str | None = None
    run_id: str | None = None
    frames_checked: int = 1
    frames_found: int = 0


@dataclass(frozen=True)
class VerifyReport:
    """Everything :func:`verify_file` learnt about one file."""

    path: Path
    media: str
    manifest: ManifestReport
    watermark: WatermarkReport

    @property
    def labelled(self) -> bool:
        """True when the file says it is synthetic: an intact manifest or a readable watermark."""
        return self.manifest.status in ("valid", "present") or self.watermark.found

    @property
    def run_ids_agree(self) -> bool | None:
        """Whether manifest and watermark name the same run; ``None`` unless both name one."""
        if self.manifest.run_id is None or self.watermark.run_id is None:
            return None
        return self.manifest.run_id == self.watermark.run_id

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the report."""
        return {"path": str(self.path), "media": self.media, "labelled": self.labelled,
                "run_ids_agree": self.run_ids_agree, "manifest": dataclasses.asdict(self.manifest),
                "watermark": dataclasses.asdict(self.watermark)}


def verify_file(path: str | os.PathLike[str], codec: WatermarkCodec | None = None) -> VerifyReport:
    """Read the C2PA manifest and look for the watermark of an image or video.

    Raises:
        InputNotFoundError: ``path`` does not exist.
        InvalidMediaError: ``path`` is neither a decodable image nor a video.
    """
    p = Path(path)
    if not p.is_file():
        raise InputNotFoundError(f"file not found: {p}")
    codec = codec or WatermarkCodec()
    frames, media = _load_frames(p)
    return VerifyReport(p, media, read_manifest(p), _watermark(codec, frames))


def _load_frames(path: Path) -> tuple[list[np.ndarray], str]:
    """A few RGB frames of ``path`` and whether it is an image or a video; decides by content."""
    if not is_video_path(path):
        try:
            return [read_image(path)], "image"
        except InvalidMediaError:
            pass
    try:
        return sample_video(path, VIDEO_SAMPLES), "video"
    except InvalidMediaError:
        raise InvalidMediaError(f"{path} is neither an image nor a video masque can read") from None


def sample_video(path: Path, count: int) -> list[np.ndarray]:
    """Up to ``count`` RGB frames spread evenly over a video (seeking, so long videos stay cheap)."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InvalidMediaError(f"{path} has no video stream")
            stream = container.streams.video[0]
            frames = [f for i in range(count) if (f := _frame_at(container, stream, i / count)) is not None]
    except av.error.FFmpegError as exc:
        raise InvalidMediaError(f"cannot decode {path}: {exc}") from exc
    if not frames:
        raise InvalidMediaError(f"{path}: no frame could be decoded")
    return frames


def _frame_at(container: av.container.InputContainer, stream: av.video.stream.VideoStream,
              fraction: float) -> np.ndarray | None:
    """The first frame at or after ``fraction`` of the stream's duration.

    Seeks to the keyframe before it, then decodes forward.
    """
    start = stream.start_time or 0
    target = start + int((stream.duration or 0) * fraction)
    container.seek(target, stream=stream, backward=True, any_frame=False)
    last = None
    for frame in container.decode(stream):
        last = frame
        if frame.pts is None or frame.pts >= target:
            break
    return None if last is None else last.to_ndarray(format="rgb24")


def _watermark(codec: WatermarkCodec, frames: list[np.ndarray]) -> WatermarkReport:
    residuals = [codec.residual(f) for f in frames]
    each = [codec.detect(r) for r in residuals]
    if len(residuals) > 1 and all(r.shape == residuals[0].shape for r in residuals):
        # The mark is the same in every frame and the picture is not, so the average is cleaner.
        each_and_mean = [*each, codec.detect(np.mean(residuals, axis=0))]
    else:
        each_and_mean = each
    best = max(each_and_mean, key=lambda d: (d.found, d.confidence))
    return _report(best, len(frames), sum(d.found for d in each))


def _report(d: Detection, checked: int, found: int) -> WatermarkReport:
    if d.payload is None:
        return WatermarkReport(False, round(d.confidence, 3), frames_checked=checked, frames_found=found)
    return WatermarkReport(True, round(d.confidence, 3), d.payload.version_str, d.payload.run_id_hex, checked, found)

