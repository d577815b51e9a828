"""The optional mediapipe (BlazeFace) detector, against dlib's HOG on the real fixture faces."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from masque.errors import MasqueError, MissingDependencyError, UnsupportedOptionError
from masque.face import DETECTORS, AnalyzerConfig, Face, FaceAnalyzer, detect_mediapipe
from masque.face.detect_mediapipe import MediaPipeDetector
from masque.media import VideoReader

FRONTAL = ["obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "single_face.jpg",
           "expression_su.jpg", "expression_hao.jpg", "expression_anc.jpg"]


@pytest.fixture(scope="module")
def mp_analyzer() -> FaceAnalyzer:
    return FaceAnalyzer(AnalyzerConfig(detector="mediapipe"))


@pytest.fixture(scope="module")
def clip_frames(fixture_path) -> list[np.ndarray]:
    """Every 25th frame of the 472-frame 640x360 clip (a talking, turning, crying face)."""
    return [f for k, f in enumerate(VideoReader(fixture_path("clip_long.mp4"))) if k % 25 == 0]


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def assert_agrees_with_hog(hog: Face, faces: list[Face], label: str) -> None:
    """The mediapipe face over ``hog``: overlapping box, dlib landmarks close to HOG-box ones."""
    best = max(faces, key=lambda f: iou(f.bbox, hog.bbox))
    width = hog.bbox[2] - hog.bbox[0]
    err = np.linalg.norm(best.landmarks - hog.landmarks, axis=1)
    assert iou(best.bbox, hog.bbox) > 0.65, (label, best.bbox, hog.bbox)
    # measured: mean 0.8 % of the face width over 123 faces, 2.7 % at worst (a hand over the face)
    assert err.mean() < 0.035 * width, (label, err.mean(), width)
    assert 0.0 < best.score <= 1.0


def test_registered_and_importing_masque_does_not_import_mediapipe() -> None:
    assert "mediapipe" in DETECTORS.names()
    code = "import sys, masque.face, masque.cli; print('mediapipe' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.parametrize("name", FRONTAL)
def test_finds_the_face_hog_finds_and_dlib_lands_on_it(analyzer, mp_analyzer, photo, name) -> None:
    img = photo(name)
    hog = analyzer.detect(img)
    faces = mp_analyzer.detect(img)
    assert len(hog) == len(faces) == 1
    assert_agrees_with_hog(hog[0], faces, name)
    # landmarks within a few pixels of the HOG-box ones on these near-frontal photos
    assert np.linalg.norm(faces[0].landmarks - hog[0].landmarks, axis=1).mean() < 4.0


def test_clip_frames_agree_with_hog(analyzer, mp_analyzer, clip_frames) -> None:
    errors = []
    for k, frame in enumerate(clip_frames):
        hog = analyzer.detect(frame)
        faces = mp_analyzer.detect(frame)
        assert len(hog) == len(faces) == 1, k
        assert_agrees_with_hog(hog[0], faces, f"frame {25 * k}")
        errors.append(np.linalg.norm(faces[0].landmarks - hog[0].landmarks, axis=1).mean())
    assert np.median(errors) < 2.0  # px, on 216-259 px faces


def test_group_photo_all_five_faces_including_sunglasses(analyzer, mp_analyzer, photo) -> None:
    img = photo("multi_face.jpg")
    hog = analyzer.detect(img)
    faces = mp_analyzer.detect(img)
    assert len(hog) == 4 and len(faces) == 5  # HOG misses the face behind sunglasses; the CNN finds it
    for k, h in enumerate(hog):
        assert_agrees_with_hog(h, faces, f"face {k}")
    centres = np.array([f.landmarks.mean(0) for f in faces])
    dists = np.linalg.norm(centres[:, None] - centres[None], axis=-1) + np.eye(5) * 1e9
    assert dists.min() > 40  # five distinct people


def test_three_quarter_profile_box_follows_the_features(analyzer, mp_analyzer, photo) -> None:
    """BlazeFace's own box stays on the whole head; centred on its keypoints, dlib lands where it
    does from HOG's box (23 % of the face width away from its own box)."""
    img = photo("expression_di.jpg")
    (hog,) = analyzer.detect(img)
    (face,) = mp_analyzer.detect(img)
    width = hog.bbox[2] - hog.bbox[0]
    assert np.linalg.norm(face.landmarks - hog.landmarks, axis=1).mean() < 0.05 * width


def test_no_face(mp_analyzer, photo, fixture_path) -> None:
    assert mp_analyzer.detect(photo("no_face.jpg")) == []
    frame = next(iter(VideoReader(fixture_path("no_face.mp4"))))
    assert mp_analyzer.detect(frame) == []
    assert mp_analyzer.detect(np.zeros((360, 640, 3), np.uint8)) == []


