"""Frames per second of ``masque animate`` at 512 px, end to end and stage by stage.

    python benchmarks/animate.py [--clip clip_long.mp4] [--photo biden.jpg] [--size 512] [--frames N]

End to end runs :func:`masque.animate.files.animate_video` as the CLI does (tracking pass over
the driving video, then decode thread, warp + mouth in the main thread, watermark + H.264 encode
thread, C2PA manifest at the end), model loading excluded, and prints frames/s against the
issue's bound of 25. The live row times :meth:`masque.animate.Animator.step` (tracking included,
no file I/O): what a webcam page gets. The stage rows time each stage alone, in one thread.

Timings on a shared machine vary with the load: the header gives the load average.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from masque import assets
from masque.animate import AnimateConfig, Animator
from masque.animate.files import animate_video, track_video
from masque.face import FaceAnalyzer
from masque.media import VideoReader, read_image
from masque.provenance import LabelConfig, Labeler

BOUND = 25.0  # frames/s the issue asks for, whole command, 2 CPU cores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", default="clip_long.mp4", help="fixture driving video (default clip_long.mp4)")
    parser.add_argument("--photo", default="biden.jpg", help="fixture photo (default biden.jpg)")
    parser.add_argument("--size", type=int, default=512, help="output size (default 512)")
    parser.add_argument("--frames", type=int, default=200, help="frames for the live and stage rows (default 200)")
    args = parser.parse_args()
    clip = assets.fetch(args.clip)
    photo = read_image(assets.fetch(args.photo))
    print(f"animate {args.photo} by {args.clip}, {args.size} px, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    analyzer = FaceAnalyzer()
    config = AnimateConfig(size=args.size)
    labeler = Labeler(LabelConfig())

    with tempfile.TemporaryDirectory() as tmp:
        animator = Animator.from_photo(photo, config, analyzer=analyzer)
        cpu = time.process_time()
        stats = animate_video(animator, clip, Path(tmp) / "out.mp4", labeler)
        cpu_ms = (time.process_time() - cpu) * 1000 / stats.frames
    print(f"  whole command   {stats.fps:6.1f} frames/s ({stats.frames} frames)   "
          f"{stats.fps / BOUND:.2f}x the bound of {BOUND:g}")
    # on a loaded machine wall time says little: CPU time a frame (all threads) bounds what two
    # idle cores give, between fully serial (1 core busy) and fully overlapped (2 cores busy)
    print(f"  whole command   {cpu_ms:6.1f} ms of CPU a frame: {1000 / cpu_ms:5.1f} frames/s on one idle core, "
          f"up to {2000 / cpu_ms:5.1f} on two")

    frames = []
    for i, f in enumerate(VideoReader(clip)):
        if i >= args.frames:
            break
        frames.append(f)
    live = Animator.from_photo(photo, config, analyzer=analyzer)
    start, cpu = time.perf_counter(), time.process_time()
    outs = [live.step(f) for f in frames]
    fps = len(frames) / (time.perf_counter() - start)
    cpu_ms = (time.process_time() - cpu) * 1000 / len(frames)
    print(f"  live step()     {fps:6.1f} frames/s ({len(frames)} frames)   {fps / BOUND:.2f}x the bound; "
          f"{cpu_ms:.1f} ms of CPU a frame")

    start = time.perf_counter()
    track_video(clip, analyzer, config)
    n = len(VideoReader(clip))
    print(f"  stage: tracking pass      {(time.perf_counter() - start) * 1000 / n:5.1f} ms/frame")
    replay = Animator.from_photo(photo, config, analyzer=analyzer)
    lms = [live.tracker.update(f) for f in frames]
    start = time.perf_counter()
    for f, lm in zip(frames, lms):
        replay.step_landmarks(f, lm[0] if lm else None)
    print(f"  stage: warp + mouth       {(time.perf_counter() - start) * 1000 / len(frames):5.1f} ms/frame")
    start = time.perf_counter()
    for o in outs:
        labeler.mark(o)
    print(f"  stage: watermark          {(time.perf_counter() - start) * 1000 / len(outs):5.1f} ms/frame")


if __name__ == "__main__":
    main()
