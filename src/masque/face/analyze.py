"""One entry point for face analysis: detect, 68 landmarks, pose, identity embedding.

>>> from masque.face import FaceAnalyzer          # doctest: +SKIP
>>> faces = FaceAnalyzer().analyze(read_image("photo.jpg"))  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import cv2
import numpy as np

from masque.face.detect import DETECTORS, Detector
from masque.face.embed import DlibEmbedder, Embedder, embed_faces
from masque.face.fallback import FallbackDetector, fallback_detector
from masque.face.landmarks import LandmarkPredictor, landmarks_bbox
from masque.face.pose import head_pose
from masque.face.types import Face


@dataclass(frozen=True)
class AnalyzerConfig:
    """How faces are found.

    Attributes:
        detector: registered detector name.
        upsample: detector upsampling (finds smaller faces, slower).
        max_side: longer side of the image the detector sees (downscaled for speed).
        min_face: faces whose box is narrower than this many source pixels are dropped.
        fallback: a second detector for the images where ``detector`` finds nothing
            (:data:`masque.face.fallback.FALLBACKS`: ``auto`` is mediapipe when installed;
            ``none``, the default, has none); built only when first needed.
    """

    detector: str = "hog"
    upsample: int = 0
    max_side: int = 1280
    min_face: int = 0
    fallback: str = "none"


class FaceAnalyzer:
    """Finds faces and measures them. Models load once, at construction.

    Args:
        config: how faces are found.
        predictor: a landmark predictor to share (it takes 0.4 s and 100 MB to load); default: a new one.
    """

    def __init__(self, config: AnalyzerConfig | None = None, *, predictor: LandmarkPredictor | None = None) -> None:
        self.config = config or AnalyzerConfig()
        self.detector: Detector = DETECTORS.create(self.config.detector, upsample=self.config.upsample,
                                                   max_side=self.config.max_side)
        fallback = None if self.config.fallback == self.config.detector else fallback_detector(
            self.config.fallback, self.config.max_side)
        if fallback is not None:
            self.detector = FallbackDetector(self.detector, fallback)
        self.predictor = predictor or LandmarkPredictor()
        self._embedder: Embedder | None = None

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:  # the ResNet is big; load it only when identities are asked for
            self._embedder = default_embedder()
        return self._embedder

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in an RGB ``(H, W, 3)`` ``uint8`` image, with landmarks and pose, largest first."""
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        faces = []
        for det in self.detector.detect(image):
            if det.bbox[2] - det.bbox[0] < self.config.min_face:
                continue
            lm = self.predictor.predict(gray, det.bbox)  # refined at full resolution
            faces.append(Face(det.bbox, lm, det.score, pose=head_pose(lm, image.shape[:2])))
        return sorted(faces, key=lambda f: -f.area)

    def relocate(self, image: np.ndarray, previous: Face, gray: np.ndarray | None = None) -> Face:
        """Track ``previous`` into a new frame: re-predict landmarks from its landmark box."""
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if gray is None else gray
        lm = self.predictor.predict(gray, landmarks_bbox(previous.landmarks))
        box = _shift_box(previous, lm)
        return Face(box, lm, previous.score, pose=head_pose(lm, image.shape[:2]))

    def embed(self, image: np.ndarray, faces: list[Face]) -> list[Face]:
        """The same faces with ``embedding`` filled in."""
        embs = embed_faces(self.embedder, image, [f.landmarks for f in faces])
        return [dataclasses.replace(f, embedding=e) for f, e in zip(faces, embs)]

    def analyze(self, image: np.ndarray) -> list[Face]:
        """Detect and embed: every face in the image with landmarks, pose and embedding."""
        return self.embed(image, self.detect(image))


def _shift_box(previous: Face, landmarks: np.ndarray) -> tuple[float, float, float, float]:
    """Move the previous detector box with the landmarks' centre (keeps box semantics stable)."""
    d = landmarks.mean(0) - previous.landmarks.mean(0)
    x0, y0, x1, y1 = previous.bbox
    return (x0 + float(d[0]), y0 + float(d[1]), x1 + float(d[0]), y1 + float(d[1]))


def default_embedder() -> Embedder:
    """The fastest embedder available: the PyTorch port of dlib's ResNet, else dlib itself."""
    try:
        from masque.face.resnet import FaceEmbedder
    except ImportError:
        return DlibEmbedder()
    return FaceEmbedder()
