"""``--mask occlusion``: something pasted in front of a face stays in front through convert."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from masque.convert.pipeline import ConvertConfig, Converter
from masque.errors import ModelError
from masque.media import read_image
from masque.models import MODELS, CropSpec, ModelCard

STATE = ModelCard("lightweight", 0, 64, CropSpec("face", 0.875, 64))


@pytest.fixture(scope="module")
def occluded(analyzer, fixture_path) -> tuple[np.ndarray, np.ndarray]:
    """biden.jpg (a person the occlusion model never saw) with a landscape patch held over his
    cheek and mouth, and the patch's mask shrunk by 4 px (boolean)."""
    image = read_image(fixture_path("biden.jpg"))
    lm = analyzer.detect(image)[0].landmarks
    patch = np.zeros(image.shape[:2], np.uint8)
    centre = tuple(np.round((lm[2] + 2 * lm[48]) / 3).astype(int))
    unit = float(np.linalg.norm(lm[36:42].mean(0) - lm[42:48].mean(0)))
    cv2.ellipse(patch, centre, (round(0.45 * unit), round(0.7 * unit)), 20, 0, 360, 255, -1, cv2.LINE_AA)
    land = cv2.resize(read_image(fixture_path("no_face.jpg")), image.shape[1::-1], interpolation=cv2.INTER_AREA)
    a = patch.astype(np.float32)[..., None] / 255
    out = (image * (1 - a) + land * a + 0.5).astype(np.uint8)
    return out, cv2.erode(patch, np.ones((9, 9), np.uint8)) > 127


class Painter(torch.nn.Module):
    """A stand-in swap model (a :class:`masque.models.SwapNetwork`) that paints a tinted face with
    a mask over its whole crop: whatever the paste mask lets through is visibly changed."""

    input_size = 64

    def __init__(self) -> None:
        super().__init__()
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def swap(self, x: torch.Tensor, to: str) -> tuple[torch.Tensor, torch.Tensor]:
        rgb = (1.0 - x.float()).clamp(0, 1)  # the negative: every pixel moves
        return rgb, torch.ones_like(x[:, :1])


def _change(image: np.ndarray, mask: str, region: np.ndarray) -> float:
    converter = Converter(Painter(), STATE, ConvertConfig(mask=mask, smooth=0, color="none"))  # type: ignore[arg-type]
    out = converter.convert_frames([image])[0]
    return float(np.abs(out.astype(np.float32) - image)[region].mean())


def test_occluder_in_front_of_the_face_is_kept(occluded) -> None:
    image, region = occluded
    assert _change(image, "occlusion", region) < 4.0
    assert _change(image, "clipped", region) > 12.0  # without the occlusion model it is painted over


def test_corrupt_occlusion_weights_are_one_clear_error(tmp_path) -> None:
    bad = tmp_path / "occlusion.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(ModelError, match="occlusion model"):
        Converter(MODELS.create("lightweight"), STATE, ConvertConfig(mask="occlusion", occlusion_model=str(bad)))
