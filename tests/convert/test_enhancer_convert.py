"""Convert with an enhancer: the face is pasted at the real size, old folders convert as before."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from safetensors.torch import save as st_save

from masque.convert.pipeline import ConvertConfig, Converter
from masque.metrics.detail import detail_ratio
from masque.models import MODELS, CropSpec, ModelCard
from masque.models.enhancer import ENHANCER_FILE, EnhancerArch, EnhancerPair
from masque.train.checkpoint import save_checkpoint

CARD = ModelCard("lightweight", 0, 64, CropSpec("face", 0.875, 64))
ARCH = EnhancerArch(input_size=64, scale=4, width=8, blocks=1, up_width=4)


class TexturedEnhancer(EnhancerPair):
    """An enhancer that adds a fixed texture of 6 px period at 4x: detail a 64 px face cannot hold."""

    @torch.no_grad()
    def enhance(self, rgb: torch.Tensor, side: str) -> torch.Tensor:
        up = super().enhance(rgb, side)
        yy, xx = torch.meshgrid(torch.arange(256.0), torch.arange(256.0), indexing="ij")
        texture = 0.12 * torch.sin(2 * np.pi * xx / 6) * torch.sin(2 * np.pi * yy / 6)
        return (up + texture).clamp(0, 1)


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return MODELS.create("lightweight")


def _box(analyzer, image: np.ndarray) -> tuple[float, float, float, float]:
    face = analyzer.detect(image)[0]
    return tuple(float(v) for v in face.bbox)  # type: ignore[return-value]


def test_enhanced_face_is_pasted_at_the_real_size(model, analyzer, photo) -> None:
    frame = photo("single_face.jpg")
    cfg = ConvertConfig(smooth=0.0, mask="components")  # the untrained model's own mask is a coin toss at 0.5
    plain = Converter(model, CARD, cfg, analyzer).convert_frames([frame])[0]
    untrained = Converter(model, CARD, cfg, analyzer, enhancer=EnhancerPair(ARCH)).convert_frames([frame])[0]
    textured = Converter(model, CARD, cfg, analyzer, enhancer=TexturedEnhancer(ARCH)).convert_frames([frame])[0]
    box = _box(analyzer, frame)
    half = [detail_ratio(out, frame, box)[0] for out in (plain, untrained, textured)]
    # an untrained enhancer is the bilinear upsample: the same face as the plain paste, within rounding
    x0, y0, x1, y1 = (int(v) for v in box)
    assert np.abs(untrained[y0:y1, x0:x1].astype(int) - plain[y0:y1, x0:x1]).mean() < 1.5
    assert abs(half[1] - half[0]) < 0.1 * half[0] + 0.01
    # the 4x face's own fine texture reaches the frame, still there at half scale: pasted at 256 px,
    # not as a 64 px face stretched (which cannot hold a 6 px period at 4x, 1.5 px at 64)
    assert half[2] > 3 * half[0], half
    changed = np.abs(textured.astype(int) - frame).sum(-1) > 0
    ys, xs = np.nonzero(changed)
    assert xs.max() - xs.min() < frame.shape[1] and ys.max() - ys.min() < frame.shape[0]  # only the face region


def test_enhancer_matches_the_side_converted_to(model, analyzer, photo) -> None:
    frame = cv2.resize(photo("single_face.jpg"), None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    pair = TexturedEnhancer(ARCH)
    calls: list[str] = []
    original = pair.enhance

    def spy(rgb: torch.Tensor, side: str) -> torch.Tensor:
        calls.append(side)
        return original(rgb, side)

    pair.enhance = spy  # type: ignore[method-assign]
    Converter(model, CARD, ConvertConfig(to="a", smooth=0.0), analyzer, enhancer=pair).convert_frames([frame])
    assert calls == ["a"]


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> tuple[Path, Path]:
    """A model folder without an enhancer (as before this feature) and a copy with one."""
    root = tmp_path_factory.mktemp("enhconv")
    torch.manual_seed(0)
    model = MODELS.create("lightweight")
    state = {"model": "lightweight", "step": 3, "input_size": 64,
             "align": {"centering": "face", "coverage": 0.875, "size": 64}}
    old, new = root / "old", root / "new"
    save_checkpoint(old, model, None, state)
    save_checkpoint(new, model, None, state)
    torch.manual_seed(1)
    pair = EnhancerPair(ARCH)
    for p in pair.parameters():  # a random (untrained) residual: visibly different from the plain paste
        p.data.normal_(0, 0.3)
    (new / ENHANCER_FILE).write_bytes(st_save({k: v.contiguous() for k, v in pair.state_dict().items()},
                                              pair.metadata()))
    return old, new


def _convert(model_dir: Path, src: Path, out: Path, *extra: str) -> np.ndarray:
    from masque.media import read_image

    proc = subprocess.run([sys.executable, "-m", "masque.cli", "convert", str(src), "-m", str(model_dir), "-o",
                           str(out), "--no-label", *extra], check=False, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return read_image(out)


def test_cli_uses_the_folders_enhancer_unless_told_not_to(folders, fixture_path, tmp_path) -> None:
    old, new = folders
    src = fixture_path("single_face.jpg")
    plain = _convert(old, src, tmp_path / "old.png")
    enhanced = _convert(new, src, tmp_path / "new.png")
    off = _convert(new, src, tmp_path / "off.png", "--no-enhancer")
    assert np.array_equal(off, plain)  # --no-enhancer: exactly the old paste
    from masque.face import FaceAnalyzer, landmark_mask

    face = landmark_mask(FaceAnalyzer().detect(plain)[0].landmarks, plain.shape[:2], "components") > 0
    # the enhancer drew the face (0.54 grey levels on average over it: a random residual, then
    # the colour match; the frame outside the face is the same)
    assert np.abs(enhanced.astype(int) - plain)[face].mean() > 0.2
