"""Identities to compare a swap against: the mean embedding of a photo, a folder of photos, a video or a face set.

Distances are Euclidean between dlib's 128-d descriptors (:func:`masque.face.identity_distance`):
below 0.6 is the same person by dlib's convention.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from masque.errors import FaceSetError, InputNotFoundError, InvalidMediaError, NoFaceFoundError
from masque.face import FaceAnalyzer, identity_distance
from masque.face.embed import face_chip
from masque.faceset import DB_NAME, FaceSet
from masque.media import VideoReader, is_image_path, is_video_path, probe_video, read_image

#: at most this many photos of a folder, frames of a video, or stored-embedding-less faces of a
#: face set are embedded
MAX_EMBED = 64


@dataclass(frozen=True)
class Identity:
    """A person to compare with.

    Attributes:
        name: short label (file or folder name).
        embedding: ``(128,)`` ``float32`` mean embedding of the person's faces.
        faces: how many faces the mean is over.
        path: where it came from ('' when built in memory).
    """

    name: str
    embedding: np.ndarray = field(compare=False)
    faces: int
    path: str = ""


def mean_identity(name: str, embeddings: Sequence[np.ndarray] | np.ndarray, path: str = "") -> Identity:
    """The :class:`Identity` whose embedding is the mean of ``embeddings`` (N, 128)."""
    arr = np.asarray(embeddings, np.float32).reshape(-1, 128)
    if len(arr) == 0:
        raise NoFaceFoundError(f"no face embeddings for identity {name!r} ({path or 'in memory'})")
    return Identity(name, arr.mean(0), len(arr), path)


def load_identity(path: str | os.PathLike[str], analyzer: FaceAnalyzer) -> Identity:
    """The identity in ``path``: an image, a folder of images, a video, or a face set folder.

    Images contribute their largest face; a video, the largest face of up to :data:`MAX_EMBED`
    frames spread evenly over it (so a clip of the person is enough, no extract needed). Face
    sets contribute their stored embeddings (faces stored without one are embedded from their
    aligned crop).

    Raises:
        InputNotFoundError: ``path`` does not exist.
        InvalidMediaError: it is neither an image, a folder of images, a video nor a face set,
            or the video cannot be decoded.
        NoFaceFoundError: no face was found in it.
    """
    p = Path(path)
    if not p.exists():
        raise InputNotFoundError(f"identity source not found: {p}; give an image, a folder of images, "
                                 "a video or a face set folder")
    if p.is_dir() and (p / DB_NAME).is_file():
        return _faceset_identity(p, analyzer)
    if p.is_dir():
        images = sorted(q for q in p.iterdir() if q.is_file() and is_image_path(q))
        if not images:
            raise InvalidMediaError(f"{p} holds no images and is not a face set (no {DB_NAME})")
        return mean_identity(p.name, _photo_embeddings(_spread(images, MAX_EMBED), analyzer, p), str(p))
    if is_image_path(p):
        return mean_identity(p.stem, _photo_embeddings([p], analyzer, p), str(p))
    if is_video_path(p):
        return mean_identity(p.stem, _embed_frames(_video_sample(p, MAX_EMBED), analyzer, p), str(p))
    raise InvalidMediaError(f"cannot read an identity from {p}: give an image, a folder of images, a video "
                            "or a face set folder")


def _spread(items: list[Path], n: int) -> list[Path]:
    """At most ``n`` items, evenly spread (a folder of thousands of frames needs only a sample)."""
    if len(items) <= n:
        return items
    return [items[int(i)] for i in np.linspace(0, len(items) - 1, n)]


def _video_sample(path: Path, n: int) -> Iterator[np.ndarray]:
    """At most about ``n`` RGB frames of the video at ``path``, evenly spread over it."""
    total = probe_video(path).frames  # 0 when the container does not say: then the first n frames
    step = max(1, -(-total // n)) if total else 1
    taken = 0
    for i, frame in enumerate(VideoReader(path)):
        if i % step == 0:
            yield frame
            taken += 1
            if taken >= n:
                return


def _photo_embeddings(images: list[Path], analyzer: FaceAnalyzer, where: Path) -> np.ndarray:
    return _embed_frames((read_image(p) for p in images), analyzer, where)


def _embed_frames(images: Iterable[np.ndarray], analyzer: FaceAnalyzer, where: Path) -> np.ndarray:
    """Embeddings ``(N, 128)`` of the largest face of each RGB image that has one."""
    chips = []
    for image in images:
        faces = analyzer.detect(image)
        if faces:
            chips.append(face_chip(image, faces[0].landmarks))
    if not chips:
        raise NoFaceFoundError(f"no face found in {where}; give photos or a video in which the face is "
                               "clearly visible")
    return analyzer.embedder.embed_chips(np.stack(chips))  # one batch: several times faster than one by one


def _faceset_identity(root: Path, analyzer: FaceAnalyzer) -> Identity:
    with FaceSet(root) as fs:
        records = list(fs.faces())
        if not records:
            raise FaceSetError(f"face set {root} holds no faces; extract some with `masque extract`")
        stored = [r.embedding for r in records if r.embedding is not None]
        if stored:
            return mean_identity(root.name, stored, str(root))
        chips = [face_chip(read_image(fs.image_path(r)), r.aligned_landmarks) for r in records[:MAX_EMBED]]
    return mean_identity(root.name, analyzer.embedder.embed_chips(np.stack(chips)), str(root))


def nearest_identity(embedding: np.ndarray, gallery: Mapping[str, np.ndarray]) -> str:
    """The key of ``gallery`` (name -> (128,) embedding) closest to ``embedding``."""
    return min(gallery, key=lambda k: identity_distance(embedding, gallery[k]))
