"""Image files in and out: RGB ``uint8`` arrays of shape ``(H, W, 3)``; writes are atomic."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from masque.atomic import atomic_write_bytes
from masque.errors import InputNotFoundError, InvalidMediaError
from masque.media.png import encode_png

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})


def is_image_path(path: str | os.PathLike[str]) -> bool:
    """True when the file name has an image extension masque reads."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image file as RGB.

    Returns:
        ``(H, W, 3)`` ``uint8`` array in **RGB** order (alpha dropped, grey expanded).

    Raises:
        InputNotFoundError: the path does not exist.
        InvalidMediaError: the file cannot be decoded as an image.
    """
    p = Path(path)
    if not p.is_file():
        raise InputNotFoundError(f"image not found: {p}")
    # imdecode on bytes rather than imread: imread fails silently on non-ASCII paths.
    data = np.fromfile(p, dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None:
        raise InvalidMediaError(f"cannot decode image {p}: not an image or the file is damaged")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def encode_image(image: np.ndarray, suffix: str, quality: int = 95) -> bytes:
    """Encode an RGB ``(H, W, 3)`` ``uint8`` image to the bytes of a ``suffix`` file (".png"...).

    PNGs go through masque's own writer (:func:`masque.media.png.encode_png`, several times
    faster than OpenCV's); other formats through OpenCV, with ``quality`` for JPEG and WebP.
    """
    if suffix.lower() == ".png":
        return encode_png(image)
    params: list[int] = []
    if suffix.lower() in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    elif suffix.lower() == ".webp":
        params = [cv2.IMWRITE_WEBP_QUALITY, int(quality)]
    ok, buf = cv2.imencode(suffix, cv2.cvtColor(image, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise InvalidMediaError(f"OpenCV cannot encode an image as {suffix}")
    return buf.tobytes()


def write_image(path: str | os.PathLike[str], image: np.ndarray, quality: int = 95) -> Path:
    """Write an RGB ``(H, W, 3)`` ``uint8`` image atomically (temporary file, then rename)."""
    p = Path(path)
    atomic_write_bytes(p, encode_image(image, p.suffix or ".png", quality))
    return p
