"""The optional visible mark: a small "AI-generated" tag in the bottom-right corner.

The tag (white text on a half-transparent dark box, about 2.5 % of the short side high) is
rendered once per frame size into an alpha overlay, so each frame only blends one small corner.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

TEXT = "AI-generated"
_OPACITY = 0.6


@dataclass(frozen=True)
class Overlay:
    """A corner patch: where it goes, its RGB ``float32`` colour and its ``float32`` alpha (0..1)."""

    top: int
    left: int
    color: np.ndarray
    alpha: np.ndarray


def make_overlay(height: int, width: int, text: str = TEXT) -> Overlay:
    """Render the tag for a ``height`` x ``width`` frame."""
    short = min(height, width)
    text_h = max(8, round(short * 0.025))
    font = cv2.FONT_HERSHEY_SIMPLEX
    scale = cv2.getFontScaleFromHeight(font, text_h, 1)
    thick = max(1, round(text_h / 12))
    (tw, th), base = cv2.getTextSize(text, font, scale, thick)
    pad = max(2, text_h // 3)
    box_h, box_w = min(height, th + base + 2 * pad), min(width, tw + 2 * pad)
    ink = np.zeros((box_h, box_w), dtype=np.uint8)
    cv2.putText(ink, text, (pad, pad + th), font, scale, 255, thick, cv2.LINE_AA)
    ink_f = ink.astype(np.float32)[..., None] / 255.0
    color = np.broadcast_to(ink_f * 255.0, (box_h, box_w, 3)).astype(np.float32)
    alpha = np.maximum(ink_f, _OPACITY).astype(np.float32)  # box at _OPACITY, text fully opaque
    margin = max(2, short // 50)
    top, left = max(0, height - box_h - margin), max(0, width - box_w - margin)
    return Overlay(top, left, color, alpha)


def apply_overlay(frame: np.ndarray, overlay: Overlay) -> np.ndarray:
    """A copy of RGB ``uint8`` ``frame`` with ``overlay`` blended in."""
    out = frame.copy()
    h, w = overlay.alpha.shape[:2]
    roi = out[overlay.top: overlay.top + h, overlay.left: overlay.left + w].astype(np.float32)
    blended = roi * (1.0 - overlay.alpha) + overlay.color * overlay.alpha
    out[overlay.top: overlay.top + h, overlay.left: overlay.left + w] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
    return out
