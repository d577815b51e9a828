"""Frames per second of ``masque swap`` on a 640x360 clip, end to end and stage by stage.

    python benchmarks/swap.py [--clip clip_long.mp4] [--source obama.jpg] [--frames N] [--smooth F]

End to end runs :func:`masque.oneshot.files.swap_video` exactly as the CLI does (decode thread,
tracking + warp + colour + Poisson in the main thread, watermark + H.264 encode thread, C2PA
manifest at the end) and prints frames/s. The stage rows time each stage alone, in one thread,
on the same frames, so they add up to more than the pipelined total.

Timings on a shared machine vary with the load: the header gives the load average.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from masque import assets
from masque.face import AnalyzerConfig, FaceAnalyzer, FaceTracker, TargetSelector, TrackerConfig
from masque.face.fallback import FallbackDetector
from masque.media import VideoReader, VideoWriter, read_image
from masque.oneshot import OneShotSwapper
from masque.oneshot.files import swap_video
from masque.provenance import LabelConfig, Labeler


def _stages(frames: list[np.ndarray], swapper: OneShotSwapper, analyzer: FaceAnalyzer,
            tracking: TrackerConfig, labeler: Labeler) -> dict[str, float]:
    """Milliseconds per frame of each stage, run alone."""
    ms: dict[str, float] = {}
    tracker = FaceTracker(analyzer, TargetSelector(), tracking)
    start = time.perf_counter()
    faces = [tracker.update(f) for f in frames]
    ms["track (detect + relocate)"] = (time.perf_counter() - start) * 1000 / len(frames)
    start = time.perf_counter()
    out = [swapper.swap(f, lm) for f, lm in zip(frames, faces)]
    ms["swap (warp + colour + blend)"] = (time.perf_counter() - start) * 1000 / len(frames)
    start = time.perf_counter()
    marked = [labeler.mark(f) for f in out]
    ms["watermark"] = (time.perf_counter() - start) * 1000 / len(frames)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        with VideoWriter(Path(tmp) / "enc.mp4", 24) as writer:
            for f in marked:
                writer.write(f)
        ms["encode"] = (time.perf_counter() - start) * 1000 / len(frames)
    ms["(tracker ran the detector on frames)"] = float(tracker.detections)
    return ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", default="clip_long.mp4", help="fixture video (default clip_long.mp4)")
    parser.add_argument("--source", default="obama.jpg", help="fixture photo of the source face")
    parser.add_argument("--frames", type=int, default=0, help="frames for the stage timings (default: all)")
    parser.add_argument("--smooth", type=float, default=0.0, help="landmark smoothing, as --smooth of the CLI")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    clip = assets.fetch(args.clip)
    analyzer = FaceAnalyzer(AnalyzerConfig(fallback="auto"))  # as masque swap does: mediapipe where HOG finds nothing
    swapper = OneShotSwapper.from_image(read_image(assets.fetch(args.source)), analyzer)
    tracking = TrackerConfig(smooth=args.smooth)
    labeler = Labeler(LabelConfig(kind="composite"))
    info = VideoReader(clip).info
    with tempfile.TemporaryDirectory() as tmp:
        stats = swap_video(swapper, clip, Path(tmp) / "out.mp4", analyzer, labeler, tracking=tracking)
    print(f"{args.clip} {info.width}x{info.height}, {stats.frames} frames: end to end {stats.fps:.1f} frames/s "
          f"({1000 / stats.fps:.1f} ms/frame, {stats.detections} detections, {stats.swapped} frames swapped)")
    if isinstance(analyzer.detector, FallbackDetector):
        fallback = analyzer.detector
        print(f"  fallback detector ran on {fallback.fallbacks} frames, found a face on {fallback.rescued}")
    start = time.perf_counter()
    frames = []
    for frame in VideoReader(clip):
        frames.append(frame)
        if args.frames and len(frames) >= args.frames:
            break
    decode = (time.perf_counter() - start) * 1000 / len(frames)
    print(f"  {'decode':34s} {decode:6.1f} ms/frame")
    for name, value in _stages(frames, swapper, analyzer, tracking, labeler).items():
        print(f"  {name:34s} {value:6.1f} " + ("ms/frame" if name[0] != "(" else ""))


if __name__ == "__main__":
    main()
