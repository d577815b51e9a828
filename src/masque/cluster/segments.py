"""Long videos in pieces: split at keyframes, read one piece, join the processed pieces with the audio.

A segment is a run of whole GOPs: it starts on a keyframe, so a worker seeks straight to it and
decodes only its own frames. :func:`plan_segments` reads packet headers only (no decoding).
Processed segments are H.264 files written by the workers with masque's usual encoder settings;
:func:`join_segments` copies their packets, in order and shifted in time, into one file and adds
the source's audio packet for packet, so nothing is encoded twice and the result has exactly the
source's frame count and order.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from masque.atomic import AtomicFile
from masque.errors import InvalidMediaError


@dataclass(frozen=True)
class Segment:
    """Frames ``[start, end)`` of a video, in presentation order.

    Attributes:
        index: position among the video's segments.
        start, end: frame numbers (``start`` is a keyframe).
        start_pts, end_pts: their presentation timestamps in the stream's time base (``end_pts``
            ``None`` for the last segment).
    """

    index: int
    start: int
    end: int
    start_pts: int
    end_pts: int | None

    @property
    def frames(self) -> int:
        return self.end - self.start


def plan_segments(path: str | os.PathLike[str], min_frames: int) -> list[Segment]:
    """Cut ``path`` at keyframes into segments of at least ``min_frames`` frames (the last may be longer).

    A video shorter than ``2 * min_frames``, or with keyframes too far apart, is one segment.

    Raises:
        InvalidMediaError: the file is not a readable video.
    """
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            packets = [(p.pts, p.is_keyframe) for p in container.demux(stream) if p.pts is not None]
    except (av.error.FFmpegError, IndexError) as exc:
        raise InvalidMediaError(f"cannot read the video {path}: {exc}") from exc
    if not packets:
        raise InvalidMediaError(f"{path} holds no video frames")
    packets.sort()
    pts = [p for p, _ in packets]
    starts = [0]
    for i, (_, key) in enumerate(packets):
        if key and i - starts[-1] >= min_frames and len(packets) - i >= min_frames:
            starts.append(i)
    ends = [*starts[1:], len(packets)]
    return [Segment(k, s, e, pts[s], pts[e] if e < len(pts) else None) for k, (s, e) in enumerate(zip(starts, ends))]


def read_segment(path: str | os.PathLike[str], segment: Segment) -> Iterator[np.ndarray]:
    """The RGB ``(H, W, 3)`` ``uint8`` frames of ``segment``, decoded from its keyframe on.

    Raises:
        InvalidMediaError: the file cannot be decoded, or the segment holds another number of frames
            than planned.
    """
    count = 0
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            container.seek(segment.start_pts, stream=stream, backward=True, any_frame=False)
            for frame in container.decode(stream):
                if frame.pts is None or frame.pts < segment.start_pts:
                    continue
                if segment.end_pts is not None and frame.pts >= segment.end_pts:
                    break
                count += 1
                yield frame.to_ndarray(format="rgb24")
    except av.error.FFmpegError as exc:
        raise InvalidMediaError(f"{path}: decoding segment {segment.index} failed: {exc}") from exc
    if count != segment.frames:
        raise InvalidMediaError(f"{path}: segment {segment.index} decoded {count} frames, expected "
                                f"{segment.frames}; process this video without splitting it")


def join_segments(parts: Sequence[Path], output: Path, fps: Fraction, audio_from: Path | None) -> int:
    """Copy the video packets of ``parts`` (in order) and the audio of ``audio_from`` into ``output``.

    Every part must come from the same encoder settings (masque's :class:`~masque.media.VideoWriter`);
    each is shifted by the duration of the parts before it. ``output`` appears only when complete.

    Returns:
        The number of video frames written.
    """
    target = AtomicFile(output, suffix=".part" + output.suffix)
    frames = 0
    try:
        with av.open(str(target.tmp), "w") as out:
            with av.open(str(parts[0])) as first:
                vout = out.add_stream_from_template(first.streams.video[0])
            audio = av.open(str(audio_from)) if audio_from is not None else None
            try:
                aouts = {s.index: out.add_stream_from_template(s) for s in audio.streams.audio} if audio else {}
                last_dts: int | None = None
                for part in parts:
                    with av.open(str(part)) as src:
                        stream = src.streams.video[0]
                        tb = Fraction(stream.time_base or Fraction(1, 90000))
                        shift = round(Fraction(frames) / fps / tb)
                        n = 0
                        packet: Any
                        for packet in src.demux(stream):
                            if packet.dts is None:
                                continue
                            packet.pts = (packet.pts or 0) + shift
                            packet.dts = packet.dts + shift
                            if last_dts is not None and packet.dts <= last_dts:  # B-frame delay differing
                                packet.dts = last_dts + 1
                            last_dts = packet.dts
                            packet.stream = vout
                            out.mux(packet)
                            n += 1
                        frames += n
                if audio is not None:
                    for apacket in audio.demux(*audio.streams.audio):
                        if apacket.dts is None:
                            continue
                        apacket.stream = aouts[apacket.stream.index]
                        out.mux(apacket)
            finally:
                if audio is not None:
                    audio.close()
    except BaseException:
        target.discard()
        raise
    target.commit()
    return frames
