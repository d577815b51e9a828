"""The optional mediapipe face detector: BlazeFace, run by mediapipe's ``solutions`` API.

Only the models bundled inside the mediapipe 0.10.14 wheel are used
(``mediapipe/modules/face_detection/face_detection_{full_range_sparse,short_range}.tflite``);
nothing is downloaded at run time. mediapipe is imported when a detector is built, never when
this module is, so masque works without it; building one without it raises
:class:`~masque.errors.MissingDependencyError` saying how to install it.

BlazeFace boxes are squares a little lower and larger than dlib's HOG boxes (the square from the
brows to the chin, which dlib's 68-point predictor was trained on), and on a turned head they stay
on the whole head where HOG's follow the features. So each box is rebuilt: shifted up and
scaled by 0.95, and centred left to right on BlazeFace's eye, nose-tip and mouth keypoints.
Measured on the fixture photos and every fifth clip frame (123 faces), the 68 landmarks predicted
from such a box lie on average 0.8 % of the face width (median 0.5 %, under 2 px on the 640x360
clips) from those predicted from the HOG box of the same face; from BlazeFace's own box, on a
three-quarter profile, they were 23 % away (2.3 % with the keypoints).
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import cv2
import numpy as np

from masque.errors import ConfigError, MissingDependencyError, UnsupportedOptionError
from masque.face.detect import DETECTORS, Detection

#: the mediapipe release masque is tested with (and whose models the box fit was measured on)
MEDIAPIPE_VERSION = "0.10.14"

#: how to install the extra; quoted by the error raised when it is missing
INSTALL_HINT = (f'pip install "masque[mediapipe]" && pip install --no-deps mediapipe=={MEDIAPIPE_VERSION} '
                "(mediapipe's declared dependencies would pull jax and a second OpenCV; `make install` does both)")

MODELS = ("auto", "full", "short")


@dataclass(frozen=True)
class _BoxFit:
    """A BlazeFace detection onto a HOG-like square: the box centre moves ``up`` times the
    BlazeFace side, the side is multiplied by ``scale`` (medians over the fixture faces, against
    the HOG box of each), and x is the mean of the eye, nose-tip and mouth keypoints."""

    up: float
    scale: float


_FITS = {"full": _BoxFit(up=0.027, scale=0.95), "short": _BoxFit(up=0.066, scale=1.04)}
_MODEL_SELECTION = {"short": 0, "full": 1}  # mediapipe's model_selection for each model


def load_mediapipe() -> ModuleType:
    """``mediapipe.python.solutions.face_detection``, checked to run here.

    Raises:
        MissingDependencyError: mediapipe is not installed, or protobuf is 5 or later (on which
            mediapipe 0.10.14's solutions API fails to build or read its graphs).
    """
    try:
        from google.protobuf import __version__ as protobuf_version
        from mediapipe.python.solutions import face_detection
    except ImportError as exc:
        raise MissingDependencyError(
            f"the mediapipe face detector needs mediapipe {MEDIAPIPE_VERSION}, which is not installed "
            f"({exc}); install it with: {INSTALL_HINT}") from exc
    if int(protobuf_version.split(".")[0]) >= 5:
        raise MissingDependencyError(
            f"the mediapipe face detector needs protobuf 4.25 (mediapipe {MEDIAPIPE_VERSION}'s solutions API "
            f"breaks on protobuf 5 and later), but protobuf {protobuf_version} is installed; "
            f"install the extra's pins with: {INSTALL_HINT}")
    return face_detection


@DETECTORS.register("mediapipe")
class MediaPipeDetector:
    """mediapipe's BlazeFace detector, on the CPU (XNNPACK), a few milliseconds a frame.

    The full-range model finds small and mid-sized faces, including some HOG misses (it found
    every fixture face, the one behind sunglasses and one 73 px wide in a 1000 px group photo
    among them) but misses close-ups (a face two thirds as wide as a 512 px photo); the
    short-range model is for those (a face filling much of the frame, a selfie) and misses small
    faces. ``auto`` runs the full-range model and, on an image where it finds nothing, the
    short-range one.

    Not thread-safe: each instance owns two small mediapipe graphs; use one per thread.

    Args:
        upsample: must be 0: the model sees the whole image at 192x192 (128x128 for the short
            range), so there is nothing to upsample. It is accepted because every detector is
            built with it.
        max_side: the longer side of the image handed to mediapipe (downscaled with area
            averaging; mediapipe then resizes to its input size).
        threshold: the lowest BlazeFace score (0 to 1) a face may have.
        model: ``auto``, ``full`` or ``short`` (see above).

    Raises:
        MissingDependencyError: mediapipe or its pinned protobuf is missing (see :func:`load_mediapipe`).
        UnsupportedOptionError: ``upsample`` is not 0.
        ValueError: ``model`` is none of :data:`MODELS`, or ``threshold`` is outside [0, 1].
    """

    def __init__(self, upsample: int = 0, max_side: int = 1280, threshold: float = 0.5, model: str = "auto") -> None:
        if upsample != 0:
            raise UnsupportedOptionError(
                f"the mediapipe detector has no upsampling (got {upsample}): it sees the whole frame at "
                "192x192 px; for smaller faces use --detector hog or cnn with --upsample")
        if model not in MODELS:
            raise ConfigError(f"mediapipe model must be one of {MODELS}, got {model!r}")
        if not 0.0 <= threshold <= 1.0:
            raise ConfigError(f"mediapipe threshold is a score in [0, 1], got {threshold}")
        face_detection = load_mediapipe()
        self.max_side = max_side
        self.threshold = threshold
        self.model = model
        names = ("full", "short") if model == "auto" else (model,)
        self._solutions: dict[str, Any] = {}
        try:
            # mediapipe's C++ side (TFLite, absl logging) writes notices to stderr when a graph
            # first runs; run each once here, quietly, so that detect() never prints
            with _quiet_stderr():
                for name in names:
                    solution = face_detection.FaceDetection(model_selection=_MODEL_SELECTION[name],
                                                            min_detection_confidence=threshold)
                    self._solutions[name] = solution
                    _process(solution, np.zeros((64, 64, 3), np.uint8))
        except BaseException:
            self.close()
            raise

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Faces in an RGB ``(H, W, 3)`` (or grey ``(H, W)``) ``uint8`` image, boxes in its pixels.

        Each box is a square ``(x0, y0, x1, y1)`` close to the one dlib's HOG detector gives the
        face (it may reach past the image edge); the score is BlazeFace's, in (0, 1]. Faces
        come in mediapipe's order, not sorted (:class:`~masque.face.FaceAnalyzer` sorts them).
        """
        if not self._solutions:
            # a caller bug (as for a closed file, a ValueError), never caused by a user: stays built-in
            raise ValueError("this MediaPipeDetector is closed")
        rgb = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB) if image.ndim == 2 else image
        height, width = rgb.shape[:2]
        scale = min(1.0, self.max_side / max(height, width))
        if scale < 1.0:
            rgb = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
        out: list[Detection] = []
        for name, solution in self._solutions.items():  # auto: the short range only if full found none
            out = [_hog_like(det, width, height, _FITS[name]) for det in _process(solution, rgb)]
            if out:
                break
        return out

    def close(self) -> None:
        """Stop mediapipe's graphs (their threads); the detector cannot be used afterwards."""
        solutions, self._solutions = self._solutions, {}
        for solution in solutions.values():
            solution.close()


