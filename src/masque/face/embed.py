"""Identity embeddings: dlib's ResNet face descriptor, 128-d, compared by Euclidean distance."""

from __future__ import annotations

from typing import Protocol

import dlib
import numpy as np

from masque import assets


def full_object_detection(landmarks: np.ndarray) -> dlib.full_object_detection:
    """A dlib shape from ``(68, 2)`` landmarks, its rectangle the landmarks' bounding box."""
    lm = np.asarray(landmarks)
    x0, y0 = np.floor(lm.min(0)).astype(int)
    x1, y1 = np.ceil(lm.max(0)).astype(int)
    parts = [dlib.point(int(np.floor(x + 0.5)), int(np.floor(y + 0.5))) for x, y in lm]  # dlib's rounding
    return dlib.full_object_detection(dlib.rectangle(int(x0), int(y0), int(x1), int(y1)), parts)


def face_chip(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The ``(150, 150, 3)`` ``uint8`` RGB chip dlib's ResNet expects (dlib.get_face_chip, padding 0.25)."""
    return np.asarray(dlib.get_face_chip(np.ascontiguousarray(image), full_object_detection(landmarks),
                                         size=150, padding=0.25))


class Embedder(Protocol):
    """What turns aligned face chips into identity embeddings (the plugin contract).

    Implementations: :class:`DlibEmbedder` (dlib itself) and
    :class:`masque.face.resnet.FaceEmbedder` (the same network in PyTorch, batched). Embeddings
    of one person lie within :data:`masque.face.SAME_PERSON_THRESHOLD` (Euclidean) of each other.
    """

    def embed_chips(self, chips: np.ndarray) -> np.ndarray:
        """``(N, 150, 150, 3)`` ``uint8`` RGB chips (:func:`face_chip`) to ``(N, 128)`` ``float32``."""
        ...


class DlibEmbedder:
    """The reference implementation, through dlib itself (about 0.1 s a face on 2 CPU cores)."""

    def __init__(self) -> None:
        self._model = dlib.face_recognition_model_v1(str(assets.fetch("face_recognition_resnet")))

    def embed_chips(self, chips: np.ndarray) -> np.ndarray:
        """``(N, 150, 150, 3)`` ``uint8`` RGB chips to ``(N, 128)`` ``float32`` embeddings."""
        if len(chips) == 0:
            return np.zeros((0, 128), np.float32)
        out = self._model.compute_face_descriptor([np.ascontiguousarray(c) for c in chips])
        return np.array([np.array(d) for d in out], dtype=np.float32)


def embed_faces(embedder: Embedder, image: np.ndarray, landmarks: list[np.ndarray]) -> np.ndarray:
    """Embeddings ``(N, 128)`` ``float32`` of the faces with ``landmarks`` in an RGB ``uint8`` image."""
    if not landmarks:
        return np.zeros((0, 128), np.float32)
    return embedder.embed_chips(np.stack([face_chip(image, lm) for lm in landmarks]))
