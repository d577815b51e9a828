"""Detection, landmarks, alignment, masks, pose and identity on real fixture faces."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from masque.face import AnalyzerConfig, FaceAnalyzer, align_face, identity_distance, landmark_mask
from masque.face.align import eye_template, paste_matrix, transform_points
from masque.face.quality import blur_score


def test_cnn_detector_finds_all_five_faces_in_group_photo(photo) -> None:
    faces = FaceAnalyzer(AnalyzerConfig(detector="cnn", max_side=1000)).detect(photo("multi_face.jpg"))
    assert len(faces) == 5
    centres = np.array([f.landmarks.mean(0) for f in faces])
    # five distinct people: no two faces closer than half a face width
    dists = np.linalg.norm(centres[:, None] - centres[None], axis=-1) + np.eye(5) * 1e9
    assert dists.min() > 40


def test_hog_finds_the_four_faces_without_sunglasses(analyzer, photo) -> None:
    assert len(analyzer.detect(photo("multi_face.jpg"))) == 4


def test_no_face_in_landscape(analyzer, photo) -> None:
    assert analyzer.detect(photo("no_face.jpg")) == []


def test_landmarks_land_on_features(analyzer, photo) -> None:
    img = photo("obama.jpg")
    face = analyzer.detect(img)[0]
    (lx, ly), (rx, ry) = face.eye_centres
    # eyes level (frontal photo) and symmetric about the nose tip
    assert abs(ly - ry) < 0.05 * (rx - lx)
    nose = face.landmarks[30]
    assert abs((nose[0] - lx) - (rx - nose[0])) < 0.15 * (rx - lx)
    # mouth below the nose, chin below the mouth
    assert face.landmarks[30, 1] < face.landmarks[51, 1] < face.landmarks[8, 1]


@pytest.mark.parametrize("name", ["obama.jpg", "single_face.jpg", "expression_hao.jpg", "expression_su.jpg"])
def test_aligned_eye_centres_within_2px_of_template(analyzer, photo, name) -> None:
    img = photo(name)
    face = analyzer.detect(img)[0]
    aligned = align_face(img, face.landmarks, 256, "face")
    left, right = eye_template(256, "face")
    assert np.linalg.norm(aligned.landmarks[36:42].mean(0) - left) < 2.0
    assert np.linalg.norm(aligned.landmarks[42:48].mean(0) - right) < 2.0


def test_alignment_survives_rotation_and_inverts(analyzer, photo) -> None:
    img = photo("obama.jpg")
    h, w = img.shape[:2]
    rot = cv2.getRotationMatrix2D((w / 2, h / 2), 25, 1.0)
    turned = cv2.warpAffine(img, rot, (w, h))
    face = FaceAnalyzer(AnalyzerConfig(upsample=1)).detect(turned)[0]
    aligned = align_face(turned, face.landmarks, 256)
    _left, _right = eye_template(256)
    assert abs(aligned.landmarks[36:42, 1].mean() - aligned.landmarks[42:48, 1].mean()) < 3  # upright again
    back = transform_points(aligned.landmarks, paste_matrix(aligned.matrix))
    assert np.abs(back - face.landmarks).max() < 1e-3


def test_masks_cover_face_not_background(analyzer, photo) -> None:
    img = photo("obama.jpg")
    face = analyzer.detect(img)[0]
    comp = landmark_mask(face.landmarks, img.shape[:2], "components") > 0
    ext = landmark_mask(face.landmarks, img.shape[:2], "extended") > 0
    nose, chin = face.landmarks[30].astype(int), face.landmarks[8].astype(int)
    assert comp[nose[1], nose[0]] and ext[nose[1], nose[0]]
    assert not comp[5, 5] and not ext[5, 5]
    assert ext.sum() > comp.sum() * 1.1  # forehead added
    assert (comp & ~ext).sum() < 0.01 * comp.sum()  # extended contains components
    assert comp[chin[1] - 3, chin[0]]


def test_same_person_closer_than_other_person(analyzer, photo) -> None:
    emb = {n: analyzer.analyze(photo(n))[0].embedding for n in ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg")}
    obamas = ["obama.jpg", "obama2.jpg", "obama3.jpg"]
    same = [identity_distance(emb[a], emb[b]) for i, a in enumerate(obamas) for b in obamas[i + 1:]]
    other = [identity_distance(emb[a], emb["biden.jpg"]) for a in obamas]
    assert max(same) < 0.6 < min(other)


def test_pose_follows_in_plane_rotation(analyzer, photo) -> None:
    img = photo("obama.jpg")
    h, w = img.shape[:2]
    face = analyzer.detect(img)[0]
    base = face.pose
    centre = tuple(float(v) for v in face.landmarks.mean(0))  # about the face: no perspective shift
    for angle in (-12.0, 12.0):
        turned = cv2.warpAffine(img, cv2.getRotationMatrix2D(centre, angle, 1.0), (w, h))
        pose = FaceAnalyzer(AnalyzerConfig(upsample=1)).detect(turned)[0].pose
        assert pose is not None and base is not None
        assert abs((pose[2] - base[2]) - angle) < 1.5
        assert abs(pose[0] - base[0]) < 3


def test_yaw_sign_matches_head_turn(analyzer, photo) -> None:
    img = photo("obama.jpg")
    yaw = analyzer.detect(img)[0].pose[0]  # type: ignore[index]
    mirrored = analyzer.detect(np.ascontiguousarray(img[:, ::-1]))[0].pose[0]  # type: ignore[index]
    assert abs(yaw + mirrored) < 3  # a mirror image turns the other way


def test_blur_score_rises_when_blurred(analyzer, photo) -> None:
    img = photo("obama.jpg")
    aligned = align_face(img, analyzer.detect(img)[0].landmarks).image
    soft = cv2.GaussianBlur(aligned, (0, 0), 3)
    assert blur_score(soft) > 2 * blur_score(aligned)


def test_cached_frontal_detector_finds_the_same_boxes(tmp_path, photo) -> None:
    """The detector read back from masque's cached copy is dlib's own, box for box; a damaged
    copy is rebuilt rather than trusted."""
    import dlib

    from masque.face.detect import frontal_face_detector

    cache = tmp_path / "hog.svm"
    built = frontal_face_detector(cache)  # no copy yet: built from dlib, then written
    assert cache.is_file()
    cached = frontal_face_detector(cache)
    reference = dlib.get_frontal_face_detector()
    for name in ("obama.jpg", "biden.jpg", "multi_face.jpg"):
        img = photo(name)
        want = [(r.left(), r.top(), r.right(), r.bottom()) for r in reference(img, 0)]
        assert want and [(r.left(), r.top(), r.right(), r.bottom()) for r in cached(img, 0)] == want
        assert [(r.left(), r.top(), r.right(), r.bottom()) for r in built(img, 0)] == want
    cache.write_bytes(b"not a detector")
    repaired = frontal_face_detector(cache)
    assert len(repaired(photo("obama.jpg"), 0)) == 1 and cache.stat().st_size > 1000