def _process(solution: Any, rgb: np.ndarray) -> list[Any]:
    """mediapipe's detections (``Detection`` protos) of a contiguous RGB ``uint8`` image."""
    with warnings.catch_warnings():  # mediapipe 0.10.14 reads its outputs with a deprecated protobuf call
        warnings.filterwarnings("ignore", message=r"SymbolDatabase\.GetPrototype", category=UserWarning)
        result = solution.process(rgb)
    return list(result.detections or ())


def _hog_like(det: Any, width: int, height: int, fit: _BoxFit) -> Detection:
    """A mediapipe detection (relative coordinates) as a HOG-like square box in source pixels."""
    rel = det.location_data.relative_bounding_box
    side = (rel.width * width + rel.height * height) / 2
    points = det.location_data.relative_keypoints  # eyes, nose tip, mouth centre, ear tragions
    # x from the features, which a turned head moves off the box centre; y from the box, which a
    # hand over the mouth or nose does not move
    cx = sum(p.x for p in points[:4]) / 4 if len(points) >= 4 else rel.xmin + rel.width / 2
    cx *= width
    cy = (rel.ymin + rel.height / 2) * height - fit.up * side
    half = fit.scale * side / 2
    return Detection((float(cx - half), float(cy - half), float(cx + half), float(cy + half)), float(det.score[0]))


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for the block (C++ logging bypasses ``sys.stderr``)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable stderr: nothing to silence
        yield
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
        finally:
            os.close(devnull)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
