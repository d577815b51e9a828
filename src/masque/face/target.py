"""Which faces a stage works on: all, the largest, or one person given by a reference photo.

One place for the reference identity behind ``swap --target-face REF``, ``convert --identity``
and ``extract --identity``: the largest face of each reference image, embedded with the identity
network (``(128,)`` ``float32``); a face is that person when its identity distance to the
reference is under the threshold (0.6, dlib's same-person radius).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from masque.errors import ConfigError, NoFaceFoundError
from masque.face.types import SAME_PERSON_THRESHOLD, Face, identity_distance

if TYPE_CHECKING:
    from masque.face.analyze import FaceAnalyzer

TargetMode = Literal["all", "largest", "reference"]


def reference_embedding(image: np.ndarray, analyzer: FaceAnalyzer, name: str = "the reference image") -> np.ndarray:
    """Identity ``(128,)`` ``float32`` of the largest face in an RGB ``(H, W, 3)`` ``uint8`` image.

    Raises:
        NoFaceFoundError: ``image`` has no face; the message names ``name`` (pass the file's path).
    """
    faces = analyzer.detect(image)
    if not faces:
        raise NoFaceFoundError(f"no face found in the reference image {name}; it must show the person, "
                               "with a clear, roughly frontal face at least 80 px wide")
    embedding = analyzer.embed(image, faces[:1])[0].embedding
    return np.asarray(embedding, np.float32)


def reference_embeddings(paths: Sequence[str | os.PathLike[str]],
                         analyzer: FaceAnalyzer | None = None) -> np.ndarray:
    """Identities ``(K, 128)`` ``float32`` of the largest face in each reference image file.

    Raises:
        NoFaceFoundError: a reference image has no face (the message names it).
        InputNotFoundError, InvalidMediaError: a file is missing or not an image.
    """
    from masque.face.analyze import FaceAnalyzer
    from masque.media import read_image

    analyzer = analyzer or FaceAnalyzer()
    return np.stack([reference_embedding(read_image(p), analyzer, name=str(p)) for p in paths])


@dataclass(frozen=True)
class TargetSelector:
    """Which faces of a target image are worked on.

    Attributes:
        mode: ``all``, ``largest``, or ``reference`` (only the person of ``embedding``).
        embedding: ``(128,)`` identity of the reference person, for ``reference``.
        threshold: identity distance under which a face is that person.
    """

    mode: TargetMode = "largest"
    embedding: np.ndarray | None = None
    threshold: float = SAME_PERSON_THRESHOLD

    def __post_init__(self) -> None:
        if self.mode not in ("all", "largest", "reference"):
            raise ConfigError(f"target mode must be all, largest or reference, got {self.mode!r}")
        if self.mode == "reference" and self.embedding is None:
            raise ConfigError("the reference mode needs the reference person's embedding; "
                              "build it with TargetSelector.from_reference(image, analyzer)")

    @classmethod
    def from_reference(cls, image: np.ndarray, analyzer: FaceAnalyzer, name: str = "the reference image",
                       threshold: float = SAME_PERSON_THRESHOLD) -> TargetSelector:
        """Select the person whose face is the largest in ``image`` (RGB ``(H, W, 3)`` ``uint8``).

        Raises:
            NoFaceFoundError: ``image`` has no face; the message names ``name``.
        """
        return cls("reference", reference_embedding(image, analyzer, name), threshold)

    def select(self, image: np.ndarray, faces: list[Face], analyzer: FaceAnalyzer) -> list[Face]:
        """The faces to work on among ``faces`` (largest first) found in ``image``."""
        if not faces:
            return []
        if self.mode == "largest":
            return faces[:1]
        if self.mode == "all":
            return list(faces)
        embedded = analyzer.embed(image, faces)
        dist = [identity_distance(f.embedding, self.embedding) for f in embedded]  # type: ignore[arg-type]
        best = int(np.argmin(dist))
        return [faces[best]] if dist[best] < self.threshold else []
