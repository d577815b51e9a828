"""Video in and out through PyAV: RGB ``uint8`` frames, H.264 out, the input's audio carried over.

The writer writes to a temporary file beside the target and renames it when closed, so a crash
or Ctrl-C never leaves a truncated video under the target name.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import av.error
import numpy as np

from masque.atomic import AtomicFile
from masque.errors import InputNotFoundError, InvalidMediaError, OutOfSpaceError

VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v"})


def is_video_path(path: str | os.PathLike[str]) -> bool:
    """True when the file name has a video extension masque reads."""
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds. ``frames`` is the container's count (0 when it does not say)."""

    path: Path
    width: int
    height: int
    fps: Fraction
    frames: int
    has_audio: bool


def _open(path: Path) -> av.container.InputContainer:
    if not path.is_file():
        raise InputNotFoundError(f"video not found: {path}")
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as exc:
        raise InvalidMediaError(f"cannot open video {path}: {exc}; the file is damaged or not a video") from exc
    if not container.streams.video:
        container.close()
        raise InvalidMediaError(f"{path} has no video stream")
    return container


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Read a video's size, frame rate, frame count and whether it has audio, without decoding."""
    p = Path(path)
    with _open(p) as container:
        stream = container.streams.video[0]
        fps = stream.average_rate or stream.guessed_rate or Fraction(25)
        return VideoInfo(p, stream.codec_context.width, stream.codec_context.height, Fraction(fps),
                         int(stream.frames or 0), bool(container.streams.audio))


class VideoReader:
    """Iterate a video's frames as RGB ``(H, W, 3)`` ``uint8`` arrays.

    Raises:
        InputNotFoundError: the path does not exist.
        InvalidMediaError: the file is not a decodable video (raised on open, or mid-stream when
            the rest of a file is damaged after some good frames).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.info = probe_video(path)

    def __iter__(self) -> Iterator[np.ndarray]:
        with _open(self.info.path) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"  # FFmpeg's frame threads decode ahead of us
            try:
                for frame in container.decode(stream):
                    yield frame.to_ndarray(format="rgb24")
            except av.error.FFmpegError as exc:
                raise InvalidMediaError(f"{self.info.path}: decoding failed mid-stream: {exc}") from exc

    def __len__(self) -> int:
        return self.info.frames


class VideoWriter:
    """Write RGB frames to an H.264 file, then copy the audio of ``audio_from`` unchanged.

    Args:
        path: output file (``.mp4``, ``.mov``, ``.mkv``).
        fps: frame rate, e.g. ``VideoInfo.fps``.
        crf: x264 quality, 0 (lossless) to 51; 18 looks transparent.
        audio_from: a video whose audio streams are copied packet for packet.
    """

    def __init__(self, path: str | os.PathLike[str], fps: Fraction | float, *, crf: int = 18,
                 audio_from: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path)
        self.fps = Fraction(fps).limit_denominator(100000)
        self.crf = crf
        self.audio_from = Path(audio_from) if audio_from else None
        # FFmpeg picks the container from the extension, so the temporary name keeps it
        self._target = AtomicFile(self.path, suffix=".part" + self.path.suffix)
        self._tmp = self._target.tmp
        self._container = av.open(str(self._tmp), "w")
        self._stream: av.video.stream.VideoStream | None = None
        self._audio: dict[int, av.stream.Stream] = {}
        self._count = 0

    def _start(self, width: int, height: int) -> av.video.stream.VideoStream:
        stream = self._container.add_stream("libx264", rate=self.fps)
        stream.width, stream.height = width - width % 2, height - height % 2  # yuv420p needs even sizes
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(self.crf), "preset": "veryfast"}
        stream.thread_type = "AUTO"
        self._audio = self._add_audio_streams()
        return stream

    def _add_audio_streams(self) -> dict[int, av.stream.Stream]:
        """Output streams for the input's audio; FFmpeg needs every stream before the first packet."""
        if self.audio_from is None:
            return {}
        try:
            with av.open(str(self.audio_from)) as src:
                return {s.index: self._container.add_stream_from_template(s) for s in src.streams.audio}
        except av.error.FFmpegError as exc:
            raise InvalidMediaError(f"cannot read the audio of {self.audio_from}: {exc}") from exc

    def write(self, frame: np.ndarray) -> None:
        """Append one RGB ``(H, W, 3)`` ``uint8`` frame; every frame must have the first's size."""
        if self._stream is None:
            self._stream = self._start(frame.shape[1], frame.shape[0])
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame[: self._stream.height, : self._stream.width]),
                                        format="rgb24")
        vf.pts = self._count
        vf.time_base = 1 / self.fps
        self._count += 1
        self._mux(self._stream.encode(vf))

    def _mux(self, packets: list[av.Packet]) -> None:
        try:
            self._container.mux(packets)
        except OSError as exc:
            if exc.errno == 28:
                raise OutOfSpaceError(f"disk full while writing {self.path}") from exc
            raise

    def _copy_audio(self) -> None:
        if self.audio_from is None or not self._audio:
            return
        with av.open(str(self.audio_from)) as src:
            for packet in src.demux(*src.streams.audio):
                if packet.dts is None:  # demuxer's flush packet
                    continue
                packet.stream = self._audio[packet.stream.index]
                self._container.mux(packet)

    def close(self) -> Path:
        """Flush, copy audio, and move the finished file into place. Returns the output path."""
        if self._stream is not None:
            self._mux(self._stream.encode(None))
        self._copy_audio_safely()
        self._container.close()
        if self._count == 0:
            self._target.discard()
            raise InvalidMediaError(f"no frame was written to {self.path}; nothing to save")
        return self._target.commit()

    def _copy_audio_safely(self) -> None:
        try:
            self._copy_audio()
        except av.error.FFmpegError as exc:
            raise InvalidMediaError(f"could not copy audio from {self.audio_from}: {exc}") from exc

    def abort(self) -> None:
        """Drop the partial file; the target path is left as it was."""
        try:
            self._container.close()
        finally:
            self._target.discard()

    @property
    def frames_written(self) -> int:
        return self._count

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