def test_max_side_downscales_what_mediapipe_sees(photo, monkeypatch) -> None:
    img = photo("obama3.jpg")  # 1434x2333
    detector = MediaPipeDetector(max_side=480)
    seen = []
    real = detect_mediapipe._process

    def spy(solution, rgb):
        seen.append(rgb.shape)
        return real(solution, rgb)

    monkeypatch.setattr(detect_mediapipe, "_process", spy)
    small = detector.detect(img)
    monkeypatch.setattr(detect_mediapipe, "_process", real)
    full = MediaPipeDetector(max_side=4000).detect(img)
    detector.close()
    assert max(seen[0][:2]) == 480
    assert len(small) == len(full) == 1
    assert iou(small[0].bbox, full[0].bbox) > 0.85  # boxes still in source pixels
    assert small[0].bbox[2] > 480  # not in the downscaled image's


def test_grey_input_and_models(photo) -> None:
    img = photo("obama.jpg")
    grey = img.mean(axis=2).astype(np.uint8)
    for model in ("full", "short", "auto"):
        detector = MediaPipeDetector(model=model)
        (a,) = detector.detect(img)
        (b,) = detector.detect(grey)
        assert iou(a.bbox, b.bbox) > 0.8, model
        detector.close()
    with pytest.raises(ValueError, match="closed"):
        detector.detect(img)


def test_close_up_found_by_the_short_range_fallback(photo) -> None:
    img = photo("expression_di.jpg")  # the face fills the frame: beyond the full-range model
    assert MediaPipeDetector(model="full").detect(img) == []
    assert len(MediaPipeDetector(model="short").detect(img)) == 1
    assert len(MediaPipeDetector(model="auto").detect(img)) == 1


def test_prints_nothing(photo, capfd) -> None:
    detector = MediaPipeDetector()  # mediapipe's C++ logs its start-up notices while the graph first runs
    detector.detect(photo("obama.jpg"))
    detector.detect(np.zeros((100, 200, 3), np.uint8))  # another size
    detector.close()
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_options_it_cannot_honour() -> None:
    with pytest.raises(UnsupportedOptionError, match="upsampling"):
        FaceAnalyzer(AnalyzerConfig(detector="mediapipe", upsample=1))
    with pytest.raises(ValueError, match="model"):
        MediaPipeDetector(model="huge")
    with pytest.raises(ValueError, match="score"):
        MediaPipeDetector(threshold=2.0)


def test_missing_extra_says_how_to_install(monkeypatch) -> None:
    for name in [m for m in sys.modules if m == "mediapipe" or m.startswith("mediapipe.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "mediapipe", None)  # import mediapipe -> ImportError
    with pytest.raises(MissingDependencyError) as info:
        FaceAnalyzer(AnalyzerConfig(detector="mediapipe"))
    assert isinstance(info.value, MasqueError) and isinstance(info.value, ImportError)
    assert "pip install --no-deps mediapipe==0.10.14" in str(info.value)
    assert "masque[mediapipe]" in str(info.value)


def test_protobuf_5_or_later_is_refused_with_the_fix(monkeypatch) -> None:
    import google.protobuf

    monkeypatch.setattr(google.protobuf, "__version__", "6.33.0")
    with pytest.raises(MissingDependencyError, match="protobuf 4.25.*6.33.0"):
        MediaPipeDetector()


def test_extract_cli_with_mediapipe(tmp_path, fixture_path, short_run, capsys) -> None:
    from masque.cli import main
    from masque.faceset import FaceSet

    photos = [str(fixture_path(n)) for n in ("obama.jpg", "multi_face.jpg")]
    assert main(["extract", *photos, "-o", str(tmp_path / "a"), "--detector", "mediapipe"]) == 0
    # a video: the worker processes build their own detector
    assert main(["extract", str(short_run), "-o", str(tmp_path / "b"), "--detector", "mediapipe",
                 "--workers", "2"]) == 0
    capsys.readouterr()
    with FaceSet(tmp_path / "a") as fs:
        assert len(fs) == 6  # Obama and the five in the group photo
    with FaceSet(tmp_path / "b") as fs:
        assert len(fs) == 20  # one face in each of the 20 frames


def test_extract_cli_without_the_extra_fails_with_the_fix(tmp_path, short_run, monkeypatch, capsys) -> None:
    from masque.cli import main

    monkeypatch.setattr(detect_mediapipe, "load_mediapipe",
                        lambda: (_ for _ in ()).throw(MissingDependencyError("no mediapipe here")))
    # in this process (--workers 0), where the monkeypatch reaches; tests/faceset covers workers
    assert main(["extract", str(short_run), "-o", str(tmp_path / "c"), "--detector", "mediapipe",
                 "--workers", "0"]) == 1
    assert "no mediapipe here" in capsys.readouterr().err
