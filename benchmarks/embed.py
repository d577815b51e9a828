"""Milliseconds per face of dlib's face descriptor: dlib itself vs masque's PyTorch port.

    python benchmarks/embed.py [--threads N] [--reps N]

Times ``dlib.face_recognition_model_v1.compute_face_descriptor`` and
``masque.face.resnet.FaceEmbedder.embed_chips`` on the same 150x150 chips, at batch 1 and 16, in
float32 and bfloat16 autocast, and prints the speed ratio to dlib and the largest difference
from dlib's descriptors. The cost does not depend on the pixels, so the chips are random.

Timings on a shared machine vary with the load: each row gives the median and the minimum of
its repetitions, and the header gives the load average.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import dlib
import numpy as np
import torch

from masque import assets
from masque.face.resnet import FaceEmbedder


def _time_per_face(fn: Callable[[], object], faces: int, reps: int) -> tuple[float, float]:
    """(median, min) milliseconds per face over ``reps`` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000 / faces)
    return float(np.median(times)), float(np.min(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's, one per core)")
    parser.add_argument("--reps", type=int, default=10, help="repetitions of each torch timing")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    chips = np.random.default_rng(0).integers(0, 256, (16, 150, 150, 3), dtype=np.uint8)
    model = dlib.face_recognition_model_v1(str(assets.fetch("face_recognition_resnet")))
    reference = np.array([model.compute_face_descriptor(c) for c in chips], np.float32)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"{'ms per face':24}{'median':>9}{'min':>9}{'x dlib':>9}{'max |diff|':>12}")

    rows: list[tuple[str, float, float, float | None]] = []
    dlib_1 = _time_per_face(lambda: model.compute_face_descriptor(chips[0]), 1, 3)
    rows.append(("dlib batch 1", *dlib_1, None))
    batch = [np.ascontiguousarray(c) for c in chips]
    dlib_16 = _time_per_face(lambda: model.compute_face_descriptor(batch), 16, 1)
    rows.append(("dlib batch 16", *dlib_16, None))
    for bf16 in (False, True):
        embedder = FaceEmbedder(bf16=bf16)
        diff = float(np.abs(embedder.embed_chips(chips) - reference).max())
        name = "torch bf16" if bf16 else "torch fp32"
        for n in (1, 16):
            batch = chips[:n]
            med, best = _time_per_face(lambda e=embedder, b=batch: e.embed_chips(b), n, args.reps)
            rows.append((f"{name} batch {n}", med, best, diff))
    for name, med, best, diff in rows:
        diff_text = f"{diff:.1e}" if diff is not None else "-"
        print(f"{name:24}{med:9.2f}{best:9.2f}{dlib_1[0] / med:9.1f}{diff_text:>12}")


if __name__ == "__main__":
    main()
