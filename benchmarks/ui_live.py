"""Frames per second of the Live page's engine (:class:`masque.ui.live.LiveSwap`) at 640x480.

    python benchmarks/ui_live.py [--frames N] [--source biden.jpg] [--blend poisson] [--mode swap|animate]

The frames of ``clip_long.mp4`` letterboxed to 640x480 (what the browser test's fake camera sends)
go through ``LiveSwap.step`` (``--mode animate``: ``LiveAnimate.step``, the photo driven at 512 px)
one at a time, as the page's stream handler calls it: track the face (detect every 10th frame),
swap or animate, watermark; then the inline JPEG the page sends back (``jpeg_img``). This is the
server's part of the round trip only; the browser test (tests/ui/test_browser.py, printed with
``-s``) measures the whole round trip through Gradio. The bound is the issue's 15 frames/s.
Timings on a shared machine vary with the load: the header gives the load average.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from masque import assets
from masque.animate import Animator
from masque.face import FaceAnalyzer, TrackerConfig
from masque.media import VideoReader, read_image
from masque.oneshot import OneShotSwapper, SwapConfig
from masque.provenance import LabelConfig, Labeler
from masque.ui.live import LiveAnimate, LiveSwap, jpeg_img

BOUND_FPS = 15.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--source", default="biden.jpg")
    ap.add_argument("--blend", default=SwapConfig().blend)
    ap.add_argument("--mode", choices=["swap", "animate"], default="swap")
    args = ap.parse_args()
    frames = []
    for i, frame in enumerate(VideoReader(assets.fetch("clip_long.mp4"))):
        if i >= args.frames:
            break
        canvas = np.zeros((480, 640, 3), np.uint8)
        canvas[60:420] = frame
        frames.append(canvas)
    analyzer = FaceAnalyzer()
    photo = read_image(assets.fetch(args.source))
    live: LiveSwap | LiveAnimate
    if args.mode == "animate":
        live = LiveAnimate(Animator.from_photo(photo, analyzer=analyzer), Labeler(LabelConfig()))
    else:
        swapper = OneShotSwapper.from_image(photo, analyzer, config=SwapConfig(blend=args.blend))
        live = LiveSwap(swapper, analyzer, Labeler(LabelConfig()), TrackerConfig())
    live.step(frames[0])  # first call: model warm-up
    start, cpu = time.perf_counter(), time.process_time()
    sent = 0
    for f in frames:
        sent += len(jpeg_img(live.step(f)))
    fps = len(frames) / (time.perf_counter() - start)
    cpu_ms = (time.process_time() - cpu) * 1000 / len(frames)
    print(f"load average {os.getloadavg()[0]:.1f}; {len(frames)} frames 640x480, mode {args.mode}, "
          f"blend {args.blend}; {sent / len(frames) / 1024:.0f} KiB sent back per frame")
    print(f"{type(live).__name__}.step + jpeg_img: {fps:.1f} frames/s ({1000 / fps:.0f} ms/frame), "
          f"{fps / BOUND_FPS:.2f}x the 15 frames/s goal; {live.swapped}/{live.frames} frames with a face")
    # CPU time does not grow with the other jobs' load as wall time does: on an idle core it is the wall time
    print(f"CPU time {cpu_ms:.0f} ms/frame (all threads): {1000 / cpu_ms:.1f} frames/s on one idle core, "
          f"{1000 / cpu_ms / BOUND_FPS:.2f}x the goal")


if __name__ == "__main__":
    main()
