"""Identities from a photo, a folder of photos and a face set; retrieval among them."""

from __future__ import annotations

import numpy as np
import pytest

from masque import assets
from masque.errors import InputNotFoundError, InvalidMediaError, NoFaceFoundError
from masque.face import identity_distance
from masque.face.embed import face_chip
from masque.media import VideoReader, write_image
from masque.metrics.identity import load_identity, nearest_identity

from .conftest import make_faceset


@pytest.fixture(scope="module")
def obama_folder(tmp_path_factory, obama_images):
    root = tmp_path_factory.mktemp("obama_photos")
    for i, img in enumerate(obama_images):
        write_image(root / f"obama{i}.png", img)
    (root / "notes.txt").write_text("not an image")
    return root


@pytest.fixture(scope="module")
def obama_faceset(tmp_path_factory, analyzer, obama_images):
    return make_faceset(tmp_path_factory.mktemp("sets") / "fs", obama_images, analyzer)


def test_photo_folder_and_faceset_give_the_same_person(analyzer, obama_folder, obama_faceset):
    photo = load_identity(assets.fetch("obama.jpg"), analyzer)
    folder = load_identity(obama_folder, analyzer)
    faceset = load_identity(obama_faceset, analyzer)
    biden = load_identity(assets.fetch("biden.jpg"), analyzer)
    assert (photo.faces, folder.faces, faceset.faces) == (1, 3, 3)
    assert folder.name == obama_folder.name and faceset.name == "fs"
    # the mean of three photos of a person sits near each of them, far from another person
    assert identity_distance(folder.embedding, photo.embedding) < 0.4
    assert identity_distance(folder.embedding, faceset.embedding) < 0.05
    assert identity_distance(folder.embedding, biden.embedding) > 0.6
    gallery = {"obama": folder.embedding, "biden": biden.embedding}
    assert nearest_identity(photo.embedding, gallery) == "obama"


def test_faceset_without_stored_embeddings_is_embedded_from_its_crops(tmp_path, analyzer, obama_images,
                                                                     obama_faceset):
    stored = load_identity(obama_faceset, analyzer)
    computed = load_identity(make_faceset(tmp_path / "b", obama_images, analyzer, embed=False), analyzer)
    assert computed.faces == 3
    # the aligned crop is a resampled copy of the photo: nearly the same descriptor
    assert identity_distance(stored.embedding, computed.embedding) < 0.1


def test_bad_identity_sources_raise_clear_errors(tmp_path, analyzer):
    with pytest.raises(InputNotFoundError, match="missing"):
        load_identity(tmp_path / "missing", analyzer)
    with pytest.raises(NoFaceFoundError, match="free-mountain"):
        load_identity(assets.fetch("no_face.jpg"), analyzer)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidMediaError, match="empty"):
        load_identity(tmp_path / "empty", analyzer)
    (tmp_path / "notes.txt").write_text("not media")
    with pytest.raises(InvalidMediaError, match="a video"):
        load_identity(tmp_path / "notes.txt", analyzer)
    (tmp_path / "broken.mp4").write_bytes(b"\x00not a video" * 100)
    with pytest.raises(InvalidMediaError, match="broken.mp4"):
        load_identity(tmp_path / "broken.mp4", analyzer)
    with pytest.raises(NoFaceFoundError, match="no_face"):
        load_identity(assets.fetch("no_face.mp4"), analyzer)
    assert np.isfinite(load_identity(assets.fetch("biden.jpg"), analyzer).embedding).all()


def test_a_video_source_is_sampled_across_the_clip(analyzer):
    """A user's source person is usually a video: its faces are sampled evenly, no extract needed."""
    clip = assets.fetch("clip_short.mp4")  # 72 frames of one man
    video = load_identity(clip, analyzer)
    assert video.name == "single_face" and 30 <= video.faces <= 64
    first = next(iter(VideoReader(clip)))
    frame_face = analyzer.detect(first)[0]
    frame_emb = analyzer.embedder.embed_chips(face_chip(first, frame_face.landmarks)[None])[0]
    assert identity_distance(video.embedding, frame_emb) < 0.4  # the same man
    assert identity_distance(video.embedding, load_identity(assets.fetch("biden.jpg"), analyzer).embedding) > 0.6
