"""Before/after face crops for the README (docs/enhancer_a.jpg, docs/enhancer_b.jpg).

    python docs/enhancer_crops.py BEFORE_DIR AFTER_DIR OUT_PREFIX

BEFORE_DIR and AFTER_DIR each hold a_as_b.mp4 (clip_long converted to B) and b_as_a.mp4
(clip_short converted to A), made by `masque convert` without and with the enhancer; writes
OUT_PREFIX_a.png and OUT_PREFIX_b.png: rows of original | before | after at native pixels.
"""

from __future__ import annotations

import itertools
import sys

import cv2
import numpy as np

from masque import assets
from masque.face import FaceAnalyzer
from masque.media import VideoReader


def frame(path: object, index: int) -> np.ndarray:
    return next(itertools.islice(VideoReader(path), index, None))  # type: ignore[arg-type]


def main() -> None:
    before, after, prefix = sys.argv[1:4]
    analyzer = FaceAnalyzer()
    for side, to, clip, frames in (("a", "b", "clip_long.mp4", (60, 300)), ("b", "a", "clip_short.mp4", (20, 50))):
        rows = []
        for i in frames:
            orig = frame(assets.fetch(clip), i)
            x0, y0, x1, y1 = analyzer.detect(orig)[0].bbox
            cx, cy, r = (x0 + x1) / 2, (y0 + y1) / 2, 0.62 * max(x1 - x0, y1 - y0)
            bx0, by0 = int(max(0, cx - r)), int(max(0, cy - r))
            bx1, by1 = int(min(orig.shape[1], cx + r)), int(min(orig.shape[0], cy + r))
            images = (orig, frame(f"{before}/{side}_as_{to}.mp4", i), frame(f"{after}/{side}_as_{to}.mp4", i))
            rows.append(np.hstack([im[by0:by1, bx0:bx1] for im in images]))
        width = min(r.shape[1] for r in rows)
        image = np.vstack([r[:, :width] for r in rows])
        cv2.imwrite(f"{prefix}_{side}.png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))


if __name__ == "__main__":
    main()
