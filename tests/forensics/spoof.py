"""Presentation attacks made from a still fixture photo: the photo panned, zoomed and tilted in front
of a camera, as a print or on a screen (moire, pixel grid, glare), written as an H.264 clip."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from masque.media import VideoWriter


def moire(shape: tuple[int, int], period: float, angle: float, strength: float) -> np.ndarray:
    """A multiplicative moire pattern ``(H, W)`` around 1: two gratings beating (screen pixels vs sensor)."""
    h, w = shape
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    a = np.deg2rad(angle)
    u = xx * np.cos(a) + yy * np.sin(a)
    v = -xx * np.sin(a) + yy * np.cos(a)
    pattern = np.sin(2 * np.pi * u / period) * 0.6 + np.sin(2 * np.pi * v / (period * 1.07)) * 0.4
    return 1 + strength * pattern


def photo_attack(photo: np.ndarray, frames: int = 60, size: tuple[int, int] = (640, 480), screen: bool = True,
                 glare: bool = True, seed: int = 0) -> list[np.ndarray]:
    """Frames of ``photo`` (RGB uint8) held up to a camera: a slow pan, zoom and tilt of one plane.

    ``screen`` adds a moire pattern and a pixel grid; ``glare`` a moving specular blob; a little
    sensor noise always.
    """
    rng = np.random.default_rng(seed)
    w, h = size
    ph, pw = photo.shape[:2]
    scale0 = min(w / pw, h / ph) * 0.8
    out = []
    grid = moire((h, w), 3.1, 8.0, 0.10) if screen else None
    for t in range(frames):
        s = np.sin(2 * np.pi * t / frames)
        zoom = scale0 * (1 + 0.12 * t / frames)
        dx, dy = 30 * s, 12 * np.cos(2 * np.pi * t / frames)
        src = np.float32([[0, 0], [pw, 0], [pw, ph], [0, ph]])
        tilt = 0.04 * s * pw * zoom
        cx, cy = w / 2 + dx, h / 2 + dy
        hw, hh = pw * zoom / 2, ph * zoom / 2
        dst = np.float32([[cx - hw + tilt, cy - hh], [cx + hw - tilt, cy - hh + tilt * 0.3],
                          [cx + hw + tilt * 0.5, cy + hh], [cx - hw - tilt * 0.5, cy + hh - tilt * 0.3]])
        m = cv2.getPerspectiveTransform(src, dst)
        frame = cv2.warpPerspective(photo, m, (w, h), borderValue=(40, 40, 45)).astype(np.float32)
        if grid is not None:
            frame *= grid[..., None]
        if glare:
            gx, gy = w * (0.45 + 0.1 * s), h * 0.35
            yy, xx = np.mgrid[:h, :w]
            frame += 120 * np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * 40.0**2))[..., None]
        frame += rng.normal(0, 2.0, frame.shape)
        out.append(np.clip(frame, 0, 255).astype(np.uint8))
    return out


def write_clip(path: Path, frames: list[np.ndarray], fps: float = 25.0) -> Path:
    """Write RGB frames to an H.264 clip."""
    with VideoWriter(path, fps) as wr:
        for f in frames:
            wr.write(f)
    return path
