"""Procedural style images: deterministic, painterly statistics (not flat, not noise)."""

from __future__ import annotations

import numpy as np

from masque.stylize import patterns


def test_deterministic_and_textured():
    a, b = patterns.brush_strokes(192, seed=4), patterns.brush_strokes(192, seed=4)
    assert np.array_equal(a, b) and not np.array_equal(a, patterns.brush_strokes(192, seed=5))
    m = patterns.mosaic(192, seed=4, palette="fire")
    rng = np.random.default_rng(0)
    for img in (a, m):
        assert img.shape == (192, 192, 3) and img.dtype == np.uint8
        assert img.std() > 25  # strong colour structure
        # neighbouring pixels agree more than in the same pixels shuffled (strokes and tiles, not noise)
        shuffled = rng.permutation(img.reshape(-1, 3)).reshape(img.shape)
        step = np.abs(np.diff(img.astype(int), axis=1)).mean()
        assert step < 0.8 * np.abs(np.diff(shuffled.astype(int), axis=1)).mean()
    assert (m.sum(-1) < 100).mean() > 0.03  # dark grout between the tiles
