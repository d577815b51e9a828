"""The PyTorch port of dlib's face descriptor against dlib itself, on real photos."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import cv2
import dlib
import numpy as np
import pytest
import torch

from masque import assets
from masque.errors import InvalidMediaError, ModelError
from masque.face import dlib_dnn
from masque.face.resnet import CACHE_NAME, FaceEmbedder, load_face_net, make_chip

PHOTOS = ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "multi_face.jpg")
# measured: 3.3e-7 in float32 on the 8 test faces; the margin covers other oneDNN kernels
FP32_TOLERANCE = 1e-4


def _rgb(name: str) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(assets.fetch(name))), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """One torch thread: on the shared 2-core machines two threads mostly wait for each other
    (3-10x slower under load); restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def faces() -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(photo, chip, dlib's own chip)`` for every face dlib's HOG detector finds."""
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(assets.fetch("shape_predictor_68")))
    found = []
    for name in PHOTOS:
        image = _rgb(name)
        for rect in detector(image, 0):  # no upsampling: the faces are large, and it is 4x faster
            shape = predictor(image, rect)
            landmarks = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
            found.append((name, make_chip(image, landmarks), dlib.get_face_chip(image, shape)))
    return found


@pytest.fixture(scope="module")
def chips(faces: list[tuple[str, np.ndarray, np.ndarray]]) -> np.ndarray:
    return np.stack([chip for _, chip, _ in faces])


@pytest.fixture(scope="module")
def dlib_descriptors(chips: np.ndarray) -> np.ndarray:
    model = dlib.face_recognition_model_v1(str(assets.fetch("face_recognition_resnet")))
    return np.array([np.array(model.compute_face_descriptor(c)) for c in chips], np.float32)


@pytest.fixture(scope="module")
def embedder() -> FaceEmbedder:
    return FaceEmbedder()


def test_fixture_faces_found(faces: list[tuple[str, np.ndarray, np.ndarray]]) -> None:
    counts = {name: sum(n == name for n, _, _ in faces) for name in PHOTOS}
    assert counts["obama.jpg"] == counts["obama2.jpg"] == counts["obama3.jpg"] == 1
    assert counts["biden.jpg"] == 1 and counts["multi_face.jpg"] >= 2


def test_make_chip_is_dlibs_chip(faces: list[tuple[str, np.ndarray, np.ndarray]]) -> None:
    for _, chip, reference in faces:
        assert chip.shape == (150, 150, 3) and chip.dtype == np.uint8
        np.testing.assert_array_equal(chip, reference)


def test_matches_dlib(embedder: FaceEmbedder, chips: np.ndarray,
                      dlib_descriptors: np.ndarray) -> None:
    ours = embedder.embed_chips(chips)
    assert ours.shape == (len(chips), 128) and ours.dtype == np.float32
    assert np.abs(ours - dlib_descriptors).max() < FP32_TOLERANCE


def test_same_person_closer_than_threshold(embedder: FaceEmbedder,
                                           faces: list[tuple[str, np.ndarray, np.ndarray]]) -> None:
    by_name = {name: chip for name, chip, _ in faces if name != "multi_face.jpg"}
    e = dict(zip(by_name, embedder.embed_chips(np.stack(list(by_name.values())))))
    obamas = ("obama.jpg", "obama2.jpg", "obama3.jpg")
    for a, b in itertools.combinations(obamas, 2):
        assert np.linalg.norm(e[a] - e[b]) < 0.6, (a, b)
    for a in obamas:
        assert np.linalg.norm(e[a] - e["biden.jpg"]) > 0.6, a


def test_batching_does_not_change_results(chips: np.ndarray, embedder: FaceEmbedder) -> None:
    one_by_one = np.concatenate([embedder.embed_chips(c) for c in chips[:3]])  # (150,150,3): N=1
    np.testing.assert_allclose(embedder.embed_chips(chips)[:3], one_by_one, atol=1e-5)
    assert embedder.embed_chips(np.zeros((0, 150, 150, 3), np.uint8)).shape == (0, 128)


def test_bf16_keeps_identity(chips: np.ndarray, dlib_descriptors: np.ndarray) -> None:
    ours = FaceEmbedder(bf16=True).embed_chips(chips)
    assert ours.dtype == np.float32
    # measured: 0.011 at most; identity decisions sit on a 0.6 threshold
    assert np.linalg.norm(ours - dlib_descriptors, axis=1).max() < 0.05


@pytest.mark.parametrize("bad", [np.zeros((2, 150, 150, 3), np.float32),
                                 np.zeros((2, 112, 112, 3), np.uint8),
                                 np.zeros((2, 150, 150), np.uint8)])
def test_rejects_bad_chips(embedder: FaceEmbedder, bad: np.ndarray) -> None:
    with pytest.raises(InvalidMediaError, match="150, 150, 3"):
        embedder.embed_chips(bad)


def test_make_chip_rejects_bad_input() -> None:
    with pytest.raises(InvalidMediaError):
        make_chip(np.zeros((100, 100), np.uint8), np.zeros((68, 2)))
    with pytest.raises(InvalidMediaError):
        make_chip(np.zeros((100, 100, 3), np.uint8), np.zeros((5, 2)))


def test_cache_written_then_used(tmp_path: Path) -> None:
    cache = tmp_path / "converted" / CACHE_NAME
    parsed = load_face_net(cache=cache)
    assert cache.is_file() and list(cache.parent.iterdir()) == [cache]  # no temporary left
    cached = load_face_net(cache=cache)
    assert [layer.signature() for layer in cached.layers] == [layer.signature() for layer in parsed.layers]
    for a, b in zip(parsed.layers, cached.layers):
        for name in a.arrays:
            np.testing.assert_array_equal(a.arrays[name], b.arrays[name])
    cache.write_bytes(b"not safetensors")  # a damaged cache is replaced, not trusted
    assert len(load_face_net(cache=cache).layers) == len(parsed.layers)
    assert dlib_dnn.load_net(cache, {}) is not None


@pytest.mark.parametrize("cut", [0, 19, 300, 20_000, -1])
def test_truncated_file_is_a_model_error(tmp_path: Path, cut: int) -> None:
    data = assets.fetch("face_recognition_resnet").read_bytes()
    bad = tmp_path / "truncated.dat"
    bad.write_bytes(data[:cut])
    with pytest.raises(ModelError, match="truncated.dat"):
        load_face_net(bad, cache=tmp_path / "cache.safetensors")


def test_other_model_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="malformed dlib network"):  # ModelError: a ValueError
        load_face_net(assets.fetch("shape_predictor_5"), cache=tmp_path / "c.safetensors")


def test_reader_primitives() -> None:
    # bytes from the model file: version 1, then loss_metric_2's margin 0.04 and threshold 0.6
    r = dlib_dnn._Reader(bytes.fromhex("0101 030ad7a3 811c 039a9999 8118 8102 3130"), "x", "")
    assert r.int() == 1
    assert r.float() == pytest.approx(0.04, rel=1e-7)
    assert r.float() == pytest.approx(0.6, rel=1e-7)
    assert r.int() == -2
    assert r.bool() is True and r.bool() is False
    with pytest.raises(ModelError, match="file ends"):
        r.int()
