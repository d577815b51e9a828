"""SSIM, PSNR and A->A / B->B reconstruction on held-out faces, with a stub model for the contract.

The stub stands in for ``masque.train``'s model only to check the plumbing (held-out selection,
re-alignment, batching, ``to=`` routing); the measures themselves are checked on real faces.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from masque.errors import ModelError
from masque.face import align_face
from masque.faceset import FaceSet
from masque.metrics.reconstruction import (
    PSNR_CAP,
    held_out_records,
    model_inputs,
    model_reconstruction,
    psnr,
    reconstruction_metrics,
    ssim,
)

from .conftest import make_faceset


@pytest.fixture(scope="module")
def facesets(tmp_path_factory, analyzer, obama_images, photo):
    root = tmp_path_factory.mktemp("recon")
    a = make_faceset(root / "a", obama_images, analyzer, embed=False)
    b = make_faceset(root / "b", [photo("biden.jpg"), photo("single_face.jpg")], analyzer, embed=False)
    return a, b


class StubModel:
    """``to="a"`` returns its input; ``to="b"`` returns it blurred (a poorer reconstruction)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[int, ...]]] = []

    def swap(self, x: torch.Tensor, to: str) -> tuple[torch.Tensor, torch.Tensor]:
        self.calls.append((to, tuple(x.shape)))
        if to == "b":
            x = torch.nn.functional.avg_pool2d(x, 5, stride=1, padding=2, count_include_pad=False)
        return x, torch.ones_like(x[:, :1])


def test_psnr_and_ssim_on_a_real_face(photo):
    face = cv2.resize(photo("obama.jpg")[200:700, 200:700], (128, 128)).astype(np.float64) / 255
    assert ssim(face, face) == pytest.approx(1.0)
    assert psnr(face, face) == PSNR_CAP
    assert psnr(face, np.clip(face + 0.1, 0, 1)) == pytest.approx(20.0, abs=0.5)  # clipping lowers the MSE a bit
    rng = np.random.default_rng(0)
    scores = [ssim(face, np.clip(face + rng.normal(0, s, face.shape), 0, 1)) for s in (0.02, 0.05, 0.15)]
    assert 1 > scores[0] > scores[1] > scores[2] > 0


def test_held_out_faces_are_every_nth_by_id(facesets):
    with FaceSet(facesets[0]) as fs:
        ids = [r.id for r in fs.faces()]
        assert [r.id for r in held_out_records(fs, every=2)] == ids[::2]
        assert [r.id for r in held_out_records(fs)] == ids[:1]


def test_model_inputs_follow_the_model_alignment(facesets, obama_images, analyzer):
    align = {"size": 64, "centering": "head", "coverage": 0.9}
    with FaceSet(facesets[0]) as fs:
        faces = model_inputs(fs, list(fs.faces()), align)
    assert faces.shape == (3, 64, 64, 3) and faces.dtype == np.float32
    # re-aligning the stored 256 px crop gives what aligning the photo directly gives
    direct = align_face(obama_images[0], analyzer.detect(obama_images[0])[0].landmarks, **align).image
    inside = np.s_[16:48, 16:48]  # "head" reaches past the stored "face" crop; compare the middle
    ours, theirs = faces[0][inside].ravel() * 255, direct[inside].ravel().astype(np.float32)
    # not equal: the direct warp shrinks 4x without low-pass filtering and aliases
    assert np.abs(ours - theirs).mean() < 10
    assert np.corrcoef(ours, theirs)[0, 1] > 0.95


def test_reconstruction_metrics_route_a_and_b(facesets):
    model = StubModel()
    state = {"align": {"size": 64, "centering": "face", "coverage": 0.8}, "facesets": [str(p) for p in facesets]}
    result = reconstruction_metrics(model, state, every=1)
    assert result["a"] == {"faces": 3, "ssim": pytest.approx(1.0), "psnr": PSNR_CAP}
    assert result["unseen"] is False  # the state does not say training held these faces out
    assert result["b"]["faces"] == 2
    assert 0.3 < result["b"]["ssim"] < 0.99 and 15 < result["b"]["psnr"] < 40
    assert model.calls == [("a", (3, 3, 64, 64)), ("b", (2, 3, 64, 64))]


def test_colour_shift_and_input_size_of_the_state_are_applied(facesets):
    seen: list[torch.Tensor] = []

    class Recorder(StubModel):
        def swap(self, x: torch.Tensor, to: str) -> tuple[torch.Tensor, torch.Tensor]:
            seen.append(x)
            return super().swap(x, to)

    state = {"align": {"size": 64, "centering": "face", "coverage": 0.8}, "input_size": 48,
             "color_shift": {"a": [0.1, 0.0, -0.1], "b": [0.0, 0.0, 0.0]}, "facesets": [str(p) for p in facesets]}
    reconstruction_metrics(Recorder(), state, every=1)
    plain = {**state, "color_shift": None}
    reconstruction_metrics(Recorder(), plain, every=1)
    shifted_a, _, plain_a, _ = seen
    assert shifted_a.shape == (3, 3, 48, 48)
    diff = (shifted_a - plain_a).mean(dim=(0, 2, 3))
    assert diff[0] > 0.08 and abs(diff[1]) < 1e-6 and diff[2] < -0.08


def test_state_without_facesets_is_a_model_error():
    with pytest.raises(ModelError, match="facesets"):
        reconstruction_metrics(StubModel(), {"align": {"size": 64, "centering": "face"}})


def test_a_real_model_folder_is_measured(tmp_path, facesets):
    """The training stage's own model and checkpoint format (an untrained model: plumbing only)."""
    checkpoint = pytest.importorskip("masque.train.checkpoint")
    from masque.models import MODELS

    model = MODELS.create("lightweight")
    checkpoint.save_checkpoint(tmp_path / "model", model, None, {
        "step": 0, "model": "lightweight", "input_size": model.input_size,
        "align": {"centering": "face", "coverage": 0.8, "size": model.input_size},
        "facesets": [str(p) for p in facesets], "color_shift": {"a": [0.0, 0.0, 0.0], "b": [0.0, 0.0, 0.0]}})
    result = model_reconstruction(tmp_path / "model")
    assert result["a"]["faces"] == 1 and result["b"]["faces"] == 1  # every 10th face from the first
    for side in ("a", "b"):
        assert 0 < result[side]["ssim"] < 0.9 and 5 < result[side]["psnr"] < 30  # untrained: poor, finite
