"""Optical flow between consecutive frames, for temporally coherent video stylisation.

The previous stylised frame is warped onto the current one along the flow (OpenCV's DIS, or
Farneback), and a mask marks where that warp can be trusted: pixels whose forward and backward
flows disagree (occlusions, things entering the frame) get 0, so the temporal loss leaves them free.
"""

from __future__ import annotations

import cv2
import numpy as np

from masque.errors import ConfigError

FLOWS = ("dis", "farneback")


def _gray(image: np.ndarray) -> np.ndarray:
    img = image if image.dtype == np.uint8 else np.clip(image * 255, 0, 255).astype(np.uint8)
    return cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)


def optical_flow(src: np.ndarray, dst: np.ndarray, method: str = "dis") -> np.ndarray:
    """Dense flow from ``src`` to ``dst`` (RGB, same size): ``(H, W, 2)`` float32, ``src(p) ~ dst(p + flow(p))``."""
    a, b = _gray(src), _gray(dst)
    if method == "dis":
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)  # type: ignore[attr-defined]
        return np.asarray(dis.calc(a, b, None))
    if method == "farneback":
        return np.asarray(cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0))  # type: ignore[call-overload]
    raise ConfigError(f"unknown optical flow {method!r}; use one of {FLOWS}")


def _remap(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    h, w = flow.shape[:2]
    grid = np.stack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)), -1)
    coords = grid + flow
    return cv2.remap(image, coords[..., 0], coords[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def warp_previous(previous_out: np.ndarray, previous_frame: np.ndarray, frame: np.ndarray,
                  method: str = "dis") -> tuple[np.ndarray, np.ndarray]:
    """The previous result moved onto ``frame``, and where that is reliable.

    Args:
        previous_out: ``(H, W, 3)`` float32 [0, 1], the previous frame's stylised result.
        previous_frame, frame: the previous and current content frames, RGB, same size as ``previous_out``.
        method: ``dis`` or ``farneback``.

    Returns:
        ``(warped (H, W, 3) float32, mask (H, W) float32 in [0, 1])``.
    """
    back = optical_flow(frame, previous_frame, method)  # for each pixel now: where it was before
    fwd = optical_flow(previous_frame, frame, method)
    warped = _remap(previous_out.astype(np.float32), back)
    # forward-backward check: following back then forward should return to the start
    round_trip = back + _remap(fwd, back)
    err = (round_trip ** 2).sum(-1)
    bound = 0.01 * ((back ** 2).sum(-1) + (_remap(fwd, back) ** 2).sum(-1)) + 0.5
    mask = (err <= bound).astype(np.float32)
    mask = cv2.erode(mask, np.ones((3, 3), np.uint8))
    return warped, mask
