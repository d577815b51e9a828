"""Style images made procedurally, so that tests, benchmarks and docs need no third-party art.

Each generator is deterministic for a seed and returns an RGB ``uint8`` ``(size, size, 3)`` image:

- :func:`brush_strokes`: layers of short curved strokes, big to small, in a warm or cold palette
  (an impasto-like painting);
- :func:`mosaic`: Voronoi tiles of saturated colour with dark grout (a stained-glass look).

>>> brush_strokes(64, seed=1).shape, mosaic(64, seed=1).dtype
((64, 64, 3), dtype('uint8'))
"""

from __future__ import annotations

import cv2
import numpy as np

#: palettes as RGB rows: "fire" (ochres, reds, deep blue), "sea" (blues, teals, pale yellow)
PALETTES = {
    "fire": np.array([[230, 180, 60], [200, 70, 40], [120, 30, 30], [250, 230, 160], [30, 40, 90]], np.float32),
    "sea": np.array([[20, 60, 140], [40, 140, 170], [230, 220, 140], [10, 30, 60], [120, 190, 210]], np.float32),
}


def brush_strokes(size: int = 256, seed: int = 0, palette: str = "fire") -> np.ndarray:
    """A canvas of curved brush strokes with bristle texture and flowing directions."""
    rng = np.random.default_rng(seed)
    colors = PALETTES[palette]
    canvas = np.full((size, size, 3), colors[0], np.float32)
    # a smooth direction field, so strokes flow like a painter's rather than point anywhere
    field = cv2.GaussianBlur(rng.normal(size=(size // 8 + 1, size // 8 + 1)).astype(np.float32), (0, 0), 2)
    field = cv2.resize(field, (size, size)) * np.pi * 2
    for scale in (0.12, 0.07, 0.04, 0.025):
        length, width = scale * size, max(1, int(scale * size * 0.28))
        for _ in range(int(1.2 / (scale ** 2 * 0.28))):  # enough to cover the canvas about once a layer
            x, y = rng.uniform(0, size, 2)
            color = colors[rng.integers(len(colors))] * rng.uniform(0.8, 1.15) + rng.normal(0, 12, 3)
            pts = [(x, y)]
            for _ in range(4):
                a = field[int(y) % size, int(x) % size]
                x, y = x + np.cos(a) * length / 4, y + np.sin(a) * length / 4
                pts.append((x, y))
            cv2.polylines(canvas, [np.round(np.array(pts)).astype(np.int32)], False,
                          np.clip(color, 0, 255).tolist(), width, cv2.LINE_AA)
    bristles = cv2.GaussianBlur(rng.normal(0, 14, (size, size)).astype(np.float32), (0, 0), 0.7)
    canvas += bristles[..., None]
    return np.clip(canvas, 0, 255).astype(np.uint8)


def mosaic(size: int = 256, seed: int = 0, palette: str = "sea", tiles: int = 180) -> np.ndarray:
    """Voronoi tiles in a palette, each slightly shaded, separated by dark grout."""
    rng = np.random.default_rng(seed)
    colors = PALETTES[palette]
    pts = rng.integers(0, size, (tiles, 2))
    seeds = np.full((size, size), 255, np.uint8)
    seeds[pts[:, 1], pts[:, 0]] = 0
    # nearest seed of every pixel (Voronoi cell) and the distance to it, in one OpenCV pass
    dist, labels = cv2.distanceTransformWithLabels(seeds, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
    n = int(labels.max()) + 1
    tile_colors = colors[rng.integers(len(colors), size=n)] * rng.uniform(0.75, 1.2, (n, 1))
    canvas = tile_colors[labels].astype(np.float32)
    canvas *= np.clip(1.0 - 0.25 * dist / (size / np.sqrt(tiles)), 0.6, 1.0)[..., None]
    edge = np.zeros((size, size), bool)
    edge[:, 1:] |= labels[:, 1:] != labels[:, :-1]
    edge[1:] |= labels[1:] != labels[:-1]
    grout = cv2.dilate(edge.astype(np.uint8), np.ones((2, 2), np.uint8), iterations=max(1, size // 300)) > 0
    canvas[grout] = (25, 22, 20)
    canvas += rng.normal(0, 6, canvas.shape)
    return np.clip(canvas, 0, 255).astype(np.uint8)
