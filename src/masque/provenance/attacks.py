"""The edits a label must survive, as functions: the watermark tests and benchmark use these.

Each attack takes and returns RGB ``(H, W, 3)`` ``uint8`` images. H.264 works on a whole
sequence, since a codec's damage depends on motion between frames.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

import av
import cv2
import numpy as np

from masque.errors import InvalidMediaError


def jpeg(image: np.ndarray, quality: int = 75) -> np.ndarray:
    """Encode as JPEG at ``quality`` and decode again."""
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise InvalidMediaError(f"OpenCV could not encode a JPEG of a {image.shape} {image.dtype} image; "
                                "pass an (H, W, 3) uint8 image")
    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if decoded is None:
        raise InvalidMediaError("OpenCV could not decode the JPEG it had just encoded; check the OpenCV install")
    return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)


def resize(image: np.ndarray, factor: float = 0.5) -> np.ndarray:
    """Resize by ``factor`` (area averaging when shrinking, as most tools do)."""
    h, w = image.shape[:2]
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC)


def crop(image: np.ndarray, fraction: float = 0.10, seed: int = 0) -> np.ndarray:
    """Cut ``fraction`` of the width *and* of the height away, split at random between the sides.

    The result keeps its cropped size (81 % of the area for 10 %), so the tile grid moves by an
    unknown offset and the frame's normalised scale changes.
    """
    rng = np.random.default_rng(seed)
    h, w = image.shape[:2]
    cut_h, cut_w = round(h * fraction), round(w * fraction)
    top, left = int(rng.integers(0, cut_h + 1)), int(rng.integers(0, cut_w + 1))
    return np.ascontiguousarray(image[top: top + h - cut_h, left: left + w - cut_w])


def brightness(image: np.ndarray, factor: float) -> np.ndarray:
    """Scale every channel by ``factor`` (1.1 is +10 %), clipped to [0, 255]."""
    return np.clip(image.astype(np.float32) * factor + 0.5, 0, 255).astype(np.uint8)


def h264(frames: Sequence[np.ndarray], crf: int = 28, fps: int = 24) -> list[np.ndarray]:
    """Encode ``frames`` with x264 (preset medium, yuv420p) at ``crf`` and decode them again."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        h, w = frames[0].shape[:2]
        stream.width, stream.height = w - w % 2, h - h % 2
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "medium"}
        for f in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f[: stream.height, : stream.width]),
                                                             format="rgb24")))
        out.mux(stream.encode(None))
    buf.seek(0)
    with av.open(buf, "r") as src:
        return [f.to_ndarray(format="rgb24") for f in src.decode(video=0)]


#: per-image attacks of the issue, by name
IMAGE_ATTACKS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "none": lambda im: im,
    "jpeg_q75": jpeg,
    "resize_50": resize,
    "crop_10": crop,
    "brightness_+10": lambda im: brightness(im, 1.1),
    "brightness_-10": lambda im: brightness(im, 0.9),
}
