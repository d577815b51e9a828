"""A fast PNG writer: the Up filter in NumPy, deflate through ISA-L.

libpng (what OpenCV writes with) tries every filter on every row and deflates with zlib; on a
256 px aligned face that takes about 2.4 ms, more than detecting and aligning it. The Up filter
(each row minus the one above) alone captures most of what the adaptive choice does on camera
images, and ISA-L's level-1 deflate runs several times faster than zlib's: about 0.5 ms a face,
4x faster than OpenCV and a smaller file (``benchmarks/png.py``). The output is a standard PNG.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
from isal import isal_zlib

from masque.errors import ShapeError

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type (grey, grey+alpha, RGB, RGBA)
_UP = 2  # PNG filter type byte


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png(image: np.ndarray, level: int = 1) -> bytes:
    """The bytes of a PNG file holding ``image``.

    Args:
        image: ``(H, W)`` grey, or ``(H, W, C)`` with C = 1, 2, 3 or 4 (grey, grey+alpha,
            **RGB**, RGBA), ``uint8``. Channels are written in the order given: pass RGB, not BGR.
        level: ISA-L deflate level, 0 (fastest) to 3 (smallest).

    Raises:
        ValueError: another dtype or shape.
    """
    img = np.asarray(image)
    if img.ndim == 2:
        img = img[:, :, None]
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] not in _COLOR_TYPES or 0 in img.shape:
        raise ShapeError(f"encode_png takes a non-empty uint8 (H, W[, 1-4]) image, got {img.dtype} {image.shape}")
    h, w, c = img.shape
    rows = img.reshape(h, w * c)
    filtered = np.empty((h, w * c + 1), np.uint8)
    filtered[:, 0] = _UP
    filtered[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])  # modulo 256, as PNG defines it
    header = struct.pack(">IIBBBBB", w, h, 8, _COLOR_TYPES[c], 0, 0, 0)
    return (_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", isal_zlib.compress(filtered.data, level))
            + _chunk(b"IEND", b""))
