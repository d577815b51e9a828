"""A second detector for the faces dlib's HOG misses: heads turned 50 degrees or more, faces cut by
the frame's edge, wide-open mouths.

:class:`FallbackDetector` runs the first detector and, only when it finds nothing, the second;
:class:`~masque.face.FaceAnalyzer` builds one when its config names a ``fallback``
(``masque swap --fallback-detector``, ``auto`` by default there).
On a video the tracker calls the detector only on its detection frames (every N-th, a scene cut,
a lost face), so the fallback costs nothing on tracked frames nor on frames where HOG found a face;
it is not even loaded until HOG first misses.

The default fallback is ``mediapipe`` (BlazeFace, the optional extra): 8 ms on a 640x360 frame
on a CPU (HOG: 40 ms; building it: 0.7 s), trained on turned and expressive faces, and its boxes are refitted to dlib's
convention (:mod:`masque.face.detect_mediapipe`) so the 68 landmarks land as from a HOG box.
dlib's CNN (``cnn``) finds turned faces too but takes seconds a frame on a CPU: ask for it only
for photos. Without the mediapipe extra installed, ``auto`` falls back to nothing.

A face rolled past about 50 degrees is found by BlazeFace too, but dlib's 68-point predictor,
given an upright box, puts its landmarks 25 to 80 degrees off: not handled here.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import numpy as np

from masque.errors import MissingDependencyError
from masque.face.detect import DETECTORS, Detection, Detector

#: fallback detector names: ``auto`` is mediapipe when installed, else none
FALLBACKS = ("auto", "mediapipe", "cnn", "none")


class FallbackDetector:
    """``primary``'s faces; where it finds none, ``fallback``'s.

    Args:
        primary: the detector that runs on every detection.
        fallback: makes the detector that runs where ``primary`` found nothing; called on the first
            such image only, so a video where ``primary`` always finds the face never loads it.

    ``fallbacks`` counts the images the fallback ran on and ``rescued`` those where it found a face.
    """

    def __init__(self, primary: Detector, fallback: Callable[[], Detector]) -> None:
        self.primary = primary
        self._make = fallback
        self._fallback: Detector | None = None
        self.fallbacks = 0
        self.rescued = 0

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Faces in an RGB ``(H, W, 3)`` ``uint8`` image; boxes in its pixels."""
        found = self.primary.detect(image)
        if found:
            return found
        if self._fallback is None:
            self._fallback = self._make()
        self.fallbacks += 1
        found = self._fallback.detect(image)
        self.rescued += bool(found)
        return found


class _Nothing:
    """A detector that finds nothing: ``auto`` without the mediapipe extra."""

    def detect(self, image: np.ndarray) -> list[Detection]:
        return []


def fallback_detector(name: str, max_side: int = 1280) -> Callable[[], Detector] | None:
    """A maker of the registered detector ``name`` as a fallback, or ``None`` for ``none`` and for
    ``auto`` without the mediapipe extra.

    Raises:
        RegistryError: an unknown name. (``mediapipe`` asked for by name and not installed raises
            :class:`~masque.errors.MissingDependencyError` when the maker is called.)
    """
    if name == "none" or (name == "auto" and importlib.util.find_spec("mediapipe") is None):
        return None
    registered = "mediapipe" if name == "auto" else name
    DETECTORS.get(registered)  # an unknown name fails now, not on the first face HOG misses

    def make() -> Detector:
        try:
            return DETECTORS.create(registered, max_side=max_side)
        except MissingDependencyError:
            if name == "auto":  # installed but unusable: auto means "if available"
                return _Nothing()
            raise

    return make
