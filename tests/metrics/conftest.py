"""Shared fixtures for the metrics tests: one analyzer, real fixture frames and photos."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from masque import assets
from masque.face import FaceAnalyzer, align_face
from masque.faceset import FaceRecord, FaceSet
from masque.media import VideoReader, read_image, write_image


@pytest.fixture(scope="session")
def short_frames() -> list[np.ndarray]:
    return list(VideoReader(assets.fetch("clip_short.mp4")))


def rotate_about_face(image: np.ndarray, landmarks: np.ndarray, degrees: float) -> np.ndarray:
    """``image`` rotated counter-clockwise by ``degrees`` about the face centre (OpenCV's convention)."""
    c = landmarks.mean(0)
    m = cv2.getRotationMatrix2D((float(c[0]), float(c[1])), degrees, 1.0)
    return cv2.warpAffine(image, m, (image.shape[1], image.shape[0]), borderMode=cv2.BORDER_REFLECT101)


def make_faceset(root: Path, images: list[np.ndarray], analyzer: FaceAnalyzer, embed: bool = True) -> Path:
    """A face set of the largest face of each image, written the way extract stores faces."""
    with FaceSet(root, create=True) as fs:
        sid = fs.add_source("fixture", "images", 0, 0, 0.0, len(images))
        for i, img in enumerate(images):
            face = (analyzer.analyze(img) if embed else analyzer.detect(img))[0]
            aligned = align_face(img, face.landmarks, fs.size, "face")
            rel = f"faces/{i:06d}_0.png"
            write_image(root / rel, aligned.image)
            yaw, pitch, roll = face.pose or (0.0, 0.0, 0.0)
            fs.commit_frame(sid, i, [FaceRecord("fixture", i, 0, face.bbox, face.landmarks, aligned.matrix,
                                                face.embedding, yaw, pitch, roll, 0.0, face.score, rel)])
    return root


@pytest.fixture(scope="session")
def obama_images() -> list[np.ndarray]:
    return [read_image(assets.fetch(n)) for n in ("obama.jpg", "obama2.jpg", "obama3.jpg")]
